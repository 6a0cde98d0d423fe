//! The job message: bytes off the queue → a validated [`JobSpec`], or a [`Rejection`] saying why
//! not (one line) with whatever ids could be read, so the job row can record the reason.
//!
//! Rules (the design's "The job message"): the body is at most 64 KiB of UTF-8 JSON holding one
//! object with unique keys; `type` is `"constantcontact-export"`; `account_id` and `user_id` are
//! required; every other field is optional, and `null` means absent. Unknown fields are ignored,
//! so producers may add fields before workers know them (forward compatibility); a misspelt
//! optional field therefore takes its default.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use uuid::Uuid;

use super::{fields, key};
use crate::encode::Format;
use crate::job::{JobSpec, default_output_key};

pub const JOB_TYPE: &str = "constantcontact-export";
/// Largest body read at all; bigger ones are rejected before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a message is not a job, and what of it could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Rejection {
    /// One line, naming the field and what it accepts.
    pub reason: String,
    /// The body's valid `job_id`, else the one its AMQP `message_id` stands for; `None` when
    /// neither is there (no job row can be meant).
    pub job_id: Option<Uuid>,
    /// Only values that passed validation.
    pub account_id: Option<String>,
    pub user_id: Option<String>,
}

/// Parses and validates one job message. `message_id` is the AMQP property; `export_prefix` the
/// configured key prefix every output key is placed under.
pub fn parse(
    body: &[u8],
    message_id: Option<&str>,
    export_prefix: &str,
) -> Result<JobSpec, Rejection> {
    let fallback_id = message_id.and_then(fields::job_id_from_message_id);
    let reject = |reason: String| Rejection {
        reason,
        job_id: fallback_id,
        account_id: None,
        user_id: None,
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(reject(format!(
            "message body is {} bytes, more than the {MAX_BODY_BYTES} allowed",
            body.len()
        )));
    }
    let text = std::str::from_utf8(body).map_err(|e| {
        reject(format!(
            "message body is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    let top = match serde_json::from_str::<TopLevel>(text) {
        Ok(TopLevel::Object(fields)) => fields,
        Ok(TopLevel::Other(kind)) => {
            return Err(reject(format!(
                "message body must be a JSON object, got {kind}"
            )));
        }
        Err(e) => return Err(reject(format!("message body is not valid JSON: {e}"))),
    };
    Message { fields: top }.validate(fallback_id, export_prefix)
}

/// The top-level object's fields in order, `null` values dropped (null = absent).
struct Message {
    fields: Vec<(String, Value)>,
}

impl Message {
    fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(k, v)| k == name && !v.is_null())
            .map(|(_, v)| v)
    }

    fn validate(&self, fallback_id: Option<Uuid>, prefix: &str) -> Result<JobSpec, Rejection> {
        // Read the ids first, best effort, so any rejection below carries them.
        let body_id = self.get("job_id").map(fields::job_id);
        let mut rejection = Rejection {
            reason: String::new(),
            job_id: match &body_id {
                Some(Ok(id)) => Some(*id),
                Some(Err(_)) => None,
                None => fallback_id,
            },
            account_id: self
                .get("account_id")
                .and_then(|v| fields::account_id(v).ok()),
            user_id: self.get("user_id").and_then(|v| fields::user_id(v).ok()),
        };
        self.spec(body_id, fallback_id, prefix).map_err(|reason| {
            rejection.reason = reason;
            rejection
        })
    }

    fn spec(
        &self,
        body_id: Option<Result<Uuid, String>>,
        fallback_id: Option<Uuid>,
        prefix: &str,
    ) -> Result<JobSpec, String> {
        match self.get("type") {
            None => return Err(format!("type is missing; expected \"{JOB_TYPE}\"")),
            Some(Value::String(t)) if t == JOB_TYPE => {}
            Some(other) => {
                return Err(format!(
                    "type must be \"{JOB_TYPE}\", got {}",
                    fields::show(other)
                ));
            }
        }
        let job_id = match body_id {
            Some(id) => id?,
            // Made here and recorded in the spec (and so in the job row) from now on.
            None => fallback_id.unwrap_or_else(Uuid::new_v4),
        };
        let account_id = fields::account_id(self.required("account_id")?)?;
        let user_id = fields::user_id(self.required("user_id")?)?;
        let batch_size = self
            .optional("batch_size", fields::batch_size)?
            .unwrap_or(fields::DEFAULT_BATCH_SIZE);
        let last_cursor = self.optional("last_cursor", fields::last_cursor)?.flatten();
        let total_processed = self
            .optional("total_processed", |v| {
                fields::integer("total_processed", v, 0, u64::MAX)
            })?
            .unwrap_or(0);
        let format = self
            .optional("format", fields::format)?
            .unwrap_or(Format::Csv);
        let gzip = self.optional("gzip", fields::gzip)?.unwrap_or(false);
        let columns = self.optional("columns", fields::columns)?.flatten();
        if columns.is_some() && format == Format::Ndjson {
            return Err(
                "columns applies to CSV; NDJSON carries every field as the API gave it".into(),
            );
        }
        let lists = self.optional("lists", fields::lists)?.unwrap_or_default();
        let updated_after = self.optional("updated_after", fields::updated_after)?;
        let output_key = match self.optional("output_key", |v| key::output_key(v, prefix))? {
            Some(key) => key,
            None => default_output_key(prefix, &account_id, job_id, format, gzip),
        };
        Ok(JobSpec {
            job_id,
            account_id,
            user_id,
            batch_size,
            last_cursor,
            total_processed,
            format,
            gzip,
            columns,
            lists,
            updated_after,
            output_key,
        })
    }

    fn required(&self, name: &str) -> Result<&Value, String> {
        self.get(name)
            .ok_or_else(|| format!("{name} is missing (a non-empty string is required)"))
    }

    fn optional<T>(
        &self,
        name: &str,
        check: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        self.get(name).map(check).transpose()
    }
}

/// [`parse`] for a delivery: its body and its AMQP `message_id` property.
pub fn parse_delivery(
    body: &[u8],
    props: &lapin::BasicProperties,
    export_prefix: &str,
) -> Result<JobSpec, Rejection> {
    let message_id = props.message_id().as_ref().map(|m| m.as_str());
    parse(body, message_id, export_prefix)
}

/// The body's top level: an object read with its keys in order (a repeated key is an error,
/// since JSON parsers disagree on which copy wins), or the kind of anything else.
enum TopLevel {
    Object(Vec<(String, Value)>),
    Other(&'static str),
}

impl<'de> de::Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut fields: Vec<(String, Value)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key {}",
                    fields::show(&Value::String(key))
                )));
            }
            let value = map.next_value::<Value>()?;
            fields.push((key, value));
        }
        Ok(TopLevel::Object(fields))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TopLevel, A::Error> {
        // Consumed so the parser still reports malformed JSON as such.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TopLevel::Other("an array"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a string"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a number"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("null"))
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
