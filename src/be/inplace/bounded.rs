//! The bound on every question the in-place canary puts to the FE.
//!
//! A query to an FE that trickles its answer a byte at a time never hits a per-read timeout, and
//! an exchange left to run would hold the node on an unverified build past `--soak` with SIGTERM
//! ignored. Every FE query therefore runs on a helper thread that the caller waits for with an
//! overall deadline, looking at the signal flag as it waits; a query cut off is left to end on its
//! own (its socket times out or the process exits) and counts as a failed check. A panic of the
//! query is carried back to the caller's thread, where the canary's guard turns it into a
//! rollback. The preflight and the soak both ask through here.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::be::backends::{PickError, Row};
use crate::be::fe_query::{backend_row, FeQueryError};
use crate::be::node;
use crate::be::BeConfig;

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
