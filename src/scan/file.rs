//! One file's pass: large buffers, one search for candidate lines, records, classification.
//!
//! The reader keeps one buffer whatever the input. It splits what it reads into lines and the
//! lines into records exactly as the live watch does ([`crate::watch::record`]), caps a line or a
//! record at 64 KiB (the rest is dropped and counted), and classifies only the records that hold a
//! line the combined catalog regex found, each distinct message once.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;

use super::input::{open, role_from_content, role_from_name, stopped, FileError};
use super::{FileResult, FileVerdict, Match, ScanReport};
use crate::watch::catalog::{candidates, classify, Role, Signature};
use crate::watch::record::{starts_record_bytes, Verdict, MAX_RECORD_BYTES, MAX_RECORD_LINES};

/// Bytes asked of the input per read.
const CHUNK: usize = 1 << 20;
/// What a line may keep; the rest of a longer line is read and dropped.
const MAX_LINE: usize = MAX_RECORD_BYTES;
/// How much of a file's start is looked at to tell an FE log from a BE log.
const SNIFF: usize = 64 << 10;
/// Distinct messages whose classification is remembered (memory stays bounded).
const MAX_KNOWN: usize = 4096;
/// Matches listed in the report (all are counted).
const MAX_MATCHES: usize = 1000;

/// The record being read; its bytes start at `start` in the buffer.
struct Open {
    start: usize,
    line: usize,
    lines: usize,
    candidate: bool,
}

/// One file's pass.
struct FileScan<'a> {
    name: &'a str,
    role: Role,
    report: &'a mut ScanReport,
    verdict: Verdict,
    lines: usize,
    sr_lines: usize,
    cut: usize,
    any_match: bool,
    open: Option<Open>,
    /// After a cut record: continuation lines are dropped until the next record starts.
    dropping: bool,
    /// Messages already classified, and their signatures.
    known: HashMap<Box<[u8]>, Vec<&'static Signature>>,
}

impl FileScan<'_> {
    /// Classifies the record `buf[start..end]` (without its last newline).
    fn finish(&mut self, buf: &[u8], rec: Open, end: usize) {
        if !rec.candidate {
            return;
        }
        let end = end.min(rec.start + MAX_RECORD_BYTES);
        self.classify_bytes(&buf[rec.start..end], rec.line);
    }

    fn classify_bytes(&mut self, bytes: &[u8], line: usize) {
        // Real logs repeat the same message thousands of times (readiness waits, heartbeat
        // warnings) under different timestamps; the catalog matches the message part only, so a
        // message is classified once and found again by its bytes, without decoding the line.
        let message = memchr::memmem::find(bytes, b"] ").map_or(bytes, |i| &bytes[i + 2..]);
        if !self.known.contains_key(message) {
            let text = String::from_utf8_lossy(bytes).replace('\r', "");
            let sigs = classify(&text, self.role);
            if self.known.len() >= MAX_KNOWN {
                self.known.clear();
            }
            self.known.insert(message.into(), sigs);
        }
        let sigs = &self.known[message];
        if sigs.is_empty() {
            return;
        }
        self.any_match = true;
        for sig in sigs {
            *self.report.counts.entry(sig.id).or_default() += 1;
            if self.report.matches.len() < MAX_MATCHES {
                let head = bytes.split(|&b| b == b'\n').next().unwrap_or(b"");
                self.report.matches.push(Match {
                    id: sig.id,
                    severity: sig.severity,
                    file: self.name.to_string(),
                    line,
                    text: String::from_utf8_lossy(head)
                        .trim_end_matches('\r')
                        .chars()
                        .take(300)
                        .collect(),
                    explanation: sig.explanation,
                    hint: sig.remedy,
                });
            }
        }
        self.verdict.observe(sigs);
    }

    /// Reads the lines of `buf[from..end]`; `hits` are the candidate positions, ascending.
    fn lines(&mut self, buf: &[u8], from: usize, end: usize, hits: &[usize]) {
        let mut hi = 0;
        let mut ls = from;
        while ls < end {
            let le = memchr::memchr(b'\n', &buf[ls..end]).map_or(end, |i| ls + i);
            let mut hit = false;
            while hi < hits.len() && hits[hi] <= le {
                hit |= hits[hi] >= ls;
                hi += 1;
            }
            self.line(buf, ls, le, hit);
            ls = le + 1;
        }
    }

    fn line(&mut self, buf: &[u8], ls: usize, le: usize, hit: bool) {
        self.lines += 1;
        let text = &buf[ls..le];
        if starts_record_bytes(text) {
            self.sr_lines += 1;
            self.dropping = false;
            if let Some(o) = self.open.take() {
                self.finish(buf, o, ls.saturating_sub(1));
            }
            self.open = Some(Open {
                start: ls,
                line: self.lines,
                lines: 1,
                candidate: hit,
            });
        } else if self.dropping {
        } else if let Some(o) = self.open.as_mut() {
            o.candidate |= hit;
            o.lines += 1;
            if o.lines >= MAX_RECORD_LINES || le - o.start >= MAX_RECORD_BYTES {
                let o = self.open.take().expect("open record");
                self.finish(buf, o, le);
                self.cut += 1;
                self.dropping = true;
            }
        } else if hit {
            // A line outside any record (fe.out, be.out) stands alone.
            let end = le.min(ls + MAX_LINE);
            self.classify_bytes(&buf[ls..end], self.lines);
        }
    }
}

/// Scans one input into `report`; returns its result.
pub(super) fn scan_one(
    path: &Path,
    forced: Option<Role>,
    report: &mut ScanReport,
) -> Result<FileResult, FileError> {
    let name = if path.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    let (mut input, gzip) = open(path, &name)?;
    let read_err = |e: io::Error| match stopped(&e) {
        Some(sig) => FileError::Interrupted(sig),
        None if gzip
            && matches!(
                e.kind(),
                io::ErrorKind::InvalidInput
                    | io::ErrorKind::InvalidData
                    | io::ErrorKind::UnexpectedEof
            ) =>
        {
            FileError::Gzip(name.clone(), e)
        }
        None => FileError::Read(name.clone(), e),
    };
    let mut buf = vec![0u8; CHUNK + MAX_RECORD_BYTES + MAX_LINE];
    let mut len = 0usize;
    let mut eof = false;
    // The role: --role, else the name, else the first lines.
    let (role, role_from) = match forced {
        Some(r) => (r, "--role"),
        None => match role_from_name(path) {
            Some(r) => (r, "name"),
            None => {
                while len < SNIFF && !eof {
                    let n = input.read(&mut buf[len..]).map_err(read_err)?;
                    eof = n == 0;
                    len += n;
                }
                (
                    role_from_content(&buf[..len]).ok_or(FileError::UnknownRole(name.clone()))?,
                    "content",
                )
            }
        },
    };
    let mut fs = FileScan {
        name: &name,
        role,
        report,
        verdict: Verdict::default(),
        lines: 0,
        sr_lines: 0,
        cut: 0,
        any_match: false,
        open: None,
        dropping: false,
        known: HashMap::new(),
    };
    let mut pos = 0usize; // bytes before `pos` are read (an open record's start, at most)
    let mut skipping = false; // inside the dropped rest of an over-long line
    let mut hits: Vec<usize> = Vec::new();
    loop {
        if !eof && len < buf.len() {
            let n = input.read(&mut buf[len..]).map_err(read_err)?;
            eof = n == 0;
            len += n;
        }
        if skipping {
            match memchr::memchr(b'\n', &buf[pos..len]) {
                Some(i) => {
                    pos += i + 1;
                    skipping = false;
                }
                None => {
                    // Still inside it: drop what was read.
                    len = 0;
                    pos = 0;
                    if eof {
                        break;
                    }
                    continue;
                }
            }
        }
        let end = if eof {
            len
        } else {
            match memchr::memrchr(b'\n', &buf[pos..len]) {
                Some(i) => pos + i,
                None if len == buf.len() => {
                    // No newline in a full buffer: keep the line's first 64 KiB, drop the rest.
                    let cut_end = (pos + MAX_LINE).min(len);
                    find_candidates(role, &buf[..cut_end], pos, &mut hits);
                    fs.lines(&buf, pos, cut_end, &hits);
                    if let Some(o) = fs.open.take() {
                        fs.finish(&buf, o, cut_end);
                    }
                    fs.cut += 1;
                    fs.dropping = true;
                    skipping = true;
                    len = 0;
                    pos = 0;
                    continue;
                }
                None => {
                    compact(&mut buf, &mut len, &mut pos, &mut fs.open);
                    continue;
                }
            }
        };
        if end > pos {
            find_candidates(role, &buf[..end], pos, &mut hits);
            fs.lines(&buf, pos, end, &hits);
        }
        if eof {
            if let Some(o) = fs.open.take() {
                fs.finish(&buf, o, end);
            }
            break;
        }
        // `end` is a newline: the next chunk starts after it.
        pos = end + 1;
        if let Some(o) = fs.open.as_ref() {
            if pos - o.start > MAX_RECORD_BYTES {
                let o = fs.open.take().expect("open record");
                fs.finish(&buf, o, end);
                fs.cut += 1;
                fs.dropping = true;
            }
        }
        compact(&mut buf, &mut len, &mut pos, &mut fs.open);
    }
    let verdict = match fs.verdict {
        Verdict::Failed(_) => FileVerdict::Failed,
        Verdict::Ready(_) => FileVerdict::Started,
        Verdict::Open if fs.sr_lines > 0 || fs.any_match => FileVerdict::StillStarting,
        Verdict::Open => FileVerdict::NoStarRocksLines,
    };
    // While scanning, `verdict` holds the root cause of the first file that failed.
    if let Verdict::Failed(id) = fs.verdict {
        if fs.report.verdict.is_empty() {
            fs.report.verdict = format!("failed: {id}");
        }
    }
    Ok(FileResult {
        file: name.clone(),
        role,
        role_from,
        verdict,
        lines: fs.lines,
        starrocks_lines: fs.sr_lines,
        cut: fs.cut,
    })
}

/// Positions in `hay[from..]`, one per line at most, where a catalog pattern of `role` matches.
/// Only whether a line matches matters here, so each search stops at the earliest match end (no
/// reverse scan for where it began) and the next one starts on the following line.
fn find_candidates(role: Role, hay: &[u8], from: usize, hits: &mut Vec<usize>) {
    hits.clear();
    let re = candidates(role);
    let mut at = from;
    while at < hay.len() {
        let Some(end) = re.shortest_match_at(hay, at) else {
            break;
        };
        let p = end.saturating_sub(1).max(at);
        hits.push(p);
        at = memchr::memchr(b'\n', &hay[p..]).map_or(hay.len(), |i| p + i + 1);
    }
}

/// Moves what is not read yet (and the open record's start) to the front of the buffer.
fn compact(buf: &mut [u8], len: &mut usize, pos: &mut usize, open: &mut Option<Open>) {
    let keep = open.as_ref().map_or(*pos, |o| o.start.min(*pos));
    buf.copy_within(keep..*len, 0);
    *len -= keep;
    *pos -= keep;
    if let Some(o) = open.as_mut() {
        o.start -= keep;
    }
}
