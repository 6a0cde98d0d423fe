//! `cc-export serve` as a real process against Postgres, RabbitMQ, moto and the simulator:
//! real JWTs (valid, expired, wrong signature, `alg: none`, other algorithms, another account),
//! the seed's lists response field by field, and an export created over HTTP that completes
//! and downloads through its presigned URL.

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

use std::time::{Duration, Instant};

use api::{ApiServer, SECRET, alg_none, claims, es256, hs256, rs256};
use cc_export::api::{EXPORTS_PATH, LISTS_PATH, OPENAPI_PATH};
use cc_export::sim::Fault;
use reqwest::Method;
use serde_json::{Value, json};
use stack::{ACCOUNT, Stack, USER};

const MINUTE: Duration = Duration::from_secs(60);

fn token() -> String {
    hs256(&claims(ACCOUNT, USER, 600), SECRET)
}

fn export_path(id: &str) -> String {
    format!("{EXPORTS_PATH}/{id}")
}

fn assert_unauthorized(status: u16, body: &Value, reason: &str) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["errno"], 400);
    assert_eq!(body["status"], "Unauthorized User");
    assert_eq!(body["error"], reason, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hs256_tokens_are_checked_on_every_route() {
    let st = Stack::start(10, 50).await;
    st.put_tokens(ACCOUNT, USER).await;
    let api = ApiServer::hs256(&st);
    let some_job = export_path(&uuid::Uuid::new_v4().to_string());
    let routes = [
        (Method::GET, LISTS_PATH.to_owned()),
        (Method::POST, EXPORTS_PATH.to_owned()),
        (Method::GET, some_job.clone()),
        (Method::DELETE, some_job.clone()),
    ];
    let bad = [
        (None, "missing Authorization header"),
        (
            Some(hs256(&claims(ACCOUNT, USER, -3600), SECRET)),
            "token expired",
        ),
        (
            Some(hs256(
                &claims(ACCOUNT, USER, 600),
                "another-secret-of-at-least-32-bytes",
            )),
            "token signature does not verify",
        ),
        (
            Some(alg_none(&claims(ACCOUNT, USER, 600))),
            "malformed token",
        ),
        (
            Some(rs256(&claims(ACCOUNT, USER, 600))),
            "token algorithm not accepted",
        ),
        (
            Some(hs256(&json!({"account_id": ACCOUNT, "uid": USER}), SECRET)),
            "token has no exp claim",
        ),
        (
            Some(hs256(
                &json!({"uid": USER, "exp": api::now() + 600}),
                SECRET,
            )),
            "token has no account_id claim (a non-empty string)",
        ),
    ];
    for (method, path) in &routes {
        for (token, reason) in &bad {
            let (status, body) = api
                .call(method.clone(), path, token.as_deref(), Some(json!({})))
                .await;
            assert_unauthorized(status, &body, reason);
        }
    }
    // A valid token gets through: the seed's list, and a 404 for a job that does not exist.
    let (status, body) = api.get(LISTS_PATH, &token()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.get(&some_job, &token()).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["success"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn rs256_and_es256_public_keys() {
    let st = Stack::start(5, 50).await;
    st.put_tokens(ACCOUNT, USER).await;
    let c = claims(ACCOUNT, USER, 600);

    let rsa = ApiServer::start(&st, &[("JWT_PUBLIC_KEY_PEM", api::RSA_PUBLIC)]);
    assert_eq!(rsa.get(LISTS_PATH, &rs256(&c)).await.0, 200);
    // HS256 keyed with the public key itself: the classic algorithm confusion.
    let (status, body) = rsa.get(LISTS_PATH, &hs256(&c, api::RSA_PUBLIC)).await;
    assert_unauthorized(status, &body, "token algorithm not accepted");
    let (status, body) = rsa.get(LISTS_PATH, &es256(&c)).await;
    assert_unauthorized(status, &body, "token algorithm not accepted");
    let (status, body) = rsa.get(LISTS_PATH, &alg_none(&c)).await;
    assert_unauthorized(status, &body, "malformed token");
    drop(rsa);

    // A key file path works as well as the PEM text.
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ec_public.pem");
    std::fs::write(&pem, api::EC_PUBLIC).unwrap();
    let ec = ApiServer::start(&st, &[("JWT_PUBLIC_KEY_PEM", pem.to_str().unwrap())]);
    assert_eq!(ec.get(LISTS_PATH, &es256(&c)).await.0, 200);
    let (status, body) = ec.get(LISTS_PATH, &rs256(&c)).await;
    assert_unauthorized(status, &body, "token algorithm not accepted");
    let expired = es256(&claims(ACCOUNT, USER, -3600));
    let (status, body) = ec.get(LISTS_PATH, &expired).await;
    assert_unauthorized(status, &body, "token expired");
}

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

#[tokio::test(flavor = "multi_thread")]
async fn an_export_over_http_completes_and_downloads() {
    let mut st = Stack::start(2_000, 100).await;
    st.put_tokens(ACCOUNT, USER).await;
    let api = ApiServer::hs256(&st);
    let t = token();
    let other = hs256(&claims("acct-2", USER, 600), SECRET);

    // A body naming another account is refused.
    let (status, body) = api
        .call(
            Method::POST,
            EXPORTS_PATH,
            Some(&t),
            Some(json!({"account_id": "acct-2"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // An invalid field gets the worker's reason.
    let (status, body) = api
        .call(
            Method::POST,
            EXPORTS_PATH,
            Some(&t),
            Some(json!({"batch_size": 501})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("batch_size"));

    // Created before any worker runs: it can be cancelled.
    let (status, body) = api.call(Method::POST, EXPORTS_PATH, Some(&t), None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["published"], true);
    let doomed = body["job_id"].as_str().unwrap().to_owned();
    let (status, _) = api
        .call(Method::DELETE, &export_path(&doomed), Some(&other), None)
        .await;
    assert_eq!(status, 404, "another account cannot cancel it");
    let (status, body) = api
        .call(Method::DELETE, &export_path(&doomed), Some(&t), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");

    // The seed's message fields over HTTP; a worker runs it.
    let (status, body) = api
        .call(
            Method::POST,
            EXPORTS_PATH,
            Some(&t),
            Some(
                json!({"type": "constantcontact-export", "account_id": ACCOUNT,
                        "user_id": USER, "batch_size": 250, "last_cursor": null,
                        "total_processed": 0}),
            ),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let job_id = body["job_id"].as_str().unwrap().to_owned();
    assert_eq!(body["status"], "queued");
    st.spawn_worker("w1");
    let view = wait_status(&api, &t, &job_id, "succeeded").await;
    assert_eq!(view["progress"]["total_processed"], 2_000);
    assert_eq!(view["error"], Value::Null);
    assert!(view["rate"].as_f64().unwrap() > 0.0);
    assert_eq!(
        view["output_key"],
        format!("exports/{ACCOUNT}/{job_id}.csv")
    );

    // The presigned URL downloads the object as stored.
    let url = view["download_url"].as_str().expect("download_url");
    let resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status(), 200);
    let downloaded = resp.bytes().await.unwrap();
    let key = view["output_key"].as_str().unwrap();
    assert!(downloaded.as_ref() == st.object(key).await.as_slice());
    let mut reader = csv::Reader::from_reader(downloaded.as_ref());
    let col = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "Contact ID")
        .unwrap();
    let ids: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[col].to_owned())
        .collect();
    assert_eq!(ids, st.expected_ids(ACCOUNT));

    // Another account sees nothing; a finished job cannot be cancelled.
    let (status, body) = api.get(&export_path(&job_id), &other).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["download_url"], Value::Null);
    let (status, _) = api
        .call(Method::DELETE, &export_path(&job_id), Some(&t), None)
        .await;
    assert_eq!(status, 409);
    // The same job_id again is a retry, not a second job.
    let (status, body) = api
        .call(
            Method::POST,
            EXPORTS_PATH,
            Some(&t),
            Some(json!({"job_id": job_id})),
        )
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("succeeded")));
    let (status, _) = api
        .call(
            Method::POST,
            EXPORTS_PATH,
            Some(&other),
            Some(json!({"job_id": job_id})),
        )
        .await;
    assert_eq!(status, 409);
}

/// Polls `GET …/exports/{id}` until `status` (panics after a minute, with the last answer).
async fn wait_status(api: &ApiServer, token: &str, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + MINUTE;
    loop {
        let (code, body) = api.get(&export_path(id), token).await;
        assert_eq!(code, 200, "{body}");
        if body["status"] == status {
            return body;
        }
        assert!(Instant::now() < deadline, "job {id} not {status}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_operation_is_served() {
    let st = Stack::start(1, 50).await;
    let api = ApiServer::hs256(&st);
    let (status, doc) = api.call(Method::GET, OPENAPI_PATH, None, None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut served = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", &uuid::Uuid::new_v4().to_string());
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, _) = api.call(m.clone(), &concrete, None, None).await;
            // Without a token: 401 from every protected operation, never 404/405.
            let expected = if path == OPENAPI_PATH { 200 } else { 401 };
            assert_eq!(status, expected, "{m} {path}");
            served.push((m.to_string(), path.clone()));
        }
    }
    served.sort();
    assert_eq!(served, cc_export::api::routes());
}
