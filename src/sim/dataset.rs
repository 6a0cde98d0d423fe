//! The dataset: every contact of every account as a pure function of (seed, account, index).
//!
//! Filtering never builds a contact: [`Attrs`] holds the cheap per-index facts (created/updated
//! times, permission, deleted, list and tag membership) from two or three mixes each.

use serde_json::Value;

use super::account::{Account, LIST_COUNT, TAG_COUNT};
use super::contact::{self, Include};
use super::mix::{mix2, permute62, splitmix64, uuid_from};

/// 2015-01-01T00:00:00Z.
pub const BASE_SECS: i64 = 1_420_070_400;
/// Seconds between two consecutive contacts' creation slots; jitter stays below it, so
/// `created_at` strictly increases with the index (10 million contacts span ~9.5 years).
pub const STEP_SECS: i64 = 30;
const SALT_ATTRS: u64 = 0xA77B_5A17;
const SALT_ID: u64 = 0x1D1D_1D1D;

/// The contact's email permission, which also gives its `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Explicit,
    Implicit,
    Unsubscribed,
    PendingConfirmation,
    NotSet,
    TempHold,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Explicit => "explicit",
            Self::Implicit => "implicit",
            Self::Unsubscribed => "unsubscribed",
            Self::PendingConfirmation => "pending_confirmation",
            Self::NotSet => "not_set",
            Self::TempHold => "temp_hold",
        }
    }
}

/// Cheap facts about one contact, enough to filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attrs {
    pub created: i64,
    pub updated: i64,
    pub permission: Permission,
    pub deleted: bool,
    /// A few contacts (SMS-only, imported without one) have no email address: status not_set.
    pub has_email: bool,
    pub lists: u8,
    pub tags: u8,
}

/// All accounts' contacts; holds only the seed and the per-account count.
#[derive(Debug, Clone)]
pub struct Dataset {
    seed: u64,
    len: u64,
    deleted_per_mille: u64,
}

fn word(account_seed: u64, index: u64) -> u64 {
    mix2(account_seed ^ SALT_ATTRS, index)
}

/// `created_at` (Unix seconds) of one index: strictly increasing.
pub fn created_secs(account_seed: u64, index: u64) -> i64 {
    BASE_SECS + index as i64 * STEP_SECS + (word(account_seed, index) % STEP_SECS as u64) as i64
}

/// Each bit of the mask set with probability `per_256 / 256`, one byte of `w` per bit.
fn mask(w: u64, bits: usize, per_256: u64) -> u8 {
    (0..bits).fold(0, |m, k| {
        m | (u8::from((w >> (k * 8)) & 0xFF < per_256) << k)
    })
}

pub fn attrs(account: &Account, index: u64) -> Attrs {
    let account_seed = account.seed;
    let w1 = word(account_seed, index);
    let w2 = splitmix64(w1);
    let w3 = splitmix64(w2);
    let created = created_secs(account_seed, index);
    // A fifth never updated; the rest updated up to ~3 years later.
    let updated = if (w1 >> 8).is_multiple_of(5) {
        created
    } else {
        created + (w3 % 94_608_000) as i64
    };
    let deleted = (w1 >> 20) % 1000 < account.deleted_per_mille;
    let has_email = deleted || (w1 >> 50) % 1000 >= 30;
    let permission = match (w1 >> 40) % 1000 {
        _ if deleted => Permission::Unsubscribed,
        _ if !has_email => Permission::NotSet,
        0..400 => Permission::Explicit,
        400..750 => Permission::Implicit,
        750..870 => Permission::Unsubscribed,
        870..950 => Permission::PendingConfirmation,
        950..980 => Permission::NotSet,
        _ => Permission::TempHold,
    };
    Attrs {
        created,
        updated,
        permission,
        deleted,
        has_email,
        lists: mask(w2, LIST_COUNT, 77),
        tags: mask(w3 >> 16, TAG_COUNT, 40),
    }
}

impl Dataset {
    pub fn new(seed: u64, len: u64) -> Self {
        Self {
            seed,
            len,
            deleted_per_mille: super::account::DEFAULT_DELETED_PER_MILLE,
        }
    }

    /// The same dataset but for the share of deleted contacts (thousandths, at most 1000).
    pub fn with_deleted_per_mille(mut self, per_mille: u64) -> Self {
        self.deleted_per_mille = per_mille.min(1000);
        self
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Contacts per account (deleted ones included).
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn account(&self, account_id: &str) -> Account {
        let mut account = Account::new(self.seed, account_id);
        account.deleted_per_mille = self.deleted_per_mille;
        account
    }

    /// The full contact JSON with all six sub-resources.
    pub fn contact(&self, account_id: &str, index: u64) -> Value {
        let mut buf = Vec::with_capacity(2048);
        contact::write_contact(&mut buf, &self.account(account_id), index, Include::ALL);
        serde_json::from_slice(&buf).expect("generated contact is valid JSON")
    }

    pub fn contact_id(&self, account_id: &str, index: u64) -> String {
        contact_id(&self.account(account_id), index)
    }

    /// Ids, in export order, of what a default query (deleted excluded) returns.
    pub fn expected_ids(&self, account_id: &str) -> impl Iterator<Item = String> + '_ {
        let account = self.account(account_id);
        (0..self.len).filter_map(move |i| {
            if attrs(&account, i).deleted {
                None
            } else {
                Some(contact_id(&account, i))
            }
        })
    }

    /// The account's `CustomField` definitions.
    pub fn custom_fields(&self, account_id: &str) -> Vec<Value> {
        self.account(account_id).custom_field_defs()
    }

    /// Index range of contacts created in `[after, before)` (Unix milliseconds), by binary search.
    pub(crate) fn created_range(
        &self,
        seed: u64,
        after: Option<i64>,
        before: Option<i64>,
    ) -> (u64, u64) {
        let first_at_or_after = |ms: i64| {
            let (mut lo, mut hi) = (0, self.len);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if created_secs(seed, mid) * 1000 < ms {
                    lo = mid + 1
                } else {
                    hi = mid
                }
            }
            lo
        };
        let lo = after.map_or(0, first_at_or_after);
        let hi = before.map_or(self.len, first_at_or_after);
        (lo, hi.max(lo))
    }
}

/// The contact id: a UUID whose low 62 bits are a keyed bijection of the index.
pub fn contact_id(account: &Account, index: u64) -> String {
    let lo = permute62(index, account.seed ^ SALT_ID);
    uuid_from(mix2(account.seed, lo), lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_strictly_increases_and_updated_follows() {
        let account = Account::new(42, "a");
        let mut prev = i64::MIN;
        for i in 0..50_000 {
            let a = attrs(&account, i);
            assert!(a.created > prev && a.updated >= a.created);
            prev = a.created;
        }
    }

    #[test]
    fn created_range_is_exact() {
        let ds = Dataset::new(9, 10_000);
        let seed = ds.account("acc").seed;
        let t = |i| created_secs(seed, i) * 1000;
        assert_eq!(
            ds.created_range(seed, Some(t(100)), Some(t(200))),
            (100, 200)
        );
        assert_eq!(
            ds.created_range(seed, Some(t(100) + 1), None),
            (101, 10_000)
        );
        assert_eq!(ds.created_range(seed, None, Some(0)), (0, 0));
    }

    #[test]
    fn some_deleted_and_every_permission_occurs() {
        let account = Account::new(1, "x");
        let all: Vec<Attrs> = (0..20_000).map(|i| attrs(&account, i)).collect();
        let deleted = all.iter().filter(|a| a.deleted).count();
        assert!((200..1000).contains(&deleted), "{deleted}");
        for p in [
            Permission::TempHold,
            Permission::NotSet,
            Permission::PendingConfirmation,
        ] {
            assert!(all.iter().any(|a| a.permission == p));
        }
    }
}
