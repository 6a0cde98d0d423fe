//! The simulator's answers checked against the official v3 spec (the vendored swagger YAML):
//! `Contacts`, `ContactResource` and `CustomFields` with `$ref`s resolved; types, formats
//! (uuid, date-time, date), `maxLength`, `maxItems`, `required`, `enum`, and no property the
//! spec does not declare.

mod sim_common;

use std::sync::OnceLock;

use serde_json::Value;
use sim_common::{ACCOUNT, Api, small, start};

const SPEC: &str = "tests/fixtures/constant-contact-v3-swagger.yaml";
const ALL: &str = "custom_fields,list_memberships,phone_numbers,street_addresses,taggings,notes";

fn definitions() -> &'static Value {
    static DEFS: OnceLock<Value> = OnceLock::new();
    DEFS.get_or_init(|| {
        let text = std::fs::read_to_string(SPEC).expect("spec fixture");
        let spec: Value = serde_yaml_ng::from_str(&text).expect("spec parses");
        spec["definitions"].clone()
    })
}

fn resolve(schema: &Value) -> &Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/definitions/").expect("local $ref");
            resolve(
                definitions()
                    .get(name)
                    .unwrap_or_else(|| panic!("unknown $ref {r}")),
            )
        }
        None => schema,
    }
}

fn format_ok(format: &str, s: &str) -> bool {
    use time::format_description::well_known::Rfc3339;
    match format {
        "uuid" => uuid::Uuid::parse_str(s).is_ok() && s.len() == 36,
        "date-time" => time::OffsetDateTime::parse(s, &Rfc3339).is_ok(),
        "date" => {
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).is_ok()
        }
        _ => true,
    }
}

/// Appends every violation of `schema` by `value` to `errors`.
fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let schema = resolve(schema);
    let mut fail = |msg: String| errors.push(format!("{path}: {msg}"));
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        fail(format!("{value} not in enum"));
    }
    match schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("object")
    {
        "object" => {
            let Some(obj) = value.as_object() else {
                return fail(format!("expected object, got {value}"));
            };
            let props = schema.get("properties").and_then(Value::as_object);
            for req in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !obj.contains_key(req.as_str().unwrap()) {
                    fail(format!("missing required {req}"));
                }
            }
            for (key, v) in obj {
                match props.and_then(|p| p.get(key)) {
                    Some(s) => check(s, v, &format!("{path}.{key}"), errors),
                    None => errors.push(format!("{path}: property {key:?} is not in the spec")),
                }
            }
        }
        "array" => {
            let Some(items) = value.as_array() else {
                return fail(format!("expected array, got {value}"));
            };
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                && items.len() as u64 > max
            {
                fail(format!("{} items > maxItems {max}", items.len()));
            }
            for (i, item) in items.iter().enumerate() {
                check(&schema["items"], item, &format!("{path}[{i}]"), errors);
            }
        }
        "string" => {
            let Some(s) = value.as_str() else {
                return fail(format!("expected string, got {value}"));
            };
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                && s.chars().count() as u64 > max
            {
                fail(format!("{s:?} longer than maxLength {max}"));
            }
            if let Some(f) = schema.get("format").and_then(Value::as_str)
                && !format_ok(f, s)
            {
                fail(format!("{s:?} is not a {f}"));
            }
        }
        "integer" if !(value.is_i64() || value.is_u64()) => {
            fail(format!("expected integer, got {value}"))
        }
        "boolean" if !value.is_boolean() => fail(format!("expected boolean, got {value}")),
        "number" if !value.is_number() => fail(format!("expected number, got {value}")),
        _ => {}
    }
}

fn violations(definition: &str, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(&definitions()[definition], value, definition, &mut errors);
    errors
}

#[test]
fn the_checker_catches_violations() {
    let bad = serde_json::json!({
        "contact_id": "not-a-uuid",
        "first_name": "x".repeat(51),
        "created_at": "yesterday",
        "deleted_at": "2020-13-45",
        "birthday_month": "11",
        "phone_numbers": [{}, {}, {}, {}],
        "street_addresses": [{"city": "no kind"}],
        "email_address": {"permission_to_send": "explicit"},
        "favourite_animal": "cat",
    });
    let errors = violations("ContactResource", &bad);
    for needle in [
        "contact_id",
        "first_name",
        "created_at",
        "deleted_at",
        "birthday_month",
        "maxItems",
        "required \"kind\"",
        "required \"address\"",
        "favourite_animal",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "{needle} not caught: {errors:#?}"
        );
    }
}

#[test]
fn generated_contacts_conform_to_contact_resource() {
    let sim_data = cc_export::sim::Dataset::new(42, 4000);
    let mut seen_deleted = false;
    for account in ["acct-1", "12345"] {
        for index in 0..4000 {
            let c = sim_data.contact(account, index);
            seen_deleted |= c.get("deleted_at").is_some();
            let errors = violations("ContactResource", &c);
            assert!(errors.is_empty(), "{account}/{index}: {errors:#?}\n{c}");
        }
    }
    assert!(seen_deleted);
}

#[tokio::test]
async fn contact_pages_conform_to_contacts() {
    let sim = start(small(700)).await;
    let api = Api::new(&sim, ACCOUNT);
    for first in [
        format!("/v3/contacts?limit=150&include={ALL}&include_count=true"),
        "/v3/contacts?limit=200".to_owned(),
        format!("/v3/contacts?limit=500&status=all&include={ALL}"),
    ] {
        let pages = api.all_pages(&first).await;
        assert!(pages.len() >= 2, "several pages");
        for page in pages {
            let errors = violations("Contacts", &page.json());
            assert!(errors.is_empty(), "{first}: {errors:#?}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn custom_field_pages_conform_to_custom_fields() {
    let sim = start(small(1)).await;
    for account in ["acct-1", "acct-2", "acct-3", "acct-4"] {
        let api = Api::new(&sim, account);
        for first in [
            "/v3/contact_custom_fields",
            "/v3/contact_custom_fields?limit=2",
        ] {
            for page in api.all_pages(first).await {
                let errors = violations("CustomFields", &page.json());
                assert!(errors.is_empty(), "{account} {first}: {errors:#?}");
            }
        }
    }
    sim.shutdown().await;
}
