//! The floor under the export's CPU: a child process that fetches the same pages with the same
//! HTTP client and runtime as `cc-export export` (reqwest with rustls, one tokio worker thread
//! beside the main one), gathers each body into one buffer sized from `Content-Length` as the
//! client does, finds `_links.next.href` at the end of the page and follows it. It parses and
//! writes nothing, so what the export spends beyond it is the export's own work (parse, rows,
//! write, checkpoints), and no client of these pages over HTTP on this machine spends less.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use cc_export::cc::{ClientConfig, ContactsClient};

/// Set (to the first page's URL) in the child: it runs the fetch loop instead of the bench.
const ENV_URL: &str = "BENCH_RECEIVE_URL";
const ENV_ORIGIN: &str = "BENCH_RECEIVE_ORIGIN";
const ENV_TOKEN: &str = "BENCH_RECEIVE_TOKEN";

#[derive(Debug)]
pub struct ReceiveRun {
    pub user: Duration,
    pub sys: Duration,
    pub pages: u64,
    pub bytes: u64,
}

/// Runs the fetch loop in a child process of this bench binary; its CPU alone, by wait4.
pub fn run(origin: &str, access_token: &str) -> anyhow::Result<ReceiveRun> {
    let child = Command::new(std::env::current_exe()?)
        .env_clear()
        .env(ENV_URL, super::seed::first_url(origin))
        .env(ENV_ORIGIN, origin)
        .env(ENV_TOKEN, access_token)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawning the receive-only child")?;
    let pid = child.id();
    let mut stdout = child.stdout.expect("piped");
    let mut stderr = child.stderr.expect("piped");
    // The pipes are read after the exit: the child prints one short line.
    let (status, usage) = super::child::wait_with_usage(pid)?;
    let (mut out, mut err) = (String::new(), String::new());
    std::io::Read::read_to_string(&mut stdout, &mut out)?;
    std::io::Read::read_to_string(&mut stderr, &mut err)?;
    if !status.success() {
        bail!("receive-only child exited with {status}: {}", err.trim());
    }
    let field = |name: &str| -> anyhow::Result<u64> {
        out.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {name} in {out:?}"))
    };
    Ok(ReceiveRun {
        user: super::child::timeval(usage.ru_utime),
        sys: super::child::timeval(usage.ru_stime),
        pages: field("pages")?,
        bytes: field("bytes")?,
    })
}

/// In the child (its environment holds the first URL): fetches every page, prints
/// `pages=N bytes=B`, and exits. `None` in the bench itself.
pub fn child_main() -> Option<anyhow::Result<()>> {
    let url = std::env::var(ENV_URL).ok()?;
    let run = || -> anyhow::Result<()> {
        let origin = std::env::var(ENV_ORIGIN)?;
        let token = std::env::var(ENV_TOKEN)?;
        // The runtime `cc-export export` builds for a foreground export (cli::main).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        // Spawned, as the export's fetch task is: on the worker thread with the connection.
        let (pages, bytes) =
            rt.block_on(async { tokio::spawn(fetch_all(url, origin, token)).await })??;
        println!("pages={pages} bytes={bytes}");
        Ok(())
    };
    Some(run())
}

async fn fetch_all(mut url: String, origin: String, token: String) -> anyhow::Result<(u64, u64)> {
    // Built by the export's own builder: its user agent and timeouts.
    let cfg = ClientConfig::new(reqwest::Url::parse(&format!("{origin}/v3"))?);
    let http = ContactsClient::http_client(&cfg)?;
    let (mut pages, mut bytes) = (0u64, 0u64);
    loop {
        let mut resp = http.get(&url).bearer_auth(&token).send().await?;
        if !resp.status().is_success() {
            bail!("GET {url}: {}", resp.status());
        }
        // As the export's client reads a body (cc/client.rs `read_body`).
        let mut body = Vec::with_capacity(resp.content_length().unwrap_or(0) as usize);
        while let Some(frame) = resp.chunk().await? {
            body.extend_from_slice(&frame);
        }
        pages += 1;
        bytes += body.len() as u64;
        match next_href(&body) {
            Some(href) => url = format!("{origin}{href}"),
            None => return Ok((pages, bytes)),
        }
    }
}

/// The simulator writes `_links` last: `…,"_links":{"next":{"href":"/v3/…"}}}`.
fn next_href(body: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"next\":{\"href\":\"";
    let tail = &body[body.len().saturating_sub(1024)..];
    let at = memchr::memmem::rfind(tail, KEY)? + KEY.len();
    let len = memchr::memchr(b'"', &tail[at..])?;
    std::str::from_utf8(&tail[at..at + len]).ok()
}
