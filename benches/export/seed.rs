//! The seed's loop, the baseline: one request at a time, `_links.next.href` followed until it is
//! absent, and a fixed 100 ms pause between requests; no limiter, no pipelining.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cc_export::cc::ContactsQuery;
use cc_export::encode::Format;
use reqwest::StatusCode;
use serde_json::Value;

const PAUSE: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub struct SeedRun {
    pub requests: u64,
    pub throttled: u64,
    pub contacts: u64,
    pub wall: Duration,
}

/// The first page's URL: the page size and includes the export asks for.
pub fn first_url(origin: &str) -> String {
    let q = ContactsQuery::default();
    // The export's rows write CSV, which asks for every include but `notes`.
    let include: Vec<&str> = Format::Csv.includes().iter().map(|i| i.as_str()).collect();
    format!(
        "{origin}/v3/contacts?limit={}&include={}",
        q.limit,
        include.join(",")
    )
}

/// Fetches every contact of the account behind `origin` (`http://host:port`).
pub async fn run(origin: &str, access_token: &str) -> anyhow::Result<SeedRun> {
    let http = reqwest::Client::builder()
        .user_agent("cc-export-bench-seed-loop")
        .build()?;
    let mut url = first_url(origin);
    let (mut requests, mut throttled, mut contacts) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    loop {
        requests += 1;
        let resp = http
            .get(&url)
            .bearer_auth(access_token)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            // Not expected below 10 req/s; counted so a run that hit it shows it.
            throttled += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if !resp.status().is_success() {
            bail!("GET {url}: {}", resp.status());
        }
        let page: Value = resp.json().await?;
        contacts += page["contacts"].as_array().map_or(0, |c| c.len() as u64);
        match page["_links"]["next"]["href"].as_str() {
            Some(href) => url = format!("{origin}{href}"),
            None => break,
        }
        tokio::time::sleep(PAUSE).await;
    }
    Ok(SeedRun {
        requests,
        throttled,
        contacts,
        wall: start.elapsed(),
    })
}
