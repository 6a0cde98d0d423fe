//! `POST /oauth2/default/v1/token`: the refresh grant with HTTP Basic client authentication.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::json;

use super::faults::Fault;
use super::reply::Reply;
use super::state::SimState;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = Json(json!({"error": error, "error_description": description}));
    (status, [(header::CACHE_CONTROL, "no-store")], body).into_response()
}

/// Whether the `Authorization: Basic` header holds the configured client credentials.
fn client_ok(st: &SimState, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("{}:{}", st.cfg.client_id, st.cfg.client_secret);
    decoded == expected.as_bytes()
}

pub async fn token(State(st): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Response {
    st.stats.token_request();
    if !headers.contains_key(header::USER_AGENT) {
        st.stats.without_user_agent();
    }
    match st.token_faults.next_scripted() {
        Some(Fault::Status {
            status,
            error_key,
            retry_after,
        }) => {
            st.stats.fault_applied();
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = oauth_error(
                code,
                error_key.as_deref().unwrap_or("server_error"),
                "simulated fault",
            );
            if let Some(secs) = retry_after {
                resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
            }
            return resp;
        }
        // A 200 that is not a token answer: the body is cut off midway.
        Some(Fault::Malformed) => {
            st.stats.fault_applied();
            return Reply::ok(br#"{"token_type":"Bearer","access_token":"#.to_vec(), 0)
                .into_response();
        }
        Some(Fault::Reset) => {
            st.stats.fault_applied();
            return Reply::ok(br#"{"token_type":"Bearer","access_token":"x"}"#.to_vec(), 0)
                .reset()
                .into_response();
        }
        Some(Fault::Delay { ms }) => {
            st.stats.fault_applied();
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        None => {}
    }
    if !client_ok(&st, &headers) {
        st.stats.invalid_client();
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed.",
        );
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("refresh_token") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only the refresh_token grant is supported.",
        );
    }
    let Some(refresh_token) = field("refresh_token").filter(|t| !t.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The refresh_token parameter is required.",
        );
    };
    match st.tokens.refresh(refresh_token) {
        Ok(pair) => {
            st.stats.refreshed();
            let body = Json(json!({
                "token_type": "Bearer",
                "expires_in": st.tokens.ttl().as_secs(),
                "access_token": pair.access_token,
                "scope": "contact_data offline_access",
                "refresh_token": pair.refresh_token,
            }));
            (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], body).into_response()
        }
        Err(e) => {
            st.stats.invalid_grant();
            tracing::debug!(reason = %e, "sim: refresh rejected");
            oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                &format!("The refresh token is invalid or expired ({e})."),
            )
        }
    }
}
