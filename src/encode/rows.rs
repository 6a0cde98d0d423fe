//! A page's contacts as its encoder reads them, made by the fetch task in one pass over the body.
//!
//! CSV's reader (`encode::csv`) writes the rows as it reads the page (`Rows::Encoded`); a page its
//! scanner hands on becomes typed views borrowed from the body (`ViewPage`, serde_json), or raw
//! contacts when they do not fit the views. NDJSON keeps each contact's raw JSON. Every reader
//! takes the paging fields from the same pass.

use bytes::Bytes;
use self_cell::self_cell;
use serde::de::Error as _;

use super::view::ContactView;
use crate::cc::page::{PageBody, read_raw};
use crate::cc::{PageFields, RawContacts};

/// The contacts of one page, in the form the encoder that asked for them reads.
pub enum Rows {
    Raw(RawContacts),
    Views(ViewPage),
    /// The page's rows already written by the encoder's own reader (CSV's fast path).
    Encoded(EncodedRows),
}

/// Rows written while the page was read: `count` rows in `bytes`, no header.
#[derive(Debug)]
pub struct EncodedRows {
    pub bytes: Vec<u8>,
    pub count: usize,
}

impl Rows {
    pub fn len(&self) -> usize {
        match self {
            Rows::Raw(raw) => raw.len(),
            Rows::Views(views) => views.borrow_dependent().len(),
            Rows::Encoded(rows) => rows.count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Output bytes to reserve for these rows, so a page is encoded without growing its buffer:
    /// NDJSON writes the raw text and a newline per contact; CSV (views) writes about a fifth of
    /// the JSON it read.
    pub fn output_hint(&self) -> usize {
        match self {
            Rows::Raw(raw) => raw.iter().map(|c| c.get().len() + 1).sum(),
            Rows::Views(v) => v.borrow_owner().len() / 3,
            Rows::Encoded(rows) => rows.bytes.len(),
        }
    }
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rows::Raw(raw) => write!(f, "Rows::Raw({} contacts)", raw.len()),
            Rows::Views(v) => write!(f, "Rows::Views({} contacts)", v.borrow_dependent().len()),
            Rows::Encoded(rows) => write!(f, "Rows::Encoded({} rows)", rows.count),
        }
    }
}

type Views<'a> = Vec<ContactView<'a>>;

self_cell!(
    /// A page body and the typed views of its contacts, which borrow their strings from it.
    pub struct ViewPage {
        owner: Bytes,
        #[covariant]
        dependent: Views,
    }
);

/// The reader of NDJSON (and of anything that wants the contacts as sent).
pub fn read_raw_rows(body: Bytes) -> Result<(Rows, PageFields), serde_json::Error> {
    read_raw(body).map(|(raw, fields)| (Rows::Raw(raw), fields))
}

/// Typed views by serde_json, for a page CSV's scanner handed on: one typed pass. A page that
/// does not fit the views is read raw instead, so a truncated body is still retried as
/// malformed and a contact of the wrong shape is still reported by the encoder with its index
/// and id.
pub fn read_view_rows(body: Bytes) -> Result<(Rows, PageFields), serde_json::Error> {
    let mut fields = PageFields::default();
    let views = ViewPage::try_new(body.clone(), |body| {
        // Validating the whole body once lets serde_json skip its check of every string.
        let text = simdutf8::basic::from_utf8(body)
            .map_err(|_| serde_json::Error::custom("the body is not UTF-8"))?;
        let (views, page_fields) = serde_json::from_str::<PageBody<Views>>(text)?.split();
        fields = page_fields;
        Ok::<_, serde_json::Error>(views)
    });
    match views {
        Ok(views) => Ok((Rows::Views(views), fields)),
        Err(_) => read_raw_rows(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_and_raw_read_the_same_page() {
        let body = Bytes::from_static(
            br#"{"contacts":[{"contact_id":"a","first_name":"A\u00e9"},{"contact_id":"b"}],
                "contacts_count":2,"_links":{"next":{"href":"/v3/contacts?cursor=x"}}}"#,
        );
        let (views, vf) = read_view_rows(body.clone()).unwrap();
        let (raw, rf) = read_raw_rows(body).unwrap();
        assert_eq!(vf, rf);
        assert_eq!(vf.next_href.as_deref(), Some("/v3/contacts?cursor=x"));
        assert_eq!((views.len(), raw.len()), (2, 2));
        let Rows::Views(v) = views else {
            panic!("{views:?}")
        };
        let first = &v.borrow_dependent()[0];
        assert_eq!(first.first_name.as_ref().unwrap().as_str(), "Aé");
    }

    #[test]
    fn a_contact_of_the_wrong_shape_falls_back_to_raw() {
        let body = Bytes::from_static(br#"{"contacts":[{"contact_id":"a"},{"first_name":5}]}"#);
        let (rows, _) = read_view_rows(body).unwrap();
        assert!(
            matches!(&rows, Rows::Raw(raw) if raw.len() == 2),
            "{rows:?}"
        );
        for bad in [&br#"{"contacts":[{"contact_id":"a"}"#[..], b"\xff", b"7"] {
            assert!(read_view_rows(Bytes::copy_from_slice(bad)).is_err());
        }
    }
}
