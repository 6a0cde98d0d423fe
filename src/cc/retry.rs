//! The retry loop around one logical request: exponential backoff with jitter (`backon`),
//! except after a 429 whose `Retry-After` says how long to wait.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use time::{OffsetDateTime, PrimitiveDateTime, macros::format_description};

use super::error::CcError;

/// A `Retry-After` beyond this is clamped (a broken header must not park a job for a day;
/// the daily quota has its own error).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub max_attempts: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_jitter()
            .with_factor(2.0)
            .with_min_delay(self.min_backoff)
            .with_max_delay(self.max_backoff.max(self.min_backoff))
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
    }
}

/// Runs `op` (given the 1-based attempt number) until it succeeds, fails permanently, or the
/// attempts run out, which yields `RetriesExhausted` carrying the last error.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: RetryPolicy,
    what: &str,
    mut op: F,
) -> Result<T, CcError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, CcError>>,
{
    let attempts = AtomicU32::new(0);
    let result = (|| op(attempts.fetch_add(1, Ordering::Relaxed) + 1))
        .retry(policy.backoff())
        .when(CcError::is_retryable)
        .adjust(|err, planned| match (planned, err.retry_after()) {
            // Still within the attempt budget and the server named the wait: honour it exactly.
            (Some(_), Some(wait)) => Some(wait.min(MAX_RETRY_AFTER)),
            (planned, _) => planned,
        })
        .notify(|err, wait| {
            crate::ops::metrics::api_retry(what);
            tracing::info!(
                request = what,
                attempt = attempts.load(Ordering::Relaxed),
                wait_ms = wait.as_millis() as u64,
                error = %err,
                "retrying"
            );
        })
        .await;
    result.map_err(|err| {
        if err.is_retryable() {
            let attempts = attempts.load(Ordering::Relaxed);
            tracing::warn!(request = what, attempts, error = %err, "giving up");
            CcError::RetriesExhausted {
                attempts,
                last: Box::new(err),
            }
        } else {
            err
        }
    })
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3); `None` when absent,
/// unreadable, or (for a date) already past.
pub(crate) fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let fmt = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = PrimitiveDateTime::parse(value, &fmt).ok()?.assume_utc();
    let wait = at - now;
    wait.is_positive().then(|| wait.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use time::macros::datetime;

    #[test]
    fn retry_after_forms() {
        let now = datetime!(2015-10-21 07:28:00 UTC);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            None
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            min_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        }
    }

    #[tokio::test]
    async fn transient_errors_are_retried_then_exhausted() {
        let calls = AtomicUsize::new(0);
        let res: Result<(), _> = with_retries(policy(4), "test", |_| {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Err(CcError::Transport("reset".into())) }
        })
        .await;
        assert_eq!(calls.load(Ordering::Relaxed), 4);
        match res {
            Err(CcError::RetriesExhausted { attempts: 4, last }) => {
                assert!(matches!(*last, CcError::Transport(_)))
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicUsize::new(0);
        let res: Result<(), _> = with_retries(policy(4), "test", |_| {
            calls.fetch_add(1, Ordering::Relaxed);
            async { Err(CcError::NotFound) }
        })
        .await;
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert!(matches!(res, Err(CcError::NotFound)));
    }

    #[tokio::test]
    async fn retry_after_sets_the_wait() {
        let start = std::time::Instant::now();
        let res = with_retries(policy(3), "test", |n| async move {
            if n == 1 {
                Err(CcError::Throttled {
                    retry_after: Some(Duration::from_millis(300)),
                })
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!(res.unwrap(), 2);
        assert!(start.elapsed() >= Duration::from_millis(300));
    }
}
