//! The seed's `GET /v1/integrations/constantcontact/lists` against the simulator, through a
//! real `cc-export serve`: the response shape field by field, cursor pagination over every
//! contact, the limit's bounds, and the seed's error table (404 without stored tokens, a stale
//! token refreshed first, Constant Contact's 429 and 400 passed through).

#[path = "common/amqp.rs"]
mod amqp;
#[path = "common/api.rs"]
mod api;
#[path = "common/db.rs"]
mod db;
#[path = "common/s3.rs"]
mod s3_common;
#[path = "common/stack.rs"]
mod stack;

use api::{ApiServer, token};
use cc_export::api::LISTS_PATH;
use cc_export::sim::Fault;
use serde_json::{Value, json};
use stack::{ACCOUNT, Stack, USER};

/// The seed's contact fields, in its order.
const SEED_FIELDS: [&str; 17] = [
    "contact_id",
    "email_address",
    "first_name",
    "last_name",
    "job_title",
    "company_name",
    "phone_numbers",
    "street_addresses",
    "list_memberships",
    "taggings",
    "notes",
    "custom_fields",
    "created_at",
    "updated_at",
    "birthday_month",
    "birthday_day",
    "anniversary",
];

/// One contact of the answer against the simulator's v3 contact, field by field.
fn assert_seed_contact(got: &Value, v3: &Value) {
    let keys: Vec<&str> = got
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, SEED_FIELDS);
    for field in [
        "contact_id",
        "first_name",
        "last_name",
        "job_title",
        "company_name",
        "list_memberships",
        "taggings",
        "created_at",
        "updated_at",
        "birthday_month",
        "birthday_day",
        "anniversary",
    ] {
        let want = v3.get(field).cloned().unwrap_or_else(|| match field {
            "list_memberships" | "taggings" => json!([]),
            _ => Value::Null,
        });
        assert_eq!(got[field], want, "{field}");
    }
    let email = &got["email_address"];
    if v3.get("email_address").is_none() {
        // An SMS-only contact: the seed's field is there, null.
        assert_eq!(*email, Value::Null);
        return assert_lists(got, v3);
    }
    let email_keys: Vec<&str> = email
        .as_object()
        .unwrap_or_else(|| panic!("email_address is not an object: {got}"))
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        email_keys,
        [
            "address",
            "permission_to_send",
            "created_at",
            "updated_at",
            "opt_in_source",
            "opt_in_date",
            "confirm_status"
        ]
    );
    for (k, v) in email.as_object().unwrap() {
        assert_eq!(
            *v,
            v3["email_address"].get(k).cloned().unwrap_or(Value::Null),
            "email_address.{k}"
        );
    }
    assert_lists(got, v3);
}

/// The seed's arrays against the v3 contact's sub-resources.
fn assert_lists(got: &Value, v3: &Value) {
    let phones = v3["phone_numbers"].as_array().cloned().unwrap_or_default();
    assert_eq!(got["phone_numbers"].as_array().unwrap().len(), phones.len());
    for (g, w) in got["phone_numbers"].as_array().unwrap().iter().zip(&phones) {
        assert_eq!(
            *g,
            json!({"phone_number": w["phone_number"], "kind": w["kind"]})
        );
    }
    let addrs = v3["street_addresses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        got["street_addresses"].as_array().unwrap().len(),
        addrs.len()
    );
    for (g, w) in got["street_addresses"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&addrs)
    {
        let keys = ["kind", "street", "city", "state", "postal_code", "country"];
        for k in keys {
            assert_eq!(
                g[k],
                w.get(k).cloned().unwrap_or(Value::Null),
                "street_addresses.{k}"
            );
        }
        assert_eq!(g.as_object().unwrap().len(), keys.len());
    }
    let fields = v3["custom_fields"].as_array().cloned().unwrap_or_default();
    let got_fields = got["custom_fields"].as_array().unwrap();
    assert_eq!(got_fields.len(), fields.len());
    for (g, w) in got_fields.iter().zip(&fields) {
        assert_eq!(
            *g,
            json!({"custom_field_id": w["custom_field_id"], "value": w.get("value").cloned().unwrap_or(Value::Null)})
        );
    }
    assert_eq!(
        got["notes"].as_array().unwrap().len(),
        v3["notes"].as_array().map_or(0, Vec::len)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_answers_in_the_seed_shape_page_by_page() {
    let st = Stack::start(1_234, 200).await;
    st.put_tokens(ACCOUNT, USER).await;
    let api = ApiServer::hs256(&st);
    let t = token();

    // Default limit 20, first page.
    let (status, body) = api.get(LISTS_PATH, &t).await;
    assert_eq!(status, 200, "{body}");
    let top: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, ["success", "message", "data", "pagination"]);
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "SUCCESS");
    let p = &body["pagination"];
    let pkeys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        pkeys,
        ["limit", "curr_page", "next_page", "total", "total_pages"]
    );
    assert_eq!(p["limit"], 20);
    assert_eq!(p["curr_page"], Value::Null);
    assert!(p["next_page"].is_string());
    assert_eq!(p["total"], 1_234);
    assert_eq!(p["total_pages"], 62);
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 20);
    for (i, c) in data.iter().enumerate() {
        assert_seed_contact(c, &st.sim.dataset().contact(ACCOUNT, i as u64));
    }

    // Following next_page at limit=500 reads every contact exactly once.
    let (mut ids, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let path = match &cursor {
            None => format!("{LISTS_PATH}?limit=500"),
            Some(c) => format!("{LISTS_PATH}?limit=500&page={}", urlencode(c)),
        };
        let (status, body) = api.get(&path, &t).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["pagination"]["curr_page"], json!(cursor));
        assert_eq!(body["pagination"]["total_pages"], 3);
        for c in body["data"].as_array().unwrap() {
            ids.push(c["contact_id"].as_str().unwrap().to_owned());
        }
        pages += 1;
        match body["pagination"]["next_page"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids, st.expected_ids(ACCOUNT));

    // limit outside 1..=500: a 400 in the seed's error shape, before any call.
    for bad in ["0", "501", "ten"] {
        let (status, body) = api.get(&format!("{LISTS_PATH}?limit={bad}"), &t).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["success"], false);
        assert_eq!(body["errno"], 400);
        assert!(body["message"].as_str().unwrap().contains("limit"));
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_follows_the_seed_error_table_and_refreshes_stale_tokens() {
    let st = Stack::start(50, 200).await;
    let api = ApiServer::hs256(&st);

    // No stored tokens: 404 "Api Token Not Found".
    let (status, body) = api.get(LISTS_PATH, &token()).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body,
        json!({"success": false, "errno": 400, "message": "Api Token Not Found"})
    );

    // A pair older than 24 h is refreshed before the call, and the new pair stored.
    let t = st.sim.issue_tokens(ACCOUNT);
    let old = time::OffsetDateTime::now_utc() - time::Duration::hours(25);
    let pair = cc_export::cc::TokenPair {
        access_token: cc_export::secret::Secret::new(t.access_token),
        refresh_token: cc_export::secret::Secret::new(t.refresh_token),
        generated_at: old,
    };
    cc_export::store::tokens::put(&st.db.pool, &st.key, ACCOUNT, USER, &pair)
        .await
        .unwrap();
    let (status, body) = api.get(LISTS_PATH, &token()).await;
    assert_eq!(status, 200, "{body}");
    let stored = cc_export::store::tokens::load(&st.db.pool, &st.key, ACCOUNT, USER)
        .await
        .unwrap();
    assert!(stored.generated_at > old + time::Duration::hours(24));
    assert_ne!(stored.refresh_token.expose(), pair.refresh_token.expose());

    // Constant Contact's 429 and 400 pass through.
    st.sim.inject(
        Fault::Status {
            status: 429,
            error_key: Some("throttled".into()),
            retry_after: Some(1),
        },
        1,
    );
    let (status, body) = api.get(LISTS_PATH, &token()).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["errno"], 429);
    let (status, body) = api
        .get(&format!("{LISTS_PATH}?page=not-a-cursor"), &token())
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errno"], 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Constant Contact")
    );
}
