//! CSV (RFC 4180): one row per contact, the resolved columns.

mod field;

use super::rows::{EncodedRows, Rows, read_view_rows};
use super::scan;
use super::view::{AddressView, ContactView, CustomFieldView, Joined, Phones, S, Str};
use super::{Column, EncodeError, Encoder};
use crate::cc::{PageFields, ReadRows};
use bytes::Bytes;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use field::{end_record, write_cell};

/// Encodes contacts as CSV rows: `,` separated, CRLF terminated, a field quoted only when it
/// holds `"`, `,`, CR or LF (`"` doubled inside), UTF-8 without BOM, one header line (only
/// from [`Encoder::header`]). A missing value is an empty cell; a row that would be empty (one
/// column, empty value) is written `""` so that it stays a row. These are the `csv` crate's
/// rules (`QuoteStyle::Necessary`, CRLF), written straight into the output buffer rather than
/// through the crate's writer and its own buffer (~8 % of an export's CPU samples in a profile);
/// the tests read every row back with the crate's reader.
///
/// What each column holds (from the v3 `ContactResource`):
/// - Email = `email_address.address`; Email Permission = `email_address.permission_to_send`.
/// - First Name, Last Name, Contact ID, Job Title, Company Name = the field of the same name.
/// - Work / Home / Mobile Phone = `phone_number` of the first `phone_numbers` entry whose `kind`
///   is `work` / `home` / `mobile` (compared case-insensitively).
/// - Address Line 1 (`street`), City, State, Country, Zip/Postal Code (`postal_code`) = the first
///   `street_addresses` entry of kind `home` (case-insensitively), else the first entry.
/// - Birthday = `MM/DD` zero-padded when both `birthday_month` and `birthday_day` are present,
///   else empty. Anniversary, Created At, Updated At = as the API gave them.
/// - List Memberships / Tags = the ids of `list_memberships` / `taggings` joined with `;`.
/// - `custom_field:<id>` = that custom field's `value`, or its `choice_ids` joined with `;` when
///   `value` is absent.
///
/// With `escape_formulas`, a cell (header cells too: labels are user data) starting with `=`,
/// `+`, `-`, `@`, tab or CR gets a leading `'` (OWASP CSV injection); off, values stay exact.
pub struct CsvEncoder {
    layout: Arc<Layout>,
    scratch: Scratch,
}

/// What every row is written from: shared with the fetch task's reader, which writes the rows
/// as it reads the page.
struct Layout {
    columns: Vec<Column>,
    /// Per column: its slot in `found` for custom field columns, `NONE` otherwise.
    slots: Vec<usize>,
    /// (custom field id, slot), sorted by id: a binary search per custom field of a contact
    /// costs less than hashing its id.
    slot_of_id: Vec<(String, usize)>,
    escape_formulas: bool,
    /// Bytes of rows per KiB of body on the last page read: how much room the next page's
    /// rows get. They travel to the writer in that buffer, so a loose guess is memory held.
    rows_per_kib: AtomicUsize,
}

/// Buffers reused from row to row: no per-cell allocation.
struct Scratch {
    /// Per slot, for the current row: index into `contact.custom_fields`, or `NONE`.
    found: Vec<usize>,
    /// Composed cells (joins, birthday) and escaped cells.
    composed: String,
    escaped: String,
}

const NONE: usize = usize::MAX;

impl CsvEncoder {
    pub fn new(columns: &[Column], escape_formulas: bool) -> Self {
        let mut slot_of_id = HashMap::new();
        let slots = columns
            .iter()
            .map(|c| match c {
                Column::CustomField { id, .. } => {
                    let next = slot_of_id.len();
                    *slot_of_id.entry(id.clone()).or_insert(next)
                }
                _ => NONE,
            })
            .collect();
        let mut slot_of_id: Vec<_> = slot_of_id.into_iter().collect();
        slot_of_id.sort_unstable();
        let layout = Layout {
            columns: columns.to_vec(),
            slots,
            slot_of_id,
            escape_formulas,
            // About a fifth of the JSON with every include; the first page sets the real ratio.
            rows_per_kib: AtomicUsize::new(1024 / 3),
        };
        Self {
            scratch: layout.scratch(),
            layout: Arc::new(layout),
        }
    }
}

impl Layout {
    fn scratch(&self) -> Scratch {
        Scratch {
            found: vec![NONE; self.slot_of_id.len()],
            composed: String::new(),
            escaped: String::new(),
        }
    }

    fn write_contact(&self, s: &mut Scratch, out: &mut Vec<u8>, c: &ContactView<'_>) {
        let Self {
            columns,
            slots,
            slot_of_id,
            escape_formulas,
            rows_per_kib: _,
        } = self;
        let Scratch {
            found,
            composed: scratch,
            escaped,
        } = s;
        if !found.is_empty() {
            found.fill(NONE);
            for (i, f) in c.custom_fields.iter().flatten().enumerate() {
                let id = f.custom_field_id.as_str();
                if let Ok(at) = slot_of_id.binary_search_by(|(k, _)| k.as_str().cmp(id)) {
                    let slot = slot_of_id[at].1;
                    // The first entry for an id wins, like the phones and addresses.
                    if found[slot] == NONE {
                        found[slot] = i;
                    }
                }
            }
        }
        let row = Row::new(c);
        let custom = c.custom_fields.as_deref().unwrap_or_default();
        let start = out.len();
        for (n, (col, &slot)) in columns.iter().zip(slots.iter()).enumerate() {
            let field = (slot != NONE)
                .then(|| found[slot])
                .filter(|&i| i != NONE)
                .map(|i| &custom[i]);
            let value = row.value(col, field, scratch);
            write_cell(out, n == 0, value, *escape_formulas, escaped);
        }
        end_record(out, start);
    }
}

/// A row's cell values: the view already reduced the arrays to what the columns read.
struct Row<'c> {
    c: &'c ContactView<'c>,
    phones: Option<&'c Phones<'c>>,
    address: Option<&'c AddressView<'c>>,
}

impl<'c> Row<'c> {
    fn new(c: &'c ContactView<'c>) -> Self {
        let address = c.street_addresses.as_ref().and_then(|a| a.0.as_ref());
        Row {
            c,
            phones: c.phone_numbers.as_ref(),
            address,
        }
    }

    /// The cell for `col`: borrowed from the contact, or composed in `scratch`.
    fn value<'a>(
        &self,
        col: &Column,
        field: Option<&'c CustomFieldView<'c>>,
        scratch: &'a mut String,
    ) -> &'a str
    where
        'c: 'a,
    {
        let c = self.c;
        let addr =
            |get: fn(&'c AddressView<'c>) -> &'c S<'c>| self.address.and_then(|a| text(get(a)));
        let phone = |get: fn(&'c Phones<'c>) -> &'c Option<S<'c>>| {
            self.phones.and_then(|p| get(p).as_ref().and_then(text))
        };
        let v: Option<&'a str> = match col {
            Column::Email => c.email_address.as_ref().map(|e| e.address.as_str()),
            Column::FirstName => text(&c.first_name),
            Column::LastName => text(&c.last_name),
            Column::ContactId => text(&c.contact_id),
            Column::JobTitle => text(&c.job_title),
            Column::CompanyName => text(&c.company_name),
            Column::WorkPhone => phone(|p| &p.work),
            Column::HomePhone => phone(|p| &p.home),
            Column::MobilePhone => phone(|p| &p.mobile),
            Column::AddressLine1 => addr(|a| &a.street),
            Column::City => addr(|a| &a.city),
            Column::State => addr(|a| &a.state),
            Column::Country => addr(|a| &a.country),
            Column::ZipPostalCode => addr(|a| &a.postal_code),
            Column::Birthday => {
                scratch.clear();
                if let (Some(m), Some(d)) = (c.birthday_month, c.birthday_day) {
                    two_digits(m, scratch);
                    scratch.push('/');
                    two_digits(d, scratch);
                }
                return scratch;
            }
            Column::Anniversary => text(&c.anniversary),
            Column::EmailPermission => c
                .email_address
                .as_ref()
                .and_then(|e| text(&e.permission_to_send)),
            Column::ListMemberships => joined(&c.list_memberships, scratch),
            Column::Tags => joined(&c.taggings, scratch),
            Column::CreatedAt => text(&c.created_at),
            Column::UpdatedAt => text(&c.updated_at),
            Column::CustomField { .. } => {
                field.and_then(|f| text(&f.value).or_else(|| joined(&f.choice_ids, scratch)))
            }
        };
        v.unwrap_or("")
    }
}

/// `n` zero-padded to two digits, without the formatting machinery (once per row).
fn two_digits(n: i64, out: &mut String) {
    match u8::try_from(n) {
        Ok(n @ 0..=99) => {
            out.push(char::from(b'0' + n / 10));
            out.push(char::from(b'0' + n % 10));
        }
        _ => {
            let _ = write!(out, "{n:02}");
        }
    }
}

fn text<'c>(s: &'c S<'_>) -> Option<&'c str> {
    s.as_ref().map(Str::as_str)
}

fn joined<'c>(j: &'c Option<Joined<'_>>, scratch: &'c mut String) -> Option<&'c str> {
    j.as_ref().map(|j| j.as_str(scratch))
}

impl Encoder for CsvEncoder {
    fn header(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        for (i, col) in self.layout.columns.iter().enumerate() {
            write_cell(
                out,
                i == 0,
                col.header(),
                self.layout.escape_formulas,
                &mut self.scratch.escaped,
            );
        }
        end_record(out, start);
    }

    fn encode_page(
        &mut self,
        contacts: &[Box<RawValue>],
        out: &mut Vec<u8>,
    ) -> Result<usize, EncodeError> {
        let start = out.len();
        for (index, raw) in contacts.iter().enumerate() {
            match serde_json::from_str::<ContactView>(raw.get()) {
                Ok(contact) => self.layout.write_contact(&mut self.scratch, out, &contact),
                Err(source) => {
                    // Nothing of a failed page reaches the output.
                    out.truncate(start);
                    return Err(EncodeError::MalformedContact {
                        index,
                        contact_id: contact_id_of(raw),
                        source,
                    });
                }
            }
        }
        Ok(contacts.len())
    }

    fn reader(&self) -> ReadRows<Rows> {
        let layout = self.layout.clone();
        Arc::new(move |body| read_csv_rows(body, &layout))
    }

    fn encode_rows(&mut self, rows: &Rows, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        match rows {
            Rows::Raw(raw) => self.encode_page(raw, out),
            Rows::Views(page) => {
                let views = page.borrow_dependent();
                for contact in views {
                    self.layout.write_contact(&mut self.scratch, out, contact);
                }
                Ok(views.len())
            }
            Rows::Encoded(rows) => {
                out.extend_from_slice(&rows.bytes);
                Ok(rows.count)
            }
        }
    }
}

/// CSV's reader: the scanner reads the page and each contact's row is written as soon as the
/// contact is read, while its bytes are still in cache (no views are kept). A page the scanner
/// hands on is read by [`read_view_rows`] (serde_json), and the lane writes its rows.
fn read_csv_rows(body: Bytes, layout: &Layout) -> Result<(Rows, PageFields), serde_json::Error> {
    if let Ok(text) = simdutf8::basic::from_utf8(&body) {
        let ratio = layout.rows_per_kib.load(Ordering::Relaxed);
        // 1/16 over the last page's ratio: pages of one export differ by a few percent.
        let mut out = Vec::with_capacity((body.len() / 1024 + 1) * (ratio + ratio / 16));
        let mut scratch = layout.scratch();
        let read =
            scan::for_each_contact(text, |c| layout.write_contact(&mut scratch, &mut out, c));
        if let Ok((count, fields)) = read {
            let ratio = out.len() * 1024 / body.len().max(1);
            layout.rows_per_kib.store(ratio.max(16), Ordering::Relaxed);
            return Ok((Rows::Encoded(EncodedRows { bytes: out, count }), fields));
        }
    }
    read_view_rows(body)
}

/// The `contact_id` of a contact that failed to parse, when it is a readable string.
fn contact_id_of(raw: &RawValue) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        contact_id: Option<String>,
    }
    serde_json::from_str::<IdOnly>(raw.get()).ok()?.contact_id
}
