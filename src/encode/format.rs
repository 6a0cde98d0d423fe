//! The output formats.

use serde::{Deserialize, Serialize};

use crate::cc::Include;

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

    /// The sub-resources each page must include: no CSV column reads `notes` (about 9 % of a
    /// contact's JSON, fetched and parsed for nothing); NDJSON carries the contact whole.
    pub fn includes(self) -> Vec<Include> {
        match self {
            Format::Csv => Include::ALL
                .into_iter()
                .filter(|i| *i != Include::Notes)
                .collect(),
            Format::Ndjson => Include::ALL.to_vec(),
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

    #[test]
    fn csv_leaves_out_only_notes() {
        assert_eq!(Format::Ndjson.includes(), Include::ALL.to_vec());
        let csv = Format::Csv.includes();
        assert_eq!(csv.len(), Include::ALL.len() - 1);
        assert!(!csv.contains(&Include::Notes));
    }
}
