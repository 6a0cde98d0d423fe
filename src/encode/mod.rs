//! Encoders: contact rows to bytes (CSV | NDJSON), and gzip framing per checkpointed chunk.

mod columns;
mod csv;
mod error;
mod format;
mod gzip;
mod ndjson;
mod rows;
mod scan;
mod view;

#[cfg(test)]
mod csv_tests;
#[cfg(test)]
mod speed_tests;

pub use self::csv::CsvEncoder;
pub use columns::{CUSTOM_FIELD_PREFIX, Column, DEFAULT_COLUMN_NAMES, resolve_columns};
pub use error::EncodeError;
pub use format::Format;
pub use gzip::gzip_member;
pub use ndjson::NdjsonEncoder;
pub use rows::{EncodedRows, Rows, ViewPage, read_raw_rows, read_view_rows};
pub use view::ContactView;

use serde_json::value::RawValue;

use crate::cc::ReadRows;

/// Turns pages of raw contacts into output bytes. One encoder per export; it keeps its
/// buffers between pages.
pub trait Encoder: Send {
    /// Appends the CSV header line; nothing for NDJSON. Call once, at the start of the file.
    fn header(&mut self, out: &mut Vec<u8>);
    /// Appends one row per contact and returns how many rows it wrote. On error nothing of the
    /// page is appended.
    fn encode_page(
        &mut self,
        contacts: &[Box<RawValue>],
        out: &mut Vec<u8>,
    ) -> Result<usize, EncodeError>;
    /// How the fetch task reads a page for this encoder: one pass over the body, into the rows
    /// `encode_rows` takes. Raw contacts unless the encoder says otherwise.
    fn reader(&self) -> ReadRows<Rows> {
        std::sync::Arc::new(read_raw_rows)
    }
    /// `encode_page` for rows made by [`Self::reader`].
    fn encode_rows(&mut self, rows: &Rows, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        match rows {
            Rows::Raw(raw) => self.encode_page(raw, out),
            Rows::Views(_) | Rows::Encoded(_) => Err(EncodeError::RowsNotRead),
        }
    }
}

/// The encoder for `format`; `columns` and `escape_formulas` apply to CSV only.
pub fn build_encoder(
    format: Format,
    columns: &[Column],
    escape_formulas: bool,
) -> Box<dyn Encoder> {
    match format {
        Format::Csv => Box::new(CsvEncoder::new(columns, escape_formulas)),
        Format::Ndjson => Box::new(NdjsonEncoder),
    }
}
