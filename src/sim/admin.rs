//! `/__sim/*`: control routes for tests and demos (stats, tokens, faults).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::SimTokens;
use super::faults::Fault;
use super::state::SimState;
use super::stats::SimStats;

#[derive(Debug, Deserialize)]
struct TokensRequest {
    account_id: String,
}

#[derive(Debug, Deserialize)]
struct FaultsRequest {
    fault: Fault,
    #[serde(default = "one")]
    times: u32,
}

fn one() -> u32 {
    1
}

pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/__sim/stats", get(stats))
        .route("/__sim/stats/reset", post(reset_stats))
        .route("/__sim/tokens", post(tokens))
        .route("/__sim/faults", post(faults))
        .route("/__sim/token-faults", post(token_faults))
        .route("/__sim/expire-access-tokens", post(expire))
        .route("/__sim/revoke/{account_id}", post(revoke))
        .route("/__sim/invalidate-cursors", post(invalidate))
}

async fn stats(State(st): State<Arc<SimState>>) -> Json<SimStats> {
    Json(st.stats.snapshot())
}

async fn reset_stats(State(st): State<Arc<SimState>>) -> Json<SimStats> {
    st.stats.reset();
    Json(st.stats.snapshot())
}

async fn tokens(
    State(st): State<Arc<SimState>>,
    Json(req): Json<TokensRequest>,
) -> Json<SimTokens> {
    Json(st.tokens.issue(&req.account_id))
}

async fn faults(State(st): State<Arc<SimState>>, Json(req): Json<FaultsRequest>) -> StatusCode {
    st.faults.inject(req.fault, req.times);
    StatusCode::NO_CONTENT
}

async fn token_faults(
    State(st): State<Arc<SimState>>,
    Json(req): Json<FaultsRequest>,
) -> StatusCode {
    st.token_faults.inject(req.fault, req.times);
    StatusCode::NO_CONTENT
}

async fn expire(State(st): State<Arc<SimState>>) -> StatusCode {
    st.tokens.expire_access_tokens();
    StatusCode::NO_CONTENT
}

async fn revoke(State(st): State<Arc<SimState>>, Path(account_id): Path<String>) -> StatusCode {
    st.tokens.revoke_refresh_tokens(&account_id);
    StatusCode::NO_CONTENT
}

async fn invalidate(State(st): State<Arc<SimState>>) -> StatusCode {
    st.cursors.invalidate();
    StatusCode::NO_CONTENT
}
