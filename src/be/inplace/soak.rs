//! The in-place canary's soak, and the bound on every question it puts to the FE.
//!
//! The soak runs while the node serves on the new build, so it must end when it says it will: a
//! query to an FE that trickles its answer a byte at a time never hits a per-read timeout, and an
//! exchange left to run would hold the node on an unverified build past `--soak` with SIGTERM
//! ignored. Every FE query therefore runs on a helper thread that this thread waits for with an
//! overall deadline, looking at the signal flag as it waits; a query cut off is left to end on its
//! own (its socket times out or the process exits) and counts as a failed check. A panic of the
//! query is carried back to this thread, where the canary's guard turns it into a rollback.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::preflight::Checked;
use crate::be::backends::PickError;
use crate::be::backends::Row;
use crate::be::fe_query::{backend_row, describe_row, FeQueryError};
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
/// The longest one FE exchange may take (connect, log in, query, rows).
pub(super) const QUERY_LIMIT: Duration = Duration::from_secs(10);

/// Why a bounded call gave no answer.
#[derive(Debug)]
pub(super) enum Cut {
    /// The deadline passed first.
    Deadline(Duration),
    /// SIGINT, SIGTERM or SIGHUP arrived while waiting.
    Interrupted,
}

/// Runs `f` on a helper thread and waits for it until `deadline`, or a signal. A panic of `f` is
/// resumed here, so it unwinds the caller as if `f` had run on this thread.
pub(super) fn bounded<T: Send + 'static>(
    deadline: Instant,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Cut> {
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("fe-query".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|_| Cut::Deadline(Duration::ZERO))?;
    loop {
        if crate::signals::interrupted().is_some() {
            return Err(Cut::Interrupted);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Cut::Deadline(started.elapsed()));
        }
        match rx.recv_timeout(left.min(Duration::from_millis(100))) {
            Ok(v) => return Ok(v),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // The sender went without sending: `f` panicked.
                match handle.join() {
                    Err(payload) => std::panic::resume_unwind(payload),
                    Ok(()) => return Err(Cut::Deadline(started.elapsed())),
                }
            }
        }
    }
}

/// This node's SHOW BACKENDS row, the whole exchange ended by `deadline` (or a signal).
pub(super) fn backend_row_by(
    cfg: &BeConfig,
    node: &node::Node,
    deadline: Instant,
) -> Result<Result<Result<Row, PickError>, FeQueryError>, Cut> {
    let (cfg, node) = (cfg.clone(), node.clone());
    let per_step = deadline
        .saturating_duration_since(Instant::now())
        .clamp(Duration::from_millis(100), QUERY_LIMIT);
    bounded(deadline, move || backend_row(&cfg, &node, per_step))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_call_answers_is_cut_at_its_deadline_or_carries_its_panic() {
        let soon = || Instant::now() + Duration::from_secs(5);
        assert_eq!(bounded(soon(), || 7).unwrap(), 7);
        let t = Instant::now();
        let slow = bounded(t + Duration::from_millis(200), || {
            std::thread::sleep(Duration::from_secs(30));
        });
        assert!(matches!(slow, Err(Cut::Deadline(_))), "{slow:?}");
        assert!(t.elapsed() < Duration::from_secs(5), "cut at the deadline");
        let panicked = std::panic::catch_unwind(|| bounded(soon(), || panic!("in the query")));
        let payload = panicked.expect_err("the panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"in the query"));
    }
}
