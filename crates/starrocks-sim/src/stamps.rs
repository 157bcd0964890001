//! The timestamp shapes StarRocks writes, for the simulator's logs and files.
//!
//! log4j with a comma (up to 3.2) or with an ISO offset (3.3+), glog with or without the year,
//! Java's `Date.toString()` in VERSION/ROLE, and `[yyyy-MM-dd HH:mm:ss]` in fe.out. Only a
//! simulated server writes them; the tool reads logs by their content, never by their clock.

use starrocks_common::timefmt::Civil;

/// StarRocks' timestamp shapes of one instant.
pub trait Stamps {
    /// `2024-01-02 03:04:05,678` (log4j up to StarRocks 3.2).
    fn log4j_comma(&self) -> String;
    /// `2024-01-02 03:04:05.678Z` (log4j `XXX` in UTC, StarRocks 3.3+).
    fn log4j_iso(&self) -> String;
    /// `[2024-01-02 03:04:05]` as `Util.stdoutWithTime` prints to fe.out.
    fn bracketed(&self) -> String;
    /// `Fri Jan 19 20:03:14 UTC 2024`, Java's `Date.toString()` in UTC (day of month zero-padded).
    fn java_date(&self) -> String;
    /// The glog prefix time: `0901 11:27:08.965626`, or `20240901 11:27:08.965626` with the year.
    fn glog(&self, with_year: bool) -> String;
}

impl Stamps for Civil {
    fn log4j_comma(&self) -> String {
        self.format("%Y-%m-%d %H:%M:%S,%3f")
    }

    fn log4j_iso(&self) -> String {
        self.format("%Y-%m-%d %H:%M:%S.%3fZ")
    }

    fn bracketed(&self) -> String {
        self.format("[%Y-%m-%d %H:%M:%S]")
    }

    fn java_date(&self) -> String {
        self.format("%a %b %d %H:%M:%S UTC %Y")
    }

    fn glog(&self, with_year: bool) -> String {
        if with_year {
            self.format("%Y%m%d %H:%M:%S.%6f")
        } else {
            self.format("%m%d %H:%M:%S.%6f")
        }
    }
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
    }

    #[test]
    fn single_digit_day_and_whole_second() {
        // Java pads the day of month to two digits; a whole second still prints its fraction.
        let c = Civil::from_unix_micros(1_709_251_200_000_000);
        assert_eq!(c.java_date(), "Fri Mar 01 00:00:00 UTC 2024");
        assert_eq!(c.log4j_comma(), "2024-03-01 00:00:00,000");
        assert_eq!(c.glog(false), "0301 00:00:00.000000");
    }
}
