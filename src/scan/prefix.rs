//! Logs as users paste them: StarRocks records behind another tool's prefix, or glued to the end
//! of another line.
//!
//! A log copied out of Kubernetes, Docker, systemd or CI is not a bare fe.log: each line carries
//! the collector's own prefix (`kubectl logs --timestamps` and CI runners put an RFC 3339 time in
//! front, CRI files add `stdout F`, Docker's json-file driver wraps the line in JSON, journald's
//! short format adds `Jan 02 03:04:05 host starrocks_be[123]: `, `docker compose` adds
//! `service  | `). Behind that prefix no line opens a log4j or glog record, so the role and the
//! records were missed. [`Unwrap`] takes these prefixes off as the input is read, so everything
//! after it (role detection, records, the catalog) sees the StarRocks lines themselves; a file that
//! starts without such a prefix is passed through untouched, at no cost. [`glued_record`] finds a
//! record that starts in the middle of a line (a shell printed something without a newline just
//! before it), for the reader to split there; it lives in `watch::record`, which the live watch
//! shares.

use std::io::{self, Read};
use std::sync::OnceLock;

use regex::bytes::Regex;

use crate::watch::record::record_prefix_len;
// The glued-record finder lives beside the record rule, which the live watch shares.
pub(super) use crate::watch::record::glued_record;

/// How much of the start is looked at to decide whether lines carry a prefix.
const SNIFF_BYTES: usize = 64 << 10;
/// How many complete lines are enough to decide.
const SNIFF_LINES: usize = 32;
/// A line longer than this without a newline is passed on as it is (the reader cuts it).
const MAX_PENDING: usize = 1 << 20;

/// The prefixes, each as `(pattern, kind)`; the pattern's end is where the StarRocks line starts.
fn prefixes() -> &'static [(Regex, Kind)] {
    static P: OnceLock<Vec<(Regex, Kind)>> = OnceLock::new();
    P.get_or_init(|| {
        let rfc3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)";
        [
            // CRI (containerd, CRI-O): `<time> stdout|stderr F|P <line>`; P is a part of a line.
            (format!(r"^{rfc3339} (?:stdout|stderr) ([FP]) "), Kind::Cri),
            // journald `-o short` and `-o short-iso`: `<time> <host> <identifier>[<pid>]: `.
            (
                r"^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}) \S+ [^\s:\[]+(?:\[\d+\])?: ".to_string(),
                Kind::Plain,
            ),
            // `kubectl logs --timestamps`, and CI runners (GitHub Actions) that print the same.
            (format!(r"^{rfc3339} "), Kind::Plain),
            // `docker compose up` / `logs`: `<service>  | <line>`.
            (r"^[A-Za-z0-9][A-Za-z0-9_.-]* +\| ".to_string(), Kind::Plain),
            // Docker's json-file driver: `{"log":"<line>\n","stream":"stdout","time":"..."}`.
            (r#"^\{"log":""#.to_string(), Kind::DockerJson),
        ]
        .into_iter()
        .map(|(p, k)| (Regex::new(&p).expect("prefix pattern compiles"), k))
        .collect()
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The rest of the line is the StarRocks line.
    Plain,
    /// CRI: `F` ends the line, `P` continues it on the next entry.
    Cri,
    /// The line is a JSON object whose `log` field is the StarRocks output (with its newline).
    DockerJson,
}

/// Appends the StarRocks line that `line` (without its newline) carries to `out`, with the newline
/// it ends with (none for a partial CRI entry). Returns whether a prefix was recognised.
fn unwrap_line(line: &[u8], out: &mut Vec<u8>) -> bool {
    for (re, kind) in prefixes() {
        let Some(c) = re.captures(line) else {
            continue;
        };
        let rest = &line[c.get(0).expect("whole match").end()..];
        match kind {
            Kind::Plain => {
                out.extend_from_slice(rest);
                out.push(b'\n');
            }
            Kind::Cri => {
                out.extend_from_slice(rest);
                if c.get(1).is_some_and(|m| m.as_bytes() == b"F") {
                    out.push(b'\n');
                }
            }
            Kind::DockerJson => {
                #[derive(serde::Deserialize)]
                struct Entry {
                    log: String,
                }
                match serde_json::from_slice::<Entry>(line) {
                    // Docker keeps the newline in `log`; a line it split (16 KiB) has none and
                    // is continued by the next entry.
                    Ok(e) => out.extend_from_slice(e.log.as_bytes()),
                    Err(_) => continue,
                }
            }
        }
        return true;
    }
    out.extend_from_slice(line);
    out.push(b'\n');
    false
}

/// Whether the lines of `sample` carry a collector's prefix: one of its first complete lines does.
fn has_prefixes(sample: &[u8]) -> bool {
    let mut scratch = Vec::new();
    sample
        .split(|&b| b == b'\n')
        .take(SNIFF_LINES)
        .filter(|l| !l.is_empty() && record_prefix_len(l).is_none())
        .any(|l| {
            scratch.clear();
            unwrap_line(l, &mut scratch)
        })
}

/// A reader that takes the collectors' prefixes off the lines of `inner` (see the module notes).
pub(super) struct Unwrap<R> {
    inner: R,
    /// `None` until the start was looked at; then whether lines are unwrapped.
    unwrapping: Option<bool>,
    /// Read from `inner`, not yet a complete line (or, before the decision, the sniffed start).
    pending: Vec<u8>,
    /// What to hand out next, from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    eof: bool,
}

impl<R: Read> Unwrap<R> {
    pub(super) fn new(inner: R) -> Unwrap<R> {
        Unwrap {
            inner,
            unwrapping: None,
            pending: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            eof: false,
        }
    }

    /// Reads up to 64 KiB more into `pending`; false at the end of the input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let at = self.pending.len();
        self.pending.resize(at + (64 << 10), 0);
        let n = match self.inner.read(&mut self.pending[at..]) {
            Ok(n) => n,
            Err(e) => {
                self.pending.truncate(at);
                return Err(e);
            }
        };
        self.pending.truncate(at + n);
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// Unwraps the complete lines of `pending` (all of it at the end of the input) into `out`.
    fn unwrap_pending(&mut self) {
        self.out.clear();
        self.out_pos = 0;
        let end = if self.eof || self.pending.len() > MAX_PENDING {
            self.pending.len()
        } else {
            match memchr::memrchr(b'\n', &self.pending) {
                Some(i) => i + 1,
                None => return,
            }
        };
        for line in self.pending[..end].split_inclusive(|&b| b == b'\n') {
            let bare = line.strip_suffix(b"\n").unwrap_or(line);
            let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
            unwrap_line(bare, &mut self.out);
            if !line.ends_with(b"\n") {
                // The input's last line had no newline: neither has its unwrapped form.
                if self.out.last() == Some(&b'\n') {
                    self.out.pop();
                }
            }
        }
        self.pending.drain(..end);
    }
}

impl<R: Read> Read for Unwrap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_pos < self.out.len() {
                let n = buf.len().min(self.out.len() - self.out_pos);
                buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Ok(n);
            }
            match self.unwrapping {
                None => {
                    let lines = |p: &[u8]| memchr::memchr_iter(b'\n', p).count();
                    while self.pending.len() < SNIFF_BYTES && lines(&self.pending) < SNIFF_LINES {
                        if !self.fill()? {
                            break;
                        }
                    }
                    let yes = has_prefixes(&self.pending);
                    self.unwrapping = Some(yes);
                    if !yes {
                        self.out = std::mem::take(&mut self.pending);
                        self.out_pos = 0;
                    }
                }
                // A bare log: straight through.
                Some(false) => return self.inner.read(buf),
                Some(true) => {
                    if self.pending.is_empty() && self.eof {
                        return Ok(0);
                    }
                    if !self.eof && memchr::memchr(b'\n', &self.pending).is_none() {
                        self.fill()?;
                    }
                    self.unwrap_pending();
                    if self.out.is_empty() && !self.eof && self.pending.len() <= MAX_PENDING {
                        self.fill()?;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unwrap_all(input: &str) -> String {
        let mut out = String::new();
        Unwrap::new(input.as_bytes())
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    // The StarRocks lines below are real (StarRocks #53044 and #19152, the latter cut short); the
    // CRI, Docker JSON and journald wrappings are those formats' documented shapes around them.
    const FE: &str = "2024-11-20 14:28:03.900+08:00 ERROR (stateChangeExecutor|79) [BDBJournalCursor.deserializeData():253] fail to read journal entity key=13159, data=<DatabaseEntry offset=\"0\" size=\"2\" data=\"50 200 \"/>";
    const TRACE: &str = "java.io.EOFException: null";

    #[test]
    fn cri_lines_are_unwrapped_and_partial_ones_joined() {
        let (a, b) = FE.split_at(60);
        let input = format!(
            "2024-11-20T06:28:03.900123456Z stdout P {a}\n2024-11-20T06:28:03.900123456Z stdout F {b}\n2024-11-20T06:28:03.900223456Z stdout F {TRACE}\n"
        );
        assert_eq!(unwrap_all(&input), format!("{FE}\n{TRACE}\n"));
    }

    #[test]
    fn docker_json_lines_are_decoded() {
        let json = |s: &str| serde_json::to_string(&format!("{s}\n")).unwrap();
        let input = format!(
            "{{\"log\":{},\"stream\":\"stdout\",\"time\":\"2024-11-20T06:28:03.900123456Z\"}}\n{{\"log\":{},\"stream\":\"stdout\",\"time\":\"2024-11-20T06:28:03.9002Z\"}}\n",
            json(FE),
            json(TRACE)
        );
        assert_eq!(unwrap_all(&input), format!("{FE}\n{TRACE}\n"));
    }

    #[test]
    fn journald_kubectl_and_compose_prefixes_come_off() {
        let line = "W0303 11:31:23.762603  1705 heartbeat_server.cpp:74] Fail to handle heartbeat";
        for prefix in [
            "Mar 03 11:31:23 node-7 starrocks_be[1705]: ",
            "2023-03-03T11:31:23+0000 node-7 start_be.sh[1705]: ",
            "2023-03-03T11:31:23.762603123Z ",
            "starrocks-be-0  | ",
        ] {
            assert_eq!(
                unwrap_all(&format!("{prefix}{line}\n")),
                format!("{line}\n")
            );
        }
    }

    #[test]
    fn a_bare_log_passes_through_untouched() {
        let input = format!("{FE}\n{TRACE}\nno newline at the end");
        assert_eq!(unwrap_all(&input), input);
        assert_eq!(unwrap_all(""), "");
    }

    #[test]
    fn a_record_glued_to_another_line_is_found() {
        let glued = b"# DAEMON_PIDFILE_TIMEOUT=10E0227 08:39:28.849490   190 storage_engine.cpp:415] File descriptor number is less than 60000.";
        assert_eq!(glued_record(glued), Some(27));
        let fe = b"some output2024-11-20 14:28:03.900+08:00 ERROR (main|1) [A.b():1] x";
        assert_eq!(glued_record(fe), Some(11));
        assert_eq!(
            glued_record(b"start time: 2024-11-20 14:28:03,900 is when it began"),
            None
        );
        assert_eq!(
            glued_record(b"\tat com.starrocks.X.y(X.java:1) 2024-11-20 14:28:03,900 INFO (a|1)"),
            None
        );
    }
}
