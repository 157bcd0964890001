//! The in-place canary's soak: the new BE watched for `--soak`, and its SHOW BACKENDS row with it.
//!
//! The soak runs while the node serves on the new build, so it must end when it says it will:
//! every FE question goes through the bounded calls of `bounded.rs`, and the soak itself ends by
//! `--soak` plus a grace whatever the FE does.

use std::time::{Duration, Instant};

use super::bounded::{backend_row_by, Cut, QUERY_LIMIT};
use super::preflight::Checked;
use crate::be::fe_query::describe_row;
use crate::be::node;
use crate::be::BeConfig;
use crate::runner::{Ending, Runner};

/// Consecutive failed SHOW BACKENDS checks the soak tolerates before it fails: one check can meet
/// an FE that is restarting, a dropped connection or a slow answer.
const SOAK_SQL_FAILURES: u32 = 3;
/// How long the node's row may say `Alive = false` before the soak fails: longer than the FE's
/// heartbeat timeout (`heartbeat_timeout_second = 5` in fe-core Config.java) plus a heartbeat round,
/// so the restart itself (the FE sees a new start time, then the next heartbeat) is not mistaken
/// for a dead node. It is also how long past `--soak` the soak may go on to see the row settle.
const ALIVE_GRACE: Duration = Duration::from_secs(10);
/// Watches the new BE for `--soak`: the process and `/api/health` every check; with `--fe`, this
/// node's row too, which must end Alive with exactly the new version. A failed query is reported
/// and tolerated up to `SOAK_SQL_FAILURES` in a row; `Alive = false` up to `ALIVE_GRACE`. The soak
/// ends by `--soak` plus `ALIVE_GRACE` whatever the FE does, and at once on a signal. Returns how
/// many queries failed.
pub(super) fn soak(cfg: &BeConfig, r: &mut Runner, c: &Checked) -> Result<u32, Ending> {
    let node = &c.node;
    let new_version = c.new_version.clone().unwrap_or_default();
    let soak_end = Instant::now() + cfg.soak;
    let hard_end = soak_end + ALIVE_GRACE;
    let (mut in_a_row, mut errors) = (0u32, 0u32);
    let mut dead_since: Option<Instant> = None;
    let mut unsettled = String::from("no SHOW BACKENDS answer yet");
    let spinner = crate::diag::Progress::spinner("soak", cfg.quiet);
    loop {
        r.interrupted()?;
        crate::hooks::test_panic_at("soak");
        spinner.set_message(&format!(
            "soak: the new BE must stay healthy{} for {} more",
            if cfg.fe.is_some() {
                " and Alive in SHOW BACKENDS"
            } else {
                ""
            },
            crate::diag::short(soak_end.saturating_duration_since(Instant::now()))
        ));
        if node.running_pid().is_none() {
            return Err(Ending::fail("the new BE exited during the soak period"));
        }
        if !node::healthy(node.http_port) {
            return Err(Ending::fail(
                "the new BE stopped answering /api/health during the soak period",
            ));
        }
        let mut settled = true;
        if cfg.fe.is_some() {
            let deadline = (Instant::now() + QUERY_LIMIT).min(hard_end);
            let answer = match backend_row_by(cfg, node, deadline) {
                Ok(a) => a.map_err(|e| e.to_string()),
                Err(Cut::Interrupted) => {
                    r.interrupted()?;
                    continue;
                }
                Err(Cut::Deadline(waited)) => Err(format!(
                    "no complete answer within {}",
                    humantime::format_duration(Duration::from_millis(waited.as_millis() as u64))
                )),
            };
            match answer {
                Err(e) => {
                    in_a_row += 1;
                    errors += 1;
                    let msg = format!(
                        "soak: SHOW BACKENDS failed ({in_a_row} of {SOAK_SQL_FAILURES} in a row allowed): {e}"
                    );
                    r.print(&format!("       {msg}\n"));
                    r.report.warnings.push(msg);
                    if in_a_row >= SOAK_SQL_FAILURES {
                        return Err(Ending::fail(format!(
                            "SHOW BACKENDS failed {in_a_row} times in a row during the soak; last error: {e}"
                        )));
                    }
                    unsettled = format!("the last SHOW BACKENDS check failed: {e}");
                    settled = false;
                }
                Ok(Err(e)) => return Err(Ending::fail(e.to_string())),
                Ok(Ok(row)) => {
                    in_a_row = 0;
                    let alive = row.get("Alive").map(String::as_str) == Some("true");
                    let version_ok = row
                        .get("Version")
                        .is_some_and(|v| crate::version::reported_is(v, &new_version));
                    if alive {
                        dead_since = None;
                    } else if dead_since.get_or_insert_with(Instant::now).elapsed() > ALIVE_GRACE {
                        return Err(Ending::fail(format!(
                            "SHOW BACKENDS has said Alive=false for more than {}: {}",
                            humantime::format_duration(ALIVE_GRACE),
                            describe_row(&row)
                        )));
                    }
                    // The FE needs a heartbeat round to see the restarted node: judge the version
                    // once the soak is over, allowing the same grace as for Alive.
                    settled = alive && version_ok;
                    unsettled = format!(
                        "SHOW BACKENDS: {} (expected Alive=true and Version {new_version})",
                        describe_row(&row)
                    );
                }
            }
        }
        let now = Instant::now();
        if now >= soak_end && settled {
            return Ok(errors);
        }
        if now >= hard_end {
            return Err(Ending::fail(format!(
                "the soak ended {} after --soak without this node's row settling; {unsettled}",
                humantime::format_duration(ALIVE_GRACE)
            )));
        }
        std::thread::sleep(Duration::from_millis(500).min(hard_end.saturating_duration_since(now)));
    }
}
