//! Page bodies of `GET /v3/contacts` (`Contacts`) and `GET /v3/contact_custom_fields`
//! (`CustomFields`), for an authenticated account.

use std::io::Write;

use serde_json::json;

use super::contact::write_contact;
use super::cursor::Kind;
use super::dataset::attrs;
use super::query::ContactsQuery;
use super::reply::Reply;
use super::state::SimState;

/// Query string pairs, decoded.
pub type Pairs = Vec<(String, String)>;

fn cursor_param(pairs: &Pairs) -> Option<&str> {
    pairs
        .iter()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v.as_str())
}

pub fn contacts(st: &SimState, account_id: &str, pairs: &Pairs) -> Reply {
    let account = st.dataset.account(account_id);
    // With a cursor every other parameter is ignored: the cursor carries the original query.
    let (query, start) = match cursor_param(pairs) {
        Some(c) => match st.cursors.decode(c, account_id, Kind::Contacts) {
            Ok(p) => (p.query, Some(p.next)),
            Err(e) => return Reply::invalid_cursor(&e.to_string()),
        },
        None => match ContactsQuery::parse(pairs, &account) {
            Ok(q) => (q, None),
            Err(message) => return Reply::bad_request(&message),
        },
    };
    let (lo, hi) =
        st.dataset
            .created_range(account.seed, query.created_after, query.created_before);
    let mut i = start.unwrap_or(lo).max(lo);
    let mut body = Vec::with_capacity(64 + query.limit as usize * 1200);
    body.extend_from_slice(b"{\"contacts\":[");
    let mut served = 0u64;
    // Stops at the next match after a full page, so the last page never links to an empty one.
    let next = loop {
        while i < hi && !query.matches(&attrs(&account, i)) {
            i += 1;
        }
        if i >= hi {
            break None;
        }
        if served == u64::from(query.limit) {
            break Some(i);
        }
        if served > 0 {
            body.push(b',');
        }
        write_contact(&mut body, &account, i, query.include);
        served += 1;
        i += 1;
    };
    body.push(b']');
    if query.include_count {
        let n = st.count(account_id, &account, &query);
        let _ = write!(body, ",\"contacts_count\":{n}");
    }
    if let Some(next) = next {
        let cursor = st.cursors.encode(account_id, Kind::Contacts, &query, next);
        let _ = write!(
            body,
            ",\"_links\":{{\"next\":{{\"href\":\"/v3/contacts?cursor={cursor}\"}}}}"
        );
    }
    body.push(b'}');
    Reply::ok(body, served)
}

pub fn custom_fields(st: &SimState, account_id: &str, pairs: &Pairs) -> Reply {
    let (query, start) = match cursor_param(pairs) {
        Some(c) => match st.cursors.decode(c, account_id, Kind::CustomFields) {
            Ok(p) => (p.query, p.next),
            Err(e) => return Reply::invalid_cursor(&e.to_string()),
        },
        None => {
            let limit = pairs
                .iter()
                .rev()
                .find(|(k, _)| k == "limit")
                .map(|(_, v)| v.as_str());
            match limit.map_or(Some(50), |v| {
                v.parse().ok().filter(|l| (1..=100).contains(l))
            }) {
                Some(limit) => (
                    ContactsQuery {
                        limit,
                        ..Default::default()
                    },
                    0,
                ),
                None => return Reply::bad_request("limit must be an integer from 1 to 100"),
            }
        }
    };
    let defs = st.dataset.custom_fields(account_id);
    let start = (start as usize).min(defs.len());
    let end = (start + query.limit as usize).min(defs.len());
    let mut page = json!({"custom_fields": defs[start..end]});
    if end < defs.len() {
        let cursor = st
            .cursors
            .encode(account_id, Kind::CustomFields, &query, end as u64);
        page["_links"] =
            json!({"next": {"href": format!("/v3/contact_custom_fields?cursor={cursor}")}});
    }
    Reply::ok(serde_json::to_vec(&page).expect("json value"), 0)
}
