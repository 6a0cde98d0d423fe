//! One page of `GET /contacts`, read in a single pass over its body.
//!
//! Who reads the page decides what its contacts become (`ReadRows`): the raw JSON of each contact
//! (NDJSON, the planner, the lists API) or, for CSV, the typed views the columns need. Reading
//! ~1,750 bytes of JSON per contact costs about 1 ns per byte per pass, so the page is read once,
//! by the reader the encoder wants, and the paging fields come out of the same pass.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::error::CcError;
use super::query::cursor_of;

/// The contacts of a page, each kept as the raw JSON the API sent.
pub type RawContacts = Vec<Box<RawValue>>;

/// One page of contacts; `R` is what its reader made of them.
#[derive(Debug, Clone)]
pub struct ContactsPage<R = RawContacts> {
    pub contacts: R,
    pub contacts_count: Option<u64>,
    /// `_links.next.href`, relative to the API origin; `None` on the last page.
    pub next_href: Option<String>,
    /// The `cursor` query parameter of `next_href`: what a checkpoint stores.
    pub next_cursor: Option<String>,
}

/// The page's own fields, read in the same pass as its contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageFields {
    pub contacts_count: Option<u64>,
    pub next_href: Option<String>,
}

/// Reads a whole `GET /contacts` body in one pass: the contacts as `R`, and the page's fields.
/// An error means the body is not a contacts page (truncated, not JSON): the request is retried.
pub type ReadFn<R> = dyn Fn(Bytes) -> Result<(R, PageFields), serde_json::Error> + Send + Sync;

/// A reader the fetch task keeps for its chain; it may carry the encoder's settings (CSV's
/// reader encodes the rows as it reads them).
pub type ReadRows<R> = std::sync::Arc<ReadFn<R>>;

/// `_links` as the paging needs it: `next.href`, every other key skipped.
#[derive(Debug, Default, Deserialize)]
pub struct LinksView<'a> {
    #[serde(borrow, default)]
    pub next: Option<HrefView<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct HrefView<'a> {
    #[serde(borrow)]
    pub href: std::borrow::Cow<'a, str>,
}

impl LinksView<'_> {
    pub fn next_href(&self) -> Option<String> {
        self.next.as_ref().map(|n| n.href.to_string())
    }
}

/// A `GET /contacts` body as every reader sees it: the contacts as `C` (raw, or views borrowed
/// from the body), and the paging fields.
#[derive(Deserialize)]
#[serde(bound(deserialize = "C: Deserialize<'de> + Default"))]
pub struct PageBody<'a, C> {
    #[serde(default)]
    pub contacts: C,
    #[serde(default)]
    pub contacts_count: Option<u64>,
    #[serde(borrow, default, rename = "_links")]
    pub links: Option<LinksView<'a>>,
}

impl<C> PageBody<'_, C> {
    /// The contacts and the page's fields.
    pub fn split(self) -> (C, PageFields) {
        let fields = PageFields {
            contacts_count: self.contacts_count,
            next_href: self.links.and_then(|l| l.next_href()),
        };
        (self.contacts, fields)
    }
}

/// The reader for raw contacts.
pub fn read_raw(body: Bytes) -> Result<(RawContacts, PageFields), serde_json::Error> {
    serde_json::from_slice::<PageBody<RawContacts>>(&body).map(PageBody::split)
}

impl<R> ContactsPage<R> {
    /// A page from a body read by `read`; `base_url` is the client's, for the cursor of the next
    /// link.
    pub fn read(base_url: &Url, body: Bytes, read: &ReadFn<R>) -> Result<Self, CcError> {
        let len = body.len();
        let (contacts, fields) =
            read(body).map_err(|e| CcError::malformed_body("contacts", len, &e))?;
        let next_cursor = fields
            .next_href
            .as_deref()
            .and_then(|h| cursor_of(base_url, h));
        Ok(ContactsPage {
            contacts,
            contacts_count: fields.contacts_count,
            next_href: fields.next_href,
            next_cursor,
        })
    }
}

impl ContactsPage {
    /// Reads a `GET /contacts` answer into raw contacts.
    pub fn from_body(base_url: &Url, body: &[u8]) -> Result<Self, CcError> {
        Self::read(base_url, Bytes::copy_from_slice(body), &read_raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_reader_keeps_contacts_and_reads_the_links() {
        let body = br#"{"contacts":[{"a":1},{"b":"x"}],"contacts_count":7,
            "_links":{"next":{"href":"/v3/contacts?cursor=abc","x":1},"self":{}}}"#;
        let base = Url::parse("http://h/v3").unwrap();
        let page = ContactsPage::from_body(&base, body).unwrap();
        assert_eq!(page.contacts.len(), 2);
        assert_eq!(page.contacts[1].get(), r#"{"b":"x"}"#);
        assert_eq!(page.contacts_count, Some(7));
        assert_eq!(page.next_href.as_deref(), Some("/v3/contacts?cursor=abc"));
        assert_eq!(page.next_cursor.as_deref(), Some("abc"));
        let last = ContactsPage::from_body(&base, br#"{"contacts":[]}"#).unwrap();
        assert_eq!((last.next_href, last.next_cursor), (None, None));
        for bad in [
            &br#"{"contacts":[{"a":1}"#[..],
            b"7",
            br#"{"_links":{"next":{}}}"#,
        ] {
            assert!(matches!(
                ContactsPage::from_body(&base, bad),
                Err(CcError::Malformed { .. })
            ));
        }
    }
}
