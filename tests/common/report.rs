//! Figures for `docs/RELIABILITY.md`: each fault test checks its export contact by contact and,
//! when `RELIABILITY_REPORT` names a file, appends one JSON line of what it tried and what held.
//! `scripts/reliability.sh` runs the suite with it set and renders the table.
#![allow(dead_code)]

use std::collections::HashSet;
use std::io::Write;

/// The outcome of comparing an export with the dataset, contact by contact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Audit {
    pub checked: u64,
    /// Expected contacts missing from the export.
    pub lost: u64,
    /// Contacts present more than once (each extra copy counts).
    pub duplicates: u64,
    /// Contacts in the export that the dataset does not have.
    pub unexpected: u64,
}

impl Audit {
    pub fn of(exported: &[String], expected: &[String]) -> Self {
        let want: HashSet<&str> = expected.iter().map(String::as_str).collect();
        let mut seen = HashSet::new();
        let (mut duplicates, mut unexpected) = (0, 0);
        for id in exported {
            if !seen.insert(id.as_str()) {
                duplicates += 1;
            } else if !want.contains(id.as_str()) {
                unexpected += 1;
            }
        }
        let lost = want.iter().filter(|id| !seen.contains(*id)).count() as u64;
        Self {
            checked: expected.len() as u64,
            lost,
            duplicates,
            unexpected,
        }
    }

    pub fn merge(self, other: Audit) -> Audit {
        Audit {
            checked: self.checked + other.checked,
            lost: self.lost + other.lost,
            duplicates: self.duplicates + other.duplicates,
            unexpected: self.unexpected + other.unexpected,
        }
    }

    pub fn assert_exact(&self, what: &str) {
        assert_eq!(
            (self.lost, self.duplicates, self.unexpected),
            (0, 0, 0),
            "{what}: {self:?}"
        );
    }
}

/// One row of the reliability table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Row {
    /// The fault class, e.g. "RabbitMQ stopped and started mid-export".
    pub fault: String,
    /// How many faults were injected (kills, restarts, failed requests…).
    pub injected: u64,
    pub jobs: u64,
    pub bad_inputs: u64,
    pub audit: Audit,
    /// Anything worth a reader's eye (e.g. "2 clean restarts recorded").
    pub note: String,
}

pub fn record(row: &Row) {
    let Ok(path) = std::env::var("RELIABILITY_REPORT") else {
        return;
    };
    let line = serde_json::to_string(row).expect("row serializes");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("open RELIABILITY_REPORT");
    writeln!(f, "{line}").expect("write RELIABILITY_REPORT");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_counts_lost_duplicated_and_unexpected() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = Audit::of(&s(&["a", "b", "b", "z"]), &s(&["a", "b", "c"]));
        assert_eq!(
            a,
            Audit {
                checked: 3,
                lost: 1,
                duplicates: 1,
                unexpected: 1
            }
        );
    }
}
