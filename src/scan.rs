//! `sr-rehearse scan`: classify StarRocks logs after the fact.
//!
//! When an upgrade failed somewhere, the question is "why, and what now?". Scan streams any number
//! of fe.log / fe.warn.log / fe.out / be.INFO / be.WARNING / be.out files (plain or gzip, rotated
//! names included) through the same signature catalog as the live watch, attaches stack-trace and
//! other continuation lines to the log record that started them, and ends with one verdict.
//! Memory stays flat whatever the file size: one record at a time, bounded.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use crate::watch::catalog::{classify, Role, Severity, CATALOG};

/// The lines one record may carry, so a runaway stack trace cannot grow memory.
const MAX_RECORD_LINES: usize = 200;
const MAX_RECORD_BYTES: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileVerdict {
    Started,
    Failed,
    StillStarting,
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
    pub verdict: FileVerdict,
    pub lines: usize,
    pub starrocks_lines: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    /// `started`, `failed: <id>`, `still starting` or `no StarRocks lines found`.
    pub verdict: String,
    pub files: Vec<FileResult>,
    /// Every match, in file and line order (at most the first 1000).
    pub matches: Vec<Match>,
    /// How often each signature matched.
    pub counts: BTreeMap<&'static str, usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("failed to open {0}: {1}")]
    Open(PathBuf, #[source] io::Error),
    #[error("failed to read {0}: {1}")]
    Read(PathBuf, #[source] io::Error),
    #[error(
        "cannot tell whether {0} is an FE or a BE log from its name; pass --role fe or --role be"
    )]
    UnknownRole(PathBuf),
}

impl ScanError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ScanError::Open(..) | ScanError::UnknownRole(..) => crate::report::exit::BAD_INPUT,
            ScanError::Read(..) => crate::report::exit::ENVIRONMENT,
        }
    }
}

fn record_start() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d{3}|[IWEF]\d{4}(\d{4})? \d\d:\d\d:\d\d\.\d{6} )")
            .expect("record prefix compiles")
    })
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

fn open(p: &Path) -> Result<Box<dyn BufRead>, ScanError> {
    let mut f = File::open(p).map_err(|e| ScanError::Open(p.to_path_buf(), e))?;
    let mut magic = [0u8; 2];
    let n = f
        .read(&mut magic)
        .map_err(|e| ScanError::Read(p.to_path_buf(), e))?;
    let f = File::open(p).map_err(|e| ScanError::Open(p.to_path_buf(), e))?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(BufReader::new(f)),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
    }
}

struct Record {
    start_line: usize,
    text: String,
    lines: usize,
}

/// Scans `files`; `role` overrides what the names say.
pub fn scan(files: &[PathBuf], role: Option<Role>) -> Result<ScanReport, ScanError> {
    let mut report = ScanReport {
        verdict: String::new(),
        files: Vec::new(),
        matches: Vec::new(),
        counts: BTreeMap::new(),
    };
    let mut first_fatal: Option<&'static str> = None;
    for path in files {
        let role = role
            .or_else(|| role_from_name(path))
            .ok_or_else(|| ScanError::UnknownRole(path.clone()))?;
        let name = path.display().to_string();
        let mut reader = open(path)?;
        let mut buf = Vec::with_capacity(1024);
        let mut line_no = 0usize;
        let mut sr_lines = 0usize;
        let mut record: Option<Record> = None;
        // Which came last decides the file: a fatal signature or a readiness line.
        let mut last_state: Option<(bool, &'static str)> = None;
        let finish =
            |rec: Record, report: &mut ScanReport, last: &mut Option<(bool, &'static str)>| {
                // The most specific signature of a record decides it: the first the catalog lists.
                let mut decided = false;
                for sig in classify(&rec.text, role) {
                    *report.counts.entry(sig.id).or_default() += 1;
                    if report.matches.len() < 1000 {
                        report.matches.push(Match {
                            id: sig.id,
                            severity: sig.severity,
                            file: name.clone(),
                            line: rec.start_line,
                            text: rec
                                .text
                                .lines()
                                .next()
                                .unwrap_or("")
                                .chars()
                                .take(300)
                                .collect(),
                            explanation: sig.explanation,
                            hint: sig.remedy,
                        });
                    }
                    let ready = sig.id.contains(".ready.");
                    if !decided && (sig.severity == Severity::Fatal || ready) {
                        *last = Some((ready, sig.id));
                        decided = true;
                    }
                }
            };
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| ScanError::Read(path.clone(), e))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']);
            let starts = record_start().is_match(line);
            if starts {
                sr_lines += 1;
            }
            match record.as_mut() {
                Some(r)
                    if !starts && r.lines < MAX_RECORD_LINES && r.text.len() < MAX_RECORD_BYTES =>
                {
                    r.text.push('\n');
                    r.text.push_str(line);
                    r.lines += 1;
                    continue;
                }
                _ => {}
            }
            if let Some(r) = record.take() {
                finish(r, &mut report, &mut last_state);
            }
            let rec = Record {
                start_line: line_no,
                text: line.to_string(),
                lines: 1,
            };
            if starts {
                record = Some(rec);
            } else {
                // A line outside any log record (fe.out, be.out) stands alone.
                finish(rec, &mut report, &mut last_state);
            }
        }
        if let Some(r) = record.take() {
            finish(r, &mut report, &mut last_state);
        }
        let any_sr = sr_lines > 0 || report.matches.iter().any(|m| m.file == name);
        let verdict = match last_state {
            Some((false, id)) => {
                first_fatal.get_or_insert(id);
                FileVerdict::Failed
            }
            Some((true, _)) => FileVerdict::Started,
            None if any_sr => FileVerdict::StillStarting,
            None => FileVerdict::NoStarRocksLines,
        };
        report.files.push(FileResult {
            file: name,
            role,
            verdict,
            lines: line_no,
            starrocks_lines: sr_lines,
        });
    }
    let has = |v: FileVerdict| report.files.iter().any(|f| f.verdict == v);
    report.verdict = if let Some(id) = first_fatal {
        format!("failed: {id}")
    } else if has(FileVerdict::Started) {
        "started".into()
    } else if has(FileVerdict::StillStarting) {
        "still starting".into()
    } else {
        "no StarRocks lines found".into()
    };
    Ok(report)
}

/// The human rendering: each distinct signature with where it first matched and its remedy.
pub fn render_human(r: &ScanReport) -> String {
    let mut s = String::new();
    for f in &r.files {
        s.push_str(&format!(
            "{}: {:?} log, {} lines, {}\n",
            f.file,
            f.role,
            f.lines,
            match f.verdict {
                FileVerdict::Started => "started",
                FileVerdict::Failed => "failed",
                FileVerdict::StillStarting => "still starting",
                FileVerdict::NoStarRocksLines => "no StarRocks lines found",
            }
        ));
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
