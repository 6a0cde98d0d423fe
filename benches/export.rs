//! End-to-end benchmark of the release `cc-export export` (issue 5), run by `scripts/bench.sh`:
//! the binary runs as a child process against the in-process simulator on loopback, so its CPU
//! time and peak RSS are the export's alone. Prints one `bench <row> key=value …` line per figure;
//! bench.sh turns them into the table of docs/PERFORMANCE.md. Figures are ratios measured in this
//! one run (the machine is shared and noisy), never assertions.
//!
//! Rows: `util` (utilisation of the 10 req/s limit at 0 and 250 ms latency, sequential and
//! partitioned), `seed` (the seed's loop and ours ÷ seed), `cpu` (CPU µs per contact with the
//! limit lifted: CSV, CSV+gzip, NDJSON), `rss` (peak RSS at two sizes). `BENCH_ROWS=util,cpu`
//! picks groups, `BENCH_QUICK=1` shrinks every size (see export/sizes.rs for the knobs).

#[path = "export/child.rs"]
mod child;
#[path = "common/env.rs"]
mod env;
#[path = "export/receive.rs"]
mod receive;
#[path = "export/seed.rs"]
mod seed;
#[path = "export/sizes.rs"]
mod sizes;

use std::time::Duration;

use cc_export::sim::{SimConfig, Simulator};
use child::{Export, ExportRun, Mode};
use sizes::Sizes;
use tokio::runtime::Runtime;

/// The API's limit, enforced by the simulator and kept by the client.
const LIMIT_RPS: u32 = 10;
/// What the client may do when the limit is lifted (the flag's maximum).
const LIFTED_RPS: u32 = 1000;
const PAGE: u64 = 500;
const LATENCIES_MS: [u64; 2] = [0, 250];

struct Bench {
    rt: Runtime,
    sizes: Sizes,
    partitions_flag: bool,
    /// (latency ms, mode, contacts/s) of each utilisation run, for the ratio to the seed's loop.
    ours: Vec<(u64, Mode, f64)>,
}

fn main() -> anyhow::Result<()> {
    // Re-run as the receive-only child of the `cpu` rows (receive.rs).
    if let Some(done) = receive::child_main() {
        return done;
    }
    // `cargo test --all-targets` runs bench binaries too (without `--bench`): nothing to do there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark: run it with `cargo bench --bench export` or scripts/bench.sh");
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut b = Bench {
        rt,
        sizes: Sizes::from_env(),
        partitions_flag: child::supports_partitions()?,
        ours: Vec::new(),
    };
    println!(
        "bench meta quick={} partitions_flag={} limit_rps={LIMIT_RPS} page={PAGE}",
        u8::from(b.sizes.quick),
        b.partitions_flag
    );
    if b.sizes.wants("util") {
        for latency in LATENCIES_MS {
            for mode in [Mode::Sequential, Mode::Partitioned] {
                b.utilisation(latency, mode);
            }
        }
    }
    if b.sizes.wants("seed") {
        for latency in LATENCIES_MS {
            b.seed_loop(latency);
        }
    }
    if b.sizes.wants("cpu") {
        b.cpu();
    }
    if b.sizes.wants("rss") {
        b.rss();
    }
    Ok(())
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-9)
}

/// A row that could not be measured: the reason goes on a `#` line beside it.
fn failed(prefix: &str, e: &anyhow::Error) {
    println!("{prefix} status=failed");
    println!("# {prefix}: {e:#}");
}

impl Bench {
    fn start_sim(&self, contacts: u64, rate: Option<u32>, latency_ms: u64) -> Simulator {
        let cfg = SimConfig {
            contacts,
            rate_limit_rps: rate,
            latency: Duration::from_millis(latency_ms),
            // Every contact is exported, so rows = contacts.
            deleted_per_mille: 0,
            ..SimConfig::default()
        };
        self.rt
            .block_on(Simulator::start(cfg, "127.0.0.1:0".parse().unwrap()))
            .expect("start the simulator")
    }

    fn stop(&self, sim: Simulator) {
        self.rt.block_on(sim.shutdown());
    }

    /// Exports every contact of `sim` (which holds `contacts`) and checks the count.
    fn export(
        &self,
        sim: &Simulator,
        contacts: u64,
        rps: u32,
        mode: Mode,
        extra: &[&str],
        out_name: &str,
    ) -> anyhow::Result<ExportRun> {
        let tokens = sim.issue_tokens("bench");
        let (api_base, auth_url) = (sim.base_url(), sim.auth_url());
        let run = child::run(&Export {
            api_base: &api_base,
            auth_url: &auth_url,
            access_token: &tokens.access_token,
            refresh_token: &tokens.refresh_token,
            rps,
            mode,
            partitions_flag: self.partitions_flag,
            extra,
            out_name,
        })?;
        anyhow::ensure!(
            run.rows == contacts,
            "exported {} contacts, expected {contacts}",
            run.rows
        );
        Ok(run)
    }

    fn utilisation(&mut self, latency_ms: u64, mode: Mode) {
        let contacts = match (latency_ms, mode) {
            (0, _) => self.sizes.util_fast,
            (_, Mode::Sequential) => self.sizes.util_slow_seq,
            (_, Mode::Partitioned) => self.sizes.util_slow_part,
        };
        let prefix = format!(
            "bench util latency_ms={latency_ms} mode={} contacts={contacts}",
            mode.name()
        );
        if mode == Mode::Partitioned && !self.partitions_flag {
            println!("{prefix} status=flag_missing");
            return;
        }
        let sim = self.start_sim(contacts, Some(LIMIT_RPS), latency_ms);
        let result = self.export(&sim, contacts, LIMIT_RPS, mode, &[], "contacts.csv");
        let stats = sim.stats();
        self.stop(sim);
        let run = match result {
            Ok(run) => run,
            Err(e) => return failed(&prefix, &e),
        };
        let wall = secs(run.wall);
        // Answered requests (pages of contacts and the custom fields): 429s do not count.
        let rps = stats.pages as f64 / wall;
        let contacts_per_s = run.rows as f64 / wall;
        println!(
            "{prefix} status=ok requests={} answered={} throttled={} max_in_1s={} wall_s={wall:.2} rps={rps:.3} contacts_per_s={contacts_per_s:.0} utilisation={:.4}",
            stats.requests,
            stats.pages,
            stats.throttled,
            stats.max_requests_in_any_1s,
            rps / f64::from(LIMIT_RPS)
        );
        self.ours.push((latency_ms, mode, contacts_per_s));
    }

    fn seed_loop(&self, latency_ms: u64) {
        let contacts = self.sizes.seed_pages * PAGE;
        let prefix = format!(
            "bench seed latency_ms={latency_ms} pages={} contacts={contacts}",
            self.sizes.seed_pages
        );
        let sim = self.start_sim(contacts, Some(LIMIT_RPS), latency_ms);
        let tokens = sim.issue_tokens("bench");
        let origin = format!("http://{}", sim.addr());
        let result = self
            .rt
            .block_on(seed::run(&origin, &tokens.access_token))
            .and_then(|r| {
                anyhow::ensure!(
                    r.contacts == contacts,
                    "the seed's loop fetched {} contacts, expected {contacts}",
                    r.contacts
                );
                Ok(r)
            });
        self.stop(sim);
        let run = match result {
            Ok(run) => run,
            Err(e) => return failed(&prefix, &e),
        };
        let wall = secs(run.wall);
        let seed_cps = run.contacts as f64 / wall;
        println!(
            "{prefix} status=ok requests={} throttled={} wall_s={wall:.2} rps={:.3} contacts_per_s={seed_cps:.0}",
            run.requests,
            run.throttled,
            run.requests as f64 / wall
        );
        for (lat, mode, ours) in &self.ours {
            if *lat == latency_ms {
                println!(
                    "bench vs_seed latency_ms={latency_ms} mode={} ours_contacts_per_s={ours:.0} seed_contacts_per_s={seed_cps:.0} ratio={:.3}",
                    mode.name(),
                    ours / seed_cps
                );
            }
        }
    }

    fn cpu(&self) {
        let contacts = self.sizes.cpu;
        let sim = self.start_sim(contacts, None, 0);
        let formats: [(&str, &[&str], &str); 3] = [
            ("csv", &[], "contacts.csv"),
            ("csv_gzip", &["--gzip"], "contacts.csv.gz"),
            ("ndjson", &["--format", "ndjson"], "contacts.ndjson"),
        ];
        for (name, extra, out) in formats {
            let prefix = format!("bench cpu format={name} contacts={contacts}");
            match self.export(&sim, contacts, LIFTED_RPS, Mode::Sequential, extra, out) {
                Ok(run) => {
                    // The pipeline's own stages in the same run, as the export reports them.
                    let stages = run.stages.map_or(String::new(), |[all, read, encode, write]| {
                        format!(
                            " pipeline_us={all:.2} read_us={read:.2} encode_us={encode:.2} write_us={write:.2}"
                        )
                    });
                    println!(
                        "{prefix} status=ok user_s={:.3} sys_s={:.3} us_per_contact={:.3} wall_s={:.2} bytes_out={} maxrss_mib={:.1}{stages}",
                        run.user.as_secs_f64(),
                        run.sys.as_secs_f64(),
                        run.cpu().as_secs_f64() * 1e6 / run.rows as f64,
                        run.wall.as_secs_f64(),
                        run.bytes_out,
                        run.maxrss_kib as f64 / 1024.0
                    )
                }
                Err(e) => failed(&prefix, &e),
            }
            if name == "csv" {
                self.receive_floor(&sim, contacts);
            }
        }
        self.stop(sim);
    }

    /// The same pages fetched and dropped by a child with the export's HTTP client and runtime:
    /// the CPU no export of them over HTTP goes below (receive.rs).
    fn receive_floor(&self, sim: &Simulator, contacts: u64) {
        let prefix = format!("bench cpu_floor contacts={contacts}");
        let tokens = sim.issue_tokens("bench");
        let result = receive::run(&format!("http://{}", sim.addr()), &tokens.access_token)
            .and_then(|r| {
                let pages = contacts.div_ceil(PAGE);
                anyhow::ensure!(
                    r.pages == pages,
                    "fetched {} pages, expected {pages}",
                    r.pages
                );
                Ok(r)
            });
        match result {
            Ok(r) => println!(
                "{prefix} status=ok user_s={:.3} sys_s={:.3} us_per_contact={:.3} bytes_in_per_contact={}",
                r.user.as_secs_f64(),
                r.sys.as_secs_f64(),
                (r.user + r.sys).as_secs_f64() * 1e6 / contacts as f64,
                r.bytes / contacts.max(1)
            ),
            Err(e) => failed(&prefix, &e),
        }
    }

    fn rss(&self) {
        let mut peaks = Vec::new();
        for contacts in [self.sizes.rss_small, self.sizes.rss_large] {
            let prefix = format!("bench rss contacts={contacts}");
            let sim = self.start_sim(contacts, None, 0);
            let result = self.export(
                &sim,
                contacts,
                LIFTED_RPS,
                Mode::Sequential,
                &[],
                "contacts.csv",
            );
            self.stop(sim);
            match result {
                Ok(run) => {
                    println!(
                        "{prefix} status=ok maxrss_mib={:.1} us_per_contact={:.3} wall_s={:.2}",
                        run.maxrss_kib as f64 / 1024.0,
                        run.cpu().as_secs_f64() * 1e6 / run.rows as f64,
                        run.wall.as_secs_f64()
                    );
                    peaks.push(run.maxrss_kib as f64);
                }
                Err(e) => failed(&prefix, &e),
            }
        }
        if let [small, large] = peaks[..] {
            println!(
                "bench rss_ratio small={} large={} ratio={:.3}",
                self.sizes.rss_small,
                self.sizes.rss_large,
                large / small
            );
        }
    }
}
