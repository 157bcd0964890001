//! Log records and the one verdict rule that the live watch and `scan` share.
//!
//! StarRocks reports a startup failure as `LOG.error("...", e)`: log4j writes the message on the
//! record's first line and the exception with its stack trace on the lines that follow, without a
//! timestamp. The cause (`checksum mismatch!`, `UNKNOWN Operation Type 10023`, a BDB JE exception)
//! is therefore only known once the record is complete. Both readers assemble records the same way
//! (a line with a log4j or glog prefix starts one; other lines continue it, or stand alone when no
//! record is open) and decide with [`Verdict`]: the root cause is the most specific signature of the
//! first fatal record, and follow-on records never override it.

use super::catalog::{Severity, Signature};

/// Continuation lines kept per record; a runaway stack trace cannot grow memory.
pub const MAX_RECORD_LINES: usize = 200;
/// Bytes kept per record, and per line: the rest of a longer line is read and dropped.
pub const MAX_RECORD_BYTES: usize = 64 << 10;

/// Whether `line` opens a log record: log4j's `2024-01-02 03:04:05,678` (or `.678+08:00`) or
/// glog's `I0102 03:04:05.678901 ` (with the year from 3.3: `I20240102 ...`).
pub fn starts_record(line: &str) -> bool {
    starts_record_bytes(line.as_bytes())
}

/// [`starts_record`] on raw bytes: a fixed-shape check, cheap enough to run on every line of a
/// multi-gigabyte log.
pub fn starts_record_bytes(b: &[u8]) -> bool {
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    match b.first() {
        Some(c) if c.is_ascii_digit() => {
            // 2024-01-02 03:04:05,678
            digits(0..4)
                && at(4, b'-')
                && digits(5..7)
                && at(7, b'-')
                && digits(8..10)
                && at(10, b' ')
                && digits(11..13)
                && at(13, b':')
                && digits(14..16)
                && at(16, b':')
                && digits(17..19)
                && (at(19, b',') || at(19, b'.'))
                && digits(20..23)
        }
        Some(b'I' | b'W' | b'E' | b'F') => {
            // I0102 03:04:05.678901  or  I20240102 03:04:05.678901
            let date = if digits(1..9) && at(9, b' ') {
                9
            } else if digits(1..5) && at(5, b' ') {
                5
            } else {
                return false;
            };
            let t = date + 1;
            digits(t..t + 2)
                && at(t + 2, b':')
                && digits(t + 3..t + 5)
                && at(t + 5, b':')
                && digits(t + 6..t + 8)
                && at(t + 8, b'.')
                && digits(t + 9..t + 15)
                && at(t + 15, b' ')
        }
        _ => false,
    }
}

/// Whether `line` has log4j's shape (an FE log) rather than glog's (a BE log).
pub fn is_log4j(line: &str) -> bool {
    line.as_bytes().first().is_some_and(u8::is_ascii_digit) && starts_record(line)
}

/// A record being assembled: its first line number and its text, lines joined by `\n`.
#[derive(Debug, Clone)]
pub struct Record {
    pub line: usize,
    pub text: String,
    lines: usize,
    /// Continuation lines or bytes dropped by the caps.
    pub dropped: usize,
}

impl Record {
    pub fn new(line: usize, text: &str) -> Record {
        let mut r = Record {
            line,
            text: String::with_capacity(text.len().min(MAX_RECORD_BYTES)),
            lines: 1,
            dropped: usize::from(text.len() > MAX_RECORD_BYTES),
        };
        r.text.push_str(cap(text));
        r
    }

    /// Adds a continuation line, within the caps.
    pub fn push(&mut self, text: &str) {
        if self.lines >= MAX_RECORD_LINES || self.text.len() >= MAX_RECORD_BYTES {
            self.dropped += 1;
            return;
        }
        self.text.push('\n');
        let room = MAX_RECORD_BYTES - self.text.len();
        let kept = cap_to(text, room);
        if kept.len() < text.len() {
            self.dropped += 1;
        }
        self.text.push_str(kept);
        self.lines += 1;
    }

    /// The record's first line.
    pub fn head(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }
}

fn cap(s: &str) -> &str {
    cap_to(s, MAX_RECORD_BYTES)
}

fn cap_to(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What a log says so far, record by record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing decisive yet.
    #[default]
    Open,
    /// The last decisive record was a readiness line.
    Ready(&'static str),
    /// The root cause: the most specific fatal signature of the first fatal record since the
    /// start (or since the last readiness line, when an FE failed and was restarted).
    Failed(&'static str),
}

impl Verdict {
    /// Takes in the signatures of one complete record (as `classify` orders them) and returns the
    /// fatal signature that now decides, if this record is the one that failed the log.
    pub fn observe(&mut self, sigs: &[&'static Signature]) -> Option<&'static Signature> {
        let top = sigs.first()?;
        if top.severity == Severity::Fatal {
            if !matches!(self, Verdict::Failed(_)) {
                *self = Verdict::Failed(top.id);
                return Some(top);
            }
            return None;
        }
        if let Some(ready) = sigs.iter().find(|s| s.id.contains(".ready.")) {
            *self = Verdict::Ready(ready.id);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::catalog::{classify, Role};

    fn verdict_of(records: &[&str]) -> Verdict {
        let mut v = Verdict::default();
        for r in records {
            v.observe(&classify(r, Role::Fe));
        }
        v
    }

    #[test]
    fn the_cause_on_following_lines_names_the_record() {
        let rec = "2024-01-01 00:00:00,000 ERROR (main|1) [StarRocksFE.start():140] StarRocksFE start failed\njava.io.IOException: checksum mismatch! expect 1 actual 2\n\tat com.starrocks.X.y(X.java:1)";
        assert_eq!(
            verdict_of(&[rec]),
            Verdict::Failed("fe.meta.image-checksum")
        );
    }

    #[test]
    fn follow_on_lines_never_override_the_first_fatal_record() {
        let first = "2024-01-01 00:00:00,000 ERROR (replayer|81) [BDBJournalCursor.deserializeData():241] fail to read journal entity key=7, data=\njava.io.IOException: UNKNOWN Operation Type 10099";
        let then = "2024-01-01 00:00:00,001 ERROR (stateChangeExecutor|77) [GlobalStateMgr.transferToLeader():1035] failed to init journal after transfer to leader! will exit";
        assert_eq!(
            verdict_of(&[first, then]),
            Verdict::Failed("fe.meta.unknown-operation-type")
        );
        assert_eq!(
            verdict_of(&[then, first]),
            Verdict::Failed("fe.meta.journal-init-failed"),
            "the first fatal record decides, whatever comes after"
        );
    }

    #[test]
    fn a_restart_after_a_failure_can_still_start() {
        let fail = "2024-01-01 00:00:00,000 ERROR (main|1) [X.y():1] StarRocksFE start failed";
        let ready = "2024-01-01 00:01:00,000 INFO (main|1) [X.y():1] FE started successfully";
        assert_eq!(
            verdict_of(&[fail, ready]),
            Verdict::Ready("fe.ready.started")
        );
    }

    #[test]
    fn records_are_capped() {
        let mut r = Record::new(1, &"x".repeat(MAX_RECORD_BYTES * 2));
        assert_eq!(r.text.len(), MAX_RECORD_BYTES);
        assert_eq!(r.dropped, 1, "the long first line was cut");
        r.push("more");
        assert_eq!(r.dropped, 2, "nothing is added past the cap");
        assert!(starts_record("I20241111 19:11:26.881520 1 a.cpp:1] x"));
        assert!(starts_record(
            "2025-08-09 08:22:35.431-06:00 ERROR (main|1) [A.b():1] x"
        ));
        assert!(!starts_record("\tat com.starrocks.X.y(X.java:1)"));
    }
}
