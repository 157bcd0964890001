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

use regex::bytes::Regex;

use super::catalog::{waits_forever, Severity, Signature};

/// Continuation lines kept per record; a runaway stack trace cannot grow memory.
pub const MAX_RECORD_LINES: usize = 200;
/// Bytes kept per record, and per line: the rest of a longer line is read and dropped.
pub const MAX_RECORD_BYTES: usize = 64 << 10;

/// Whether `line` opens a log record: log4j's `2024-01-02 03:04:05,678` (or `.678+08:00`) or
/// glog's `I0102 03:04:05.678901 ` (with the year from 3.3: `I20240102 ...`).
pub fn starts_record(line: &str) -> bool {
    starts_record_bytes(line.as_bytes())
}

/// [`starts_record`] on raw bytes, cheap enough to run on every line of a multi-gigabyte log.
pub fn starts_record_bytes(b: &[u8]) -> bool {
    record_prefix_len(b).is_some()
}

/// The length of the timestamp a record's first line opens with (log4j's 23 bytes
/// `2024-01-02 03:04:05,678`, glog's `I0102 03:04:05.678901 ` or `I20240102 03:04:05.678901 `), or
/// `None` when `b` opens no record. `scan` starts its search after it: no catalog pattern can
/// begin inside a timestamp.
pub fn record_prefix_len(b: &[u8]) -> Option<usize> {
    match b.first()? {
        b'0'..=b'9' => LOG4J.fits(b).then_some(LOG4J.len),
        b'I' | b'W' | b'E' | b'F' => {
            if GLOG_YEAR.fits(b) {
                Some(GLOG_YEAR.len)
            } else {
                GLOG.fits(b).then_some(GLOG.len)
            }
        }
        _ => None,
    }
}

/// Where a log4j or glog record starts inside `line` after other text, when one does: a record
/// glued to the end of a line a shell printed without its newline
/// (`# DAEMON_PIDFILE_TIMEOUT=10E0227 08:39:28.849490   190 storage_engine.cpp:415] ...`). The
/// timestamp must be followed by what follows it in a real record (the log level and `(thread|id)`
/// for log4j, the thread id and `file:line] ` for glog), so a message that quotes a time is not cut.
pub fn glued_record(line: &[u8]) -> Option<usize> {
    if line.len() < 24 || line[0] == b'\t' {
        return None;
    }
    static AFTER: OnceLock<(Regex, Regex)> = OnceLock::new();
    let (log4j, glog) = AFTER.get_or_init(|| {
        (
            Regex::new(r"^(?:Z|[+-]\d\d:\d\d)? (?:INFO|WARN|ERROR|DEBUG|FATAL|TRACE) \(")
                .expect("compiles"),
            Regex::new(r"^ *\d+ [^\s\]]+:\d+\] ").expect("compiles"),
        )
    });
    // The first `:` of the time is 13 bytes into log4j's timestamp, 8 or 12 into glog's.
    for colon in memchr::memchr_iter(b':', line) {
        for back in [13usize, 8, 12] {
            let Some(start) = colon.checked_sub(back).filter(|&s| s > 0) else {
                continue;
            };
            let rest = &line[start..];
            let Some(n) = record_prefix_len(rest) else {
                continue;
            };
            let after = if back == 13 { log4j } else { glog };
            if after.is_match(&rest[n..]) {
                return Some(start);
            }
        }
    }
    None
}

/// A fixed-shape prefix checked eight bytes at a time: `D` is a digit, `*` a comma or a full stop,
/// `?` anything (checked elsewhere), any other byte itself. Four words, the last ones overlapping,
/// cover shapes of 16 to 32 bytes.
struct Shape {
    len: usize,
    /// Per word: its offset, the bits to set first (`*` becomes `.`), the bits compared, their
    /// expected value, and the low nibbles of the digits.
    words: [(usize, u64, u64, u64, u64); 4],
    /// How many of `words` are needed: three cover up to 24 bytes.
    used: usize,
}

const LOG4J: Shape = Shape::new(b"DDDD-DD-DD DD:DD:DD*DDD");
const GLOG: Shape = Shape::new(b"?DDDD DD:DD:DD.DDDDDD ");
const GLOG_YEAR: Shape = Shape::new(b"?DDDDDDDD DD:DD:DD.DDDDDD ");

impl Shape {
    const fn new(t: &[u8]) -> Shape {
        assert!(t.len() >= 16 && t.len() <= 32);
        let offsets = [
            0,
            8,
            if t.len() >= 24 { 16 } else { t.len() - 8 },
            t.len() - 8,
        ];
        let mut words = [(0, 0, 0, 0, 0); 4];
        let mut w = 0;
        while w < 4 {
            let (off, mut set, mut mask, mut want, mut low) = (offsets[w], 0u64, 0u64, 0u64, 0u64);
            let mut i = 0;
            while i < 8 {
                let sh = 8 * i;
                match t[off + i] {
                    b'D' => {
                        mask |= 0xf0 << sh;
                        want |= 0x30 << sh;
                        low |= 0x0f << sh;
                    }
                    b'*' => {
                        // ',' is 0x2c and '.' 0x2e: with bit 1 set, both read '.', nothing else does.
                        set |= 0x02 << sh;
                        mask |= 0xff << sh;
                        want |= (b'.' as u64) << sh;
                    }
                    b'?' => {}
                    c => {
                        mask |= 0xff << sh;
                        want |= (c as u64) << sh;
                    }
                }
                i += 1;
            }
            words[w] = (off, set, mask, want, low);
            w += 1;
        }
        Shape {
            len: t.len(),
            words,
            used: if t.len() <= 24 { 3 } else { 4 },
        }
    }

    fn fits(&self, b: &[u8]) -> bool {
        if b.len() < self.len {
            return false;
        }
        self.words[..self.used]
            .iter()
            .all(|&(off, set, mask, want, low)| {
                let mut word = [0u8; 8];
                word.copy_from_slice(&b[off..off + 8]);
                let x = u64::from_le_bytes(word) | set;
                // A digit's high nibble is 3 and its low nibble plus 6 stays below 16.
                x & mask == want && ((x & low) + (low & 0x0606_0606_0606_0606)) & (low << 4) == 0
            })
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
    /// The last decisive record says the node waits for something that never comes by itself
    /// (not added to the group, storage of another cluster): it will never start or join.
    Waiting(&'static str),
}

impl Verdict {
    /// Takes in the signatures of one complete record (as `classify` orders them) and returns the
    /// signature that now decides, if this record is the one that failed the log (fatal) or the
    /// first that says it waits forever.
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
            return None;
        }
        if matches!(self, Verdict::Failed(_)) {
            return None;
        }
        // A wait that never ends: decisive from its first record, since the node says it will
        // retry forever; a later readiness line (someone added the node) still wins.
        if let Some(wait) = sigs.iter().find(|s| waits_forever(s.id)) {
            let first = !matches!(self, Verdict::Waiting(_));
            *self = Verdict::Waiting(wait.id);
            return first.then_some(*wait);
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
    fn a_node_that_waits_forever_is_not_still_starting() {
        let wait = "2025-07-14 11:20:45.374-04:00 WARN (main|1) [NodeMgr.getClusterIdAndRoleOnStartup():382] current node is not added to the group. please add it first. sleep 5 seconds and retry, current helper nodes: [fe-0:9010]";
        let ready = "2025-07-14 11:30:00.000-04:00 INFO (main|1) [X.y():1] FE started successfully";
        assert_eq!(
            verdict_of(&[wait, wait]),
            Verdict::Waiting("fe.join.not-added")
        );
        assert_eq!(
            verdict_of(&[wait, ready]),
            Verdict::Ready("fe.ready.started")
        );
        let mut v = Verdict::default();
        assert!(
            v.observe(&classify(wait, Role::Fe)).is_some(),
            "the first one decides"
        );
        assert!(
            v.observe(&classify(wait, Role::Fe)).is_none(),
            "the repeats do not"
        );
        let fail = "2024-01-01 00:00:00,000 ERROR (main|1) [X.y():1] StarRocksFE start failed";
        assert_eq!(
            verdict_of(&[fail, wait]),
            Verdict::Failed("fe.start.failed")
        );
    }

    /// The shapes as first written, byte by byte: the reference for the word-wise check.
    fn prefix_len_bytewise(b: &[u8]) -> Option<usize> {
        let digits =
            |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
        let at = |i: usize, c: u8| b.get(i) == Some(&c);
        match b.first() {
            Some(c) if c.is_ascii_digit() => (digits(0..4)
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
                && digits(20..23))
            .then_some(23),
            Some(b'I' | b'W' | b'E' | b'F') => {
                let date = if digits(1..9) && at(9, b' ') {
                    9
                } else if digits(1..5) && at(5, b' ') {
                    5
                } else {
                    return None;
                };
                let t = date + 1;
                (digits(t..t + 2)
                    && at(t + 2, b':')
                    && digits(t + 3..t + 5)
                    && at(t + 5, b':')
                    && digits(t + 6..t + 8)
                    && at(t + 8, b'.')
                    && digits(t + 9..t + 15)
                    && at(t + 15, b' '))
                .then_some(t + 16)
            }
            _ => None,
        }
    }

    proptest::proptest! {
        /// Lines made of real prefixes with bytes changed, cut or appended: the word-wise check
        /// agrees with the byte-wise one on every one of them.
        #[test]
        fn prefix_check_agrees_with_the_bytewise_one(
            base in 0usize..3,
            edits in proptest::collection::vec((0usize..30, proptest::num::u8::ANY), 0..3),
            cut in 0usize..40,
        ) {
            let real: [&[u8]; 3] = [
                b"2024-01-02 03:04:05,678+08:00 INFO x",
                b"I0102 03:04:05.678901 1 a.cpp:1] x",
                b"W20240102 03:04:05.678901 1 a.cpp:1] x",
            ];
            let mut line = real[base].to_vec();
            for (i, byte) in edits {
                if i < line.len() {
                    line[i] = byte;
                }
            }
            line.truncate(cut);
            proptest::prop_assert_eq!(record_prefix_len(&line), prefix_len_bytewise(&line));
        }
    }

    #[test]
    fn every_byte_at_every_place_of_a_prefix_is_checked() {
        for real in [
            &b"2024-01-02 03:04:05.678 INFO x"[..],
            b"E0102 03:04:05.678901 1 a.cpp:1] x",
            b"F20240102 03:04:05.678901 1 a.cpp:1] x",
        ] {
            for i in 0..27 {
                for byte in 0..=255u8 {
                    let mut line = real.to_vec();
                    line[i] = byte;
                    assert_eq!(
                        record_prefix_len(&line),
                        prefix_len_bytewise(&line),
                        "{}",
                        String::from_utf8_lossy(&line)
                    );
                }
            }
        }
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
