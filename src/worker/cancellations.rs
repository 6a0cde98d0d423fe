//! Prompt cancellation: `jobs cancel` NOTIFYs the job id; every worker LISTENs and stops the
//! job if it runs it. The lease-guarded heartbeat remains the fallback (a missed notification
//! while the listener reconnects costs at most one heartbeat interval).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::startup::WorkerContext;
use crate::store::jobs::CANCEL_CHANNEL;

/// The jobs this process runs, and how to stop each.
#[derive(Default, Clone)]
pub struct Running(Arc<Mutex<HashMap<Uuid, CancellationToken>>>);

impl Running {
    /// Registers a job; the guard unregisters it when the run ends.
    pub fn register(&self, id: Uuid) -> (CancellationToken, RunningGuard) {
        let token = CancellationToken::new();
        self.0
            .lock()
            .expect("running lock")
            .insert(id, token.clone());
        (
            token,
            RunningGuard {
                running: self.clone(),
                id,
            },
        )
    }

    /// The jobs running now.
    pub fn ids(&self) -> Vec<Uuid> {
        self.0
            .lock()
            .expect("running lock")
            .keys()
            .copied()
            .collect()
    }

    fn cancel(&self, id: Uuid) -> bool {
        match self.0.lock().expect("running lock").get(&id) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }
}

pub struct RunningGuard {
    running: Running,
    id: Uuid,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.running
            .0
            .lock()
            .expect("running lock")
            .remove(&self.id);
    }
}

pub async fn listen(ctx: Arc<WorkerContext>, running: Running, shutdown: CancellationToken) {
    loop {
        match listen_once(&ctx, &running, &shutdown).await {
            Ok(()) => return,
            Err(e) => tracing::warn!("cancellation listener: {e:#}; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

async fn listen_once(
    ctx: &WorkerContext,
    running: &Running,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let mut listener = PgListener::connect_with(&ctx.pool).await?;
    listener.listen(CANCEL_CHANNEL).await?;
    loop {
        let note = tokio::select! {
            n = listener.recv() => n?,
            _ = shutdown.cancelled() => return Ok(()),
        };
        if let Ok(id) = note.payload().parse::<Uuid>()
            && running.cancel(id)
        {
            tracing::info!(job_id = %id, "cancel requested: stopping the job");
        }
    }
}
