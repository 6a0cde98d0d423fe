//! The `/v3` pipeline: arrival stats, scripted faults, rate limit and quota (judged at the
//! request's arrival), bearer auth, random faults, the page itself, then latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::faults::{Fault, RandomFault};
use super::limiter::Limited;
use super::pages::{self, Pairs};
use super::reply::Reply;
use super::state::SimState;

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Contacts,
    CustomFields,
}

pub async fn contacts(
    State(st): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    handle(st, headers, q, Endpoint::Contacts).await
}

pub async fn custom_fields(
    State(st): State<Arc<SimState>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    handle(st, headers, q, Endpoint::CustomFields).await
}

async fn handle(
    st: Arc<SimState>,
    headers: HeaderMap,
    query: Option<String>,
    endpoint: Endpoint,
) -> Response {
    let arrived = Instant::now();
    st.stats.arrival(arrived);
    if !headers.contains_key(header::USER_AGENT) {
        st.stats.without_user_agent();
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let pairs: Pairs = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let scripted = st.faults.next_scripted();
    if scripted.is_some() {
        st.stats.fault_applied();
    }
    // The API counts a request per key and second when it arrives: judged now, not once a
    // blocking thread gets to the page, so the simulator's own scheduling on a busy machine never
    // moves a request into the next second (nor a 429 out of it). A scripted status answers
    // before the limits, as before.
    let limits = match scripted {
        Some(Fault::Status { .. }) => Ok(()),
        _ => st.limiter.admit(arrived, utc_day()),
    };
    if let Some(Fault::Delay { ms }) = scripted {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let reply = match scripted {
        Some(Fault::Status {
            status,
            error_key,
            retry_after,
        }) => {
            let message = format!("simulated fault: HTTP {status}");
            Reply::error(status, error_key.as_deref(), &message).with_retry_after(retry_after)
        }
        other => {
            let st2 = Arc::clone(&st);
            let random = other.is_none();
            // Pages are CPU work (and a first include_count may scan millions of indexes).
            let reply = tokio::task::spawn_blocking(move || {
                admitted(&st2, limits, auth.as_deref(), &pairs, endpoint, random)
            })
            .await
            .unwrap_or_else(|_| Reply::error(500, None, "simulator page task failed"));
            match other {
                Some(Fault::Malformed) => reply.malformed(),
                Some(Fault::Reset) => reply.reset(),
                _ => reply,
            }
        }
    };
    if !st.cfg.latency.is_zero() {
        tokio::time::sleep(st.cfg.latency).await;
    }
    st.stats.record(&reply);
    reply.into_response()
}

fn utc_day() -> i64 {
    super::clock::now_millis().div_euclid(86_400_000)
}

fn admitted(
    st: &SimState,
    limits: Result<(), Limited>,
    auth: Option<&str>,
    pairs: &Pairs,
    endpoint: Endpoint,
    random: bool,
) -> Reply {
    match limits {
        Err(Limited::Throttled) => {
            return Reply::error(429, Some("throttled"), "Too many requests per second");
        }
        Err(Limited::QuotaExceeded) => {
            return Reply::error(429, Some("quota_exceeded"), "Daily request quota exceeded");
        }
        Ok(()) => {}
    }
    let account = match st.tokens.check(auth) {
        Ok(account) => account,
        Err(e) => return Reply::error(401, Some("unauthorized"), &e.to_string()),
    };
    st.stats.accepted_for(&account);
    let roll = if random { st.faults.roll() } else { None };
    if roll.is_some() {
        st.stats.fault_applied();
    }
    if let Some(RandomFault::Status(status)) = roll {
        return Reply::error(status, None, "simulated random fault");
    }
    let reply = match endpoint {
        Endpoint::Contacts => pages::contacts(st, &account, pairs),
        Endpoint::CustomFields => pages::custom_fields(st, &account, pairs),
    };
    if roll == Some(RandomFault::Malformed) {
        reply.malformed()
    } else {
        reply
    }
}
