//! The borrowed, typed view of the `ContactResource` fields the CSV columns read.
//!
//! Parsing the full [`crate::cc::model::Contact`] costs ~5 µs per 1.4 KB contact (an owned
//! `String` per field, `flatten`ed `extra` maps); this view borrows every string that needs no
//! unescaping and skips the fields no column reads, which keeps CSV within its CPU budget.
//! Field names and types are those of `Contact`, so a value of the wrong type in any field a
//! column reads is still an error (`MalformedContact`).

use serde::Deserialize;
use serde::de::{Deserializer, Error, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A JSON string, borrowed from the raw text unless it had escapes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Str<'a>(pub Cow<'a, str>);

impl Str<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// An optional string field.
pub type S<'a> = Option<Str<'a>>;

/// Visits a JSON array, folding each element into `R` instead of collecting a `Vec`: the
/// arrays are where a collecting parse spends its allocations.
struct SeqFold<T, R, F>(F, PhantomData<(T, R)>);

impl<'de, T: Deserialize<'de>, R: Default, F: FnMut(&mut R, T)> Visitor<'de> for SeqFold<T, R, F> {
    type Value = R;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<R, A::Error> {
        let mut acc = R::default();
        while let Some(item) = seq.next_element::<T>()? {
            (self.0)(&mut acc, item);
        }
        Ok(acc)
    }
}

fn fold_seq<'de, D, T, R, F>(d: D, f: F) -> Result<R, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
    R: Default,
    F: FnMut(&mut R, T),
{
    d.deserialize_seq(SeqFold(f, PhantomData))
}

#[derive(Debug, Default, Deserialize)]
pub struct ContactView<'a> {
    #[serde(borrow, default)]
    pub contact_id: S<'a>,
    #[serde(borrow, default)]
    pub email_address: Option<EmailView<'a>>,
    #[serde(borrow, default)]
    pub first_name: S<'a>,
    #[serde(borrow, default)]
    pub last_name: S<'a>,
    #[serde(borrow, default)]
    pub job_title: S<'a>,
    #[serde(borrow, default)]
    pub company_name: S<'a>,
    #[serde(default)]
    pub birthday_month: Option<i64>,
    #[serde(default)]
    pub birthday_day: Option<i64>,
    #[serde(borrow, default)]
    pub anniversary: S<'a>,
    #[serde(borrow, default)]
    pub created_at: S<'a>,
    #[serde(borrow, default)]
    pub updated_at: S<'a>,
    #[serde(borrow, default)]
    pub custom_fields: Option<Vec<CustomFieldView<'a>>>,
    #[serde(borrow, default)]
    pub phone_numbers: Option<Phones<'a>>,
    #[serde(borrow, default)]
    pub street_addresses: Option<Address<'a>>,
    #[serde(borrow, default)]
    pub list_memberships: Option<Joined<'a>>,
    #[serde(borrow, default)]
    pub taggings: Option<Joined<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct EmailView<'a> {
    #[serde(borrow, default)]
    pub address: Str<'a>,
    #[serde(borrow, default)]
    pub permission_to_send: S<'a>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CustomFieldView<'a> {
    #[serde(borrow, default)]
    pub custom_field_id: Str<'a>,
    #[serde(borrow, default)]
    pub value: S<'a>,
    #[serde(borrow, default)]
    pub choice_ids: Option<Joined<'a>>,
}

/// An array of strings joined with `;`. serde_json joins it while parsing (borrowed when it
/// has one element). The page scanner keeps, for two or more unescaped strings written
/// compactly, the array's text from the first one's first byte to the last one's last byte
/// (`a","b","c`): every `"` in it belongs to a `","` between two elements, so the join is that
/// text with each `","` written as `;`, made when the row is written, without an allocation.
#[derive(Default)]
pub struct Joined<'a> {
    text: Str<'a>,
    compact_array: bool,
}

impl<'a> Joined<'a> {
    /// The inner text of a compact array of two or more unescaped strings (see the type).
    pub(super) fn compact_array(inner: &'a str) -> Self {
        debug_assert!(
            inner.split("\",\"").all(|id| !id.contains('"')),
            "not a compact array's text: {inner}"
        );
        Joined {
            text: Str(Cow::Borrowed(inner)),
            compact_array: true,
        }
    }

    pub(super) fn one(text: Str<'a>) -> Self {
        Joined {
            text,
            compact_array: false,
        }
    }

    /// The join: borrowed, or composed in `scratch` (cleared first) from a compact array.
    pub fn as_str<'s>(&'s self, scratch: &'s mut String) -> &'s str {
        let text = self.text.as_str();
        if !self.compact_array {
            return text;
        }
        scratch.clear();
        let mut from = 0;
        while let Some(quote) = memchr::memchr(b'"', &text.as_bytes()[from..]) {
            scratch.push_str(&text[from..from + quote]);
            scratch.push(';');
            from += quote + 3;
        }
        scratch.push_str(&text[from..]);
        scratch
    }
}

impl fmt::Debug for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let joined = self.as_str(&mut String::new()).to_owned();
        f.debug_tuple("Joined")
            .field(&Str(Cow::Owned(joined)))
            .finish()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Joined<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fold_seq(d, join_item).map(|(_, joined)| joined)
    }
}

/// Adds one array element to a `Joined` being built: (any element yet, the join so far).
pub(super) fn join_item<'a>(acc: &mut (bool, Joined<'a>), item: Str<'a>) {
    if !std::mem::replace(&mut acc.0, true) {
        acc.1 = Joined::one(item);
    } else {
        let joined = &mut (acc.1).text.0;
        if let Cow::Borrowed(first) = joined {
            // Room for a few more ids of the same length (list and tag ids are UUIDs).
            let mut owned = String::with_capacity(4 * (first.len() + 1));
            owned.push_str(first);
            *joined = Cow::Owned(owned);
        }
        let joined = joined.to_mut();
        joined.push(';');
        joined.push_str(item.as_str());
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct PhoneView<'a> {
    #[serde(borrow, default)]
    pub phone_number: S<'a>,
    #[serde(borrow, default)]
    pub kind: S<'a>,
}

/// `phone_numbers` reduced to the number of the first entry of each kind a column reads.
#[derive(Debug, Default)]
pub struct Phones<'a> {
    pub work: Option<S<'a>>,
    pub home: Option<S<'a>>,
    pub mobile: Option<S<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Phones<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fold_seq(d, Phones::add)
    }
}

impl<'a> Phones<'a> {
    /// Takes one `phone_numbers` entry: the first of each kind a column reads wins.
    pub(super) fn add(&mut self, p: PhoneView<'a>) {
        let Some(kind) = p.kind else { return };
        let kind = kind.as_str();
        let slot = if kind.eq_ignore_ascii_case("work") {
            &mut self.work
        } else if kind.eq_ignore_ascii_case("home") {
            &mut self.home
        } else if kind.eq_ignore_ascii_case("mobile") {
            &mut self.mobile
        } else {
            return;
        };
        slot.get_or_insert(p.phone_number);
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct AddressView<'a> {
    #[serde(borrow, default)]
    pub kind: Str<'a>,
    #[serde(borrow, default)]
    pub street: S<'a>,
    #[serde(borrow, default)]
    pub city: S<'a>,
    #[serde(borrow, default)]
    pub state: S<'a>,
    #[serde(borrow, default)]
    pub postal_code: S<'a>,
    #[serde(borrow, default)]
    pub country: S<'a>,
}

/// `street_addresses` reduced to the one the columns read: the first of kind `home`, else the
/// first.
#[derive(Debug, Default)]
pub struct Address<'a>(pub Option<AddressView<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Address<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fold_seq(d, add_address).map(|(chosen, _)| Address(chosen))
    }
}

/// Takes one `street_addresses` entry into (chosen, chosen is a home address).
pub(super) fn add_address<'a>(acc: &mut (Option<AddressView<'a>>, bool), a: AddressView<'a>) {
    if acc.1 {
        return;
    }
    let home = a.kind.as_str().eq_ignore_ascii_case("home");
    if home || acc.0.is_none() {
        *acc = (Some(a), home);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cc::model::Contact;

    #[test]
    fn borrows_plain_strings_and_unescapes_others() {
        let text =
            r#"{"first_name":"Ada","last_name":"Q\"uote\u00e9","notes":[{"x":1}],"zzz":null}"#;
        let v: ContactView = serde_json::from_str(text).unwrap();
        assert!(matches!(v.first_name.unwrap().0, Cow::Borrowed("Ada")));
        assert_eq!(v.last_name.unwrap().as_str(), "Q\"uoteé");
    }

    #[test]
    fn agrees_with_the_model_on_what_it_reads() {
        let text = r#"{"contact_id":"c","email_address":{"address":"a@b","permission_to_send":"explicit"},
            "birthday_month":2,"birthday_day":29,"custom_fields":[{"custom_field_id":"f","choice_ids":["1","2"]}],
            "phone_numbers":[{"kind":"work","phone_number":"5"}],"street_addresses":[{"kind":"home","city":"X"}],
            "list_memberships":["l"],"taggings":["t"]}"#;
        let (v, c): (ContactView, Contact) = (
            serde_json::from_str(text).unwrap(),
            serde_json::from_str(text).unwrap(),
        );
        assert_eq!(
            v.email_address
                .unwrap()
                .permission_to_send
                .unwrap()
                .as_str(),
            c.email_address.unwrap().permission_to_send.unwrap()
        );
        let choices = &v.custom_fields.unwrap()[0].choice_ids;
        let mut scratch = String::new();
        assert_eq!(choices.as_ref().unwrap().as_str(&mut scratch), "1;2");
        let city = v.street_addresses.unwrap().0.unwrap().city.unwrap();
        assert_eq!(
            city.as_str(),
            c.street_addresses.unwrap()[0].city.as_deref().unwrap()
        );
        for bad in [
            r#"{"first_name":5}"#,
            r#"{"birthday_day":"1"}"#,
            r#"{"taggings":"t"}"#,
            r#"{"email_address":"x"}"#,
            r#"{"phone_numbers":[{"kind":1}]}"#,
            r#"{"street_addresses":{}}"#,
            r#"{"list_memberships":[1]}"#,
        ] {
            assert!(serde_json::from_str::<ContactView>(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<Contact>(bad).is_err(), "{bad}");
        }
    }
}
