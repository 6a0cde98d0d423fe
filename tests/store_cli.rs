//! `cc-export migrate`, `tokens put` and `jobs list|show|cancel|retry` as operators run them.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine;
use cc_export::encode::Format;
use cc_export::job::JobSpec;
use cc_export::sink::{PartLedger, PartRecord, Position};
use cc_export::store::{JobStatus, PgPartLedger, TokenKey, jobs, tokens};
use common::db::{TestDb, fresh_db};
use uuid::Uuid;

const LEASE: Duration = Duration::from_secs(60);

fn cli(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cc-export"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .env_remove("TOKEN_ENCRYPTION_KEY")
        .output()
        .expect("run cc-export")
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn spec(account: &str) -> JobSpec {
    let job_id = Uuid::new_v4();
    JobSpec {
        job_id,
        account_id: account.into(),
        user_id: "u1".into(),
        batch_size: 500,
        last_cursor: None,
        total_processed: 0,
        format: Format::Ndjson,
        gzip: true,
        columns: None,
        lists: vec![],
        updated_after: None,
        output_key: format!("exports/{account}/{job_id}.ndjson.gz"),
    }
}

/// One running job with progress, one failed with a long error, one queued.
async fn seed(db: &TestDb) -> (Uuid, Uuid, Uuid) {
    let (running, failed, queued) = (spec("acct-a"), spec("acct-b"), spec("acct-a"));
    for s in [&failed, &running, &queued] {
        jobs::record(&db.pool, s, 5).await.unwrap();
    }
    jobs::claim(&db.pool, running.job_id, "w1", LEASE)
        .await
        .unwrap()
        .unwrap();
    jobs::set_total_expected(&db.pool, running.job_id, "w1", 1000)
        .await
        .unwrap();
    let ledger = PgPartLedger::new(db.pool.clone(), running.job_id, "w1", LEASE);
    ledger.begin_upload("up-1").await.unwrap();
    let part = PartRecord {
        part_number: 1,
        etag: "e1".into(),
        rows: 250,
        bytes: 9000,
    };
    let after = Position {
        next_cursor: Some("c250".into()),
        rows: 250,
        pages: 1,
        ..Position::default()
    };
    ledger.record_part(&part, &after, 9000).await.unwrap();
    jobs::claim(&db.pool, failed.job_id, "w2", LEASE)
        .await
        .unwrap()
        .unwrap();
    let long_error = format!("permanent: 403 forbidden {}\nsecond line", "x".repeat(100));
    jobs::fail(&db.pool, failed.job_id, "w2", &long_error)
        .await
        .unwrap();
    (running.job_id, failed.job_id, queued.job_id)
}

#[tokio::test]
async fn migrate_and_missing_database_url() {
    let db = fresh_db().await;
    assert!(ok(&cli(&db, &["migrate"])).contains("migrations applied"));
    let out = Command::new(env!("CARGO_BIN_EXE_cc-export"))
        .args(["jobs", "list"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("DATABASE_URL is not set"), "{stderr}");
}

#[tokio::test]
async fn list_table_and_json() {
    let db = fresh_db().await;
    let (running, failed, queued) = seed(&db).await;
    let table = ok(&cli(&db, &["jobs", "list"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("PROGRESS") && lines[0].contains("OUTPUT")
    );
    // Aligned: every column starts at the same offset on every line.
    let col = lines[0].find("STATUS").unwrap();
    for l in &lines[1..] {
        assert!(
            l[col..].starts_with("queued")
                || l[col..].starts_with("running")
                || l[col..].starts_with("failed"),
            "{table}"
        );
    }
    let run_line = lines
        .iter()
        .find(|l| l.starts_with(&running.to_string()))
        .unwrap();
    assert!(
        run_line.contains("250/1000") && run_line.contains("1/5"),
        "{run_line}"
    );
    assert!(run_line.contains(&format!("exports/acct-a/{running}.ndjson.gz")));
    let fail_line = lines
        .iter()
        .find(|l| l.starts_with(&failed.to_string()))
        .unwrap();
    assert!(
        fail_line.contains("permanent: 403 forbidden") && fail_line.contains('…'),
        "{fail_line}"
    );
    assert!(!fail_line.contains("second line"));

    let only_a = ok(&cli(
        &db,
        &["jobs", "list", "--account", "acct-a", "--status", "queued"],
    ));
    assert_eq!(only_a.lines().count(), 2, "{only_a}");
    assert!(only_a.contains(&queued.to_string()));

    let json: serde_json::Value =
        serde_json::from_str(&ok(&cli(&db, &["jobs", "list", "--json", "--limit", "2"]))).unwrap();
    let arr = json.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    let all: serde_json::Value =
        serde_json::from_str(&ok(&cli(&db, &["jobs", "list", "--json"]))).unwrap();
    let r = all
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == running.to_string())
        .unwrap();
    assert_eq!(
        (r["status"].as_str(), r["total_processed"].as_i64()),
        (Some("running"), Some(250))
    );
    assert_eq!(r["spec"]["format"], "ndjson");
    assert_eq!(r["last_cursor"], "c250");
}

#[tokio::test]
async fn show_cancel_retry() {
    let db = fresh_db().await;
    let (running, failed, _) = seed(&db).await;
    let show = ok(&cli(&db, &["jobs", "show", &failed.to_string()]));
    assert!(
        show.contains(&"x".repeat(100)),
        "whole error in show: {show}"
    );
    assert!(show.contains("status:") && show.contains("failed") && show.contains("ndjson gzip"));
    let json: serde_json::Value = serde_json::from_str(&ok(&cli(
        &db,
        &["jobs", "show", &running.to_string(), "--json"],
    )))
    .unwrap();
    assert_eq!(json["upload_id"], "up-1");
    assert_eq!(json["rejections"], serde_json::json!([]));

    let out = ok(&cli(&db, &["jobs", "cancel", &running.to_string()]));
    assert!(out.contains("cancelled job"), "{out}");
    let row = jobs::get(&db.pool, running).await.unwrap().unwrap();
    assert_eq!(row.status, JobStatus::Cancelled);
    // Cancelling again is an error naming the status.
    let again = cli(&db, &["jobs", "cancel", &running.to_string()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is cancelled"));

    let out = ok(&cli(&db, &["jobs", "retry", &failed.to_string()]));
    assert!(out.contains("queued job"), "{out}");
    let row = jobs::get(&db.pool, failed).await.unwrap().unwrap();
    assert_eq!(
        (row.status, row.attempts, row.error),
        (JobStatus::Queued, 0, None)
    );

    let missing = cli(&db, &["jobs", "show", &Uuid::new_v4().to_string()]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));
}

#[tokio::test]
async fn tokens_put_stores_encrypted_and_never_echoes() {
    let db = fresh_db().await;
    let raw_key = [42u8; 32];
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw_key);
    let out = Command::new(env!("CARGO_BIN_EXE_cc-export"))
        .args(["tokens", "put", "--account", "acct-9", "--user", "u9"])
        .args(["--generated-at", "2026-01-02T03:04:05Z"])
        .env("DATABASE_URL", db.url())
        .env("TOKEN_ENCRYPTION_KEY", &b64)
        .env("CC_ACCESS_TOKEN", "secret-access-xyz")
        .env("CC_REFRESH_TOKEN", "secret-refresh-xyz")
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let stdout = ok(&out);
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("secret-"), "{all}");
    let key = TokenKey::from_bytes(&raw_key).unwrap();
    assert!(stdout.contains(key.key_id()));
    let pair = tokens::load(&db.pool, &key, "acct-9", "u9").await.unwrap();
    assert_eq!(pair.access_token.expose(), "secret-access-xyz");
    assert_eq!(pair.refresh_token.expose(), "secret-refresh-xyz");
    assert_eq!(pair.generated_at.unix_timestamp(), 1_767_323_045);

    // No key: one clear line, nothing stored.
    let out = cli(
        &db,
        &[
            "tokens",
            "put",
            "--account",
            "a",
            "--user",
            "u",
            "--access-token",
            "t",
            "--refresh-token",
            "r",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TOKEN_ENCRYPTION_KEY is not set") && !stderr.contains("--access-token t"),
        "{stderr}"
    );
}
