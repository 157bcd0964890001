//! One file's pass: large buffers, lines, records, candidate lines, classification.
//!
//! The reader keeps one buffer whatever the input. It splits what it reads into lines (the
//! newlines of 64 bytes at a time) and the lines into records exactly as the live watch does
//! ([`crate::watch::record`]), caps a line or a record at 64 KiB (the rest is dropped and counted),
//! asks the [`Finder`] about each line of a record not yet found, and classifies only the records
//! that hold a line it found, each distinct message once.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read};
use std::path::Path;

use super::input::{open, role_from_content, role_from_name, stopped, FileError};
use super::{FileResult, FileVerdict, Match, ScanReport};
use regex_automata::Span;

use super::finder::Finder;
use crate::watch::catalog::{classify, explain, Role, Signature};
use crate::watch::record::{record_prefix_len, Verdict, MAX_RECORD_BYTES, MAX_RECORD_LINES};

/// Bytes asked of the input per read.
const CHUNK: usize = 1 << 20;
/// What a line may keep; the rest of a longer line is read and dropped.
const MAX_LINE: usize = MAX_RECORD_BYTES;
/// How much of a file's start is looked at to tell an FE log from a BE log.
const SNIFF: usize = 64 << 10;
/// Distinct messages whose classification is remembered, and the bytes they may hold together:
/// memory stays bounded whatever the log, even one whose every record is a new 64 KiB message.
const MAX_KNOWN: usize = 4096;
const MAX_KNOWN_BYTES: usize = 4 << 20;
/// Matches listed in the report (all are counted).
const MAX_MATCHES: usize = 1000;

/// A message's signatures, and the key that groups its repeats.
type Known = (Vec<&'static Signature>, u64);

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
    /// With each, the key that groups its repeats (see [`message_hash`]).
    known: HashMap<Box<[u8]>, Known, BuildHasherDefault<FxHasher>>,
    /// The bytes of the messages in `known`.
    known_bytes: usize,
    finder: Finder,
    /// The match each (signature, message hash) of this file was listed as: at most
    /// `MAX_MATCHES` entries, so bounded whatever the log.
    repeats: HashMap<(usize, u64), usize, BuildHasherDefault<FxHasher>>,
    /// Where the next literal of the catalog is (see [`FileScan::might_match`]), in the part of
    /// the buffer being read, which ends at `chunk_end`.
    next_literal: usize,
    chunk_end: usize,
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
        let message = memchr::memchr_iter(b']', bytes)
            .find(|&i| bytes.get(i + 1) == Some(&b' '))
            .map_or(bytes, |i| &bytes[i + 2..]);
        if !self.known.contains_key(message) {
            let text = String::from_utf8_lossy(bytes).replace('\r', "");
            let sigs = classify(&text, self.role);
            if self.known.len() >= MAX_KNOWN || self.known_bytes + message.len() > MAX_KNOWN_BYTES {
                self.known.clear();
                self.known_bytes = 0;
            }
            self.known_bytes += message.len();
            let key = message_hash(message);
            self.known.insert(message.into(), (sigs, key));
        }
        let (sigs, key) = &self.known[message];
        let key = *key;
        if sigs.is_empty() {
            return;
        }
        self.any_match = true;
        for sig in sigs {
            *self.report.counts.entry(sig.id).or_default() += 1;
            // An identical record repeated (same signature, same message) is one match counted.
            // Keyed by the entry's address: each signature is one static.
            let group = (std::ptr::from_ref(*sig) as usize, key);
            if let Some(&i) = self.repeats.get(&group) {
                let m = &mut self.report.matches[i];
                m.count += 1;
                m.last_line = line;
                continue;
            }
            if self.report.matches.len() < MAX_MATCHES {
                let head = bytes.split(|&b| b == b'\n').next().unwrap_or(b"");
                let text: String = String::from_utf8_lossy(head)
                    .trim_end_matches('\r')
                    .chars()
                    .take(300)
                    .collect();
                self.repeats.insert(group, self.report.matches.len());
                self.report.matches.push(Match {
                    id: sig.id,
                    severity: sig.severity,
                    file: self.name.to_string(),
                    line,
                    explanation: explain(sig, &text),
                    text,
                    hint: sig.remedy,
                    count: 1,
                    last_line: line,
                });
            }
        }
        self.verdict.observe(sigs);
    }

    /// Reads the lines of `buf[from..end]`.
    fn lines(&mut self, buf: &[u8], from: usize, end: usize) {
        // Where the patterns' literals allow it, the next place a match could start; lines before
        // it are only counted and assembled.
        self.chunk_end = end;
        if let Some(lit) = self.finder.literals {
            self.next_literal = lit
                .find(&buf[..end], Span::from(from..end))
                .map_or(usize::MAX, |sp| sp.start);
        }
        let mut ls = from;
        // Lines are some 100 bytes long: one search per line would cost more than finding every
        // newline of 64 bytes at once and taking them from the bit mask.
        let mut block = from;
        while block + 64 <= end {
            let mut mask = newline_mask(&buf[block..block + 64]);
            while mask != 0 {
                let le = block + mask.trailing_zeros() as usize;
                mask &= mask - 1;
                self.line(buf, ls, le);
                ls = le + 1;
            }
            block += 64;
        }
        while ls < end {
            let le = memchr::memchr(b'\n', &buf[ls..end]).map_or(end, |i| ls + i);
            self.line(buf, ls, le);
            ls = le + 1;
        }
    }

    /// Whether a match can start in the line `buf[ls..le]`: always without a literal search;
    /// with one, when the next literal is in this line (or at its end, to be safe).
    #[inline(always)]
    fn might_match(&mut self, buf: &[u8], ls: usize, le: usize) -> bool {
        let Some(lit) = self.finder.literals else {
            return true;
        };
        if self.next_literal < ls {
            let end = self.chunk_end;
            self.next_literal = lit
                .find(&buf[..end], Span::from(ls..end))
                .map_or(usize::MAX, |sp| sp.start);
        }
        self.next_literal <= le
    }

    #[inline(always)]
    fn line(&mut self, buf: &[u8], ls: usize, le: usize) {
        self.lines += 1;
        let prefix = record_prefix_len(&buf[ls..le]);
        // A record glued to the end of another line: the text before it, then the record.
        if prefix.is_none() && !self.dropping {
            if let Some(at) = super::prefix::glued_record(&buf[ls..le]) {
                self.piece(buf, ls, ls + at, None);
                let glued = record_prefix_len(&buf[ls + at..le]);
                self.piece(buf, ls + at, le, glued);
                return;
            }
        }
        self.piece(buf, ls, le, prefix);
    }

    /// One line, or one part of a line that holds a glued record; `prefix` is the length of the
    /// record timestamp it opens with.
    #[inline(always)]
    fn piece(&mut self, buf: &[u8], ls: usize, le: usize, prefix: Option<usize>) {
        if let Some(prefix) = prefix {
            let from = if self.finder.skip_prefix {
                ls + prefix
            } else {
                ls
            };
            let hit = self.might_match(buf, ls, le) && self.finder.matches(&buf[..le], from, le);
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
        } else if self.open.is_some() {
            // A record already found needs no second look at its stack trace.
            let found = self.open.as_ref().is_some_and(|o| o.candidate);
            let hit =
                found || (self.might_match(buf, ls, le) && self.finder.matches(&buf[..le], ls, le));
            let o = self.open.as_mut().expect("open record");
            o.candidate = hit;
            o.lines += 1;
            if o.lines >= MAX_RECORD_LINES || le - o.start >= MAX_RECORD_BYTES {
                let o = self.open.take().expect("open record");
                self.finish(buf, o, le);
                self.cut += 1;
                self.dropping = true;
            }
        } else if self.might_match(buf, ls, le) && self.finder.matches(&buf[..le], ls, le) {
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
    let (input, gzip) = open(path, &name)?;
    // Container and journal prefixes come off before anything looks at the lines.
    let mut input = super::prefix::Unwrap::new(input);
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
        known: HashMap::default(),
        known_bytes: 0,
        finder: Finder::new(role),
        repeats: HashMap::default(),
        next_literal: 0,
        chunk_end: 0,
    };
    let mut pos = 0usize; // bytes before `pos` are read (an open record's start, at most)
    let mut skipping = false; // inside the dropped rest of an over-long line
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
                    fs.lines(&buf, pos, cut_end);
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
            fs.lines(&buf, pos, end);
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
        Verdict::Waiting(_) => FileVerdict::WaitingForever,
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
    if let Verdict::Waiting(id) = fs.verdict {
        fs.report.waiting.get_or_insert(id);
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

/// Bit `i` is set where `block[i]` is a newline (`block` is 64 bytes long): four vector
/// compares on x86_64, whose SSE2 every such CPU has.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn newline_mask(block: &[u8]) -> u64 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    assert!(block.len() >= 64);
    let mut mask = 0u64;
    for i in 0..4 {
        // SAFETY: SSE2 is part of x86_64, and the 16 bytes loaded are inside `block` (checked
        // above); the unaligned load has no alignment requirement.
        let bits = unsafe {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * i).cast());
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8)))
        };
        mask |= u64::from(bits as u16) << (16 * i);
    }
    mask
}

/// Bit `i` is set where `block[i]` is a newline (`block` is 64 bytes long).
#[cfg(not(target_arch = "x86_64"))]
fn newline_mask(block: &[u8]) -> u64 {
    block[..64]
        .iter()
        .enumerate()
        .fold(0u64, |m, (i, &b)| m | (u64::from(b == b'\n') << i))
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

/// The hash of the message cache: the messages are short and hashed once per candidate record,
/// where SipHash cost more than the rest of the lookup. Its keys come from the logs, but the
/// cache holds at most `MAX_KNOWN` of them, so colliding messages cost time, never memory.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.add(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        let mut last = [0u8; 8];
        let rest = words.remainder();
        last[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(last));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// The key of a message for grouping identical records: 64 bits of SipHash, so the key costs no
/// memory whatever the message's length.
fn message_hash(message: &[u8]) -> u64 {
    // The default hasher with its fixed keys: the same message gives the same key all along.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    // The last record of a file may keep its final newline; the others do not.
    let end = message
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |i| i + 1);
    h.write(&message[..end]);
    h.finish()
}
