//! `StoreError`: what callers of the store match on.

use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The runner no longer holds the job's lease (taken over, cancelled, finished): it must stop
    /// without writing anything else.
    #[error("job {job_id}: lease lost (no longer held by worker {worker_id})")]
    LeaseLost { job_id: Uuid, worker_id: String },
    #[error("{what} not found")]
    NotFound { what: String },
    /// The job is in a state the operation does not apply to (e.g. `retry` of a running job).
    #[error("job {job_id} is {status}: {action} needs {needs}")]
    WrongStatus {
        job_id: Uuid,
        status: String,
        action: &'static str,
        needs: &'static str,
    },
    #[error("no tokens stored for account {account_id} user {user_id}; run `cc-export tokens put`")]
    NoTokens { account_id: String, user_id: String },
    // Transparent: the inner messages say what they are, and `{:#}` chains would repeat them.
    #[error(transparent)]
    Crypto(#[from] super::crypto::CryptoError),
    /// A stored value the code cannot read (e.g. a `spec` that no longer parses).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Waiting cannot fix it: missing tokens, a wrong encryption key, a row that does not parse.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            StoreError::NoTokens { .. } | StoreError::Crypto(_) | StoreError::Corrupt(_)
        )
    }

    pub fn is_lease_lost(&self) -> bool {
        matches!(self, StoreError::LeaseLost { .. })
    }

    /// True when `err` (anywhere in its chain) is a lost lease: how a `PartLedger` caller, which
    /// sees `anyhow::Error`, tells "stop quietly" from a real failure.
    pub fn lease_lost_in(err: &anyhow::Error) -> bool {
        err.chain().any(|e| {
            e.downcast_ref::<StoreError>()
                .is_some_and(StoreError::is_lease_lost)
        })
    }
}
