//! The shapes of a contacts page, walked by the lexer: the same fields, types and folds as the
//! serde derives of `encode::view` and `cc::page`, member by member.

use super::lexer::{Bail, Lexer, R};
use crate::cc::PageFields;
use crate::encode::view::{
    Address, AddressView, ContactView, CustomFieldView, EmailView, Joined, PhoneView, Phones, S,
    Str, add_address, join_item,
};

/// A field seen twice is serde's `duplicate field` error: marks `bit`, bails when it was set.
#[inline]
fn once(seen: &mut u32, bit: u32) -> R<()> {
    if *seen & (1 << bit) != 0 {
        return Err(Bail);
    }
    *seen |= 1 << bit;
    Ok(())
}

/// Nesting of a contact's own members (page object, `contacts`, the contact), for skips.
const CONTACT_DEPTH: u32 = 3;

impl<'a> Lexer<'a> {
    /// Each member of an object: `each` gets the key and reads (or skips) the value.
    #[inline]
    fn members(&mut self, mut each: impl FnMut(&mut Self, &'a [u8]) -> R<()>) -> R<()> {
        if self.open(b'{', b'}')? {
            loop {
                let key = self.key()?;
                each(self, key)?;
                if !self.more(b'}')? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Each element of an array; `None` for `null`.
    #[inline]
    fn elements<T: Default>(
        &mut self,
        each: impl FnMut(&mut Self, &mut T) -> R<()>,
    ) -> R<Option<T>> {
        self.elements_into(T::default(), each)
    }

    /// [`Self::elements`] folded into `acc` (an emptied vector whose allocation is reused).
    #[inline]
    fn elements_into<T>(
        &mut self,
        mut acc: T,
        mut each: impl FnMut(&mut Self, &mut T) -> R<()>,
    ) -> R<Option<T>> {
        if self.null()? {
            return Ok(None);
        }
        if self.open(b'[', b']')? {
            loop {
                each(self, &mut acc)?;
                if !self.more(b']')? {
                    break;
                }
            }
        }
        Ok(Some(acc))
    }

    #[inline(always)]
    fn str(&mut self) -> R<Str<'a>> {
        self.expect(b'"')?;
        let span = self.string_rest()?;
        self.text_of(span).map(Str)
    }

    #[inline(always)]
    fn opt_str(&mut self) -> R<S<'a>> {
        if self.null()? {
            return Ok(None);
        }
        self.str().map(Some)
    }

    fn opt_int(&mut self) -> R<Option<i64>> {
        if self.null()? {
            return Ok(None);
        }
        self.int().map(Some)
    }

    fn joined(&mut self) -> R<Option<Joined<'a>>> {
        let acc = self.elements(|l, acc: &mut (bool, Joined<'a>)| {
            join_item(acc, l.str()?);
            Ok(())
        })?;
        Ok(acc.map(|(_, joined)| joined))
    }

    /// `{"contacts": [...], "contacts_count": n, "_links": {...}}`, members in any order: each
    /// contact goes to `each` as soon as it is read; the count of contacts and the page's fields.
    /// One view is filled contact after contact: what `each` leaves in it (its custom field
    /// vector) is reused for the next.
    pub(super) fn page(
        &mut self,
        mut each: impl FnMut(&mut ContactView<'a>),
    ) -> R<(usize, PageFields)> {
        let (mut count, mut fields, mut seen) = (0, PageFields::default(), 0);
        let mut view = ContactView::default();
        self.members(|l, key| match key {
            b"contacts" => {
                once(&mut seen, 0)?;
                // A `null` here is an error to serde (the field is a `Vec`, not an `Option`).
                if l.open(b'[', b']')? {
                    loop {
                        l.contact(&mut view)?;
                        each(&mut view);
                        count += 1;
                        if !l.more(b']')? {
                            break;
                        }
                    }
                }
                Ok(())
            }
            b"contacts_count" => {
                once(&mut seen, 1)?;
                fields.contacts_count = match l.opt_int()? {
                    Some(n) => Some(u64::try_from(n).map_err(|_| Bail)?),
                    None => None,
                };
                Ok(())
            }
            b"_links" => {
                once(&mut seen, 2)?;
                fields.next_href = l.links()?;
                Ok(())
            }
            _ => l.skip(1),
        })?;
        Ok((count, fields))
    }

    /// `_links`: `next.href` (required in `next`, as `HrefView` has it), every other key skipped.
    fn links(&mut self) -> R<Option<String>> {
        if self.null()? {
            return Ok(None);
        }
        let (mut next, mut seen) = (None, 0);
        self.members(|l, key| match key {
            b"next" => {
                once(&mut seen, 0)?;
                if l.null()? {
                    return Ok(());
                }
                let (mut href, mut seen_href) = (None, 0);
                l.members(|l, key| match key {
                    b"href" => {
                        once(&mut seen_href, 0)?;
                        href = Some(l.str()?.0.into_owned());
                        Ok(())
                    }
                    _ => l.skip(3),
                })?;
                next = Some(href.ok_or(Bail)?);
                Ok(())
            }
            _ => l.skip(2),
        })?;
        Ok(next)
    }

    /// Reads a contact into `c`, which held the previous one.
    fn contact(&mut self, c: &mut ContactView<'a>) -> R<()> {
        let mut spare = c.custom_fields.take().unwrap_or_default();
        spare.clear();
        *c = ContactView::default();
        let mut seen = 0;
        self.members(|l, key| {
            match key {
                b"contact_id" => {
                    once(&mut seen, 0)?;
                    c.contact_id = l.opt_str()?;
                }
                b"email_address" => {
                    once(&mut seen, 1)?;
                    c.email_address = l.email()?;
                }
                b"first_name" => {
                    once(&mut seen, 2)?;
                    c.first_name = l.opt_str()?;
                }
                b"last_name" => {
                    once(&mut seen, 3)?;
                    c.last_name = l.opt_str()?;
                }
                b"job_title" => {
                    once(&mut seen, 4)?;
                    c.job_title = l.opt_str()?;
                }
                b"company_name" => {
                    once(&mut seen, 5)?;
                    c.company_name = l.opt_str()?;
                }
                b"birthday_month" => {
                    once(&mut seen, 6)?;
                    c.birthday_month = l.opt_int()?;
                }
                b"birthday_day" => {
                    once(&mut seen, 7)?;
                    c.birthday_day = l.opt_int()?;
                }
                b"anniversary" => {
                    once(&mut seen, 8)?;
                    c.anniversary = l.opt_str()?;
                }
                b"created_at" => {
                    once(&mut seen, 9)?;
                    c.created_at = l.opt_str()?;
                }
                b"updated_at" => {
                    once(&mut seen, 10)?;
                    c.updated_at = l.opt_str()?;
                }
                b"custom_fields" => {
                    once(&mut seen, 11)?;
                    let all = std::mem::take(&mut spare);
                    c.custom_fields = l.elements_into(all, |l, all: &mut Vec<_>| {
                        all.push(l.custom_field()?);
                        Ok(())
                    })?;
                }
                b"phone_numbers" => {
                    once(&mut seen, 12)?;
                    c.phone_numbers = l.elements(|l, phones: &mut Phones<'a>| {
                        phones.add(l.phone()?);
                        Ok(())
                    })?;
                }
                b"street_addresses" => {
                    once(&mut seen, 13)?;
                    let chosen = l.elements(|l, acc| {
                        add_address(acc, l.address()?);
                        Ok(())
                    })?;
                    c.street_addresses = chosen.map(|(chosen, _)| Address(chosen));
                }
                b"list_memberships" => {
                    once(&mut seen, 14)?;
                    c.list_memberships = l.joined()?;
                }
                b"taggings" => {
                    once(&mut seen, 15)?;
                    c.taggings = l.joined()?;
                }
                _ => l.skip_member(CONTACT_DEPTH)?,
            }
            Ok(())
        })?;
        Ok(())
    }

    fn email(&mut self) -> R<Option<EmailView<'a>>> {
        if self.null()? {
            return Ok(None);
        }
        let (mut e, mut seen) = (EmailView::default(), 0);
        self.members(|l, key| {
            match key {
                b"address" => {
                    once(&mut seen, 0)?;
                    e.address = l.str()?;
                }
                b"permission_to_send" => {
                    once(&mut seen, 1)?;
                    e.permission_to_send = l.opt_str()?;
                }
                _ => l.skip_member(CONTACT_DEPTH + 1)?,
            }
            Ok(())
        })?;
        Ok(Some(e))
    }

    fn custom_field(&mut self) -> R<CustomFieldView<'a>> {
        let (mut f, mut seen) = (CustomFieldView::default(), 0);
        self.members(|l, key| {
            match key {
                b"custom_field_id" => {
                    once(&mut seen, 0)?;
                    f.custom_field_id = l.str()?;
                }
                b"value" => {
                    once(&mut seen, 1)?;
                    f.value = l.opt_str()?;
                }
                b"choice_ids" => {
                    once(&mut seen, 2)?;
                    f.choice_ids = l.joined()?;
                }
                _ => l.skip_member(CONTACT_DEPTH + 2)?,
            }
            Ok(())
        })?;
        Ok(f)
    }

    fn phone(&mut self) -> R<PhoneView<'a>> {
        let (mut p, mut seen) = (PhoneView::default(), 0);
        self.members(|l, key| {
            match key {
                b"phone_number" => {
                    once(&mut seen, 0)?;
                    p.phone_number = l.opt_str()?;
                }
                b"kind" => {
                    once(&mut seen, 1)?;
                    p.kind = l.opt_str()?;
                }
                _ => l.skip_member(CONTACT_DEPTH + 2)?,
            }
            Ok(())
        })?;
        Ok(p)
    }

    fn address(&mut self) -> R<AddressView<'a>> {
        let (mut a, mut seen) = (AddressView::default(), 0);
        self.members(|l, key| {
            let (bit, slot) = match key {
                b"kind" => {
                    once(&mut seen, 0)?;
                    a.kind = l.str()?;
                    return Ok(());
                }
                b"street" => (1, &mut a.street),
                b"city" => (2, &mut a.city),
                b"state" => (3, &mut a.state),
                b"postal_code" => (4, &mut a.postal_code),
                b"country" => (5, &mut a.country),
                _ => return l.skip_member(CONTACT_DEPTH + 2),
            };
            once(&mut seen, bit)?;
            *slot = l.opt_str()?;
            Ok(())
        })?;
        Ok(a)
    }
}
