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

use crate::timefmt::Civil;
use crate::version::Version;

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

impl Threshold {
    pub fn parse(value: &str) -> Result<Threshold, String> {
        match value.trim().to_ascii_uppercase().as_str() {
            "DEBUG" => Ok(Threshold::Debug),
            "INFO" => Ok(Threshold::Info),
            "WARN" => Ok(Threshold::Warn),
            "ERROR" => Ok(Threshold::Error),
            "FATAL" => Ok(Threshold::Fatal),
            _ => Err("sys_log_level config error".into()),
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

/// be.INFO / be.WARNING through their dated files.
pub struct Glog {
    with_year: bool,
    files: Mutex<(File, File)>,
    tid: u64,
}

impl Glog {
    pub fn open(dir: &Path, version: Version) -> io::Result<Glog> {
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
        let info = open("INFO")?;
        let warning = open("WARNING")?;
        Ok(Glog {
            with_year: version.glog_year(),
            files: Mutex::new((info, warning)),
            tid: std::process::id() as u64,
        })
    }

    /// Writes one message; `sev` is `I`, `W`, `E` or `F`, `loc` is `file.cpp:line`.
    pub fn log(&self, sev: char, loc: &str, msg: &str) {
        let line = format!(
            "{sev}{} {} {loc}] {msg}\n",
            Civil::now().glog(self.with_year),
            self.tid
        );
        let mut f = self.files.lock().unwrap();
        let _ = f.0.write_all(line.as_bytes());
        if sev != 'I' {
            let _ = f.1.write_all(line.as_bytes());
        }
        if sev == 'F' {
            // glog copies FATAL to stderr, which the start script sends to be.out.
            let _ = io::stderr().write_all(line.as_bytes());
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
            Threshold::parse("WARNING").unwrap_err(),
            "sys_log_level config error"
        );
    }
}
