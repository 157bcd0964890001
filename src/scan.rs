//! `sr-rehearse scan`: classify StarRocks logs after the fact.
//!
//! When an upgrade failed somewhere, the question is "why, and what now?". Scan streams any number
//! of fe.log / fe.warn.log / fe.out / be.INFO / be.WARNING / be.out files (plain or gzip, rotated
//! names included, standard input as `-`) through the same signature catalog and the same verdict
//! rule as the live watch ([`crate::watch::record`]), and ends with one verdict.
//!
//! Release engineers scan whole log archives, so the reader works at the speed of the disk: it
//! reads large buffers, runs the catalog once over each buffer as one combined regex to find the
//! few candidate lines, and classifies only the records holding them. Memory stays flat whatever
//! the input: one buffer, and a record or line longer than 64 KiB is cut (and counted, and said).
//! A file that cannot be read or recognised is reported and the others are still scanned; a signal
//! ends the scan with 128 + the signal (130, 143), even while it waits on a pipe or a FIFO.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::report::exit;
use crate::watch::catalog::{candidates, classify, Role, Severity, Signature, CATALOG};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileVerdict {
    Started,
    Failed,
    StillStarting,
    #[serde(rename = "no_starrocks_lines")]
    NoStarRocksLines,
}

#[derive(Debug, Clone, Serialize)]
pub struct Match {
    pub id: &'static str,
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub text: String,
    pub explanation: &'static str,
    pub hint: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileResult {
    pub file: String,
    pub role: Role,
    /// Whether the role came from `--role`, the file's name, or its content.
    pub role_from: &'static str,
    pub verdict: FileVerdict,
    pub lines: usize,
    pub starrocks_lines: usize,
    /// Lines or records longer than 64 KiB, of which only the first 64 KiB were classified.
    pub cut: usize,
}

/// A file that could not be scanned; the others were.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub file: String,
    pub error: String,
    /// The exit code this problem alone would give: 2 bad input, 3 environment.
    pub exit_code: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// `started`, `failed: <id>`, `still starting` or `no StarRocks lines found`.
    pub verdict: String,
    pub files: Vec<FileResult>,
    /// Files that could not be scanned, each with why.
    pub problems: Vec<Problem>,
    /// Every match, in file and line order (at most the first 1000).
    pub matches: Vec<Match>,
    /// How often each signature matched.
    pub counts: BTreeMap<&'static str, usize>,
}

impl ScanReport {
    /// The verdict as data: `started`, `failed`, `still_starting` or `no_starrocks_lines`, and
    /// the signature that names a failure.
    pub fn verdict_parts(&self) -> (&'static str, Option<&str>) {
        match self.verdict.strip_prefix("failed: ") {
            Some(id) => ("failed", Some(id)),
            None => match self.verdict.as_str() {
                "started" => ("started", None),
                "still starting" => ("still_starting", None),
                _ => ("no_starrocks_lines", None),
            },
        }
    }

    /// What `scan --format json` writes: the report with the fields every JSON report of the
    /// tool has (`schema`, `command`, `exit_code`), the verdict as data (`verdict`,
    /// `root_cause`) and the sentence in `summary` (docs/report-schema.json, `$defs/scan`).
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        let mut v = serde_json::to_value(self)?;
        let (state, cause) = self.verdict_parts();
        if let Some(m) = v.as_object_mut() {
            m.insert("schema".into(), 1.into());
            m.insert("command".into(), "scan".into());
            m.insert("tool_version".into(), env!("CARGO_PKG_VERSION").into());
            m.insert("summary".into(), self.verdict.clone().into());
            m.insert("verdict".into(), state.into());
            m.insert("root_cause".into(), cause.map(String::from).into());
            m.insert("exit_code".into(), self.exit_code().into());
        }
        Ok(v)
    }

    /// The documented exit code: 1 when a log failed, else 2 or 3 when a file could not be
    /// scanned, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.verdict.starts_with("failed") {
            exit::FAIL
        } else {
            self.problems
                .iter()
                .map(|p| p.exit_code)
                .min()
                .unwrap_or(exit::PASS)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("interrupted by signal {0}; no verdict")]
    Interrupted(i32),
}

impl ScanError {
    pub fn exit_code(&self) -> i32 {
        match self {
            // 128 + the signal, as for the rehearsals: 130 for SIGINT, 143 for SIGTERM.
            ScanError::Interrupted(sig) => 128 + sig,
        }
    }
}

/// Why one file could not be scanned.
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("failed to open {0}: {1}; check the path and that it is readable")]
    Open(String, #[source] io::Error),
    #[error("failed to scan {0}: it is a directory; name the log files in it (e.g. {0}/fe.log*)")]
    Directory(String),
    #[error("failed to decompress {0}: not a valid gzip file ({1}); check the file or scan the uncompressed log")]
    Gzip(String, #[source] io::Error),
    #[error("failed to read {0}: {1}")]
    Read(String, #[source] io::Error),
    #[error("cannot tell whether {0} is an FE or a BE log from its name or its first lines; pass --role fe or --role be")]
    UnknownRole(String),
    #[error("interrupted")]
    Interrupted(i32),
}

impl FileError {
    fn exit_code(&self) -> i32 {
        match self {
            FileError::Read(..) => exit::ENVIRONMENT,
            FileError::Interrupted(sig) => 128 + sig,
            _ => exit::BAD_INPUT,
        }
    }
}

/// The role a file's name implies: `fe.log.20240101-1`, `be.WARNING.log.20240101-120000`,
/// `node3-fe.out.gz`, …
pub fn role_from_name(p: &Path) -> Option<Role> {
    let name = p.file_name()?.to_string_lossy().to_ascii_lowercase();
    let has = |stem: &str| {
        name.match_indices(stem)
            .any(|(i, _)| i == 0 || matches!(name.as_bytes()[i - 1], b'.' | b'-' | b'_'))
    };
    if ["fe.log", "fe.warn.log", "fe.out"].iter().any(|s| has(s)) {
        Some(Role::Fe)
    } else if [
        "be.info",
        "be.warning",
        "be.out",
        "cn.info",
        "cn.warning",
        "cn.out",
    ]
    .iter()
    .any(|s| has(s))
    {
        Some(Role::Be)
    } else {
        None
    }
}

/// The role a log's first lines imply: log4j records are the FE's, glog records the BE's; the
/// start scripts' own lines mark fe.out (`using java version`, JVM options) and be.out
/// (`start time: …, server uptime: …`); failing that, which role's catalog entries match.
pub fn role_from_content(sample: &[u8]) -> Option<Role> {
    let (mut fe, mut be) = (0usize, 0usize);
    for line in sample.split(|&b| b == b'\n').take(2000) {
        if starts_record_bytes(line) {
            if line[0].is_ascii_digit() {
                fe += 2;
            } else {
                be += 2;
            }
            continue;
        }
        let text = String::from_utf8_lossy(line);
        if text.starts_with("using java version")
            || text.starts_with("-Xmx")
            || text.contains("com.starrocks.")
            || text.contains("StarRocksFE")
        {
            fe += 2;
        } else if text.starts_with("start time:") && text.contains("server uptime:")
            || text.contains("starrocks_be")
        {
            be += 2;
        }
        fe += classify(&text, Role::Fe).len();
        be += classify(&text, Role::Be).len();
    }
    match fe.cmp(&be) {
        std::cmp::Ordering::Greater => Some(Role::Fe),
        std::cmp::Ordering::Less => Some(Role::Be),
        std::cmp::Ordering::Equal => None,
    }
}

/// A file or standard input, read so that a signal is noticed even while no data arrives: a pipe
/// or FIFO is polled with a short timeout before each read.
struct Source {
    file: File,
    pollable: bool,
}

/// Marks the read error that stands for a signal.
#[derive(Debug)]
struct Stopped(i32);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by signal {}", self.0)
    }
}

impl std::error::Error for Stopped {}

fn stopped(e: &io::Error) -> Option<i32> {
    e.get_ref()
        .and_then(|x| x.downcast_ref::<Stopped>())
        .map(|s| s.0)
        .or_else(crate::signals::interrupted)
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use nix::poll::{poll, PollFd, PollFlags};
        loop {
            if let Some(sig) = crate::signals::interrupted() {
                return Err(io::Error::other(Stopped(sig)));
            }
            if self.pollable {
                let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, 200u16) {
                    Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                    Ok(_) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            match self.file.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}

/// Opens `path` (`-` is standard input), decompressing gzip found by its magic bytes. Nothing is
/// read twice and nothing is reopened, so pipes, FIFOs and `/dev/stdin` lose no bytes.
fn open(path: &Path, name: &str) -> Result<(Box<dyn Read>, bool), FileError> {
    let file = if path.as_os_str() == "-" {
        io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(File::from)
            .map_err(|e| FileError::Open(name.into(), e))?
    } else {
        let meta = std::fs::metadata(path).map_err(|e| FileError::Open(name.into(), e))?;
        if meta.is_dir() {
            return Err(FileError::Directory(name.into()));
        }
        File::open(path).map_err(|e| FileError::Open(name.into(), e))?
    };
    let pollable = !file
        .metadata()
        .map_err(|e| FileError::Open(name.into(), e))?
        .is_file();
    let mut src = Source { file, pollable };
    let mut head = Vec::with_capacity(2);
    while head.len() < 2 {
        let mut b = [0u8; 2];
        let n = src
            .read(&mut b[..2 - head.len()])
            .map_err(|e| match stopped(&e) {
                Some(sig) => FileError::Interrupted(sig),
                None => FileError::Read(name.into(), e),
            })?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&b[..n]);
    }
    let gzip = head == [0x1f, 0x8b];
    let chained = io::Cursor::new(head).chain(src);
    if gzip {
        Ok((Box::new(flate2::read::MultiGzDecoder::new(chained)), true))
    } else {
        Ok((Box::new(chained), false))
    }
}

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
fn scan_one(
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

/// Scans `files` in order; `role` overrides what the names and contents say. A file that cannot
/// be scanned is listed in `problems` and the others are still scanned; only a signal stops it.
pub fn scan(files: &[PathBuf], role: Option<Role>) -> Result<ScanReport, ScanError> {
    let mut report = ScanReport {
        verdict: String::new(),
        files: Vec::new(),
        problems: Vec::new(),
        matches: Vec::new(),
        counts: BTreeMap::new(),
    };
    for path in files {
        if let Some(sig) = crate::signals::interrupted() {
            return Err(ScanError::Interrupted(sig));
        }
        match scan_one(path, role, &mut report) {
            Ok(f) => report.files.push(f),
            Err(FileError::Interrupted(sig)) => return Err(ScanError::Interrupted(sig)),
            Err(e) => report.problems.push(Problem {
                file: path.display().to_string(),
                exit_code: e.exit_code(),
                error: e.to_string(),
            }),
        }
    }
    if report.verdict.is_empty() {
        let has = |v: FileVerdict| report.files.iter().any(|f| f.verdict == v);
        report.verdict = if has(FileVerdict::Started) {
            "started".into()
        } else if has(FileVerdict::StillStarting) {
            "still starting".into()
        } else {
            "no StarRocks lines found".into()
        };
    }
    Ok(report)
}

/// The human rendering: each distinct signature with where it first matched and its remedy.
pub fn render_human(r: &ScanReport) -> String {
    let mut s = String::new();
    for f in &r.files {
        s.push_str(&format!(
            "{}: {:?} log ({}), {} lines, {}\n",
            f.file,
            f.role,
            match f.role_from {
                "content" => "recognised from its content",
                "name" => "from its name",
                _ => "--role",
            },
            f.lines,
            match f.verdict {
                FileVerdict::Started => "started",
                FileVerdict::Failed => "failed",
                FileVerdict::StillStarting => "still starting",
                FileVerdict::NoStarRocksLines => "no StarRocks lines found",
            }
        ));
        if f.cut > 0 {
            s.push_str(&format!(
                "  {} over-long line(s) or record(s) cut: only their first 64 KiB were classified\n",
                f.cut
            ));
        }
    }
    for p in &r.problems {
        s.push_str(&format!("{}: not scanned: {}\n", p.file, p.error));
    }
    for m in &r.matches {
        let sev = match m.severity {
            Severity::Fatal => "fatal",
            Severity::Warning => "warning",
            Severity::Progress => "progress",
        };
        s.push_str(&format!(
            "  {}:{} [{sev}] {}: {}\n",
            m.file, m.line, m.id, m.explanation
        ));
        s.push_str(&format!("      {}\n", m.text));
        if !m.hint.is_empty() && m.severity != Severity::Progress {
            s.push_str(&format!("      what to do: {}\n", m.hint));
        }
    }
    if r.matches.len() < r.counts.values().sum::<usize>() {
        s.push_str(&format!(
            "  (first {} matches shown; counts: {:?})\n",
            r.matches.len(),
            r.counts
        ));
    }
    s.push_str(&format!("verdict: {}\n", r.verdict));
    s
}

/// `scan --list`: the catalog.
pub fn render_catalog() -> String {
    let mut s = String::new();
    for sig in CATALOG {
        s.push_str(&format!(
            "{:<34} {:?}/{:<8} {}\n",
            sig.id,
            sig.role,
            format!("{:?}", sig.severity).to_lowercase(),
            sig.explanation
        ));
        if !sig.remedy.is_empty() {
            s.push_str(&format!("{:<34} what to do: {}\n", "", sig.remedy));
        }
    }
    s
}

/// The `scan` command: prints the report (or the catalog) and returns the exit code. Problems with
/// single files go to standard error, one line each.
pub fn run(
    files: &[PathBuf],
    role: Option<crate::cli::ScanRole>,
    format: crate::cli::Format,
    list: bool,
) -> Result<i32, serde_json::Error> {
    use crate::cli::{Format, ScanRole};
    if list {
        match format {
            Format::Human => crate::output::out(&render_catalog()),
            Format::Json => crate::output::outln(&serde_json::to_string_pretty(CATALOG)?),
        }
        return Ok(exit::PASS);
    }
    let role = role.map(|r| match r {
        ScanRole::Fe => Role::Fe,
        ScanRole::Be => Role::Be,
    });
    match scan(files, role) {
        Ok(r) => {
            for p in &r.problems {
                crate::output::err(&format!("sr-rehearse scan: {}\n", p.error));
            }
            match format {
                Format::Human => crate::output::out(&render_human(&r)),
                Format::Json => crate::output::outln(&serde_json::to_string_pretty(&r.to_json()?)?),
            }
            Ok(r.exit_code())
        }
        Err(e) => {
            crate::output::err(&format!("sr-rehearse scan: {e}\n"));
            Ok(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_tells_fe_from_be() {
        let fe = b"2024-01-01 00:00:00,000 INFO (main|1) [StarRocksFE.start():1] x\n";
        let be = b"I0101 00:00:00.000000 1 starrocks_be.cpp:1] x\n";
        let fe_out = b"using java version 17\n-Xmx8192m\nstart time: Fri\n";
        let be_out =
            b"start time: Fri Nov 27 08:00:00 UTC 2026, server uptime: 08:00:00 up 1 day\n";
        assert_eq!(role_from_content(fe), Some(Role::Fe));
        assert_eq!(role_from_content(be), Some(Role::Be));
        assert_eq!(role_from_content(fe_out), Some(Role::Fe));
        assert_eq!(role_from_content(be_out), Some(Role::Be));
        assert_eq!(role_from_content(b"hello\n"), None);
    }
}
