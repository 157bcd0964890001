//! `sr-rehearse clean`: finish runs whose tool was killed.
//!
//! A run records its tool pid (with the process start time, so a reused pid is not mistaken for
//! it), the sandbox's process group and its ports in `run.json`. A run folder whose tool is gone
//! still has a `run.json` (a finished run removes it, or its whole folder), so clean ends that
//! group and removes the folder. Kept workspaces of finished runs have no `run.json` and are left.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::report::exit;
use crate::supervise;
use crate::workspace::{self, PREFIX};

fn tool_alive(st: &workspace::RunState) -> bool {
    workspace::process_start_ticks(st.tool_pid).is_some_and(|t| t == st.tool_start_ticks)
}

pub fn run(root: &Path) -> anyhow::Result<i32> {
    let rd = std::fs::read_dir(root)
        .map_err(|e| anyhow::anyhow!("failed to read --workspace-root {}: {e}", root.display()))?;
    let mut cleaned = 0;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(PREFIX) || !e.path().is_dir() {
            continue;
        }
        let dir = e.path();
        let Some(st) = workspace::read_run_state(&dir) else {
            continue;
        };
        if tool_alive(&st) {
            println!(
                "{}: in use by running sr-rehearse (pid {}), left alone",
                dir.display(),
                st.tool_pid
            );
            continue;
        }
        let mut ended = Vec::new();
        if let Some(pgid) = st.pgid {
            ended = supervise::group_members(pgid);
            if !ended.is_empty() {
                supervise::signal_group(pgid, Signal::SIGKILL);
                let until = Instant::now() + Duration::from_secs(10);
                while supervise::group_alive(pgid) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        crate::fe::remove_home_link(&dir);
        crate::fe::remove_dir_all_writable(&dir);
        cleaned += 1;
        if ended.is_empty() {
            println!(
                "{}: removed (phase {}, no process left)",
                dir.display(),
                st.phase
            );
        } else {
            println!(
                "{}: ended processes {:?} of group {}, removed",
                dir.display(),
                ended,
                st.pgid.unwrap_or(0)
            );
        }
    }
    if cleaned == 0 {
        println!("nothing to clean in {}", root.display());
    }
    Ok(exit::PASS)
}
