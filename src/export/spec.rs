//! What an export is: account, query, output format. A resumed export must match it exactly.

use serde::{Deserialize, Serialize};

use crate::cc::ContactsQuery;
use crate::encode::Format;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportSpec {
    pub account_id: String,
    pub query: ContactsQuery,
    pub format: Format,
    pub gzip: bool,
    /// `--columns` as given (CSV only); `None` = the default columns.
    pub columns: Option<String>,
    pub escape_formulas: bool,
}

impl PartialEq for ExportSpec {
    fn eq(&self, other: &Self) -> bool {
        // ContactsQuery is compared through its serialized form: that is what the checkpoint keeps.
        serde_json::to_value(self).ok() == serde_json::to_value(other).ok()
    }
}
