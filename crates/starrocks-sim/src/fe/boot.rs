//! The FE being started: its home, release, configuration and log, and how a failed start ends.
//!
//! Every startup phase reads the configuration the same way and fails in one of the two ways the
//! real `StarRocksFE.start` fails (an ERROR line and `System.exit(-1)`, or an exception out of
//! `start`); keeping both here lets the phases stay separate files without repeating either.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use starrocks_common::timefmt::Civil;
use starrocks_common::version::Version;

use crate::frontend_config::FeConfig;
use crate::logs::FeLog;
use crate::stamps::Stamps as _;
use crate::Release;

/// Where `StarRocksFE.start` logs its own lines from.
pub(super) const START: &str = "StarRocksFE.start():129";

/// A failure of the startup sequence, ending the way the real FE ends it.
pub(super) enum Stop {
    /// `System.exit(-1)` after an ERROR line: exit 255.
    Exit,
    /// An exception out of `StarRocksFE.start`: `StarRocksFE start failed` and its trace.
    StartFailed(String),
}

pub(super) struct Fe {
    pub(super) home: PathBuf,
    pub(super) release: Release,
    pub(super) v: Version,
    pub(super) conf: HashMap<String, String>,
    pub(super) log: Option<Arc<FeLog>>,
    /// fe.conf over the defaults, changed at run time by ADMIN SET FRONTEND CONFIG.
    pub(super) config: Arc<FeConfig>,
}

/// Where the shutdown hook finds the log once startup has opened it.
pub(super) type LogSlot = Arc<Mutex<Option<Arc<FeLog>>>>;

pub(super) fn stack(exception: &str, frames: &[&str]) -> String {
    let mut s = exception.to_string();
    for f in frames {
        s.push_str("\n\tat ");
        s.push_str(f);
    }
    s
}

impl Fe {
    pub(super) fn log(&self) -> &FeLog {
        self.log.as_ref().expect("log initialised")
    }

    pub(super) fn conf_str(&self, key: &str, default: &str) -> String {
        self.conf
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    pub(super) fn conf_int(&self, key: &str, default: i64) -> Result<i64, Stop> {
        match self.conf.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                Stop::StartFailed(stack(
                    &format!("java.lang.NumberFormatException: For input string: \"{v}\""),
                    &[
                        "java.lang.Integer.parseInt(Integer.java:652)",
                        "com.starrocks.common.ConfigBase.setConfigField(ConfigBase.java:214)",
                    ],
                ))
            }),
        }
    }

    pub(super) fn port(&self, key: &str, default: u16) -> Result<u16, Stop> {
        let v = self.conf_int(key, default as i64)?;
        Ok(v.clamp(-1, 65535) as u16)
    }

    pub(super) fn fatal(&self, loc: &str, msg: &str) -> Stop {
        self.log().error(loc, msg);
        Stop::Exit
    }
}

/// A line fe.out shows with log4j's bracketed time, as the FE prints some state changes there too.
pub(super) fn stdout_with_time(msg: &str) {
    println!("{} {msg}", Civil::now().bracketed());
}
