//! Bad job messages for the hostile-input test: each a distinct body, the words its
//! `x-cc-export-error` reason must contain, and whether it carries a readable job id (then the
//! rejection is recorded on a job row).
#![allow(dead_code)]

use serde_json::{Value, json};
use uuid::Uuid;

pub struct Bad {
    pub name: &'static str,
    pub body: Vec<u8>,
    pub reason: &'static str,
    pub job_id: Option<Uuid>,
}

fn base(id: Uuid) -> serde_json::Map<String, Value> {
    let Value::Object(m) = json!({
        "type": "constantcontact-export",
        "job_id": id,
        "account_id": "acct-hostile",
        "user_id": "user_abc",
    }) else {
        unreachable!()
    };
    m
}

/// A message with a valid job id and `field` set to `value`.
fn with(name: &'static str, field: &str, value: Value, reason: &'static str) -> Bad {
    let id = Uuid::new_v4();
    let mut m = base(id);
    m.insert(field.into(), value);
    Bad {
        name,
        body: serde_json::to_vec(&m).unwrap(),
        reason,
        job_id: Some(id),
    }
}

fn without(name: &'static str, field: &str, reason: &'static str) -> Bad {
    let id = Uuid::new_v4();
    let mut m = base(id);
    m.remove(field);
    Bad {
        name,
        body: serde_json::to_vec(&m).unwrap(),
        reason,
        job_id: Some(id),
    }
}

/// A raw body: no job id can be read from it.
fn raw(name: &'static str, body: impl Into<Vec<u8>>, reason: &'static str) -> Bad {
    Bad {
        name,
        body: body.into(),
        reason,
        job_id: None,
    }
}

/// A raw body with `"job_id":"<id>"` spliced in, for shapes `json!` cannot express. A body that
/// does not parse as an object has no readable id, so no row is expected.
fn raw_with_id(name: &'static str, rest: &str, reason: &'static str) -> Bad {
    let body = format!(r#"{{"job_id":"{}",{rest}}}"#, Uuid::new_v4());
    Bad {
        name,
        body: body.into_bytes(),
        reason,
        job_id: None,
    }
}

impl Bad {
    /// The id in the body is itself invalid: no row can be meant.
    fn no_row(mut self) -> Self {
        self.job_id = None;
        self
    }
}

pub fn bad_messages() -> Vec<Bad> {
    let range = "must be an integer in 1..=500";
    let key_msg = "output_key";
    let deep = format!("{}{}", r#"{"x":"#.repeat(5_000), "}".repeat(5_000));
    let mut ten_mb = br#"{"type":"constantcontact-export","pad":""#.to_vec();
    ten_mb.resize(10 * 1024 * 1024, b'a');
    ten_mb.extend_from_slice(br#""}"#);
    vec![
        raw("not JSON", "this is not json", "not valid JSON"),
        raw("empty body", "", "not valid JSON"),
        raw(
            "truncated JSON",
            r#"{"type":"constantcontact-export""#,
            "not valid JSON",
        ),
        raw(
            "JSON array",
            r#"[{"type":"constantcontact-export"}]"#,
            "must be a JSON object, got an array",
        ),
        raw(
            "JSON string",
            r#""constantcontact-export""#,
            "must be a JSON object, got a string",
        ),
        raw("JSON null", "null", "must be a JSON object, got null"),
        raw("10 MB body", ten_mb, "more than the 65536 allowed"),
        raw(
            "invalid UTF-8",
            b"{\"type\":\"\xff\xfe\"}".to_vec(),
            "not valid UTF-8",
        ),
        raw(
            "raw NUL byte",
            b"{\"type\":\"constantcontact-export\0\"}".to_vec(),
            "not valid JSON",
        ),
        raw("deep nesting", deep, "recursion limit exceeded"),
        raw_with_id(
            "duplicate key",
            r#""type":"constantcontact-export","account_id":"a","account_id":"b","user_id":"u""#,
            "duplicate key \"account_id\"",
        ),
        without("type missing", "type", "type is missing"),
        with(
            "unknown type",
            "type",
            json!("mailchimp-export"),
            "type must be \"constantcontact-export\"",
        ),
        with(
            "type wrong type",
            "type",
            json!(["constantcontact-export"]),
            "type must be",
        ),
        without("account_id missing", "account_id", "account_id is missing"),
        without("user_id missing", "user_id", "user_id is missing"),
        with(
            "account_id bool",
            "account_id",
            json!(true),
            "account_id must be a non-empty string",
        ),
        with(
            "user_id number",
            "user_id",
            json!(7),
            "user_id must be a non-empty string",
        ),
        with("batch_size 0", "batch_size", json!(0), range),
        with("batch_size 501", "batch_size", json!(501), range),
        with("batch_size -1", "batch_size", json!(-1), range),
        with("batch_size 1e12", "batch_size", json!(1e12), range),
        with("batch_size 2.5", "batch_size", json!(2.5), range),
        with("batch_size \"250\"", "batch_size", json!("250"), range),
        with(
            "unknown format",
            "format",
            json!("xlsx"),
            "format must be \"csv\" or \"ndjson\"",
        ),
        with(
            "gzip string",
            "gzip",
            json!("yes"),
            "gzip must be true or false",
        ),
        with(
            "account_id ../",
            "account_id",
            json!("../../etc"),
            "account_id may only hold",
        ),
        with(
            "account_id absolute",
            "account_id",
            json!("/etc/passwd"),
            "account_id may only hold",
        ),
        with(
            "account_id backslash",
            "account_id",
            json!("..\\..\\x"),
            "account_id may only hold",
        ),
        with(
            "account_id ..",
            "account_id",
            json!(".."),
            "account_id must not be \"..\"",
        ),
        with(
            "account_id SQL",
            "account_id",
            json!("1'; DROP TABLE export_jobs; --"),
            "account_id may only hold",
        ),
        with(
            "user_id SQL NUL",
            "user_id",
            json!("u'); DELETE FROM cc_tokens;\u{0}"),
            "user_id must not contain control characters",
        ),
        with(
            "output_key ../",
            "output_key",
            json!("../../outside.csv"),
            key_msg,
        ),
        with(
            "output_key absolute",
            "output_key",
            json!("/etc/cron.d/x"),
            key_msg,
        ),
        with(
            "output_key backslash",
            "output_key",
            json!("a\\..\\..\\b.csv"),
            key_msg,
        ),
        with(
            "output_key dot segment",
            "output_key",
            json!("a/./b.csv"),
            key_msg,
        ),
        with("output_key NUL", "output_key", json!("a\u{0}.csv"), key_msg),
        with(
            "job_id not a UUID",
            "job_id",
            json!("job-1; DROP TABLE x"),
            "job_id must be a UUID",
        )
        .no_row(),
        with(
            "last_cursor number",
            "last_cursor",
            json!(5),
            "last_cursor must be a string",
        ),
        with("lists not array", "lists", json!("list-1"), "lists"),
    ]
}
