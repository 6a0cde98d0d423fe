//! The one-shot export, run as the real binary against its built-in simulator: killed with
//! SIGKILL at several points and rerun, it must produce a file identical to an uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_cc-export");
const CONTACTS: u64 = 12_000;

fn export_cmd(out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "export",
        "--simulate",
        &CONTACTS.to_string(),
        "--batch-size",
        "100",
        "--out",
    ])
    .arg(out)
    .args(extra)
    // Fast, but still limited: the simulator enforces the same rate the client keeps to.
    .env("CC_RATE_LIMIT_RPS", "300")
    // One chain unless a test asks for windows: gzip members follow page boundaries, which
    // depend on the plan, and `auto` decides on the debug simulator's timing.
    .env("EXPORT_PARTITIONS", "off")
    .env("RUST_LOG", "warn")
    .stdin(Stdio::null());
    cmd
}

fn run_to_end(out: &Path, extra: &[&str]) -> Output {
    let o = export_cmd(out, extra).output().expect("run cc-export");
    assert!(
        o.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    format!("{:x}", Sha256::digest(&bytes))
}

/// Of the text inside a gzip file (one member per page: members differ where pages do).
fn sha256_gunzipped(path: &Path) -> String {
    use std::io::Read;
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut text)
        .unwrap();
    format!("{:x}", Sha256::digest(&text))
}

fn checkpointed_rows(state: &Path) -> u64 {
    checkpoint(state)
        .and_then(|v| v["rows"].as_u64())
        .unwrap_or(0)
}

fn checkpoint(state: &Path) -> Option<serde_json::Value> {
    std::fs::read(state)
        .ok()
        .and_then(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
}

/// The state file says the export is complete (its output final).
fn completed(out: &Path) -> bool {
    checkpoint(&state_path(out)).is_some_and(|v| v["complete"] == true)
}

/// Starts the export and SIGKILLs it once the checkpoint holds at least `rows` (0: at once).
fn kill_at(out: &Path, extra: &[&str], rows: u64) -> bool {
    let state = state_path(out);
    let mut child = export_cmd(out, extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "export failed before the kill point");
            return false; // finished before we got to kill it
        }
        // The file sink checkpoints at most every 100 ms, so the last checkpoint before `rows`
        // may be the final one: that export finished before the kill point.
        if completed(out) {
            assert!(child.wait().unwrap().success(), "export failed");
            return false;
        }
        if checkpointed_rows(&state) >= rows {
            child.kill().unwrap(); // SIGKILL on unix
            child.wait().unwrap();
            return true;
        }
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn state_path(out: &Path) -> PathBuf {
    out.with_file_name(format!(
        "{}.state.json",
        out.file_name().unwrap().to_string_lossy()
    ))
}

fn killed_and_resumed_matches_uninterrupted(name: &str, extra: &[&str], kill_points: &[u64]) {
    killed_and_resumed_matches(name, extra, extra, kill_points, sha256);
}

/// The reference runs uninterrupted with `reference_extra`; the export under test with `extra`.
fn killed_and_resumed_matches(
    name: &str,
    reference_extra: &[&str],
    extra: &[&str],
    kill_points: &[u64],
    digest: fn(&Path) -> String,
) {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join(format!("reference-{name}"));
    run_to_end(&reference, reference_extra);

    let out = dir.path().join(name);
    let mut kills = 0;
    for &rows in kill_points {
        if kill_at(&out, extra, rows) {
            kills += 1;
        }
    }
    assert!(kills >= kill_points.len() - 1, "only {kills} kills landed");
    // Unless the last kill point came after the export finished, a last run completes it.
    if !completed(&out) {
        let last = run_to_end(&out, extra);
        let stdout = String::from_utf8_lossy(&last.stdout);
        assert!(
            stdout.contains(&format!("exported {CONTACTS} contacts")),
            "unexpected summary: {stdout}"
        );
    } else if !out.exists() {
        // Killed after the state said complete, before the rename: the next run renames.
        run_to_end(&out, extra);
    }
    assert_eq!(
        digest(&out),
        digest(&reference),
        "resumed file differs from the uninterrupted one"
    );
    assert!(!out.with_file_name(format!("{name}.partial")).exists());
}

#[test]
fn csv_killed_at_five_points_equals_uninterrupted() {
    killed_and_resumed_matches_uninterrupted("contacts.csv", &[], &[0, 100, 3_000, 7_000, 11_500]);
}

#[test]
fn ndjson_gzip_killed_at_three_points_equals_uninterrupted() {
    killed_and_resumed_matches_uninterrupted(
        "contacts.ndjson.gz",
        &["--format", "ndjson", "--gzip"],
        &[200, 5_000, 11_000],
    );
}

/// Partitioned: four windows at once, killed mid-window; the simulator lists contacts oldest
/// first, so window-by-window output is byte-identical to one cursor chain.
#[test]
fn partitioned_csv_killed_at_four_points_equals_one_chain() {
    killed_and_resumed_matches(
        "windows.csv",
        &["--partitions", "off"],
        &["--partitions", "4"],
        &[150, 2_500, 6_100, 11_000],
        sha256,
    );
}

#[test]
fn partitioned_ndjson_gzip_killed_at_two_points_equals_one_chain() {
    killed_and_resumed_matches(
        "windows.ndjson.gz",
        &["--format", "ndjson", "--gzip", "--partitions", "off"],
        &["--format", "ndjson", "--gzip", "--partitions", "3"],
        &[3_000, 9_000],
        sha256_gunzipped,
    );
}

#[test]
fn a_partitioned_checkpoint_names_its_window_and_keeps_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.csv");
    assert!(
        kill_at(&out, &["--partitions", "4"], 6_000),
        "finished before the kill"
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_path(&out)).unwrap()).unwrap();
    let windows = state["windows"].as_array().expect("the plan's boundaries");
    assert!(windows.len() >= 3, "{state}");
    let window = state["window"].as_u64().unwrap_or(0);
    assert!((window as usize) <= windows.len(), "{state}");
}

/// `auto` partitions only when the API's latency keeps one chain under the limit, and never a
/// filtered export; whatever it decides, the file is the same. 5 requests/s: one chain keeps
/// up unless an answer takes over 200 ms.
#[test]
fn auto_partitions_when_latency_calls_for_it_and_not_for_filters() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let o = Command::new(BIN)
            .args([
                "export",
                "--simulate",
                "5000",
                "--batch-size",
                "500",
                "--out",
            ])
            .arg(&out)
            .args(extra)
            .env("CC_RATE_LIMIT_RPS", "5")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let planned = String::from_utf8_lossy(&o.stderr).contains("partitioned the export");
        (sha256(&out), planned)
    };
    let (reference, _) = run("ref.csv", &["--partitions", "off"]);
    let slow = run(
        "slow.csv",
        &["--partitions", "auto", "--sim-latency-ms", "400"],
    );
    assert_eq!(slow, (reference.clone(), true), "400 ms at 5 requests/s");
    let fast = run("fast.csv", &["--partitions", "auto"]);
    assert_eq!(fast, (reference, false), "partitioned on loopback");
    let filtered = [
        "--sim-latency-ms",
        "400",
        "--updated-after",
        "2015-01-01T00:00:00Z",
        "--partitions",
        "4",
    ];
    assert!(
        !run("since.csv", &filtered).1,
        "a date filter was partitioned"
    );
}

#[test]
fn gzip_output_is_one_valid_stream_of_every_row() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("c.csv");
    let packed = dir.path().join("c.csv.gz");
    run_to_end(&plain, &[]);
    run_to_end(&packed, &["--gzip"]);
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&packed).unwrap())
        .read_to_end(&mut text)
        .unwrap();
    assert_eq!(text, std::fs::read(&plain).unwrap());
}

#[test]
fn rerun_after_completion_does_not_export_again_and_restart_does() {
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist yet, as on a fresh clone (`--out exports/contacts.csv`).
    let out = dir.path().join("exports/nested/c.csv");
    run_to_end(&out, &[]);
    let first = sha256(&out);
    let again = run_to_end(&out, &[]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("already complete"));
    let restarted = run_to_end(&out, &["--restart"]);
    assert!(
        String::from_utf8_lossy(&restarted.stdout)
            .contains(&format!("exported {CONTACTS} contacts"))
    );
    assert_eq!(sha256(&out), first);
}

#[test]
fn a_checkpoint_of_other_settings_is_refused_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.csv");
    assert!(kill_at(&out, &[], 500));
    let o = export_cmd(&out, &["--batch-size", "50"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("other settings") && err.contains("--restart"),
        "{err}"
    );
    assert_eq!(
        err.trim_end()
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1,
        "{err}"
    );
}

#[test]
fn bad_arguments_fail_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.csv");
    let o = export_cmd(&out, &["--columns", "Email,Shoe Size"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Shoe Size"));
    let o = Command::new(BIN)
        .args(["export", "--simulate", "10", "--out"])
        .arg(&out)
        .args(["--batch-size", "501"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "clap rejects an out-of-range batch size"
    );
}

#[test]
fn the_summary_states_the_pipelines_cpu_per_contact() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_to_end(&dir.path().join("c.csv"), &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    // "…; pipeline CPU 2.31 µs per contact (read 2.01, encode 0.03, write 0.27)"
    let tail = stdout
        .split("pipeline CPU ")
        .nth(1)
        .unwrap_or_else(|| panic!("no pipeline CPU in {stdout}"));
    let numbers: Vec<f64> = tail
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|s| !s.is_empty())
        .take(4)
        .map(|s| s.parse().unwrap())
        .collect();
    let [total, read, encode, write] = numbers[..] else {
        panic!("unexpected summary: {stdout}");
    };
    assert!(read > 0.0 && encode > 0.0 && write > 0.0, "{stdout}");
    // Each figure is rounded to 0.01 µs.
    assert!((read + encode + write - total).abs() <= 0.02, "{stdout}");
}
