//! Log writers in StarRocks' exact line formats.
//!
//! The tool decides from these lines, so their shape is the point: log4j's
//! `%d %p (%t|%tid) [%C{1}.%M():%L] %m` with the timestamp form of the version for fe.log (WARN and
//! above copied to fe.warn.log), and glog's `Lmmdd hh:mm:ss.uuuuuu tid file:line] msg` (with the
//! year from 3.3) for be.INFO / be.WARNING, which are symlinks to dated files as StarRocks' patched
//! glog makes them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::release::Behaviour as _;
use crate::stamps::Stamps as _;
use starrocks_common::timefmt::Civil;
use starrocks_common::version::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn log4j(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// The root logger level of `Log4jConfig`: fe.conf's `sys_log_level`, upper-cased, one of
/// `FATAL`, `ERROR`, `WARN`, `INFO`, `DEBUG`; anything else fails log4j set-up with
/// `sys_log_level config error`. An event is written only at or above it; `fe.warn.log` keeps its
/// own WARN floor on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Threshold {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

/// A `sys_log_level` log4j does not know; the message is `Log4jConfig`'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sys_log_level config error")]
pub struct BadLogLevel;

impl Threshold {
    pub fn parse(value: &str) -> Result<Threshold, BadLogLevel> {
        match value.trim().to_ascii_uppercase().as_str() {
            "DEBUG" => Ok(Threshold::Debug),
            "INFO" => Ok(Threshold::Info),
            "WARN" => Ok(Threshold::Warn),
            "ERROR" => Ok(Threshold::Error),
            "FATAL" => Ok(Threshold::Fatal),
            _ => Err(BadLogLevel),
        }
    }

    fn admits(self, level: Level) -> bool {
        let rank = match level {
            Level::Info => Threshold::Info,
            Level::Warn => Threshold::Warn,
            Level::Error => Threshold::Error,
        };
        rank >= self
    }
}

fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// fe.log and fe.warn.log.
pub struct FeLog {
    version: Version,
    threshold: Threshold,
    files: Mutex<(File, File)>,
    /// The main thread's display name: `main`, then `UNKNOWN <node>(-1)` once BDB JE renames it.
    main_thread: Mutex<String>,
}

impl FeLog {
    pub fn open(dir: &Path, version: Version, threshold: Threshold) -> io::Result<FeLog> {
        fs::create_dir_all(dir)?;
        Ok(FeLog {
            version,
            threshold,
            files: Mutex::new((
                append(&dir.join("fe.log"))?,
                append(&dir.join("fe.warn.log"))?,
            )),
            main_thread: Mutex::new("main".into()),
        })
    }

    pub fn rename_main_thread(&self, name: String) {
        *self.main_thread.lock().unwrap() = name;
    }

    /// The main thread's current name, with thread id 1.
    pub fn main(&self) -> String {
        format!("{}|1", self.main_thread.lock().unwrap())
    }

    /// Writes one event; `thread` is `name|tid`, `loc` is `Class.method():line`.
    pub fn log(&self, level: Level, thread: &str, loc: &str, msg: &str) {
        if !self.threshold.admits(level) {
            return;
        }
        let now = Civil::now();
        let ts = if self.version.fe_log_iso_offset() {
            now.log4j_iso()
        } else {
            now.log4j_comma()
        };
        let line = format!("{ts} {} ({thread}) [{loc}] {msg}\n", level.log4j());
        let mut f = self.files.lock().unwrap();
        let _ = f.0.write_all(line.as_bytes());
        if level >= Level::Warn {
            let _ = f.1.write_all(line.as_bytes());
        }
    }

    pub fn info(&self, loc: &str, msg: &str) {
        self.log(Level::Info, &self.main(), loc, msg);
    }

    pub fn warn(&self, loc: &str, msg: &str) {
        self.log(Level::Warn, &self.main(), loc, msg);
    }

    pub fn error(&self, loc: &str, msg: &str) {
        self.log(Level::Error, &self.main(), loc, msg);
    }
}

/// How long glog keeps INFO lines in its buffer (`FLAGS_logbufsecs = 30` in StarRocks' init_glog).
const GLOG_BUF_SECS: u64 = 30;
/// glog also flushes once this many bytes were written since the last flush.
const GLOG_BUF_BYTES: usize = 1_000_000;

/// be.INFO / be.WARNING through their dated files, buffered as StarRocks configures glog.
///
/// StarRocks sets `FLAGS_logbuflevel = 0` (buffer INFO only) and `FLAGS_logbufsecs = 30`: an INFO
/// line reaches be.INFO only when a later write finds 30 s passed since the last flush, when 1 MB
/// piled up, or when a WARNING-or-worse line forces the flush. `sys_log_level` sets glog's
/// `minloglevel`, so `WARNING` drops INFO lines entirely. A value init_glog does not accept leaves
/// glog uninitialised, and glog then writes every line to stderr (be.out) unbuffered.
pub struct Glog {
    with_year: bool,
    min_level: u8,
    files: Mutex<Option<GlogFiles>>,
    tid: u64,
}

struct GlogFiles {
    info: File,
    warning: File,
    pending: Vec<u8>,
    last_flush: std::time::Instant,
}

impl GlogFiles {
    fn flush(&mut self) {
        let _ = self.info.write_all(&self.pending);
        self.pending.clear();
        self.last_flush = std::time::Instant::now();
    }
}

/// glog's severity number for `I`, `W`, `E`, `F`.
fn severity(sev: char) -> u8 {
    match sev {
        'I' => 0,
        'W' => 1,
        'E' => 2,
        _ => 3,
    }
}

/// `minloglevel` for a `sys_log_level` value, compared case-insensitively as init_glog does.
pub fn min_level(sys_log_level: &str) -> Option<u8> {
    match sys_log_level.trim().to_ascii_uppercase().as_str() {
        "INFO" => Some(0),
        "WARNING" => Some(1),
        "ERROR" => Some(2),
        "FATAL" => Some(3),
        _ => None,
    }
}

impl Glog {
    /// Opens the log files; `min_level` None is the uninitialised glog that writes to stderr.
    pub fn open(dir: &Path, version: Version, min_level: Option<u8>) -> io::Result<Glog> {
        let files = match min_level {
            None => None,
            Some(_) => {
                fs::create_dir_all(dir)?;
                let stamp = Civil::now().compact();
                let open = |sev: &str| -> io::Result<File> {
                    let name = format!("be.{sev}.log.{stamp}");
                    let link: PathBuf = dir.join(format!("be.{sev}"));
                    let f = append(&dir.join(&name))?;
                    let _ = fs::remove_file(&link);
                    std::os::unix::fs::symlink(&name, &link)?;
                    Ok(f)
                };
                Some(GlogFiles {
                    info: open("INFO")?,
                    warning: open("WARNING")?,
                    pending: Vec::new(),
                    last_flush: std::time::Instant::now(),
                })
            }
        };
        Ok(Glog {
            with_year: version.glog_year(),
            min_level: min_level.unwrap_or(0),
            files: Mutex::new(files),
            tid: std::process::id() as u64,
        })
    }

    /// Writes one message; `sev` is `I`, `W`, `E` or `F`, `loc` is `file.cpp:line`.
    pub fn log(&self, sev: char, loc: &str, msg: &str) {
        if severity(sev) < self.min_level {
            return;
        }
        let line = format!(
            "{sev}{} {} {loc}] {msg}\n",
            Civil::now().glog(self.with_year),
            self.tid
        );
        let mut guard = self.files.lock().unwrap();
        let Some(f) = guard.as_mut() else {
            let _ = io::stderr().write_all(line.as_bytes());
            return;
        };
        if sev == 'I' {
            f.pending.extend_from_slice(line.as_bytes());
            if f.last_flush.elapsed().as_secs() >= GLOG_BUF_SECS
                || f.pending.len() >= GLOG_BUF_BYTES
            {
                f.flush();
            }
            return;
        }
        // A line above the buffered level flushes the INFO file before it is written.
        f.flush();
        let _ = f.info.write_all(line.as_bytes());
        let _ = f.warning.write_all(line.as_bytes());
        if sev == 'F' {
            // glog copies FATAL to stderr (FLAGS_stderrthreshold = 3), which the start script
            // sends to be.out.
            let _ = io::stderr().write_all(line.as_bytes());
        }
    }

    /// Writes out buffered INFO lines, as glog does on a clean exit and in its failure signal
    /// handler.
    pub fn flush(&self) {
        if let Some(f) = self.files.lock().unwrap().as_mut() {
            f.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_is_log4j_root_level() {
        let warn = Threshold::parse(" warn ").unwrap();
        assert!(!warn.admits(Level::Info) && warn.admits(Level::Warn) && warn.admits(Level::Error));
        assert!(Threshold::parse("DEBUG").unwrap().admits(Level::Info));
        assert!(!Threshold::parse("FATAL").unwrap().admits(Level::Error));
        assert_eq!(
            Threshold::parse("WARNING").unwrap_err().to_string(),
            "sys_log_level config error"
        );
    }
}
