//! Timestamps as the API writes them (`2016-01-23T13:48:44Z`) and parsing of filter values.
//! Formatting is hand-rolled: it runs several times per generated contact.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn push2(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// `YYYY-MM-DD` (years 0..=9999), digit by digit: `write!` is slow in debug builds.
fn push_date(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    let y = y.clamp(0, 9999) as u32;
    push2(out, y / 100);
    push2(out, y % 100);
    out.push('-');
    push2(out, m);
    out.push('-');
    push2(out, d);
}

/// Unix seconds as RFC 3339 UTC with whole seconds.
pub fn date_time(secs: i64) -> String {
    let mut out = String::with_capacity(20);
    push_date(&mut out, secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400) as u32;
    out.push('T');
    push2(&mut out, s / 3600);
    out.push(':');
    push2(&mut out, s / 60 % 60);
    out.push(':');
    push2(&mut out, s % 60);
    out.push('Z');
    out
}

/// Unix seconds as a calendar date (`YYYY-MM-DD`, the spec's `format: date`).
pub fn date(secs: i64) -> String {
    let mut out = String::with_capacity(10);
    push_date(&mut out, secs.div_euclid(86_400));
    out
}

/// Parses an ISO-8601 filter value (RFC 3339 date-time, or a bare date = its UTC midnight)
/// into Unix milliseconds.
pub fn parse_millis(value: &str) -> Option<i64> {
    if let Ok(t) = OffsetDateTime::parse(value, &Rfc3339) {
        return i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok();
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(value, &fmt).ok()?;
    Some(d.midnight().assume_utc().unix_timestamp() * 1000)
}

/// Wall-clock Unix milliseconds (cursor issue times only; contacts never use the clock).
pub fn now_millis() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_time_crate() {
        for secs in [
            0_i64,
            951_782_400,
            1_420_070_400,
            1_709_164_799,
            4_102_444_800,
        ] {
            let t = OffsetDateTime::from_unix_timestamp(secs).unwrap();
            assert_eq!(date_time(secs), t.format(&Rfc3339).unwrap());
            assert_eq!(parse_millis(&date_time(secs)), Some(secs * 1000));
        }
        assert_eq!(date(951_782_400), "2000-02-29");
    }

    #[test]
    fn parses_dates_and_fractions() {
        assert_eq!(parse_millis("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_millis("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_millis("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_millis("yesterday"), None);
    }
}
