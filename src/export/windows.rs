//! Partitioned export: the account split into `created_at` windows, each its own cursor chain.
//! A plan is its boundaries: window `i` spans `[b[i-1], b[i])`, the first window has no lower
//! bound and the last no upper one, so the windows cover every possible `created_at` exactly once
//! (contacts created during the export land in the last window).

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cc::ContactsQuery;

/// How many cursor chains an export may run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Partitions {
    /// Split when one chain cannot reach the rate limit (API latency × rate > 1).
    #[default]
    Auto,
    /// One cursor chain.
    Off,
    /// Exactly this many chains at once (1 = off).
    Fixed(u32),
}

/// Most chains one export runs at once: beyond this the key's limiter is the bottleneck anyway.
pub const MAX_LANES: u32 = 16;

impl FromStr for Partitions {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Partitions::Auto),
            "off" | "0" | "1" => Ok(Partitions::Off),
            n => match n.parse::<u32>() {
                Ok(n) if n <= MAX_LANES => Ok(Partitions::Fixed(n)),
                _ => Err(format!(
                    "partitions must be auto, off or a number 1..={MAX_LANES}, got {s:?}"
                )),
            },
        }
    }
}

impl fmt::Display for Partitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Partitions::Auto => f.write_str("auto"),
            Partitions::Off => f.write_str("off"),
            Partitions::Fixed(n) => write!(f, "{n}"),
        }
    }
}

/// Whether windows on `created_at` keep the query's meaning. Lists and date filters are left
/// to one chain: combining them with created windows is not something the API documents.
pub fn partitionable(q: &ContactsQuery) -> bool {
    q.lists.is_empty()
        && q.updated_after.is_none()
        && q.updated_before.is_none()
        && q.created_after.is_none()
        && q.created_before.is_none()
}

/// The query of window `i` of a plan with `boundaries` (empty: the one window is the query).
pub fn window_query(base: &ContactsQuery, boundaries: &[String], i: usize) -> ContactsQuery {
    let mut q = base.clone();
    if i > 0 {
        q.created_after = boundaries.get(i - 1).cloned();
    }
    if i < boundaries.len() {
        q.created_before = Some(boundaries[i].clone());
    }
    q
}

/// A boundary on the half second: the API's `created_at` has whole seconds, so no contact ever
/// sits on a boundary and it does not matter whether `created_after` is inclusive.
pub fn boundary(unix_secs: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix_secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let secs = t.format(&Rfc3339).expect("a valid timestamp formats");
    // `…T12:00:00Z` → `…T12:00:00.500Z`
    format!("{}.500Z", secs.trim_end_matches('Z'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_time_line_without_gaps() {
        let b = vec![boundary(100), boundary(200)];
        let q = ContactsQuery::default();
        let w: Vec<_> = (0..3).map(|i| window_query(&q, &b, i)).collect();
        assert_eq!(
            (
                w[0].created_after.as_deref(),
                w[0].created_before.as_deref()
            ),
            (None, Some("1970-01-01T00:01:40.500Z"))
        );
        assert_eq!(w[1].created_after, w[0].created_before);
        assert_eq!(w[1].created_before, w[2].created_after);
        assert_eq!(w[2].created_before, None);
        assert_eq!(window_query(&q, &[], 0), q);
    }

    #[test]
    fn partitions_parse() {
        assert_eq!("auto".parse(), Ok(Partitions::Auto));
        assert_eq!("OFF".parse(), Ok(Partitions::Off));
        assert_eq!("1".parse(), Ok(Partitions::Off));
        assert_eq!("4".parse(), Ok(Partitions::Fixed(4)));
        assert!("17".parse::<Partitions>().is_err());
        assert!("many".parse::<Partitions>().is_err());
    }

    #[test]
    fn filtered_queries_stay_one_chain() {
        let mut q = ContactsQuery::default();
        assert!(partitionable(&q));
        q.status = vec!["all".into()];
        assert!(partitionable(&q));
        q.lists = vec!["l".into()];
        assert!(!partitionable(&q));
    }
}
