//! Cron expressions of schedules: five fields (minute hour day-of-month month day-of-week) with
//! POSIX/Vixie semantics (croner: ranges, steps, names, `L`, `#`, `W`, `@daily`…), always
//! evaluated in UTC. Seconds and years are refused, so a schedule fires at most once a minute.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use time::OffsetDateTime;

const SHAPE: &str =
    "five fields: minute hour day-of-month month day-of-week, in UTC; e.g. \"0 3 * * *\"";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronExprError {
    #[error("invalid cron expression {expr:?}: {reason} ({SHAPE})")]
    Invalid { expr: String, reason: String },
    #[error(
        "cron expression {expr:?} never fires (it names no date that exists, e.g. 30 February)"
    )]
    NeverFires { expr: String, after: OffsetDateTime },
}

/// A parsed cron expression and the text it came from (what `export_schedules.cron` stores).
#[derive(Debug, Clone)]
pub struct CronExpr {
    text: String,
    cron: Cron,
}

impl CronExpr {
    pub fn parse(expr: &str) -> Result<Self, CronExprError> {
        let invalid = |reason: String| CronExprError::Invalid {
            expr: expr.to_owned(),
            reason,
        };
        // croner reads anything after the fields as more fields; a newline would hide them.
        if expr.chars().any(char::is_control) {
            return Err(invalid("control characters are not allowed".into()));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(expr)
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            text: expr.trim().to_owned(),
            cron,
        })
    }

    /// [`parse`](Self::parse), then refuses an expression with no time after `now` (a date that
    /// does not exist, such as `0 0 30 2 *`), which would never enqueue anything.
    pub fn parse_firing(expr: &str, now: OffsetDateTime) -> Result<Self, CronExprError> {
        let cron = Self::parse(expr)?;
        cron.next_after(now)?;
        Ok(cron)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first time the expression names strictly after `t`, in UTC.
    pub fn next_after(&self, t: OffsetDateTime) -> Result<OffsetDateTime, CronExprError> {
        let never = || CronExprError::NeverFires {
            expr: self.text.clone(),
            after: t,
        };
        let from = DateTime::<Utc>::from_timestamp(t.unix_timestamp(), t.nanosecond())
            .ok_or_else(never)?;
        let next = self
            .cron
            .find_next_occurrence(&from, false)
            .map_err(|_| never())?;
        OffsetDateTime::from_unix_timestamp(next.timestamp()).map_err(|_| never())
    }
}

impl FromStr for CronExpr {
    type Err = CronExprError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn five_fields_in_utc() {
        let c = CronExpr::parse("30 3 * * *").unwrap();
        let t = datetime!(2026-11-22 21:38:18.5 UTC);
        assert_eq!(c.next_after(t).unwrap(), datetime!(2026-11-23 03:30 UTC));
        // Strictly after: a time the expression names gives the following one.
        let at = datetime!(2026-11-23 03:30 UTC);
        assert_eq!(c.next_after(at).unwrap(), datetime!(2026-11-24 03:30 UTC));
        // Any offset is the same instant.
        let t2 = datetime!(2026-11-22 22:38:18 +01:00);
        assert_eq!(c.next_after(t2).unwrap(), datetime!(2026-11-23 03:30 UTC));
        let weekly = CronExpr::parse("0 6 * * mon").unwrap();
        assert_eq!(
            weekly.next_after(t).unwrap(),
            datetime!(2026-11-23 06:00 UTC) // a Monday
        );
        assert!(CronExpr::parse("@hourly").is_ok());
    }

    #[test]
    fn bad_expressions_are_refused_with_the_reason() {
        for bad in [
            "",
            "* * * *",
            "0 * * * * *",
            "0 0 1 1 * 2030",
            "61 * * * *",
            "* 24 * * *",
            "* * 32 * *",
            "hello",
            "* * * * *\n* * * * *",
        ] {
            let err = CronExpr::parse(bad).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("invalid cron expression"), "{bad:?}: {msg}");
            assert!(msg.contains("five fields"), "{bad:?}: {msg}");
        }
        let t = datetime!(2026-11-22 00:00 UTC);
        assert!(matches!(
            CronExpr::parse_firing("0 0 30 2 *", t),
            Err(CronExprError::NeverFires { .. })
        ));
        assert!(CronExpr::parse_firing("0 0 29 2 *", t).is_ok());
    }
}
