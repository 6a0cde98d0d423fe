//! The export pipeline into S3 from the simulator, crashed with pages buffered but not uploaded
//! and resumed from the ledger: the object is byte-identical to an uninterrupted export's.

#[path = "common/s3.rs"]
mod s3_common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cc_export::cc::{ApiLimiter, ClientConfig, ContactsClient, ContactsQuery, MemoryTokenSource};
use cc_export::cc::{PersistFn, TokenPair};
use cc_export::encode::{Format, build_encoder};
use cc_export::export::{self, Plan, Progress};
use cc_export::secret::Secret;
use cc_export::sim::{SimConfig, Simulator};
use cc_export::sink::s3::{S3Location, S3Sink, S3SinkOptions};
use cc_export::sink::{PageSink, PartLedger, Position, SinkSummary};
use s3_common::{MIB, MemoryLedger};

const CONTACTS: u64 = 10_000;
const ACCOUNT: &str = "acct-s3";

async fn contacts_client(sim: &Simulator) -> Arc<ContactsClient> {
    let t = sim.issue_tokens(ACCOUNT);
    let pair = TokenPair {
        access_token: Secret::new(t.access_token),
        refresh_token: Secret::new(t.refresh_token),
        generated_at: time::OffsetDateTime::now_utc(),
    };
    let persist: PersistFn = Arc::new(|_: &TokenPair| Ok(()));
    let tokens = Arc::new(MemoryTokenSource::new(
        pair,
        None,
        persist,
        Duration::from_secs(24 * 3600),
    ));
    let cfg = ClientConfig::new(sim.base_url().parse().unwrap());
    Arc::new(ContactsClient::new(cfg, tokens, ApiLimiter::new(1000)).unwrap())
}

fn plan() -> Plan {
    Plan {
        query: ContactsQuery {
            limit: 100,
            ..ContactsQuery::default()
        },
        encoders: std::sync::Arc::new(|| build_encoder(Format::Ndjson, &[], false)),
        gzip: false,
        max_restarts: 0,
        partitions: cc_export::export::Partitions::Off,
    }
}

/// A process that dies before storing page `die_at` (counted from this run's start).
struct Crashing<'a> {
    inner: &'a mut S3Sink,
    pages: u64,
    die_at: Option<u64>,
}

#[async_trait]
impl PageSink for Crashing<'_> {
    async fn write_page(&mut self, chunk: &[u8], after: &Position) -> anyhow::Result<()> {
        if Some(self.pages) == self.die_at {
            anyhow::bail!("killed");
        }
        self.pages += 1;
        self.inner.write_page(chunk, after).await
    }
    async fn restart(&mut self) -> anyhow::Result<()> {
        self.inner.restart().await
    }
    async fn finish(&mut self, at: &Position) -> anyhow::Result<SinkSummary> {
        self.inner.finish(at).await
    }
}

/// One run: opens the sink from the ledger, resumes from the ledger's position.
async fn run(
    client: &Arc<ContactsClient>,
    s3: &aws_sdk_s3::Client,
    loc: &S3Location,
    ledger: &Arc<MemoryLedger>,
    die_at: Option<u64>,
) -> anyhow::Result<SinkSummary> {
    let opts = S3SinkOptions {
        part_size: 5 * MIB,
        job_id: "job-resume".into(),
        content_type: None,
    };
    let mut sink = S3Sink::open(
        s3.clone(),
        loc.clone(),
        opts,
        ledger.clone() as Arc<dyn PartLedger>,
    )
    .await?;
    let mut crashing = Crashing {
        inner: &mut sink,
        pages: 0,
        die_at,
    };
    let mut progress = Progress::new(false, None, 0);
    let start = ledger.position();
    let outcome = export::run(client.clone(), plan(), start, &mut crashing, &mut progress).await?;
    Ok(outcome.summary)
}

#[tokio::test]
async fn crashed_twice_with_pages_buffered_and_resumed_equals_uninterrupted() {
    let sim = Simulator::start(
        SimConfig {
            contacts: CONTACTS,
            rate_limit_rps: None,
            deleted_per_mille: 0,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let client = contacts_client(&sim).await;
    let s3 = s3_common::client().await;
    let bucket = s3_common::new_bucket(&s3, "resume").await;

    let reference = S3Location::new(&bucket, "reference.ndjson");
    let ref_ledger = Arc::new(MemoryLedger::default());
    run(&client, &s3, &reference, &ref_ledger, None)
        .await
        .unwrap();
    let want = s3_common::get(&s3, &bucket, &reference.key).await;
    assert!(
        ref_ledger.parts().len() >= 3,
        "the export spans several parts"
    );
    assert_eq!(
        want.iter().filter(|&&b| b == b'\n').count() as u64,
        CONTACTS
    );

    let loc = S3Location::new(&bucket, "exports/acct-s3/job-resume.ndjson");
    let ledger = Arc::new(MemoryLedger::default());
    // Dies after 1 part + some pages in the buffer, then again after another part.
    let err = run(&client, &s3, &loc, &ledger, Some(45))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("killed"));
    let after_first = ledger.position();
    assert_eq!(ledger.parts().len(), 1);
    assert!(
        after_first.rows < 4_500,
        "buffered pages were not checkpointed"
    );

    let err = run(&client, &s3, &loc, &ledger, Some(40))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("killed"));
    assert!(ledger.position().rows > after_first.rows);
    assert!(!s3_common::exists(&s3, &bucket, &loc.key).await);

    let summary = run(&client, &s3, &loc, &ledger, None).await.unwrap();
    let got = s3_common::get(&s3, &bucket, &loc.key).await;
    assert_eq!(summary.bytes, want.len() as u64);
    assert!(
        got == want,
        "resumed object differs from the uninterrupted one"
    );
    let tags = s3_common::tags(&s3, &bucket, &loc.key).await;
    assert_eq!(tags.get("rows"), Some(&CONTACTS.to_string()));
    assert!(s3_common::uploads(&s3, &bucket).await.is_empty());
}
