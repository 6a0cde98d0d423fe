//! Constant Contact v3 API client: limiter → token → HTTP → retries.

pub mod client;
pub mod error;
pub mod limiter;
pub mod model;
mod oauth;
mod query;
mod retry;
pub mod token;

pub use client::{ClientConfig, ContactsClient, ContactsPage, ContactsQuery, Include};
pub use error::CcError;
pub use limiter::ApiLimiter;
pub use token::{
    MemoryTokenSource, OAuthClient, OAuthConfig, PersistFn, TokenError, TokenPair, TokenSource,
};
