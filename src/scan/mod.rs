//! `sr-rehearse scan`: classify StarRocks logs after the fact.
//!
//! When an upgrade failed somewhere, the question is "why, and what now?". Scan streams any number
//! of fe.log / fe.warn.log / fe.out / be.INFO / be.WARNING / be.out files (plain or gzip, rotated
//! names included, standard input as `-`) through the same signature catalog and the same verdict
//! rule as the live watch ([`crate::watch::record`]), and ends with one verdict.
//!
//! Release engineers scan whole log archives, so the reader works at the speed of the disk: it
//! reads large buffers, walks their lines once, runs the catalog as one combined lazy DFA over each
//! line's message (after the record's timestamp, and only where the patterns' literals occur when
//! the catalog has them) to find the few candidate lines, and classifies only the records holding
//! them. Memory stays flat whatever
//! the input: one buffer, and a record or line longer than 64 KiB is cut (and counted, and said).
//! A file that cannot be read or recognised is reported and the others are still scanned; a signal
//! ends the scan with 128 + the signal (130, 143), even while it waits on a pipe or a FIFO.

mod automata;
mod file;
mod finder;
mod input;
mod prefix;
mod render;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::report::exit;
use crate::watch::catalog::{Role, Severity, CATALOG};

use file::scan_one;
use input::FileError;
pub use input::{role_from_content, role_from_name};
pub use render::{render_catalog, render_human};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileVerdict {
    Started,
    Failed,
    StillStarting,
    /// The log ends waiting for something that never comes by itself.
    WaitingForever,
    #[serde(rename = "no_starrocks_lines")]
    NoStarRocksLines,
}

/// A signature found in a file: one record, or identical records repeated (same signature, same
/// message after the timestamp), listed once with how many there were and where the last one is.
#[derive(Debug, Clone, Serialize)]
pub struct Match {
    pub id: &'static str,
    pub severity: Severity,
    pub file: String,
    /// The first record's line.
    pub line: usize,
    pub text: String,
    pub explanation: std::borrow::Cow<'static, str>,
    pub hint: &'static str,
    /// How many identical records this match stands for (1 when it is not repeated).
    pub count: usize,
    /// The last of them's line (`line` when `count` is 1).
    pub last_line: usize,
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
    /// `started`, `failed: <id>`, `waiting forever: <id>`, `still starting` or `no StarRocks lines found`.
    pub verdict: String,
    pub files: Vec<FileResult>,
    /// Files that could not be scanned, each with why.
    pub problems: Vec<Problem>,
    /// Every match, in file and line order (at most the first 1000).
    pub matches: Vec<Match>,
    /// How often each signature matched.
    pub counts: BTreeMap<&'static str, usize>,
    /// The wait of the first file that ends waiting forever, for the verdict.
    #[serde(skip)]
    pub(crate) waiting: Option<&'static str>,
}

impl ScanReport {
    /// The verdict as data: `started`, `failed`, `waiting_forever`, `still_starting` or
    /// `no_starrocks_lines`, and the signature that names a failure or a wait.
    pub fn verdict_parts(&self) -> (&'static str, Option<&str>) {
        if let Some(id) = self.verdict.strip_prefix("waiting forever: ") {
            return ("waiting_forever", Some(id));
        }
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

    /// The documented exit code: 1 when a log failed or waits forever, else 2 or 3 when a file
    /// could not be scanned, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.verdict.starts_with("failed") || self.verdict.starts_with("waiting forever") {
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

/// Scans `files` in order; `role` overrides what the names and contents say. A file that cannot
/// be scanned is listed in `problems` and the others are still scanned; only a signal stops it.
pub fn scan(files: &[PathBuf], role: Option<Role>) -> Result<ScanReport, ScanError> {
    let mut report = ScanReport {
        verdict: String::new(),
        files: Vec::new(),
        problems: Vec::new(),
        matches: Vec::new(),
        counts: BTreeMap::new(),
        waiting: None,
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
        report.verdict = if let Some(id) = report.waiting {
            format!("waiting forever: {id}")
        } else if has(FileVerdict::Started) {
            "started".into()
        } else if has(FileVerdict::StillStarting) {
            "still starting".into()
        } else {
            "no StarRocks lines found".into()
        };
    }
    Ok(report)
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
