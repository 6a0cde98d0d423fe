//! One contact as JSON (`ContactResource`), written straight into the page buffer.
//! Each sub-resource has its own stream, so a contact is the same with or without includes.

// `*s.pick(…)` hands a `&str` to the generic `str` writers; clippy's auto-deref suggestion
// (`s.pick(…)`, a `&&str`) does not compile there.
#![allow(clippy::explicit_auto_deref)]

use serde::{Deserialize, Serialize};

use super::account::{Account, FieldValues};
use super::clock::{date, date_time};
use super::dataset::{Attrs, Permission, attrs, contact_id};
use super::json::{Obj, string};
use super::mix::{Stream, mix2, uuid_from};
use super::pools::*;

/// The `include` sub-resources, as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Include(pub u8);

impl Include {
    pub const NAMES: [&'static str; 6] = [
        "custom_fields",
        "list_memberships",
        "phone_numbers",
        "street_addresses",
        "taggings",
        "notes",
    ];
    pub const ALL: Include = Include(0b11_1111);

    pub fn bit(name: &str) -> Option<u8> {
        Self::NAMES.iter().position(|n| *n == name).map(|p| 1 << p)
    }

    fn has(self, name: &str) -> bool {
        Self::bit(name).is_some_and(|b| self.0 & b != 0)
    }
}

fn maybe<T>(s: &mut Stream, per_mille: u64, v: impl FnOnce(&mut Stream) -> T) -> Option<T> {
    if s.chance(per_mille) {
        Some(v(s))
    } else {
        None
    }
}

fn between(s: &mut Stream, a: i64, b: i64) -> i64 {
    a + s.below((b - a + 1) as u64) as i64
}

fn new_id(s: &mut Stream) -> String {
    uuid_from(s.next_u64(), s.next_u64())
}

/// Appends the contact's JSON to `out`.
pub fn write_contact(out: &mut Vec<u8>, account: &Account, index: u64, include: Include) {
    let a = attrs(account, index);
    let base = mix2(account.seed ^ 0xC0_27AC7, index);
    let mut s = Stream::new(base);
    let sub = |k: u64| Stream::new(mix2(base, k));
    let first_name = maybe(&mut s, 970, |s| *s.pick(FIRST_NAMES));
    let last_name = maybe(&mut s, 950, |s| *s.pick(LAST_NAMES));
    let job_title = maybe(&mut s, 600, |s| *s.pick(JOB_TITLES));
    let company_name = maybe(&mut s, 600, |s| *s.pick(COMPANIES));
    let birthday = maybe(&mut s, 300, |s| {
        let m = 1 + s.below(12);
        (m, 1 + s.below(if m == 2 { 28 } else { 30 }))
    });
    let anniversary = maybe(&mut s, 200, |s| {
        date(a.created - s.below(20 * 365) as i64 * 86_400)
    });
    let (update_source, create_source) = (*s.pick(SOURCES), *s.pick(SOURCES));

    let mut o = Obj::new(out);
    o.str("contact_id", &contact_id(account, index));
    if a.has_email {
        email(o.key("email_address"), &mut sub(5), index, &a);
    }
    o.opt_str("first_name", first_name);
    o.opt_str("last_name", last_name);
    o.opt_str("job_title", job_title);
    o.opt_str("company_name", company_name);
    if let Some((month, day)) = birthday {
        o.int("birthday_month", month);
        o.int("birthday_day", day);
    }
    o.opt_str("anniversary", anniversary.as_deref());
    o.str("update_source", update_source);
    o.str("create_source", create_source);
    o.str("created_at", &date_time(a.created));
    o.str("updated_at", &date_time(a.updated));
    if a.deleted {
        o.str("deleted_at", &date(a.updated));
    }
    if include.has("custom_fields") {
        custom_fields(&mut o, &mut sub(1), account);
    }
    if include.has("phone_numbers") {
        phones(&mut o, &mut sub(2), &a);
    }
    if include.has("street_addresses") {
        addresses(&mut o, &mut sub(3), &a);
    }
    if include.has("list_memberships") {
        members(&mut o, "list_memberships", &account.lists, a.lists);
    }
    if include.has("taggings") {
        members(&mut o, "taggings", &account.tags, a.tags);
    }
    if include.has("notes") {
        notes(&mut o, &mut sub(4), &a);
    }
    o.end();
}

fn email(out: &mut Vec<u8>, s: &mut Stream, index: u64, a: &Attrs) {
    let p = a.permission;
    let mut e = Obj::new(out);
    let address = format!("{}.{index}@{}", s.pick(EMAIL_STEMS), s.pick(EMAIL_DOMAINS));
    e.str("address", &address);
    e.str("permission_to_send", p.as_str());
    e.str("created_at", &date_time(a.created));
    e.str("updated_at", &date_time(a.updated));
    if p == Permission::Explicit {
        e.str("opt_in_source", *s.pick(SOURCES));
        e.str("opt_in_date", &date_time(a.created));
    }
    if p == Permission::Unsubscribed {
        e.str("opt_out_source", *s.pick(SOURCES));
        e.str("opt_out_date", &date_time(a.updated));
        e.opt_str(
            "opt_out_reason",
            maybe(s, 700, |s| *s.pick(OPT_OUT_REASONS)),
        );
    }
    let confirm = match p {
        Permission::Explicit => "confirmed",
        Permission::PendingConfirmation => "pending",
        _ => "off",
    };
    e.str("confirm_status", confirm);
    e.end();
}

fn custom_fields(o: &mut Obj, s: &mut Stream, account: &Account) {
    let present: Vec<_> = account.fields.iter().filter(|_| s.chance(600)).collect();
    o.array("custom_fields", &present, |out, f| {
        let mut c = Obj::new(out);
        c.str("custom_field_id", &f.id);
        match f.values {
            FieldValues::Text(pool) => c.str("value", *s.pick(pool)),
            FieldValues::Date => c.str("value", &date(946_684_800 + s.below(9000) as i64 * 86_400)),
            FieldValues::Choices(choices) => {
                let id = (1 + s.below(choices.len() as u64)).to_string();
                c.array("choice_ids", &[id], |out, id| string(out, id));
            }
            FieldValues::MultiChoices(choices) => {
                let ids: Vec<String> = (1..=choices.len())
                    .filter(|_| s.chance(500))
                    .map(|i| i.to_string())
                    .collect();
                c.array("choice_ids", &ids, |out, id| string(out, id));
            }
        }
        c.end();
    });
}

/// `count` distinct kinds, starting at a random one.
fn kinds(s: &mut Stream, pool: &'static [&'static str], count: u64) -> Vec<&'static str> {
    let start = s.below(pool.len() as u64) as usize;
    (0..count as usize)
        .map(|k| pool[(start + k) % pool.len()])
        .collect()
}

fn phones(o: &mut Obj, s: &mut Stream, a: &Attrs) {
    let n = s.below(4);
    o.array("phone_numbers", &kinds(s, PHONE_KINDS, n), |out, kind| {
        let created = between(s, a.created, a.updated);
        let mut p = Obj::new(out);
        p.str("phone_number_id", &new_id(s));
        p.str("phone_number", *s.pick(PHONES));
        p.str("kind", kind);
        p.str("created_at", &date_time(created));
        p.str("updated_at", &date_time(between(s, created, a.updated)));
        p.str("update_source", *s.pick(SOURCES));
        p.str("create_source", *s.pick(SOURCES));
        p.end();
    });
}

fn addresses(o: &mut Obj, s: &mut Stream, a: &Attrs) {
    let n = s.below(4);
    o.array(
        "street_addresses",
        &kinds(s, ADDRESS_KINDS, n),
        |out, kind| {
            let created = between(s, a.created, a.updated);
            let mut p = Obj::new(out);
            p.str("street_address_id", &new_id(s));
            p.str("kind", kind);
            for (key, pool, per_mille) in [
                ("street", STREETS, 900),
                ("city", CITIES, 900),
                ("state", STATES, 800),
                ("postal_code", POSTAL_CODES, 800),
                ("country", COUNTRIES, 800),
            ] {
                p.opt_str(key, maybe(s, per_mille, |s| *s.pick(pool)));
            }
            p.str("created_at", &date_time(created));
            p.str("updated_at", &date_time(between(s, created, a.updated)));
            p.end();
        },
    );
}

fn members(o: &mut Obj, key: &str, ids: &[String], mask: u8) {
    let chosen: Vec<&String> = ids
        .iter()
        .enumerate()
        .filter(|(k, _)| mask & (1 << k) != 0)
        .map(|(_, id)| id)
        .collect();
    o.array(key, &chosen, |out, id| string(out, id));
}

fn notes(o: &mut Obj, s: &mut Stream, a: &Attrs) {
    let mut times: Vec<i64> = (0..s.below(3))
        .map(|_| between(s, a.created, a.updated))
        .collect();
    times.sort_unstable_by(|x, y| y.cmp(x)); // most recent note first, as the spec says
    o.array("notes", &times, |out, t| {
        let mut n = Obj::new(out);
        n.str("note_id", &new_id(s));
        n.str("created_at", &date_time(*t));
        n.str("content", *s.pick(NOTES));
        n.end();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_do_not_change_the_rest_of_the_contact() {
        let acc = Account::new(42, "a");
        for i in 0..200 {
            let (mut full, mut bare) = (Vec::new(), Vec::new());
            write_contact(&mut full, &acc, i, Include::ALL);
            write_contact(&mut bare, &acc, i, Include::default());
            let mut full: serde_json::Value = serde_json::from_slice(&full).unwrap();
            for name in Include::NAMES {
                full.as_object_mut().unwrap().remove(name);
            }
            assert_eq!(
                full,
                serde_json::from_slice::<serde_json::Value>(&bare).unwrap()
            );
        }
    }
}
