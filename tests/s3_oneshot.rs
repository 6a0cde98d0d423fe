//! `cc-export export --out s3://…`, the real binary against its built-in simulator and moto:
//! killed with SIGKILL at several points and rerun, the object equals the local-file export of
//! the same data; `--restart` aborts the recorded upload.

#[path = "common/s3.rs"]
mod s3_common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cc-export");
const CONTACTS: u64 = 15_000;
const KEY: &str = "exports/sim/contacts.ndjson";
/// The one-shot's default checkpoint for KEY: in the current directory.
const STATE: &str = "contacts.ndjson.state.json";

fn export_cmd(dir: &Path, out: &str, extra: &[&str]) -> Command {
    s3_common::settings(); // fails loudly without S3_ENDPOINT_URL
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(["export", "--simulate", &CONTACTS.to_string()])
        .args(["--batch-size", "100", "--format", "ndjson", "--out", out])
        .args(extra)
        .env("CC_RATE_LIMIT_RPS", "300")
        .env("S3_PART_SIZE_MIB", "5")
        .env("S3_FORCE_PATH_STYLE", "true")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

fn run_to_end(dir: &Path, out: &str, extra: &[&str]) -> Output {
    let o = export_cmd(dir, out, extra).output().expect("run cc-export");
    assert!(
        o.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn state(dir: &Path) -> serde_json::Value {
    std::fs::read(dir.join(STATE))
        .ok()
        .and_then(|t| serde_json::from_slice(&t).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Starts the export and SIGKILLs it once the checkpoint holds at least `rows` (0: at once).
fn kill_at(dir: &Path, out: &str, rows: u64) -> bool {
    let mut child = export_cmd(dir, out, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "export failed before the kill point");
            return false;
        }
        if state(dir)["rows"].as_u64().unwrap_or(0) >= rows {
            child.kill().unwrap(); // SIGKILL on unix
            child.wait().unwrap();
            return true;
        }
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The same export to a local file: what the object must equal.
fn local_reference(dir: &Path) -> Vec<u8> {
    let out = dir.join("reference.ndjson");
    run_to_end(dir, out.to_str().unwrap(), &[]);
    std::fs::read(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_four_points_and_rerun_equals_the_local_export() {
    let client = s3_common::client().await;
    let bucket = s3_common::new_bucket(&client, "oneshot").await;
    let dir = tempfile::tempdir().unwrap();
    let want = local_reference(dir.path());
    let out = format!("s3://{bucket}/{KEY}");

    let points = [0, 1, 6_000, 9_000];
    let kills = points
        .iter()
        .filter(|&&rows| kill_at(dir.path(), &out, rows))
        .count();
    assert!(kills >= points.len() - 1, "only {kills} kills landed");
    let resumed_from = state(dir.path())["rows"].as_u64().unwrap();
    assert!(
        resumed_from > 0,
        "a part was checkpointed before the last kill"
    );
    assert!(!s3_common::exists(&client, &bucket, KEY).await);

    let last = run_to_end(dir.path(), &out, &[]);
    let stdout = String::from_utf8_lossy(&last.stdout);
    assert!(
        stdout.contains(&format!("exported {CONTACTS} contacts to {out}")),
        "{stdout}"
    );
    let got = s3_common::get(&client, &bucket, KEY).await;
    assert_eq!(got.len(), want.len());
    assert!(
        got == want,
        "the resumed object differs from the local export"
    );

    let st = state(dir.path());
    assert_eq!(st["complete"], true);
    let job_id = st["job_id"].as_str().unwrap().to_owned();
    let meta = s3_common::metadata(&client, &bucket, KEY).await;
    assert_eq!(meta.get("job-id"), Some(&job_id));
    let tags = s3_common::tags(&client, &bucket, KEY).await;
    assert_eq!(tags.get("rows"), Some(&CONTACTS.to_string()));

    let again = run_to_end(dir.path(), &out, &[]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("already complete"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_aborts_the_recorded_upload() {
    let client = s3_common::client().await;
    let bucket = s3_common::new_bucket(&client, "oneshot-restart").await;
    let dir = tempfile::tempdir().unwrap();
    let out = format!("s3://{bucket}/{KEY}");
    assert!(kill_at(dir.path(), &out, 1), "killed after the first part");
    let upload_id = state(dir.path())["upload_id"].as_str().unwrap().to_owned();
    assert!(
        s3_common::uploads(&client, &bucket)
            .await
            .contains(&upload_id)
    );

    run_to_end(dir.path(), &out, &["--restart"]);
    assert!(
        !s3_common::uploads(&client, &bucket)
            .await
            .contains(&upload_id)
    );
    let want = local_reference(dir.path());
    assert!(s3_common::get(&client, &bucket, KEY).await == want);
}

#[test]
fn a_checkpoint_for_another_object_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bucket = rt.block_on(async {
        let client = s3_common::client().await;
        s3_common::new_bucket(&client, "oneshot-other").await
    });
    run_to_end(dir.path(), &format!("s3://{bucket}/{KEY}"), &[]);
    // Same basename, so the same default state file, but another bucket.
    let o = export_cmd(dir.path(), &format!("s3://{bucket}-x/{KEY}"), &[])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("belongs to an export to s3://"), "{err}");
}
