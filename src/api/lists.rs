//! `GET /v1/integrations/constantcontact/lists?limit=&page=`: one page of the caller's contacts
//! in the seed's shape. `page` is the cursor of the previous answer's `next_page`; the caller's
//! stored token is refreshed first when older than 24 h.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;

use super::auth::Caller;
use super::error::ApiError;
use super::seed_contact::SeedContact;
use super::state::ApiState;
use crate::cc::model::Contact;
use crate::cc::{ContactsPage, ContactsQuery, Include, TokenSource};

pub const DEFAULT_LIMIT: u16 = 20;
pub const MAX_LIMIT: u16 = 500;

/// Both parameters as text, read by hand so that a bad or repeated one gets the seed's error
/// shape rather than axum's plain-text rejection (the last of a repeated one wins).
#[derive(Debug, Default, PartialEq)]
pub struct ListsParams {
    limit: Option<String>,
    page: Option<String>,
}

impl ListsParams {
    pub fn parse(query: Option<&str>) -> Self {
        let mut params = ListsParams::default();
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "limit" => params.limit = Some(v.into_owned()),
                "page" => params.page = Some(v.into_owned()),
                _ => {}
            }
        }
        params
    }
}

#[derive(Debug, Serialize)]
pub struct ListsResponse {
    pub success: bool,
    pub message: &'static str,
    pub data: Vec<SeedContact>,
    pub pagination: Pagination,
}

#[derive(Debug, Serialize)]
pub struct Pagination {
    pub limit: u16,
    /// The cursor this page was read at (`null` for the first page).
    pub curr_page: Option<String>,
    /// The cursor of the next page (`null` on the last one).
    pub next_page: Option<String>,
    /// Contacts in the account (`contacts_count`), `null` when the API did not say.
    pub total: Option<u64>,
    pub total_pages: Option<u64>,
}

pub fn parse_limit(raw: Option<&str>) -> Result<u16, ApiError> {
    let Some(raw) = raw.filter(|s| !s.is_empty()) else {
        return Ok(DEFAULT_LIMIT);
    };
    raw.trim()
        .parse::<u16>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "limit must be an integer from 1 to {MAX_LIMIT}, got {raw:?}"
            ))
        })
}

#[tracing::instrument(name = "lists", skip_all, fields(account_id = %caller.account_id))]
pub async fn list_contacts(
    State(state): State<ApiState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<ListsResponse>, ApiError> {
    let params = ListsParams::parse(query.as_deref());
    let limit = parse_limit(params.limit.as_deref())?;
    let cursor = params.page.filter(|p| !p.is_empty());
    let tokens = Arc::new(state.token_source(&caller.account_id, &caller.user_id));
    // The seed's 404 when nothing is stored, before any call; then refresh when stale.
    tokens.check().await?;
    tokens
        .access_token()
        .await
        .map_err(|e| ApiError::from_cc(e.into()))?;
    let client = state.contacts_client(tokens).map_err(ApiError::internal)?;
    let page = match &cursor {
        Some(cursor) => client.resume(cursor).await,
        None => {
            let query = ContactsQuery {
                limit,
                include: Include::ALL.to_vec(),
                include_count: true,
                ..ContactsQuery::default()
            };
            client.first_page(&query).await
        }
    }
    .map_err(ApiError::from_cc)?;
    Ok(Json(response(page, limit, cursor)?))
}

fn response(
    page: ContactsPage,
    limit: u16,
    cursor: Option<String>,
) -> Result<ListsResponse, ApiError> {
    let data = page
        .contacts
        .iter()
        .map(|raw| serde_json::from_str::<Contact>(raw.get()).map(SeedContact::from))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            ApiError::from_cc(crate::cc::CcError::Malformed {
                detail: format!("contact: {e}"),
            })
        })?;
    let total = page.contacts_count;
    Ok(ListsResponse {
        success: true,
        message: "SUCCESS",
        data,
        pagination: Pagination {
            limit,
            curr_page: cursor,
            next_page: page.next_cursor,
            total,
            total_pages: total.map(|t| t.div_ceil(u64::from(limit))),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_default_range_and_refusals() {
        assert_eq!(parse_limit(None).unwrap(), 20);
        assert_eq!(parse_limit(Some("")).unwrap(), 20);
        assert_eq!(parse_limit(Some("1")).unwrap(), 1);
        assert_eq!(parse_limit(Some("500")).unwrap(), 500);
        for bad in ["0", "501", "-1", "abc", "20.5", "70000"] {
            assert!(
                matches!(parse_limit(Some(bad)), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn parameters_are_read_by_hand() {
        let p = ListsParams::parse(Some("limit=100&page=eyJpZCI6IjEwMCJ9&limit=250&x=1"));
        assert_eq!(p.limit.as_deref(), Some("250"));
        assert_eq!(p.page.as_deref(), Some("eyJpZCI6IjEwMCJ9"));
        assert_eq!(ListsParams::parse(None), ListsParams::default());
        let p = ListsParams::parse(Some("page=a%2Bb%3D"));
        assert_eq!(p.page.as_deref(), Some("a+b="));
    }

    #[test]
    fn total_pages_round_up() {
        let page = ContactsPage {
            contacts: vec![],
            contacts_count: Some(1500),
            next_href: None,
            next_cursor: Some("c2".into()),
        };
        let r = response(page, 20, None).unwrap();
        assert_eq!(r.pagination.total_pages, Some(75));
        let page = ContactsPage {
            contacts: vec![],
            contacts_count: Some(1501),
            next_href: None,
            next_cursor: None,
        };
        assert_eq!(
            response(page, 100, Some("c".into()))
                .unwrap()
                .pagination
                .total_pages,
            Some(16)
        );
    }
}
