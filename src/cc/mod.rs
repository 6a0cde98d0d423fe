//! Constant Contact v3 API client: limiter (+ shared gate) → token → HTTP → retries.

pub mod blocks;
pub mod client;
pub mod error;
pub mod gate;
mod latency;
pub mod limiter;
pub mod model;
mod oauth;
mod pacer;
pub mod page;
mod query;
mod retry;
mod spacing;
pub mod token;

pub use client::{ClientConfig, ContactsClient, ContactsQuery, Include};
pub use error::CcError;
pub use gate::{GateError, SharedGate};
pub use limiter::ApiLimiter;
pub use page::{ContactsPage, PageFields, RawContacts, ReadFn, ReadRows};
pub use token::{
    MemoryTokenSource, OAuthClient, OAuthConfig, PersistFn, TokenError, TokenPair, TokenSource,
};
