//! CSV (RFC 4180): one row per contact, the resolved columns.

mod field;

use super::columns::FIXED_COLUMNS;
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
    /// Per column, where its cell comes from (resolved once, not matched per cell).
    sources: Vec<Source>,
    /// (the id's first 8 bytes as an integer, custom field id, slot), sorted: a custom field of
    /// a contact is found by comparing integers, then its id once (ids are UUIDs, whose first 8
    /// bytes differ; hashing the whole id cost more, and so did comparing ids as strings).
    slot_of_id: Vec<(u64, String, usize)>,
    /// Whether any column shows the list or tag ids (their join is skipped otherwise).
    joins_lists: bool,
    joins_tags: bool,
    escape_formulas: bool,
    /// Bytes of rows per KiB of body on the last page read: how much room the next page's
    /// rows get. They travel to the writer in that buffer, so a loose guess is memory held.
    rows_per_kib: AtomicUsize,
}

/// A column's cell: one of the contact's fixed cells (`Column::fixed_index`), or the custom
/// field of a slot in `Scratch::found`.
#[derive(Clone, Copy)]
enum Source {
    Fixed(usize),
    Custom(usize),
}

/// Buffers reused from row to row: no per-cell allocation.
struct Scratch {
    /// Per slot, for the current row: index into `contact.custom_fields`, or `NONE`.
    found: Vec<usize>,
    /// Composed cells: the birthday, the joined list and tag ids, a custom field's choices.
    birthday: String,
    lists: String,
    tags: String,
    choices: String,
    /// A cell with its formula escaped.
    escaped: String,
}

const NONE: usize = usize::MAX;

impl CsvEncoder {
    pub fn new(columns: &[Column], escape_formulas: bool) -> Self {
        let mut slot_of_id = HashMap::new();
        let sources = columns
            .iter()
            .map(|c| match c {
                Column::CustomField { id, .. } => {
                    let next = slot_of_id.len();
                    Source::Custom(*slot_of_id.entry(id.clone()).or_insert(next))
                }
                fixed => Source::Fixed(fixed.fixed_index().expect("a fixed column")),
            })
            .collect();
        let mut slot_of_id: Vec<_> = slot_of_id
            .into_iter()
            .map(|(id, slot)| (id_prefix(id.as_bytes()), id, slot))
            .collect();
        slot_of_id.sort_unstable();
        let layout = Layout {
            columns: columns.to_vec(),
            sources,
            slot_of_id,
            joins_lists: columns.contains(&Column::ListMemberships),
            joins_tags: columns.contains(&Column::Tags),
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
            birthday: String::new(),
            lists: String::new(),
            tags: String::new(),
            choices: String::new(),
            escaped: String::new(),
        }
    }

    /// The slot of a custom field id that a column shows.
    #[inline]
    fn slot_of(&self, id: &str) -> Option<usize> {
        let prefix = id_prefix(id.as_bytes());
        let from = self.slot_of_id.partition_point(|(p, _, _)| *p < prefix);
        self.slot_of_id[from..]
            .iter()
            .take_while(|(p, _, _)| *p == prefix)
            .find(|(_, known, _)| known == id)
            .map(|(_, _, slot)| *slot)
    }

    fn write_contact(&self, s: &mut Scratch, out: &mut Vec<u8>, c: &ContactView<'_>) {
        let Scratch {
            found,
            birthday,
            lists,
            tags,
            choices,
            escaped,
        } = s;
        let custom = c.custom_fields.as_deref().unwrap_or_default();
        if !found.is_empty() {
            found.fill(NONE);
            for (i, f) in custom.iter().enumerate() {
                // The first entry for an id wins, like the phones and addresses.
                if let Some(slot) = self.slot_of(f.custom_field_id.as_str())
                    && found[slot] == NONE
                {
                    found[slot] = i;
                }
            }
        }
        let birthday = birthday_cell(c, birthday);
        let lists = joined_cell(self.joins_lists, &c.list_memberships, lists);
        let tags = joined_cell(self.joins_tags, &c.taggings, tags);
        let cells = fixed_cells(c, birthday, lists, tags);
        let start = out.len();
        for (n, source) in self.sources.iter().enumerate() {
            let value = match *source {
                Source::Fixed(i) => cells[i],
                Source::Custom(slot) => custom_cell(custom.get(found[slot]), choices),
            };
            write_cell(out, n == 0, value, self.escape_formulas, escaped);
        }
        end_record(out, start);
    }
}

/// The first 8 bytes of `id` (zero-padded) as a big-endian integer: ordered like the bytes.
#[inline]
fn id_prefix(id: &[u8]) -> u64 {
    match id.first_chunk::<8>() {
        Some(first) => u64::from_be_bytes(*first),
        None => {
            let mut padded = [0; 8];
            padded[..id.len()].copy_from_slice(id);
            u64::from_be_bytes(padded)
        }
    }
}

/// `MM/DD` when both birthday parts are present, else empty.
fn birthday_cell<'c>(c: &ContactView<'_>, into: &'c mut String) -> &'c str {
    into.clear();
    if let (Some(m), Some(d)) = (c.birthday_month, c.birthday_day) {
        two_digits(m, into);
        into.push('/');
        two_digits(d, into);
    }
    into
}

/// Ids joined with `;` (only when a column shows them: empty otherwise).
fn joined_cell<'c>(shown: bool, ids: &'c Option<Joined<'c>>, into: &'c mut String) -> &'c str {
    match ids {
        Some(j) if shown => j.as_str(into),
        _ => "",
    }
}

/// Every fixed column's cell of `c`, in the default column order (`Column::fixed_index`); a
/// missing value is empty. The arrays were already reduced to what the columns read.
fn fixed_cells<'c>(
    c: &'c ContactView<'c>,
    birthday: &'c str,
    lists: &'c str,
    tags: &'c str,
) -> [&'c str; FIXED_COLUMNS] {
    let email = c.email_address.as_ref();
    let phones = c.phone_numbers.as_ref();
    let phone = |get: fn(&'c Phones<'c>) -> &'c Option<S<'c>>| {
        phones.and_then(|p| get(p).as_ref()).map_or("", text)
    };
    let address = c.street_addresses.as_ref().and_then(|a| a.0.as_ref());
    let addr = |get: fn(&'c AddressView<'c>) -> &'c S<'c>| address.map_or("", |a| text(get(a)));
    [
        email.map_or("", |e| e.address.as_str()),
        text(&c.first_name),
        text(&c.last_name),
        text(&c.contact_id),
        text(&c.job_title),
        text(&c.company_name),
        phone(|p| &p.work),
        phone(|p| &p.home),
        phone(|p| &p.mobile),
        addr(|a| &a.street),
        addr(|a| &a.city),
        addr(|a| &a.state),
        addr(|a| &a.country),
        addr(|a| &a.postal_code),
        birthday,
        text(&c.anniversary),
        email.map_or("", |e| text(&e.permission_to_send)),
        lists,
        tags,
        text(&c.created_at),
        text(&c.updated_at),
    ]
}

/// A custom field column's cell: its `value`, else its `choice_ids` joined with `;`.
fn custom_cell<'c>(field: Option<&'c CustomFieldView<'c>>, choices: &'c mut String) -> &'c str {
    let Some(f) = field else { return "" };
    if let Some(v) = &f.value {
        return v.as_str();
    }
    f.choice_ids.as_ref().map_or("", |j| j.as_str(choices))
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

fn text<'c>(s: &'c S<'_>) -> &'c str {
    s.as_ref().map_or("", Str::as_str)
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
