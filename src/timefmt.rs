//! Wall-clock formatting without a calendar crate.
//!
//! StarRocks writes several timestamp shapes (log4j with a comma or with an ISO offset, glog with
//! or without the year, Java's `Date.toString()` in VERSION/ROLE, `[yyyy-MM-dd HH:mm:ss]` in fe.out)
//! and the tool names workspaces by UTC time. All of them are UTC here; the civil-date conversion
//! is the well-known days-from-epoch algorithm.

use std::time::{SystemTime, UNIX_EPOCH};

/// A broken-down UTC instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
    /// 0 = Sunday.
    pub weekday: u32,
}

impl Civil {
    pub fn now() -> Civil {
        Civil::from_system(SystemTime::now())
    }

    pub fn from_system(t: SystemTime) -> Civil {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        Civil::from_unix_micros(d.as_micros() as i64)
    }

    pub fn from_unix_micros(us: i64) -> Civil {
        let secs = us.div_euclid(1_000_000);
        let micros = us.rem_euclid(1_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (sod / 3600) as u32,
            minute: ((sod % 3600) / 60) as u32,
            second: (sod % 60) as u32,
            micros,
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }

    fn millis(&self) -> u32 {
        self.micros / 1000
    }

    /// `2024-01-02 03:04:05,678` (log4j up to StarRocks 3.2).
    pub fn log4j_comma(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.millis()
        )
    }

    /// `2024-01-02 03:04:05.678Z` (log4j `XXX` in UTC, StarRocks 3.3+).
    pub fn log4j_iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}Z",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.millis()
        )
    }

    /// `[2024-01-02 03:04:05]` as `Util.stdoutWithTime` prints to fe.out.
    pub fn bracketed(&self) -> String {
        format!(
            "[{:04}-{:02}-{:02} {:02}:{:02}:{:02}]",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `Fri Jan 19 20:03:14 UTC 2024`, Java's `Date.toString()` in UTC.
    pub fn java_date(&self) -> String {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
            DAYS[self.weekday as usize],
            MONTHS[(self.month - 1) as usize],
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.year
        )
    }

    /// The glog prefix time: `0901 11:27:08.965626`, or `20240901 11:27:08.965626` with the year.
    pub fn glog(&self, with_year: bool) -> String {
        let date = if with_year {
            format!("{:04}{:02}{:02}", self.year, self.month, self.day)
        } else {
            format!("{:02}{:02}", self.month, self.day)
        };
        format!(
            "{date} {:02}:{:02}:{:02}.{:06}",
            self.hour, self.minute, self.second, self.micros
        )
    }

    /// `20240901-112708`, used in glog file names and workspace names.
    pub fn compact(&self) -> String {
        format!(
            "{:04}{:02}{:02}-{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// RFC 3339 with milliseconds, for reports.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.millis()
        )
    }
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Milliseconds since the Unix epoch, as Java's `System.currentTimeMillis()`.
pub fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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
        assert_eq!(c.glog(false), "0119 20:03:14.123456");
        assert_eq!(c.glog(true), "20240119 20:03:14.123456");
        assert_eq!(c.compact(), "20240119-200314");
    }

    #[test]
    fn leap_day() {
        let c = Civil::from_unix_micros(951_782_400_000_000);
        assert_eq!((c.year, c.month, c.day), (2000, 2, 29));
    }
}
