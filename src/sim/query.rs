//! `GET /v3/contacts` query parameters: parsing, validation and matching against [`Attrs`].
//! The parsed query is what a cursor carries, so its serialized form is kept compact.

use serde::{Deserialize, Serialize};

use super::account::Account;
use super::clock;
use super::contact::Include;
use super::dataset::{Attrs, Permission};

/// `status` bits: one per permission, then `deleted`.
const DELETED: u8 = 1 << 6;
const NOT_DELETED: u8 = DELETED - 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContactsQuery {
    #[serde(rename = "l")]
    pub limit: u32,
    #[serde(rename = "i", default)]
    pub include: Include,
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub lists: Option<u8>,
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<u8>,
    /// `None`: the default, every contact that is not deleted.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u8>,
    /// Windows in Unix milliseconds: `*_after` inclusive, `*_before` exclusive, so adjacent
    /// windows `[t0, t1)`, `[t1, t2)` partition the contacts exactly.
    #[serde(rename = "ua", default, skip_serializing_if = "Option::is_none")]
    pub updated_after: Option<i64>,
    #[serde(rename = "ub", default, skip_serializing_if = "Option::is_none")]
    pub updated_before: Option<i64>,
    #[serde(rename = "ca", default, skip_serializing_if = "Option::is_none")]
    pub created_after: Option<i64>,
    #[serde(rename = "cb", default, skip_serializing_if = "Option::is_none")]
    pub created_before: Option<i64>,
    #[serde(rename = "c", default, skip_serializing_if = "std::ops::Not::not")]
    pub include_count: bool,
}

fn status_bits(name: &str) -> Option<u8> {
    let p = |p: Permission| -> u8 { 1 << p as u8 };
    Some(match name {
        "all" => NOT_DELETED | DELETED,
        "active" => p(Permission::Explicit) | p(Permission::Implicit),
        "deleted" => DELETED,
        "not_set" => p(Permission::NotSet),
        "pending_confirmation" => p(Permission::PendingConfirmation),
        "temp_hold" => p(Permission::TempHold),
        "unsubscribed" => p(Permission::Unsubscribed),
        _ => return None,
    })
}

/// Ids given in `lists`/`tags` as a mask over the account's ones; unknown ids match nothing.
fn id_mask(value: &str, known: &[String], max: usize, name: &str) -> Result<u8, String> {
    let ids: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() || ids.len() > max {
        return Err(format!("{name} accepts 1 to {max} comma separated ids"));
    }
    let mut mask = 0;
    for id in ids {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(format!("{name}: {id:?} is not a valid id"));
        }
        if let Some(k) = known.iter().position(|k| k.eq_ignore_ascii_case(id)) {
            mask |= 1 << k;
        }
    }
    Ok(mask)
}

fn time_param(name: &str, value: &str) -> Result<i64, String> {
    clock::parse_millis(value).ok_or_else(|| format!("{name} must be an ISO-8601 date-time"))
}

impl ContactsQuery {
    /// Parses the query string pairs (without `cursor`); the message is the 400's.
    pub fn parse(pairs: &[(String, String)], account: &Account) -> Result<Self, String> {
        let mut q = ContactsQuery {
            limit: 50,
            ..Default::default()
        };
        for (name, value) in pairs {
            match name.as_str() {
                "limit" => {
                    q.limit = value
                        .parse()
                        .ok()
                        .filter(|l| (1..=500).contains(l))
                        .ok_or_else(|| {
                            format!("limit must be an integer from 1 to 500, got {value:?}")
                        })?
                }
                "include" => {
                    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        q.include.0 |= Include::bit(part)
                            .ok_or_else(|| format!("include: unknown sub-resource {part:?}"))?;
                    }
                }
                "status" => {
                    let mut bits = 0;
                    for part in value.split(',').map(str::trim) {
                        bits |= status_bits(part)
                            .ok_or_else(|| format!("status: invalid value {part:?}"))?;
                    }
                    q.status = Some(bits);
                }
                "lists" => q.lists = Some(id_mask(value, &account.lists, 25, "lists")?),
                "tags" => q.tags = Some(id_mask(value, &account.tags, 50, "tags")?),
                "updated_after" => q.updated_after = Some(time_param(name, value)?),
                "updated_before" => q.updated_before = Some(time_param(name, value)?),
                "created_after" => q.created_after = Some(time_param(name, value)?),
                "created_before" => q.created_before = Some(time_param(name, value)?),
                "include_count" => {
                    q.include_count = value
                        .parse()
                        .map_err(|_| "include_count must be true or false")?
                }
                "email" | "segment_id" | "sms_status" | "optout_after" | "optout_before" => {
                    return Err(format!("{name} is not supported by the simulator"));
                }
                _ => {} // like the real API, unknown parameters are ignored
            }
        }
        Ok(q)
    }

    /// Everything but `created_*` (an index range, applied by the caller).
    pub fn matches(&self, a: &Attrs) -> bool {
        let status = self.status.unwrap_or(NOT_DELETED);
        let status_ok = if a.deleted {
            status & DELETED != 0
        } else {
            status & (1 << a.permission as u8) != 0
        };
        let updated = a.updated * 1000;
        status_ok
            && self.lists.is_none_or(|m| a.lists & m != 0)
            && self.tags.is_none_or(|m| a.tags & m != 0)
            && self.updated_after.is_none_or(|t| updated >= t)
            && self.updated_before.is_none_or(|t| updated < t)
    }

    /// The key of the `include_count` cache: only what changes the set of matches.
    pub fn count_key(&self, account_id: &str) -> String {
        let mut q = self.clone();
        (q.limit, q.include, q.include_count) = (0, Include::default(), false);
        format!(
            "{account_id}\u{0}{}",
            serde_json::to_string(&q).expect("plain struct")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(s.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn parses_and_rejects() {
        let acc = Account::new(1, "a");
        let q = ContactsQuery::parse(&pairs("limit=7&include=notes,taggings&status=all"), &acc)
            .unwrap();
        assert_eq!((q.limit, q.include.0, q.status), (7, 0b11_0000, Some(0x7F)));
        assert_eq!(ContactsQuery::parse(&[], &acc).unwrap().limit, 50);
        for bad in [
            "limit=0",
            "limit=501",
            "limit=x",
            "include=foo",
            "status=gone",
            "lists=not-a-uuid",
            "created_after=yesterday",
            "include_count=yes",
            "email=a@b.c",
        ] {
            assert!(ContactsQuery::parse(&pairs(bad), &acc).is_err(), "{bad}");
        }
        let many = vec![acc.lists[0].clone(); 26].join(",");
        assert!(ContactsQuery::parse(&pairs(&format!("lists={many}")), &acc).is_err());
    }

    #[test]
    fn default_status_excludes_deleted() {
        let q = ContactsQuery::default();
        let a = Attrs {
            created: 0,
            updated: 0,
            permission: Permission::Unsubscribed,
            deleted: true,
            has_email: true,
            lists: 0,
            tags: 0,
        };
        assert!(!q.matches(&a));
        assert!(q.matches(&Attrs {
            deleted: false,
            ..a
        }));
        let all = ContactsQuery {
            status: status_bits("all"),
            ..q
        };
        assert!(all.matches(&a));
    }
}
