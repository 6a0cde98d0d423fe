//! Export jobs over HTTP through a real `cc-export serve`: a job created with a POST runs on a
//! real worker and its presigned URL downloads the object; cancel; another account's job is
//! invisible; ids in the body are checked against the token.

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

use api::{ApiServer, SECRET, claims, export_path, hs256, token};
use cc_export::api::EXPORTS_PATH;
use reqwest::Method;
use serde_json::{Value, json};
use stack::{ACCOUNT, Stack, USER};

const MINUTE: Duration = Duration::from_secs(60);

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
    // Another account's job_id is answered like a missing job: its existence is not revealed.
    assert_eq!(status, 404);
    // A caller may only write inside its own account's folder: never over another's object.
    let (status, body) = api
        .call(
            Method::POST,
            EXPORTS_PATH,
            Some(&other),
            Some(json!({"output_key": format!("{ACCOUNT}/mine-now.csv")})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("output_key"),
        "{body}"
    );
    let (status, body) = api
        .call(
            Method::POST,
            EXPORTS_PATH,
            Some(&other),
            Some(json!({"output_key": "acct-2/fixed.csv"})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
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
