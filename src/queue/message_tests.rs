use serde_json::json;

use super::*;

const PREFIX: &str = "exports/";
const JOB: &str = "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f";

fn base() -> serde_json::Map<String, Value> {
    let Value::Object(m) = json!({
        "type": "constantcontact-export",
        "job_id": JOB,
        "account_id": "12345",
        "user_id": "user_abc",
    }) else {
        unreachable!()
    };
    m
}

/// The base message with `field` set to `value` (`Value::Null` removes nothing: null = absent).
fn with(field: &str, value: Value) -> Vec<u8> {
    let mut m = base();
    m.insert(field.into(), value);
    serde_json::to_vec(&m).unwrap()
}

fn without(field: &str) -> Vec<u8> {
    let mut m = base();
    m.remove(field);
    serde_json::to_vec(&m).unwrap()
}

fn reason(body: &[u8]) -> String {
    parse(body, None, PREFIX).unwrap_err().reason
}

#[test]
fn corpus_of_bad_messages_is_rejected_with_the_right_reason() {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let deep_field = format!(
        r#"{{"type":"constantcontact-export","account_id":"1","user_id":"u","x":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let deep_object = format!("{}1{}", r#"{"x":"#.repeat(10_000), "}".repeat(10_000));
    let big = vec![b' '; 10 * 1024 * 1024];
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not json", b"hello".to_vec(), "not valid JSON"),
        ("truncated", br#"{"type":"constantcontact-export""#.to_vec(), "not valid JSON"),
        ("empty body", Vec::new(), "not valid JSON"),
        ("array", br#"[{"type":"constantcontact-export"}]"#.to_vec(), "must be a JSON object, got an array"),
        ("string", br#""constantcontact-export""#.to_vec(), "must be a JSON object, got a string"),
        ("null", b"null".to_vec(), "must be a JSON object, got null"),
        ("number", b"42".to_vec(), "must be a JSON object, got a number"),
        ("trailing garbage", [serde_json::to_vec(&base()).unwrap(), b"{}".to_vec()].concat(), "not valid JSON"),
        ("10 MB body", big, "more than the 65536 allowed"),
        ("invalid utf-8", b"{\"type\":\"\xff\xfe\"}".to_vec(), "not valid UTF-8 (at byte 9)"),
        ("raw NUL byte", b"{\"type\":\"constantcontact-export\0\"}".to_vec(), "not valid JSON"),
        ("deeply nested array", deep.into_bytes(), "must be a JSON object, got an array"),
        ("deeply nested object", deep_object.into_bytes(), "not valid JSON: recursion limit exceeded"),
        ("deeply nested field", deep_field.into_bytes(), "recursion limit exceeded"),
        ("duplicate key", br#"{"type":"constantcontact-export","account_id":"1","account_id":"2","user_id":"u"}"#.to_vec(), "duplicate key \"account_id\""),
        ("type missing", without("type"), "type is missing"),
        ("unknown type", with("type", json!("mailchimp-export")), "type must be \"constantcontact-export\", got \"mailchimp-export\""),
        ("type number", with("type", json!(1)), "type must be \"constantcontact-export\", got 1"),
        ("account missing", without("account_id"), "account_id is missing"),
        ("account empty", with("account_id", json!("")), "account_id must not be empty"),
        ("account null", with("account_id", Value::Null), "account_id is missing"),
        ("account bool", with("account_id", json!(true)), "account_id must be a non-empty string or a non-negative integer"),
        ("account negative", with("account_id", json!(-5)), "account_id must be a non-empty string or a non-negative integer, got -5"),
        ("account float", with("account_id", json!(1.5)), "account_id must be a non-empty string or a non-negative integer, got 1.5"),
        ("account ..", with("account_id", json!("..")), "account_id must not be \"..\""),
        ("account .", with("account_id", json!(".")), "account_id must not be \".\""),
        ("account ../", with("account_id", json!("../etc")), "account_id may only hold letters"),
        ("account slash", with("account_id", json!("a/b")), "account_id may only hold letters"),
        ("account SQL", with("account_id", json!("1'; DROP TABLE export_jobs; --")), "account_id may only hold letters"),
        ("account too long", with("account_id", json!("a".repeat(129))), "account_id must be at most 128 bytes, got 129"),
        ("account NUL escape", with("account_id", json!("a\u{0}b")), "account_id must not contain control characters"),
        ("user missing", without("user_id"), "user_id is missing"),
        ("user number", with("user_id", json!(7)), "user_id must be a non-empty string, got a number"),
        ("user newline", with("user_id", json!("u\nX-Injected: 1")), "user_id must not contain control characters"),
        ("user too long", with("user_id", json!("u".repeat(200))), "user_id must be at most 128 bytes"),
        ("job_id not uuid", with("job_id", json!("job-1")), "job_id must be a UUID, got \"job-1\""),
        ("job_id number", with("job_id", json!(12)), "job_id must be a UUID string, got a number"),
        ("job_id nil", with("job_id", json!("00000000-0000-0000-0000-000000000000")), "nil UUID"),
        ("batch 0", with("batch_size", json!(0)), "batch_size must be an integer in 1..=500, got 0"),
        ("batch 501", with("batch_size", json!(501)), "batch_size must be an integer in 1..=500, got 501"),
        ("batch -1", with("batch_size", json!(-1)), "batch_size must be an integer in 1..=500, got -1"),
        ("batch 1e9", br#"{"type":"constantcontact-export","account_id":"1","user_id":"u","batch_size":1e9}"#.to_vec(), "batch_size must be an integer in 1..=500, got 1000000000.0"),
        ("batch huge", br#"{"type":"constantcontact-export","account_id":"1","user_id":"u","batch_size":99999999999999999999999}"#.to_vec(), "batch_size must be an integer in 1..=500, got 1e+23"),
        ("batch float", with("batch_size", json!(2.5)), "batch_size must be an integer in 1..=500, got 2.5"),
        ("batch string", with("batch_size", json!("250")), "batch_size must be an integer in 1..=500, got \"250\""),
        ("batch 250.0", with("batch_size", json!(250.0)), "batch_size must be an integer in 1..=500, got 250.0"),
        ("cursor number", with("last_cursor", json!(5)), "last_cursor must be a string or null, got a number"),
        ("cursor too long", with("last_cursor", json!("c".repeat(4097))), "last_cursor must be at most 4096 bytes, got 4097"),
        ("total negative", with("total_processed", json!(-3)), "total_processed must be an integer >= 0, got -3"),
        ("total string", with("total_processed", json!("0")), "total_processed must be an integer >= 0, got \"0\""),
        ("unknown format", with("format", json!("xlsx")), "format must be \"csv\" or \"ndjson\", got \"xlsx\""),
        ("format upper", with("format", json!("CSV")), "format must be \"csv\" or \"ndjson\", got \"CSV\""),
        ("gzip string", with("gzip", json!("true")), "gzip must be true or false, got \"true\""),
        ("columns object", with("columns", json!({"a": 1})), "columns must be a string, an array of strings or null, got an object"),
        ("columns array of numbers", with("columns", json!(["Email", 3])), "columns[1] must be a string, got a number"),
        ("columns unknown", with("columns", json!("Email,Shoe Size")), "columns: unknown column \"Shoe Size\""),
        ("columns with ndjson", br#"{"type":"constantcontact-export","account_id":"1","user_id":"u","format":"ndjson","columns":"Email"}"#.to_vec(), "columns applies to CSV"),
        ("lists string", with("lists", json!("abc")), "lists must be an array of list ids or null, got a string"),
        ("lists 26", with("lists", json!((0..26).map(|i| format!("l{i}")).collect::<Vec<_>>())), "lists must hold at most 25 list ids, got 26"),
        ("lists empty id", with("lists", json!(["a", ""])), "lists[1] must not be empty"),
        ("lists comma", with("lists", json!(["a,b"])), "lists[0] must not contain ','"),
        ("updated_after bad", with("updated_after", json!("yesterday")), "updated_after must be an RFC 3339 date-time"),
        ("updated_after date only", with("updated_after", json!("2024-01-31")), "updated_after must be an RFC 3339 date-time"),
        ("key ../", with("output_key", json!("../secrets/x.csv")), "output_key must not contain '.' or '..' segments"),
        ("key inner ..", with("output_key", json!("a/../../x.csv")), "output_key must not contain '.' or '..' segments"),
        ("key absolute", with("output_key", json!("/etc/passwd")), "output_key must be relative (no leading '/')"),
        ("key backslash", with("output_key", json!("a\\..\\x.csv")), "output_key must not contain '\\'"),
        ("key control", with("output_key", json!("a\rb.csv")), "output_key must not contain control characters"),
        ("key empty", with("output_key", json!("")), "output_key must not be empty"),
        ("key dir", with("output_key", json!("a/b/")), "output_key must name an object"),
        ("key too long", with("output_key", json!("k".repeat(901))), "output_key must be at most 900 bytes"),
        ("key number", with("output_key", json!(1)), "output_key must be a string or null, got a number"),
    ];
    assert!(cases.len() >= 30);
    for (name, body, want) in &cases {
        let got = parse(body, None, PREFIX);
        let Err(rejection) = got else {
            panic!("{name}: accepted: {got:?}");
        };
        assert!(
            rejection.reason.contains(want),
            "{name}: reason {:?} does not contain {want:?}",
            rejection.reason
        );
        assert!(
            !rejection.reason.contains('\n') && rejection.reason.len() < 600,
            "{name}: reason is not one short line: {:?}",
            rejection.reason
        );
    }
}

#[test]
fn the_seeds_exact_shape_is_accepted_with_defaults() {
    let body = br#"{
        "type": "constantcontact-export",
        "account_id": "12345",
        "user_id": "user_abc",
        "batch_size": 250,
        "last_cursor": null,
        "total_processed": 0
    }"#;
    let spec = parse(body, None, PREFIX).unwrap();
    assert_eq!(spec.account_id, "12345");
    assert_eq!(spec.user_id, "user_abc");
    assert_eq!(spec.batch_size, 250);
    assert_eq!(spec.last_cursor, None);
    assert_eq!(spec.total_processed, 0);
    assert_eq!(spec.format, Format::Csv);
    assert!(!spec.gzip && spec.columns.is_none() && spec.lists.is_empty());
    assert_eq!(spec.job_id.get_version_num(), 4, "made up: a v4");
    assert_eq!(
        spec.output_key,
        format!("exports/12345/{}.csv", spec.job_id)
    );
}

#[test]
fn every_optional_field_is_read() {
    let body = json!({
        "type": "constantcontact-export",
        "job_id": JOB,
        "account_id": "acme.co@eu-1",
        "user_id": "user abc",
        "batch_size": 1,
        "last_cursor": "bGltaXQ9MSZuZXh0PTI=",
        "total_processed": 1500,
        "format": "csv",
        "gzip": true,
        "columns": ["Email", "first name", "custom_field:1a2b"],
        "lists": ["l1", "l2"],
        "updated_after": "2024-01-31T12:00:00+02:00",
        "output_key": "team/a.csv.gz",
        "priority": "high",
        "meta": {"nested": [1, 2, {"k": null}]}
    });
    let spec = parse(&serde_json::to_vec(&body).unwrap(), Some("ignored"), "p/").unwrap();
    assert_eq!(spec.job_id, Uuid::parse_str(JOB).unwrap());
    assert_eq!(spec.account_id, "acme.co@eu-1");
    assert_eq!(spec.user_id, "user abc");
    assert_eq!(spec.batch_size, 1);
    assert_eq!(spec.last_cursor.as_deref(), Some("bGltaXQ9MSZuZXh0PTI="));
    assert_eq!(spec.total_processed, 1500);
    assert!(spec.gzip);
    assert_eq!(
        spec.columns.as_deref(),
        Some("Email,first name,custom_field:1a2b")
    );
    assert_eq!(spec.lists, ["l1", "l2"]);
    assert_eq!(
        spec.updated_after.as_deref(),
        Some("2024-01-31T12:00:00+02:00")
    );
    assert_eq!(spec.output_key, "p/team/a.csv.gz");
}

#[test]
fn nulls_mean_defaults_and_ndjson_gzip_names_the_default_key() {
    let body = json!({
        "type": "constantcontact-export", "job_id": JOB, "account_id": "7", "user_id": "u",
        "batch_size": null, "last_cursor": "", "total_processed": null, "format": "ndjson",
        "gzip": true, "columns": null, "lists": null, "updated_after": null, "output_key": null
    });
    let spec = parse(&serde_json::to_vec(&body).unwrap(), None, PREFIX).unwrap();
    assert_eq!(spec.batch_size, 500);
    assert_eq!(spec.last_cursor, None, "an empty cursor is no resume point");
    assert_eq!(spec.output_key, format!("exports/7/{JOB}.ndjson.gz"));
    let empty_columns = with("columns", json!([]));
    assert_eq!(parse(&empty_columns, None, PREFIX).unwrap().columns, None);
}

#[test]
fn job_id_falls_back_to_the_message_id() {
    let body = without("job_id");
    let uuid_mid = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
    let spec = parse(&body, Some(uuid_mid), PREFIX).unwrap();
    assert_eq!(spec.job_id.to_string(), uuid_mid);

    // Not a UUID: the same v5 every time, so a redelivery maps to the same job.
    let a = parse(&body, Some("order-77"), PREFIX).unwrap().job_id;
    let b = parse(&body, Some("order-77"), PREFIX).unwrap().job_id;
    let c = parse(&body, Some("order-78"), PREFIX).unwrap().job_id;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.get_version_num(), 5);

    // Both absent (or empty): a fresh v4 each time.
    let x = parse(&body, Some(""), PREFIX).unwrap().job_id;
    let y = parse(&body, None, PREFIX).unwrap().job_id;
    assert_ne!(x, y);

    // The body's job_id wins over the message id.
    let spec = parse(
        &serde_json::to_vec(&base()).unwrap(),
        Some(uuid_mid),
        PREFIX,
    )
    .unwrap();
    assert_eq!(spec.job_id.to_string(), JOB);
}

#[test]
fn an_integer_account_id_is_taken_as_its_digits() {
    let spec = parse(&with("account_id", json!(12345)), None, PREFIX).unwrap();
    assert_eq!(spec.account_id, "12345");
    assert_eq!(spec.output_key, format!("exports/12345/{JOB}.csv"));
}

#[test]
fn rejections_carry_what_could_be_read() {
    let r = parse(&with("batch_size", json!(0)), None, PREFIX).unwrap_err();
    assert_eq!(r.job_id, Some(Uuid::parse_str(JOB).unwrap()));
    assert_eq!(r.account_id.as_deref(), Some("12345"));
    assert_eq!(r.user_id.as_deref(), Some("user_abc"));

    let mid = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
    let r = parse(b"not json", Some(mid), PREFIX).unwrap_err();
    assert_eq!(r.job_id.map(|u| u.to_string()).as_deref(), Some(mid));
    assert_eq!((r.account_id, r.user_id), (None, None));

    // A bad account id is not passed on; no ids at all when nothing names the job.
    let r = parse(&with("account_id", json!("../x")), None, PREFIX).unwrap_err();
    assert_eq!(r.account_id, None);
    let r = parse(br#"{"type":"x"}"#, None, PREFIX).unwrap_err();
    assert_eq!(r.job_id, None);
    // A broken body job_id is not replaced by the message id.
    let r = parse(&with("job_id", json!("nope")), Some(mid), PREFIX).unwrap_err();
    assert_eq!(r.job_id, None);
}

#[test]
fn keys_never_escape_the_prefix() {
    for key in ["a.csv", "x/y/z.ndjson.gz", "..a/b..c.csv", "a/.hidden"] {
        let spec = parse(&with("output_key", json!(key)), None, PREFIX).unwrap();
        assert_eq!(spec.output_key, format!("{PREFIX}{key}"));
    }
}

#[test]
fn a_body_of_exactly_64_kib_is_read() {
    let mut body = serde_json::to_vec(&base()).unwrap();
    body.pop();
    body.extend_from_slice(br#","pad":""#);
    let pad = MAX_BODY_BYTES - body.len() - 2;
    body.extend(std::iter::repeat_n(b'x', pad));
    body.extend_from_slice(br#""}"#);
    assert_eq!(body.len(), MAX_BODY_BYTES);
    assert!(parse(&body, None, PREFIX).is_ok());
    body.insert(body.len() - 2, b'x');
    assert!(reason(&body).contains("65537 bytes"));
}
