//! Log records and the one verdict rule that the live watch and `scan` share.
//!
//! StarRocks reports a startup failure as `LOG.error("...", e)`: log4j writes the message on the
//! record's first line and the exception with its stack trace on the lines that follow, without a
//! timestamp. The cause (`checksum mismatch!`, `UNKNOWN Operation Type 10023`, a BDB JE exception)
//! is therefore only known once the record is complete. Both readers assemble records the same way
//! (a line with a log4j or glog prefix starts one; other lines continue it, or stand alone when no
//! record is open) and decide with [`Verdict`]: the root cause is the most specific signature of the
//! first fatal record, and follow-on records never override it.

use std::sync::OnceLock;

use regex::Regex;

use super::catalog::{Severity, Signature};

/// Continuation lines kept per record; a runaway stack trace cannot grow memory.
pub const MAX_RECORD_LINES: usize = 200;
/// Bytes kept per record, and per line: the rest of a longer line is read and dropped.
pub const MAX_RECORD_BYTES: usize = 64 << 10;

fn start_pattern() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(
            r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d{3}|[IWEF]\d{4}(\d{4})? \d\d:\d\d:\d\d\.\d{6} )",
        )
        .expect("record prefix compiles")
    })
}

/// Whether `line` opens a log record: log4j's `2024-01-02 03:04:05,678` (or `.678+08:00`) or
/// glog's `I0102 03:04:05.678901 ` (with the year from 3.3: `I20240102 ...`).
pub fn starts_record(line: &str) -> bool {
    let b = line.as_bytes();
    // Cheap shape check first: nearly every line of a real log opens a record, and the few that
    // do not (stack frames, fe.out text) fail here without running the regex.
    match b.first() {
        Some(c) if c.is_ascii_digit() || matches!(c, b'I' | b'W' | b'E' | b'F') => {}
        _ => return false,
    }
    start_pattern().is_match(line)
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
        assert_eq!(verdict_of(&[rec]), Verdict::Failed("fe.meta.image-checksum"));
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
        assert_eq!(verdict_of(&[fail, ready]), Verdict::Ready("fe.ready.started"));
    }

    #[test]
    fn records_are_capped() {
        let mut r = Record::new(1, &"x".repeat(MAX_RECORD_BYTES * 2));
        assert_eq!(r.text.len(), MAX_RECORD_BYTES);
        assert_eq!(r.dropped, 1, "the long first line was cut");
        r.push("more");
        assert_eq!(r.dropped, 2, "nothing is added past the cap");
        assert!(starts_record("I20241111 19:11:26.881520 1 a.cpp:1] x"));
        assert!(starts_record("2025-08-09 08:22:35.431-06:00 ERROR (main|1) [A.b():1] x"));
        assert!(!starts_record("\tat com.starrocks.X.y(X.java:1)"));
    }
}
