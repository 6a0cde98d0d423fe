//! The CSV page reader's fast path: a `GET /contacts` body walked once, straight into the
//! [`ContactView`]s, with SSE2 string scans and no serde machinery between the bytes and the
//! fields (serde_json's typed pass was ~2.3 µs of a CSV contact's ~2.9).
//!
//! It takes only what it is sure of: a well-formed page with values of the shapes the views
//! read. Anything else (a truncated body, a duplicate field, a float where an integer goes, an
//! escaped key, a struct written as an array) is a [`Bail`], and the caller reads the page with
//! serde_json, whose answer (the views, or an error) is then the answer. So the views it returns
//! are exactly serde_json's; the tests hold it to that over generated, mutated and cut pages.

mod contact;
mod keys;
mod lexer;

#[cfg(test)]
mod tests;

pub use lexer::Bail;

use super::view::ContactView;
use crate::cc::PageFields;
use lexer::Lexer;

/// The contacts of a page body (already checked to be UTF-8) as views borrowed from it, and the
/// page's fields.
/// The scanner's views of a whole page, which its tests hold to serde_json's.
#[cfg(test)]
pub fn read_page(text: &str) -> Result<(Vec<ContactView<'_>>, PageFields), Bail> {
    let mut views = Vec::with_capacity(500);
    let (_, fields) = for_each_contact(text, |c| views.push(std::mem::take(c)))?;
    Ok((views, fields))
}

/// Hands each contact of a page body to `each` as it is read (so its row can be written while
/// its bytes are still in cache), then gives the count and the page's fields. On a [`Bail`],
/// `each` may already have seen some contacts: the caller discards what it made of them.
pub fn for_each_contact<'a>(
    text: &'a str,
    each: impl FnMut(&mut ContactView<'a>),
) -> Result<(usize, PageFields), Bail> {
    let mut l = Lexer::new(text);
    let page = l.page(each)?;
    l.end()?;
    Ok(page)
}
