//! `Pacer`: what every HTTP attempt waits on. With a shared gate, the gate alone: it paces this
//! process inside the blocks of the key's time it holds (a local limiter in front would only
//! add its own timer lag). Without one, the process's `ApiLimiter`.

use std::sync::Arc;

use super::error::CcError;
use super::gate::{GateError, SharedGate};
use super::limiter::ApiLimiter;

#[derive(Clone)]
pub(crate) struct Pacer {
    local: Arc<ApiLimiter>,
    shared: Option<Arc<dyn SharedGate>>,
}

impl Pacer {
    pub fn local(local: Arc<ApiLimiter>) -> Self {
        Self {
            local,
            shared: None,
        }
    }

    pub fn with_shared(self, gate: Arc<dyn SharedGate>) -> Self {
        Self {
            shared: Some(gate),
            ..self
        }
    }

    /// Waits for this request's turn; an unreachable gate fails the attempt (retried like a
    /// transport error) rather than letting an unpaced request through.
    pub async fn wait(&self) -> Result<(), CcError> {
        let started = std::time::Instant::now();
        let Some(gate) = &self.shared else {
            self.local.until_ready().await;
            crate::ops::metrics::limiter_waited(started.elapsed());
            return Ok(());
        };
        let acquired = gate.acquire().await;
        crate::ops::metrics::limiter_waited(started.elapsed());
        acquired.map_err(|e| match e {
            GateError::QuotaExceeded => CcError::QuotaExceeded,
            GateError::Unavailable(why) => CcError::RateGate(why),
        })
    }

    /// The API said the day's quota is spent: tell the other processes (best effort; they will
    /// hear the same 429 otherwise).
    pub async fn quota_spent(&self) {
        if let Some(gate) = &self.shared
            && let Err(e) = gate.mark_exhausted().await
        {
            tracing::warn!(error = %e, "could not record the spent daily quota");
        }
    }
}
