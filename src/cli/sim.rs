//! `cc-export sim`: the simulator as a server, for demos, manual tests and load tests.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use crate::sim::{SimConfig, Simulator};

#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Contacts per account.
    #[arg(long, env = "SIM_CONTACTS", default_value_t = 10_000)]
    contacts: u64,
    /// Seed of the generated dataset (and of the cursor signing key).
    #[arg(long, env = "SIM_SEED", default_value_t = 42)]
    seed: u64,
    /// Listen address; port 0 picks a free port.
    #[arg(long, env = "SIM_ADDR", default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Requests per second before answering 429 `throttled` (0 = no limit).
    #[arg(long, env = "SIM_RATE_LIMIT_RPS", default_value_t = 10)]
    rate_limit: u32,
    /// Requests per UTC day before answering 429 `quota_exceeded` (0 = no quota).
    #[arg(long, env = "SIM_DAILY_QUOTA", default_value_t = 0)]
    daily_quota: u64,
    /// Latency added to every API answer, in milliseconds.
    #[arg(long, env = "SIM_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
    /// Share of API requests answered 500/503 at random (0..1).
    #[arg(long, env = "SIM_FAULT_RATE", default_value_t = 0.0)]
    fault_rate: f64,
    /// Share of API requests answered with a truncated JSON body (0..1).
    #[arg(long, env = "SIM_MALFORMED_RATE", default_value_t = 0.0)]
    malformed_rate: f64,
    /// Deleted contacts per thousand (a default query leaves them out; `status=all` shows them).
    #[arg(long, env = "SIM_DELETED_PER_MILLE", default_value_t = 25)]
    deleted_per_mille: u64,
    /// Issue a token pair for this account at start-up and print it (stderr).
    #[arg(long, env = "SIM_ACCOUNT")]
    account: Option<String>,
}

pub async fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let cfg = SimConfig {
        contacts: args.contacts,
        seed: args.seed,
        rate_limit_rps: (args.rate_limit > 0).then_some(args.rate_limit),
        daily_quota: (args.daily_quota > 0).then_some(args.daily_quota),
        latency: Duration::from_millis(args.latency_ms),
        fault_rate: args.fault_rate.clamp(0.0, 1.0),
        malformed_rate: args.malformed_rate.clamp(0.0, 1.0),
        deleted_per_mille: args.deleted_per_mille.min(1000),
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg, args.addr).await?;
    // The first stdout line is the contract: scripts read the base URL from it.
    println!("{}", sim.base_url());
    eprintln!(
        "auth url: {}  (client id sim-client, secret sim-secret)",
        sim.auth_url()
    );
    eprintln!(
        "stats: http://{}/__sim/stats; tokens: POST http://{}/__sim/tokens {{\"account_id\":\"…\"}}",
        sim.addr(),
        sim.addr()
    );
    if let Some(account) = args.account {
        let t = sim.issue_tokens(&account);
        // A simulator's tokens guard nothing real; printing them is what the flag is for.
        eprintln!(
            "account {account}: CC_ACCESS_TOKEN={} CC_REFRESH_TOKEN={}",
            t.access_token, t.refresh_token
        );
    }
    super::shutdown_signal().await;
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
