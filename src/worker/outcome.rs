//! How a job run ended, and what that means for its row: the Abort/Retry split.

use std::time::Duration;

use time::OffsetDateTime;

use crate::cc::CcError;
use crate::export::ExportError;
use crate::store::StoreError;

#[derive(Debug)]
pub enum RunEnd {
    Done {
        rows: u64,
        bytes: u64,
    },
    /// The worker is shutting down: hand the job back with its checkpoint.
    Drained,
    /// The row says the job is no longer ours (cancelled, or another worker holds the lease).
    LeaseLost,
    /// Try again later, unless the attempts are used up.
    Retry {
        error: String,
        delay: Duration,
    },
    /// Waiting cannot help (re-authentication, bad spec, refused cursor…).
    Abort {
        error: String,
    },
    /// The API key's daily quota is spent: wait for 00:00 UTC without using up an attempt.
    QuotaWait {
        until: OffsetDateTime,
    },
}

impl RunEnd {
    /// `cc_export_job_runs_total{outcome}`.
    pub fn label(&self) -> &'static str {
        match self {
            RunEnd::Done { .. } => "succeeded",
            RunEnd::Drained => "drained",
            RunEnd::LeaseLost => "lease_lost",
            RunEnd::Retry { .. } => "retry",
            RunEnd::Abort { .. } => "failed",
            RunEnd::QuotaWait { .. } => "quota_wait",
        }
    }
}

/// Exponential delay between attempts: 5 s, 10 s, 20 s … capped at 5 min.
pub fn retry_delay(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 8) as u32 - 1;
    Duration::from_secs((5u64 << exp).min(300))
}

pub fn classify(err: anyhow::Error, attempts: i32) -> RunEnd {
    if StoreError::lease_lost_in(&err) {
        return RunEnd::LeaseLost;
    }
    let message = format!("{err:#}").replace(['\n', '\r'], " ");
    for cause in err.chain() {
        // `ExportError::Api` is transparent: its `CcError` is not a separate link of the chain.
        let api = match cause.downcast_ref::<ExportError>() {
            Some(ExportError::Api(e)) => Some(e),
            _ => cause.downcast_ref::<CcError>(),
        };
        if let Some(CcError::QuotaExceeded) = api {
            return RunEnd::QuotaWait {
                until: next_utc_midnight(OffsetDateTime::now_utc()),
            };
        }
        if let Some(e) = cause.downcast_ref::<ExportError>() {
            return if e.is_permanent() {
                RunEnd::Abort { error: message }
            } else {
                retry(message, attempts)
            };
        }
        if let Some(e) = cause.downcast_ref::<CcError>() {
            return if e.is_permanent() {
                RunEnd::Abort { error: message }
            } else {
                retry(message, attempts)
            };
        }
        if let Some(e) = cause.downcast_ref::<StoreError>()
            && e.is_permanent()
        {
            return RunEnd::Abort { error: message };
        }
    }
    retry(message, attempts)
}

fn retry(error: String, attempts: i32) -> RunEnd {
    RunEnd::Retry {
        error,
        delay: retry_delay(attempts),
    }
}

pub fn next_utc_midnight(now: OffsetDateTime) -> OffsetDateTime {
    (now.date().next_day().expect("a next day"))
        .midnight()
        .assume_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_cap() {
        assert_eq!(retry_delay(1), Duration::from_secs(5));
        assert_eq!(retry_delay(2), Duration::from_secs(10));
        assert_eq!(retry_delay(50), Duration::from_secs(300));
    }

    #[test]
    fn quota_waits_for_midnight_and_permanent_errors_abort() {
        let e = anyhow::Error::from(ExportError::Api(CcError::QuotaExceeded));
        let RunEnd::QuotaWait { until } = classify(e, 1) else {
            panic!()
        };
        assert_eq!((until.hour(), until.minute()), (0, 0));
        assert!(until > OffsetDateTime::now_utc());
        let e = anyhow::Error::from(ExportError::Api(CcError::Forbidden));
        assert!(matches!(classify(e, 1), RunEnd::Abort { .. }));
        let e = anyhow::Error::from(ExportError::FetcherStopped);
        assert!(
            matches!(classify(e, 3), RunEnd::Retry { delay, .. } if delay == Duration::from_secs(20))
        );
    }
}
