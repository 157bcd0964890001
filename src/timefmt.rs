//! Wall-clock formatting on top of `jiff`.
//!
//! StarRocks writes several timestamp shapes (log4j with a comma or with an ISO offset, glog with
//! or without the year, Java's `Date.toString()` in VERSION/ROLE, `[yyyy-MM-dd HH:mm:ss]` in fe.out)
//! and the tool names workspaces by UTC time. All of them are UTC here. This module only names the
//! shapes; the calendar arithmetic is `jiff`'s, so leap years and weekdays are not ours to get right.

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

    fn fmt(&self, pattern: &str) -> String {
        self.0.strftime(pattern).to_string()
    }

    /// `2024-01-02 03:04:05,678` (log4j up to StarRocks 3.2).
    pub fn log4j_comma(&self) -> String {
        self.fmt("%Y-%m-%d %H:%M:%S,%3f")
    }

    /// `2024-01-02 03:04:05.678Z` (log4j `XXX` in UTC, StarRocks 3.3+).
    pub fn log4j_iso(&self) -> String {
        self.fmt("%Y-%m-%d %H:%M:%S.%3fZ")
    }

    /// `[2024-01-02 03:04:05]` as `Util.stdoutWithTime` prints to fe.out.
    pub fn bracketed(&self) -> String {
        self.fmt("[%Y-%m-%d %H:%M:%S]")
    }

    /// `Fri Jan 19 20:03:14 UTC 2024`, Java's `Date.toString()` in UTC (day of month zero-padded).
    pub fn java_date(&self) -> String {
        self.fmt("%a %b %d %H:%M:%S UTC %Y")
    }

    /// The glog prefix time: `0901 11:27:08.965626`, or `20240901 11:27:08.965626` with the year.
    pub fn glog(&self, with_year: bool) -> String {
        if with_year {
            self.fmt("%Y%m%d %H:%M:%S.%6f")
        } else {
            self.fmt("%m%d %H:%M:%S.%6f")
        }
    }

    /// `20240901-112708`, used in glog file names and workspace names.
    pub fn compact(&self) -> String {
        self.fmt("%Y%m%d-%H%M%S")
    }

    /// RFC 3339 with milliseconds, for reports.
    pub fn rfc3339(&self) -> String {
        self.fmt("%Y-%m-%dT%H:%M:%S.%3fZ")
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
        // 2024-01-19 20:03:14.123456 UTC was a Friday.
        let c = Civil::from_unix_micros(1_705_694_594_123_456);
        assert_eq!(c.java_date(), "Fri Jan 19 20:03:14 UTC 2024");
        assert_eq!(c.log4j_comma(), "2024-01-19 20:03:14,123");
        assert_eq!(c.log4j_iso(), "2024-01-19 20:03:14.123Z");
        assert_eq!(c.bracketed(), "[2024-01-19 20:03:14]");
        assert_eq!(c.glog(false), "0119 20:03:14.123456");
        assert_eq!(c.glog(true), "20240119 20:03:14.123456");
        assert_eq!(c.compact(), "20240119-200314");
        assert_eq!(c.rfc3339(), "2024-01-19T20:03:14.123Z");
    }

    #[test]
    fn single_digit_day_and_whole_second() {
        // Java pads the day of month to two digits; a whole second still prints its fraction.
        let c = Civil::from_unix_micros(1_709_251_200_000_000);
        assert_eq!(c.java_date(), "Fri Mar 01 00:00:00 UTC 2024");
        assert_eq!(c.log4j_comma(), "2024-03-01 00:00:00,000");
        assert_eq!(c.glog(false), "0301 00:00:00.000000");
    }

    #[test]
    fn leap_day() {
        let c = Civil::from_unix_micros(951_782_400_000_000);
        assert_eq!(c.compact(), "20000229-000000");
    }
}
