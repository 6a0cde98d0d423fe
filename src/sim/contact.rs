//! One contact as JSON (`ContactResource`), written straight into the page buffer.
//! Each sub-resource has its own stream, so a contact is the same with or without includes.

use serde::{Deserialize, Serialize};

use super::account::{Account, FieldValues};
use super::clock;
use super::dataset::{Attrs, Permission, attrs, contact_id};
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

macro_rules! out_struct {
    ($name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Serialize)]
        struct $name<'a> {
            $(#[serde(skip_serializing_if = "Option::is_none")] $field: Option<$ty>,)*
            #[serde(skip)]
            _p: std::marker::PhantomData<&'a ()>,
        }
    };
}

out_struct!(EmailOut {
    address: String, permission_to_send: &'a str, created_at: String, updated_at: String,
    opt_in_source: &'a str, opt_in_date: String, opt_out_source: &'a str,
    opt_out_date: String, opt_out_reason: &'a str, confirm_status: &'a str,
});
out_struct!(FieldOut { custom_field_id: &'a str, value: String, choice_ids: Vec<String> });
out_struct!(PhoneOut {
    phone_number_id: String, phone_number: &'a str, kind: &'a str, created_at: String,
    updated_at: String, update_source: &'a str, create_source: &'a str,
});
out_struct!(AddressOut {
    street_address_id: String, kind: &'a str, street: &'a str, city: &'a str, state: &'a str,
    postal_code: &'a str, country: &'a str, created_at: String, updated_at: String,
});
out_struct!(NoteOut { note_id: String, created_at: String, content: &'a str });
out_struct!(ContactOut {
    contact_id: String, email_address: EmailOut<'a>, first_name: &'a str, last_name: &'a str,
    job_title: &'a str, company_name: &'a str, birthday_month: u8, birthday_day: u8,
    anniversary: String, update_source: &'a str, create_source: &'a str, created_at: String,
    updated_at: String, deleted_at: String, custom_fields: Vec<FieldOut<'a>>,
    phone_numbers: Vec<PhoneOut<'a>>, street_addresses: Vec<AddressOut<'a>>,
    list_memberships: Vec<&'a str>, taggings: Vec<&'a str>, notes: Vec<NoteOut<'a>>,
});

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
    let a = attrs(account.seed, index);
    let base = mix2(account.seed ^ 0xC0_27AC7, index);
    let mut s = Stream::new(base);
    let sub = |k: u64| Stream::new(mix2(base, k));
    let (created_at, updated_at) = (clock::date_time(a.created), clock::date_time(a.updated));
    let birthday = maybe(&mut s, 300, |s| {
        let m = 1 + s.below(12) as u8;
        (m, 1 + s.below(if m == 2 { 28 } else { 30 }) as u8)
    });
    let mut c = ContactOut {
        contact_id: Some(contact_id(account, index)),
        email_address: a.has_email.then(|| email(&mut s, index, &a)),
        first_name: maybe(&mut s, 970, |s| *s.pick(FIRST_NAMES)),
        last_name: maybe(&mut s, 950, |s| *s.pick(LAST_NAMES)),
        job_title: maybe(&mut s, 600, |s| *s.pick(JOB_TITLES)),
        company_name: maybe(&mut s, 600, |s| *s.pick(COMPANIES)),
        birthday_month: birthday.map(|b| b.0),
        birthday_day: birthday.map(|b| b.1),
        anniversary: maybe(&mut s, 200, |s| {
            clock::date(a.created - s.below(20 * 365) as i64 * 86_400)
        }),
        update_source: Some(*s.pick(SOURCES)),
        create_source: Some(*s.pick(SOURCES)),
        created_at: Some(created_at),
        updated_at: Some(updated_at),
        deleted_at: a.deleted.then(|| clock::date(a.updated)),
        custom_fields: None,
        phone_numbers: None,
        street_addresses: None,
        list_memberships: None,
        taggings: None,
        notes: None,
        _p: std::marker::PhantomData,
    };
    if include.has("custom_fields") {
        c.custom_fields = Some(custom_fields(&mut sub(1), account));
    }
    if include.has("phone_numbers") {
        c.phone_numbers = Some(phones(&mut sub(2), &a));
    }
    if include.has("street_addresses") {
        c.street_addresses = Some(addresses(&mut sub(3), &a));
    }
    if include.has("list_memberships") {
        c.list_memberships = Some(members(&account.lists, a.lists));
    }
    if include.has("taggings") {
        c.taggings = Some(members(&account.tags, a.tags));
    }
    if include.has("notes") {
        c.notes = Some(notes(&mut sub(4), &a));
    }
    serde_json::to_writer(out, &c).expect("writing to a Vec cannot fail");
}

fn email<'a>(s: &mut Stream, index: u64, a: &Attrs) -> EmailOut<'a> {
    let p = a.permission;
    let opted_out = p == Permission::Unsubscribed;
    let address = format!("{}.{index}@{}", s.pick(EMAIL_STEMS), s.pick(EMAIL_DOMAINS));
    EmailOut {
        address: Some(address),
        permission_to_send: Some(p.as_str()),
        created_at: Some(clock::date_time(a.created)),
        updated_at: Some(clock::date_time(a.updated)),
        opt_in_source: (p == Permission::Explicit).then(|| *s.pick(SOURCES)),
        opt_in_date: (p == Permission::Explicit).then(|| clock::date_time(a.created)),
        opt_out_source: opted_out.then(|| *s.pick(SOURCES)),
        opt_out_date: opted_out.then(|| clock::date_time(a.updated)),
        opt_out_reason: if opted_out {
            maybe(s, 700, |s| *s.pick(OPT_OUT_REASONS))
        } else {
            None
        },
        confirm_status: Some(match p {
            Permission::Explicit => "confirmed",
            Permission::PendingConfirmation => "pending",
            _ => "off",
        }),
        _p: std::marker::PhantomData,
    }
}

fn custom_fields<'a>(s: &mut Stream, account: &'a Account) -> Vec<FieldOut<'a>> {
    let mut out = Vec::new();
    for f in &account.fields {
        if !s.chance(600) {
            continue;
        }
        let (value, choice_ids) = match f.values {
            FieldValues::Text(pool) => (Some((*s.pick(pool)).to_owned()), None),
            FieldValues::Date => (
                Some(clock::date(946_684_800 + s.below(9000) as i64 * 86_400)),
                None,
            ),
            FieldValues::Choices(c) => {
                (None, Some(vec![(1 + s.below(c.len() as u64)).to_string()]))
            }
            FieldValues::MultiChoices(c) => {
                let ids = (1..=c.len())
                    .filter(|_| s.chance(500))
                    .map(|i| i.to_string());
                (None, Some(ids.collect()))
            }
        };
        out.push(FieldOut {
            custom_field_id: Some(&f.id),
            value,
            choice_ids,
            _p: std::marker::PhantomData,
        });
    }
    out
}

/// `count` distinct kinds, starting at a random one.
fn kinds<'a>(s: &mut Stream, pool: &'a [&'a str], count: u64) -> Vec<&'a str> {
    let start = s.below(pool.len() as u64) as usize;
    (0..count as usize)
        .map(|k| pool[(start + k) % pool.len()])
        .collect()
}

fn phones<'a>(s: &mut Stream, a: &Attrs) -> Vec<PhoneOut<'a>> {
    let n = s.below(4);
    kinds(s, PHONE_KINDS, n)
        .into_iter()
        .map(|kind| {
            let created = between(s, a.created, a.updated);
            PhoneOut {
                phone_number_id: Some(new_id(s)),
                phone_number: Some(*s.pick(PHONES)),
                kind: Some(kind),
                created_at: Some(clock::date_time(created)),
                updated_at: Some(clock::date_time(between(s, created, a.updated))),
                update_source: Some(*s.pick(SOURCES)),
                create_source: Some(*s.pick(SOURCES)),
                _p: std::marker::PhantomData,
            }
        })
        .collect()
}

fn addresses<'a>(s: &mut Stream, a: &Attrs) -> Vec<AddressOut<'a>> {
    let n = s.below(4);
    kinds(s, ADDRESS_KINDS, n)
        .into_iter()
        .map(|kind| {
            let created = between(s, a.created, a.updated);
            AddressOut {
                street_address_id: Some(new_id(s)),
                kind: Some(kind),
                street: maybe(s, 900, |s| *s.pick(STREETS)),
                city: maybe(s, 900, |s| *s.pick(CITIES)),
                state: maybe(s, 800, |s| *s.pick(STATES)),
                postal_code: maybe(s, 800, |s| *s.pick(POSTAL_CODES)),
                country: maybe(s, 800, |s| *s.pick(COUNTRIES)),
                created_at: Some(clock::date_time(created)),
                updated_at: Some(clock::date_time(between(s, created, a.updated))),
                _p: std::marker::PhantomData,
            }
        })
        .collect()
}

fn members(ids: &[String], mask: u8) -> Vec<&str> {
    ids.iter()
        .enumerate()
        .filter(|(k, _)| mask & (1 << k) != 0)
        .map(|(_, id)| id.as_str())
        .collect()
}

fn notes<'a>(s: &mut Stream, a: &Attrs) -> Vec<NoteOut<'a>> {
    let mut times: Vec<i64> = (0..s.below(3))
        .map(|_| between(s, a.created, a.updated))
        .collect();
    times.sort_unstable_by(|x, y| y.cmp(x)); // most recent note first, as the spec says
    times
        .into_iter()
        .map(|t| NoteOut {
            note_id: Some(new_id(s)),
            created_at: Some(clock::date_time(t)),
            content: Some(*s.pick(NOTES)),
            _p: std::marker::PhantomData,
        })
        .collect()
}
