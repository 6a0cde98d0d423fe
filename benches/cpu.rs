//! CPU per contact in process (issue 5, run by `scripts/bench.sh`): the simulator's page bodies
//! are fetched once into memory, then each round takes them through exactly what an export does
//! to a page (`ContactsPage::read` with the encoder's reader, the fetch task's one pass, then
//! `export::lanes::encode_chunk`: encode, gzip member when asked) and appends the chunk to one buffer, as the file sink writes it. No HTTP,
//! no fsync, no checkpoint: the encoder's own cost, against the end-to-end figure of
//! `benches/export.rs`.
//!
//! The clock is this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so time the scheduler gives
//! to other processes on the shared machine is not counted. Prints, per format,
//! `bench cpu_us_per_contact format=csv min=… median=… bytes_in=… bytes_out=…` (µs over the
//! rounds; bytes per contact: JSON in, output out), and `bench cpu_stage …` lines that split the
//! CSV figure into the page parse and the encoding. `BENCH_CPU_INPROC_CONTACTS` (default 20,000)
//! and `BENCH_CPU_ROUNDS` (default 9) size it; `BENCH_QUICK=1` shrinks both.

#[path = "common/env.rs"]
mod env;

use std::time::Duration;

use anyhow::Context;
use cc_export::cc::model::CustomFieldsPage;
use cc_export::cc::{ContactsPage, Include};
use cc_export::encode::{Format, build_encoder, read_view_rows, resolve_columns};
use cc_export::export::lanes::encode_chunk;
use cc_export::sim::{SimConfig, Simulator};
use env::env_u64;
use url::Url;

const ACCOUNT: &str = "bench";

fn main() -> anyhow::Result<()> {
    // `cargo test --all-targets` runs bench binaries too (without `--bench`): nothing to do there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark: run it with `cargo bench --bench cpu` or scripts/bench.sh");
        return Ok(());
    }
    let quick = env::quick();
    let contacts = env_u64(
        "BENCH_CPU_INPROC_CONTACTS",
        if quick { 5_000 } else { 20_000 },
    );
    let rounds = env_u64("BENCH_CPU_ROUNDS", if quick { 5 } else { 9 }).max(1) as usize;
    // Each format's pages with the includes its export asks for (CSV reads no `notes`).
    let pages = fetch_pages(contacts, Format::Csv.includes())?;
    let ndjson_pages = fetch_pages(contacts, Format::Ndjson.includes())?;
    let base = Url::parse(&pages.base_url)?;
    let bytes_in: usize = pages.bodies.iter().map(Vec::len).sum();
    println!(
        "bench cpu_meta contacts={contacts} pages={} rounds={rounds} json_bytes={bytes_in}",
        pages.bodies.len()
    );
    let columns = resolve_columns(None, &pages.custom_fields)?;
    let cases: [(&str, Format, bool); 3] = [
        ("csv", Format::Csv, false),
        ("csv_gzip", Format::Csv, true),
        ("ndjson", Format::Ndjson, false),
    ];
    let mut out = Vec::with_capacity(64 << 20);
    for (name, format, gzip) in cases {
        let pages = if format == Format::Ndjson {
            &ndjson_pages
        } else {
            &pages
        };
        let base = Url::parse(&pages.base_url)?;
        let bytes_in: usize = pages.bodies.iter().map(Vec::len).sum();
        let mut encoder = build_encoder(format, &columns, false);
        let per_contact = measure(rounds, contacts, || {
            out.clear();
            let mut header = true;
            let read = encoder.reader();
            for body in &pages.bodies {
                let body = bytes::Bytes::copy_from_slice(body);
                let page =
                    ContactsPage::read(&base, body, &*read).expect("a simulator page parses");
                let chunk = encode_chunk(page, 0, &mut *encoder, gzip, &mut header)
                    .expect("a simulator page encodes");
                out.extend_from_slice(&chunk.bytes);
            }
        });
        println!(
            "bench cpu_us_per_contact format={name} min={:.3} median={:.3} bytes_in={} bytes_out={}",
            per_contact.min,
            per_contact.median,
            bytes_in / contacts as usize,
            out.len() / contacts as usize
        );
    }
    stages(&pages.bodies, &base, &columns, rounds, contacts);
    Ok(())
}

/// The CSV figure split: the page parse alone, then the encoder alone on parsed pages.
fn stages(
    bodies: &[Vec<u8>],
    base: &Url,
    columns: &[cc_export::encode::Column],
    rounds: usize,
    contacts: u64,
) {
    let mut encoder = build_encoder(Format::Csv, columns, false);
    let read = encoder.reader();
    let print = |stage: &str, t: PerContact| {
        println!(
            "bench cpu_stage stage={stage} min={:.3} median={:.3}",
            t.min, t.median
        )
    };
    // The CSV reader the fetch task runs: the page scanned and every row written as it is read.
    print(
        "page_read_and_rows",
        measure(rounds, contacts, || {
            for body in bodies {
                let body = bytes::Bytes::copy_from_slice(body);
                let page = ContactsPage::read(base, body, &*read).expect("a simulator page parses");
                std::hint::black_box(page);
            }
        }),
    );
    // The same page read into views only (what a page the lane encodes costs to read) ...
    print(
        "page_read_views",
        measure(rounds, contacts, || {
            for body in bodies {
                let body = bytes::Bytes::copy_from_slice(body);
                let page = ContactsPage::read(base, body, &read_view_rows)
                    .expect("a simulator page parses");
                std::hint::black_box(page);
            }
        }),
    );
    // ... and the CSV cells written from those views.
    let parsed: Vec<ContactsPage<_>> = bodies
        .iter()
        .map(|b| {
            ContactsPage::read(base, bytes::Bytes::copy_from_slice(b), &read_view_rows)
                .expect("a simulator page parses")
        })
        .collect();
    let mut out = Vec::with_capacity(64 << 20);
    print(
        "rows_from_views",
        measure(rounds, contacts, || {
            out.clear();
            for page in &parsed {
                encoder
                    .encode_rows(&page.contacts, &mut out)
                    .expect("a simulator page encodes");
            }
        }),
    );
}

struct PerContact {
    min: f64,
    median: f64,
}

/// Runs `round` `rounds` times (after one warm-up round) and returns µs of this thread's CPU per
/// contact, the fastest and the median round.
fn measure(rounds: usize, contacts: u64, mut round: impl FnMut()) -> PerContact {
    round();
    let mut us: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = thread_cpu();
            round();
            (thread_cpu() - start).as_secs_f64() * 1e6 / contacts as f64
        })
        .collect();
    us.sort_by(f64::total_cmp);
    PerContact {
        min: us[0],
        median: us[us.len() / 2],
    }
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the pointer is to a live local of the right type.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

struct Pages {
    base_url: String,
    bodies: Vec<Vec<u8>>,
    custom_fields: Vec<cc_export::cc::model::CustomFieldDef>,
}

/// Every page body of an account of `contacts` contacts (page size and includes of an export),
/// and its custom field definitions, from a simulator on loopback.
fn fetch_pages(contacts: u64, include: Vec<Include>) -> anyhow::Result<Pages> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let cfg = SimConfig {
            contacts,
            deleted_per_mille: 0,
            ..SimConfig::default()
        };
        let sim = Simulator::start(cfg, "127.0.0.1:0".parse()?).await?;
        let token = sim.issue_tokens(ACCOUNT).access_token;
        let http = reqwest::Client::new();
        let get = |url: String| {
            let req = http.get(url).bearer_auth(&token);
            async move {
                let resp = req.send().await?.error_for_status()?;
                anyhow::Ok(resp.bytes().await?.to_vec())
            }
        };
        let base_url = sim.base_url();
        let origin = format!("http://{}", sim.addr());
        let fields = get(format!("{base_url}/contact_custom_fields?limit=100")).await?;
        let fields: CustomFieldsPage = serde_json::from_slice(&fields)?;
        let q = cc_export::cc::ContactsQuery::default();
        let include: Vec<&str> = include.iter().map(|i| i.as_str()).collect();
        let mut url = format!(
            "{base_url}/contacts?limit={}&include={}",
            q.limit,
            include.join(",")
        );
        let mut bodies = Vec::new();
        let mut seen = 0;
        loop {
            let body = get(url).await?;
            let page = ContactsPage::from_body(&Url::parse(&base_url)?, &body)?;
            seen += page.contacts.len() as u64;
            bodies.push(body);
            match page.next_href {
                Some(href) => url = format!("{origin}{href}"),
                None => break,
            }
        }
        anyhow::ensure!(
            seen == contacts,
            "fetched {seen} contacts, expected {contacts}"
        );
        sim.shutdown().await;
        anyhow::Ok(Pages {
            base_url,
            bodies,
            custom_fields: fields.custom_fields,
        })
    })
    .context("fetching the simulator's pages")
}
