//! Wall-clock formatting on top of `jiff`.
//!
//! The tool names workspaces and stamps reports by UTC time, and the simulator writes StarRocks'
//! own timestamp shapes on top of the same instant (its `stamps` module). All of them are UTC.
//! The calendar arithmetic is `jiff`'s, so leap years and weekdays are not ours to get right.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// A broken-down UTC instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil(DateTime);

impl Civil {
    pub fn now() -> Civil {
        Civil::from_timestamp(Timestamp::now())
    }

    /// Out of jiff's range (beyond the years ±9999) only for a corrupt value; the epoch is a
    /// harmless stand-in for a label.
    pub fn from_unix_micros(us: i64) -> Civil {
        Civil::from_timestamp(Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH))
    }

    fn from_timestamp(t: Timestamp) -> Civil {
        Civil(TimeZone::UTC.to_datetime(t))
    }

    /// The instant in a `strftime` pattern (jiff's dialect: `%3f` for milliseconds).
    pub fn format(&self, pattern: &str) -> String {
        self.0.strftime(pattern).to_string()
    }

    /// `20240901-112708`, used in glog file names and workspace names.
    pub fn compact(&self) -> String {
        self.format("%Y%m%d-%H%M%S")
    }

    /// The Unix seconds of a [`compact`](Civil::compact) stamp (UTC), or `None` when `s` is not one.
    pub fn unix_seconds_of_compact(s: &str) -> Option<i64> {
        let dt = DateTime::strptime("%Y%m%d-%H%M%S", s).ok()?;
        Some(TimeZone::UTC.to_timestamp(dt).ok()?.as_second())
    }

    /// RFC 3339 with milliseconds, for reports.
    pub fn rfc3339(&self) -> String {
        self.format("%Y-%m-%dT%H:%M:%S.%3fZ")
    }
}

/// Milliseconds since the Unix epoch, as Java's `System.currentTimeMillis()`.
pub fn unix_millis() -> i64 {
    Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instant() {
        let c = Civil::from_unix_micros(1_705_694_594_123_456);
        assert_eq!(c.compact(), "20240119-200314");
        assert_eq!(c.rfc3339(), "2024-01-19T20:03:14.123Z");
    }

    #[test]
    fn leap_day() {
        let c = Civil::from_unix_micros(951_782_400_000_000);
        assert_eq!(c.compact(), "20000229-000000");
    }

    #[test]
    fn compact_stamps_read_back() {
        let c = Civil::from_unix_micros(1_705_694_594_123_456);
        assert_eq!(
            Civil::unix_seconds_of_compact(&c.compact()),
            Some(1_705_694_594)
        );
        for bad in ["", "20240119", "20241319-200314", "2024011-200314x", "abc"] {
            assert_eq!(Civil::unix_seconds_of_compact(bad), None, "{bad}");
        }
    }
}
