//! Runs the release `cc-export export` as a child process against a simulator on loopback and
//! reads what the kernel accounted to that one process (wait4: user and system CPU, peak RSS).

use std::fs::File;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub const BIN: &str = env!("CARGO_BIN_EXE_cc-export");

/// How the export fetches: one cursor chain, or the `--partitions` flag's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Sequential,
    Partitioned,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential",
            Mode::Partitioned => "partitioned",
        }
    }
}

/// One export to run.
pub struct Export<'a> {
    pub api_base: &'a str,
    pub auth_url: &'a str,
    pub access_token: &'a str,
    pub refresh_token: &'a str,
    pub rps: u32,
    pub mode: Mode,
    /// Whether the binary knows `--partitions` (it is passed only when it does).
    pub partitions_flag: bool,
    /// Extra flags: `--format ndjson`, `--gzip`.
    pub extra: &'a [&'a str],
    pub out_name: &'a str,
}

#[derive(Debug)]
pub struct ExportRun {
    pub wall: Duration,
    pub user: Duration,
    pub sys: Duration,
    pub maxrss_kib: u64,
    /// Contacts the export said it wrote.
    pub rows: u64,
    pub bytes_out: u64,
    /// The summary's "pipeline CPU … µs per contact (read …, encode …, write …)": the CPU of
    /// the pipeline's own stages in this run; `None` from a binary that does not report it.
    pub stages: Option<[f64; 4]>,
}

impl ExportRun {
    pub fn cpu(&self) -> Duration {
        self.user + self.sys
    }
}

/// Whether `cc-export export` accepts `--partitions` (the partitioned export may not be merged).
pub fn supports_partitions() -> anyhow::Result<bool> {
    let help = Command::new(BIN)
        .args(["export", "--help"])
        .output()
        .context("running cc-export export --help")?;
    Ok(String::from_utf8_lossy(&help.stdout).contains("--partitions"))
}

pub fn run(e: &Export<'_>) -> anyhow::Result<ExportRun> {
    if e.mode == Mode::Partitioned && !e.partitions_flag {
        bail!("flag missing");
    }
    let dir = tempfile::tempdir()?;
    let out = dir.path().join(e.out_name);
    let mut cmd = Command::new(BIN);
    cmd.arg("export")
        .args(["--account", "bench", "--out"])
        .arg(&out)
        .args(e.extra);
    if e.partitions_flag {
        let value = match e.mode {
            Mode::Sequential => "off",
            Mode::Partitioned => "auto",
        };
        cmd.args(["--partitions", value]);
    }
    // A clean environment: no DATABASE_URL (the shared gate is measured by the key_share bench),
    // no stray EXPORT_* or CC_* settings of the caller's shell.
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("CC_API_BASE_URL", e.api_base)
        .env("CC_AUTH_URL", e.auth_url)
        .env("CC_CLIENT_ID", "sim-client")
        .env("CC_CLIENT_SECRET", "sim-secret")
        .env("CC_ACCESS_TOKEN", e.access_token)
        .env("CC_REFRESH_TOKEN", e.refresh_token)
        .env("CC_RATE_LIMIT_RPS", e.rps.to_string())
        .env("CC_DAILY_QUOTA", "100000000")
        .stdin(Stdio::null())
        .stdout(File::create(dir.path().join("stdout"))?)
        .stderr(File::create(dir.path().join("stderr"))?);
    let start = Instant::now();
    let child = cmd.spawn().context("spawning cc-export")?;
    let (status, usage) = wait_with_usage(child.id())?;
    let wall = start.elapsed();
    let stdout = std::fs::read_to_string(dir.path().join("stdout"))?;
    if !status.success() {
        let stderr = std::fs::read_to_string(dir.path().join("stderr"))?;
        let last = stderr.lines().last().unwrap_or("").trim().to_owned();
        bail!("cc-export exited with {status}: {last}");
    }
    Ok(ExportRun {
        wall,
        user: timeval(usage.ru_utime),
        sys: timeval(usage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        maxrss_kib: usage.ru_maxrss as u64,
        rows: exported_rows(&stdout).with_context(|| format!("unexpected summary: {stdout}"))?,
        stages: pipeline_cpu(&stdout),
        bytes_out: file_len(&out),
    })
}

/// `…; pipeline CPU 2.31 µs per contact (read 2.01, encode 0.03, write 0.27)`: total, read,
/// encode, write.
fn pipeline_cpu(stdout: &str) -> Option<[f64; 4]> {
    let tail = stdout.split("pipeline CPU ").nth(1)?;
    let mut numbers = tail
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<f64>().ok());
    let mut next = || numbers.next().flatten();
    Some([next()?, next()?, next()?, next()?])
}

/// `exported 100000 contacts to … `: the count the export itself reports.
fn exported_rows(stdout: &str) -> Option<u64> {
    let line = stdout.lines().find(|l| l.starts_with("exported "))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

pub fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// Reaps `pid` with wait4, which returns the resource usage of that child alone (getrusage's
/// RUSAGE_CHILDREN would sum and max over every child reaped so far).
pub fn wait_with_usage(pid: u32) -> io::Result<(ExitStatus, libc::rusage)> {
    let pid = pid as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; zero is a valid value for every field.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return Ok((ExitStatus::from_raw(status), usage));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
