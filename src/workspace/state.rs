//! `run.json`: the state file of a run, written at each phase and read by `sr-rehearse clean`.
//!
//! It records the tool's pid, the sandbox's process group and ports, each with a start time, so
//! `clean` can finish a run whose tool was killed and never mistakes a recycled pid for it.

use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The state file in a run folder.
pub const RUN_FILE: &str = "run.json";

/// The state file of a run, read by `clean`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    pub tool_pid: u32,
    /// The tool's start time in clock ticks since boot, to tell a reused pid apart.
    pub tool_start_ticks: u64,
    pub phase: String,
    pub pgid: Option<i32>,
    /// The group leader's start time in clock ticks since boot: `clean` signals the group only
    /// while this still matches, so a recycled pgid is never mistaken for the sandbox.
    #[serde(default)]
    pub pgid_start_ticks: Option<u64>,
    pub pids: Vec<i32>,
    pub ports: Vec<u16>,
    pub started_at: String,
}

/// The start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat).
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    Some(crate::procfs::stat(i32::try_from(pid).ok()?)?.start_ticks)
}

pub fn write_run_state(dir: &Path, st: &RunState) -> io::Result<()> {
    let tmp = dir.join(".run.json.tmp");
    fs::write(
        &tmp,
        serde_json::to_vec_pretty(st).map_err(io::Error::other)?,
    )?;
    fs::rename(tmp, dir.join(RUN_FILE))
}

pub fn read_run_state(dir: &Path) -> Option<RunState> {
    serde_json::from_slice(&fs::read(dir.join(RUN_FILE)).ok()?).ok()
}
