//! What encoding can fail with.

/// Errors from column resolution and encoding.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// A contact's JSON does not fit [`crate::cc::model::Contact`] (CSV only: NDJSON never
    /// parses). `index` is the contact's position in the page given to `encode_page`.
    #[error("contact #{index} of the page ({}) does not fit the contact model", id_text(.contact_id))]
    MalformedContact {
        index: usize,
        contact_id: Option<String>,
        source: serde_json::Error,
    },
    /// A `--columns` entry that names no column.
    #[error("unknown column {name:?}; valid columns: {valid}")]
    UnknownColumn { name: String, valid: String },
    /// Rows this encoder's reader does not make reached it: a bug in the pipeline's wiring.
    #[error("the encoder was handed rows its reader does not make")]
    RowsNotRead,
    #[error("encoder I/O")]
    Io(#[from] std::io::Error),
}

fn id_text(id: &Option<String>) -> String {
    match id {
        Some(id) => format!("contact_id {id:?}"),
        None => "no readable contact_id".to_owned(),
    }
}
