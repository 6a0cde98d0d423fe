//! One validator per job-message field. Each returns the field's value or one line saying what
//! is wrong with it, naming the field and what it accepts.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::encode::{CUSTOM_FIELD_PREFIX, DEFAULT_COLUMN_NAMES, Format};

pub const MAX_ID_LEN: usize = 128;
pub const MAX_BATCH_SIZE: u64 = 500;
pub const DEFAULT_BATCH_SIZE: u16 = 500;
pub const MAX_CURSOR_LEN: usize = 4096;
pub const MAX_LISTS: usize = 25;

/// Fixed namespace of the UUIDv5 made from a non-UUID AMQP `message_id`, so every redelivery of
/// the same message maps to the same job.
pub const MESSAGE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_3c2a_8e4b_5f70_9a1d_2b3c_4d5e_6f70);

type FieldResult<T> = Result<T, String>;

/// A value as it may appear in a reason: compact JSON, control characters escaped, at most
/// 64 characters, so a reason stays one short line whatever the producer sent.
pub fn show(value: &Value) -> String {
    let text = match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    // Debug and JSON both escape control characters, so the result is one printable line.
    let mut out: String = text.chars().take(64).collect();
    if text.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// "a string", "a number"... for "must be X, got Y" reasons about the JSON type.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// `account_id`: a non-empty string (or a non-negative JSON integer, taken as its digits) that
/// can sit in an object key as one path segment.
pub fn account_id(value: &Value) -> FieldResult<String> {
    let s = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        other => {
            return Err(format!(
                "account_id must be a non-empty string or a non-negative integer, got {}",
                show(other)
            ));
        }
    };
    bounded_text("account_id", &s)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-');
    if !s.chars().all(allowed) {
        return Err(format!(
            "account_id may only hold letters, digits and . _ @ - (it becomes part of the object key), got {}",
            show(&Value::String(s))
        ));
    }
    if s == "." || s == ".." {
        return Err(format!("account_id must not be {s:?}"));
    }
    Ok(s)
}

/// `user_id`: a non-empty string without control characters.
pub fn user_id(value: &Value) -> FieldResult<String> {
    match value {
        Value::String(s) => bounded_text("user_id", s).map(|()| s.clone()),
        other => Err(format!(
            "user_id must be a non-empty string, got {}",
            kind(other)
        )),
    }
}

fn bounded_text(field: &str, s: &str) -> FieldResult<()> {
    if s.is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(format!(
            "{field} must be at most {MAX_ID_LEN} bytes, got {}",
            s.len()
        ));
    }
    if has_control(s) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(())
}

/// `job_id` from the body: a UUID string, not the nil UUID.
pub fn job_id(value: &Value) -> FieldResult<Uuid> {
    let Value::String(s) = value else {
        return Err(format!("job_id must be a UUID string, got {}", kind(value)));
    };
    match Uuid::parse_str(s) {
        Ok(id) if id.is_nil() => Err("job_id must not be the nil UUID".into()),
        Ok(id) => Ok(id),
        Err(_) => Err(format!("job_id must be a UUID, got {}", show(value))),
    }
}

/// The job id an AMQP `message_id` stands for: itself when it is a UUID, else a UUIDv5 of it.
pub fn job_id_from_message_id(message_id: &str) -> Option<Uuid> {
    if message_id.is_empty() {
        return None;
    }
    match Uuid::parse_str(message_id) {
        Ok(id) if !id.is_nil() => Some(id),
        _ => Some(Uuid::new_v5(&MESSAGE_ID_NAMESPACE, message_id.as_bytes())),
    }
}

/// An integer field within `min..=max`: floats, strings and exponents are refused, so "250",
/// 2.5 and 1e9 never turn into a page size by accident.
pub fn integer(field: &str, value: &Value, min: u64, max: u64) -> FieldResult<u64> {
    let range = if max == u64::MAX {
        format!("an integer >= {min}")
    } else {
        format!("an integer in {min}..={max}")
    };
    match value.as_u64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{field} must be {range}, got {}", show(value))),
    }
}

pub fn batch_size(value: &Value) -> FieldResult<u16> {
    // The range check makes the cast lossless.
    integer("batch_size", value, 1, MAX_BATCH_SIZE).map(|n| n as u16)
}

pub fn last_cursor(value: &Value) -> FieldResult<Option<String>> {
    let Value::String(s) = value else {
        return Err(format!(
            "last_cursor must be a string or null, got {}",
            kind(value)
        ));
    };
    if s.len() > MAX_CURSOR_LEN {
        return Err(format!(
            "last_cursor must be at most {MAX_CURSOR_LEN} bytes, got {}",
            s.len()
        ));
    }
    if has_control(s) {
        return Err("last_cursor must not contain control characters".into());
    }
    // An empty cursor is "no resume point", what JavaScript producers tend to send for none.
    Ok((!s.is_empty()).then(|| s.clone()))
}

pub fn format(value: &Value) -> FieldResult<Format> {
    match value.as_str() {
        Some("csv") => Ok(Format::Csv),
        Some("ndjson") => Ok(Format::Ndjson),
        _ => Err(format!(
            "format must be \"csv\" or \"ndjson\", got {}",
            show(value)
        )),
    }
}

pub fn gzip(value: &Value) -> FieldResult<bool> {
    value
        .as_bool()
        .ok_or_else(|| format!("gzip must be true or false, got {}", show(value)))
}

/// `columns`: a string like `--columns`, or an array of names joined with `,`. Each name must be
/// a default column (any case) or `custom_field:<id>`; whether the id exists is only known once
/// the account's custom fields are read, at run time. Empty → the default columns.
pub fn columns(value: &Value) -> FieldResult<Option<String>> {
    let joined = match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let mut names = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Value::String(name) = item else {
                    return Err(format!("columns[{i}] must be a string, got {}", kind(item)));
                };
                if name.contains(',') {
                    return Err(format!("columns[{i}] must not contain ','"));
                }
                names.push(name.as_str());
            }
            names.join(",")
        }
        other => {
            return Err(format!(
                "columns must be a string, an array of strings or null, got {}",
                kind(other)
            ));
        }
    };
    if has_control(&joined) {
        return Err("columns must not contain control characters".into());
    }
    let mut any = false;
    for name in joined.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        any = true;
        let custom = name
            .get(..CUSTOM_FIELD_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(CUSTOM_FIELD_PREFIX))
            && !name[CUSTOM_FIELD_PREFIX.len()..].trim().is_empty();
        if !custom
            && !DEFAULT_COLUMN_NAMES
                .iter()
                .any(|d| d.eq_ignore_ascii_case(name))
        {
            return Err(format!(
                "columns: unknown column {}; valid: {}, {CUSTOM_FIELD_PREFIX}<custom_field_id>",
                show(&Value::String(name.to_owned())),
                DEFAULT_COLUMN_NAMES.join(", ")
            ));
        }
    }
    Ok(any.then_some(joined))
}

/// `lists`: at most 25 list ids (the API's limit), each a non-empty string without `,` (the API
/// takes them comma-separated).
pub fn lists(value: &Value) -> FieldResult<Vec<String>> {
    let Value::Array(items) = value else {
        return Err(format!(
            "lists must be an array of list ids or null, got {}",
            kind(value)
        ));
    };
    if items.len() > MAX_LISTS {
        return Err(format!(
            "lists must hold at most {MAX_LISTS} list ids, got {}",
            items.len()
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::String(id) = item else {
            return Err(format!("lists[{i}] must be a string, got {}", kind(item)));
        };
        bounded_text(&format!("lists[{i}]"), id)?;
        if id.contains(',') {
            return Err(format!("lists[{i}] must not contain ','"));
        }
        out.push(id.clone());
    }
    Ok(out)
}

pub fn updated_after(value: &Value) -> FieldResult<String> {
    match value.as_str() {
        Some(s) if OffsetDateTime::parse(s, &Rfc3339).is_ok() => Ok(s.to_owned()),
        _ => Err(format!(
            "updated_after must be an RFC 3339 date-time (e.g. 2024-01-31T00:00:00Z) or null, got {}",
            show(value)
        )),
    }
}
