//! Service outages for the fault suite, driven as root next to the services: RabbitMQ's app
//! stopped (`rabbitmqctl stop_app`) and Postgres stopped (`pg_ctlcluster … stop`). Each guard
//! brings its service back in `Drop`, so a failing test never leaves the other suites without it.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a service command; panics with what is missing when it cannot run or fails.
fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "`{program}` cannot run ({e}): the infrastructure fault suite stops and starts the \
             local services and needs their admin tools (run as root next to the services, as \
             scripts/services.sh sets them up)"
            )
        });
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// RabbitMQ's application is stopped while this lives (the Erlang node keeps running).
pub struct BrokerDown {
    since: Instant,
    up: bool,
}

pub fn stop_rabbitmq() -> BrokerDown {
    let since = Instant::now();
    run("rabbitmqctl", &["stop_app"]);
    BrokerDown { since, up: false }
}

impl BrokerDown {
    /// Starts the broker again; returns how long it was away.
    pub fn restore(mut self) -> Duration {
        run("rabbitmqctl", &["start_app"]);
        self.up = true;
        self.since.elapsed()
    }
}

impl Drop for BrokerDown {
    fn drop(&mut self) {
        if !self.up {
            let _ = Command::new("rabbitmqctl").arg("start_app").status();
        }
    }
}

/// The newest Postgres cluster version under /etc/postgresql (what scripts/services.sh starts).
fn pg_version() -> String {
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .expect("/etc/postgresql: the fault suite restarts the local Postgres cluster")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    versions.sort_by_key(|v| v.parse::<u32>().unwrap_or(0));
    versions
        .pop()
        .expect("a Postgres cluster under /etc/postgresql")
}

fn pg_ctl(action: &str) {
    run(
        "pg_ctlcluster",
        &["--skip-systemctl-redirect", &pg_version(), "main", action],
    );
}

/// Postgres is stopped (fast mode: every connection is cut) while this lives.
pub struct DatabaseDown {
    since: Instant,
    up: bool,
}

pub fn stop_postgres() -> DatabaseDown {
    let since = Instant::now();
    pg_ctl("stop");
    DatabaseDown { since, up: false }
}

impl DatabaseDown {
    /// Starts Postgres again; returns how long it was away.
    pub fn restore(mut self) -> Duration {
        // Another suite's `scripts/services.sh` may have started it already: that is fine.
        let out = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &pg_version(), "main", "start"])
            .output()
            .expect("pg_ctlcluster runs");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() || said.contains("already running"),
            "starting Postgres again failed: {said}"
        );
        self.up = true;
        self.since.elapsed()
    }
}

impl Drop for DatabaseDown {
    fn drop(&mut self) {
        if !self.up {
            let _ = Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", &pg_version(), "main", "start"])
                .status();
        }
    }
}
