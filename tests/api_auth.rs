//! `cc-export serve`'s authentication, as a real process: real JWTs (HS256, RS256, ES256)
//! valid, expired, wrongly signed, `alg: none`, another algorithm (including HS256 keyed with
//! the RSA public key), missing claims, on every route; and every operation of the OpenAPI
//! document answered by the running server.

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

use api::{
    ApiServer, SECRET, alg_none, assert_unauthorized, claims, es256, export_path, hs256, rs256,
    token,
};
use cc_export::api::{EXPORTS_PATH, LISTS_PATH, OPENAPI_PATH};
use reqwest::Method;
use serde_json::json;
use stack::{ACCOUNT, Stack, USER};

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
    // Probes and scrapers carry no JWT: serve answers the ops routes without one.
    let (status, body) = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, 200, "Postgres and RabbitMQ are up: {body}");
    let (status, body) = api.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, 200);
    assert!(body.as_str().unwrap().contains("cc_export_jobs"), "{body}");
}
