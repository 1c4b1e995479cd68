//! Time as Unix seconds, injected wherever validity is judged.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Seconds since 1970-01-01T00:00:00Z.
pub type UnixTime = i64;

/// Where "now" comes from; tests fix it.
pub trait Clock: Send + Sync {
    fn now(&self) -> UnixTime;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        OffsetDateTime::now_utc().unix_timestamp()
    }
}

/// A clock stopped at one instant.
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub UnixTime);

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        self.0
    }
}

/// Parses an RFC 3339 timestamp such as `2026-01-01T00:00:00Z`.
pub fn parse_rfc3339(text: &str) -> Result<UnixTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|e| format!("`{text}` is not an RFC 3339 time: {e}"))
}

/// Formats as RFC 3339 in UTC; out-of-range values fall back to the number.
pub fn format_rfc3339(at: UnixTime) -> String {
    OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| at.to_string())
}

/// Offset of China Standard Time (Asia/Shanghai: UTC+8, no daylight saving).
pub const CST_OFFSET_SECS: i64 = 8 * 3600;

/// `YYYY-MM-DD HH:MM:SS` in China Standard Time, as people in the halls read it; out-of-range
/// values fall back to the number.
pub fn format_cst(at: UnixTime) -> String {
    OffsetDateTime::from_unix_timestamp(at.saturating_add(CST_OFFSET_SECS))
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = parse_rfc3339("2025-01-01T00:00:00Z").unwrap();
        assert_eq!(t, 1_735_689_600);
        assert_eq!(format_rfc3339(t), "2025-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("2025-01-01T08:00:00+08:00").unwrap(), t);
        assert!(parse_rfc3339("yesterday").is_err());
        assert_eq!(format_cst(t), "2025-01-01 08:00:00");
        assert_eq!(format_cst(t - 8 * 3600 - 1), "2024-12-31 23:59:59");
    }
}
