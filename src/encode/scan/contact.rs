//! The shapes of a contacts page, walked by the lexer: the same fields, types and folds as the
//! serde derives of `encode::view` and `cc::page`, member by member.

use super::keys::{KeyMemo, keys};
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

keys! {
    /// A contact's fields (`ContactView`); the bit of each in a duplicate check is its number.
    ContactKey {
        ContactId = b"contact_id",
        EmailAddress = b"email_address",
        FirstName = b"first_name",
        LastName = b"last_name",
        JobTitle = b"job_title",
        CompanyName = b"company_name",
        BirthdayMonth = b"birthday_month",
        BirthdayDay = b"birthday_day",
        Anniversary = b"anniversary",
        CreatedAt = b"created_at",
        UpdatedAt = b"updated_at",
        CustomFields = b"custom_fields",
        PhoneNumbers = b"phone_numbers",
        StreetAddresses = b"street_addresses",
        ListMemberships = b"list_memberships",
        Taggings = b"taggings";
        skip b"update_source", b"create_source", b"deleted_at", b"notes", b"sms_channel",
    }
}

keys! {
    EmailKey {
        Address = b"address",
        PermissionToSend = b"permission_to_send";
        skip b"created_at", b"updated_at", b"opt_in_source", b"opt_in_date", b"opt_out_source",
            b"opt_out_date", b"opt_out_reason", b"confirm_status",
    }
}

keys! {
    CustomFieldKey {
        CustomFieldId = b"custom_field_id",
        Value = b"value",
        ChoiceIds = b"choice_ids";
        skip
    }
}

keys! {
    PhoneKey {
        PhoneNumber = b"phone_number",
        Kind = b"kind";
        skip b"phone_number_id", b"created_at", b"updated_at", b"update_source", b"create_source",
    }
}

keys! {
    AddressKey {
        Kind = b"kind",
        Street = b"street",
        City = b"city",
        State = b"state",
        PostalCode = b"postal_code",
        Country = b"country";
        skip b"street_address_id", b"created_at", b"updated_at",
    }
}

/// The key memos of one page, one per object shape.
#[derive(Default)]
pub(super) struct Memos {
    contact: KeyMemo<ContactKey>,
    email: KeyMemo<EmailKey>,
    custom_field: KeyMemo<CustomFieldKey>,
    phone: KeyMemo<PhoneKey>,
    address: KeyMemo<AddressKey>,
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

    /// A list of ids: a compact array of plain strings is kept as its text, joined when its
    /// row is written; any other array is joined here.
    fn joined(&mut self) -> R<Option<Joined<'a>>> {
        if self.null()? {
            return Ok(None);
        }
        match self.compact_strings()? {
            Some((text, true)) => return Ok(Some(Joined::compact_array(text))),
            Some((text, false)) => return Ok(Some(Joined::one(Str(text.into())))),
            None => {}
        }
        let acc = self.elements(|l, acc: &mut (bool, Joined<'a>)| {
            join_item(acc, l.str()?);
            Ok(())
        })?;
        Ok(acc.map(|(_, joined)| joined))
    }

    /// `{"contacts": [...], "contacts_count": n, "_links": {...}}`, members in any order: each
    /// contact goes to `each` as soon as it is read; the count of contacts and the page's fields.
    /// One view is filled contact after contact: what `each` leaves in it (its custom field
    /// vector) is reused for the next. Never inlined: `scripts/instructions.sh` counts from it.
    #[inline(never)]
    pub(super) fn page(
        &mut self,
        mut each: impl FnMut(&mut ContactView<'a>),
    ) -> R<(usize, PageFields)> {
        let (mut count, mut fields, mut seen) = (0, PageFields::default(), 0);
        let mut view = ContactView::default();
        let mut memos = Memos::default();
        self.members(|l, key| match key {
            b"contacts" => {
                once(&mut seen, 0)?;
                // A `null` here is an error to serde (the field is a `Vec`, not an `Option`).
                if l.open(b'[', b']')? {
                    loop {
                        l.contact(&mut view, &mut memos)?;
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
    fn contact(&mut self, c: &mut ContactView<'a>, memos: &mut Memos) -> R<()> {
        use ContactKey as K;
        let mut spare = c.custom_fields.take().unwrap_or_default();
        spare.clear();
        *c = ContactView::default();
        let mut seen = 0;
        let Memos {
            contact,
            email,
            custom_field,
            phone,
            address,
        } = memos;
        self.keyed_members(contact, |l, key| {
            if let Some(key) = key {
                once(&mut seen, key as u32)?;
            }
            match key {
                Some(K::ContactId) => c.contact_id = l.opt_str()?,
                Some(K::EmailAddress) => c.email_address = l.email(email)?,
                Some(K::FirstName) => c.first_name = l.opt_str()?,
                Some(K::LastName) => c.last_name = l.opt_str()?,
                Some(K::JobTitle) => c.job_title = l.opt_str()?,
                Some(K::CompanyName) => c.company_name = l.opt_str()?,
                Some(K::BirthdayMonth) => c.birthday_month = l.opt_int()?,
                Some(K::BirthdayDay) => c.birthday_day = l.opt_int()?,
                Some(K::Anniversary) => c.anniversary = l.opt_str()?,
                Some(K::CreatedAt) => c.created_at = l.opt_str()?,
                Some(K::UpdatedAt) => c.updated_at = l.opt_str()?,
                Some(K::CustomFields) => {
                    let all = std::mem::take(&mut spare);
                    c.custom_fields = l.elements_into(all, |l, all: &mut Vec<_>| {
                        all.push(l.custom_field(custom_field)?);
                        Ok(())
                    })?;
                }
                Some(K::PhoneNumbers) => {
                    c.phone_numbers = l.elements(|l, phones: &mut Phones<'a>| {
                        phones.add(l.phone(phone)?);
                        Ok(())
                    })?;
                }
                Some(K::StreetAddresses) => {
                    let chosen = l.elements(|l, acc| {
                        add_address(acc, l.address(address)?);
                        Ok(())
                    })?;
                    c.street_addresses = chosen.map(|(chosen, _)| Address(chosen));
                }
                Some(K::ListMemberships) => c.list_memberships = l.joined()?,
                Some(K::Taggings) => c.taggings = l.joined()?,
                None => l.skip_member(CONTACT_DEPTH)?,
            }
            Ok(())
        })
    }

    fn email(&mut self, memo: &mut KeyMemo<EmailKey>) -> R<Option<EmailView<'a>>> {
        use EmailKey as K;
        if self.null()? {
            return Ok(None);
        }
        let (mut e, mut seen) = (EmailView::default(), 0);
        self.keyed_members(memo, |l, key| {
            if let Some(key) = key {
                once(&mut seen, key as u32)?;
            }
            match key {
                Some(K::Address) => e.address = l.str()?,
                Some(K::PermissionToSend) => e.permission_to_send = l.opt_str()?,
                None => l.skip_member(CONTACT_DEPTH + 1)?,
            }
            Ok(())
        })?;
        Ok(Some(e))
    }

    fn custom_field(&mut self, memo: &mut KeyMemo<CustomFieldKey>) -> R<CustomFieldView<'a>> {
        use CustomFieldKey as K;
        let (mut f, mut seen) = (CustomFieldView::default(), 0);
        self.keyed_members(memo, |l, key| {
            if let Some(key) = key {
                once(&mut seen, key as u32)?;
            }
            match key {
                Some(K::CustomFieldId) => f.custom_field_id = l.str()?,
                Some(K::Value) => f.value = l.opt_str()?,
                Some(K::ChoiceIds) => f.choice_ids = l.joined()?,
                None => l.skip_member(CONTACT_DEPTH + 2)?,
            }
            Ok(())
        })?;
        Ok(f)
    }

    fn phone(&mut self, memo: &mut KeyMemo<PhoneKey>) -> R<PhoneView<'a>> {
        use PhoneKey as K;
        let (mut p, mut seen) = (PhoneView::default(), 0);
        self.keyed_members(memo, |l, key| {
            if let Some(key) = key {
                once(&mut seen, key as u32)?;
            }
            match key {
                Some(K::PhoneNumber) => p.phone_number = l.opt_str()?,
                Some(K::Kind) => p.kind = l.opt_str()?,
                None => l.skip_member(CONTACT_DEPTH + 2)?,
            }
            Ok(())
        })?;
        Ok(p)
    }

    fn address(&mut self, memo: &mut KeyMemo<AddressKey>) -> R<AddressView<'a>> {
        use AddressKey as K;
        let (mut a, mut seen) = (AddressView::default(), 0);
        self.keyed_members(memo, |l, key| {
            if let Some(key) = key {
                once(&mut seen, key as u32)?;
            }
            let slot = match key {
                Some(K::Kind) => {
                    a.kind = l.str()?;
                    return Ok(());
                }
                Some(K::Street) => &mut a.street,
                Some(K::City) => &mut a.city,
                Some(K::State) => &mut a.state,
                Some(K::PostalCode) => &mut a.postal_code,
                Some(K::Country) => &mut a.country,
                None => return l.skip_member(CONTACT_DEPTH + 2),
            };
            *slot = l.opt_str()?;
            Ok(())
        })?;
        Ok(a)
    }
}
