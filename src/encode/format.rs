//! The output formats.

use serde::{Deserialize, Serialize};

/// Output file format (`--format`, the job's `format` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RFC 4180 CSV, one row per contact, the design's columns.
    Csv,
    /// One JSON object per line, each contact as the API sent it.
    Ndjson,
}

impl Format {
    /// File extension without the dot (before any `.gz`).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn names_agree_everywhere() {
        for (f, name) in [(Format::Csv, "csv"), (Format::Ndjson, "ndjson")] {
            assert_eq!(f.extension(), name);
            assert_eq!(serde_json::to_string(&f).unwrap(), format!("\"{name}\""));
            assert_eq!(Format::from_str(name, true).unwrap(), f);
        }
    }
}
