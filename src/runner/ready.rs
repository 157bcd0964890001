//! The wait for a started sandbox to be ready, which both sandboxes (and the in-place canary's
//! restart) share: one loop, so the FE and BE waits cannot drift apart again.
//!
//! The loop owns the order that makes a verdict honest: a signal first; then whether the process
//! exited, *before* reading the logs, so the lines a dying process wrote last are read, and, once
//! it has exited, every record still open is decided (nothing more will be written); a fatal
//! record ends the wait; then the probe when it is due, its answer logged only when it changes (a
//! probe every few ms must not flood the run log); then the deadline, whose message names the last
//! warning and the last log line. Between rounds it blocks on inotify of the log folders, so a new
//! line wakes it at once. What differs per kind is supplied by a [`Readiness`]: the probe and its
//! pace, what an exit means, what the spinner and the timeout say. The phase the node's own lines
//! announce (`watch::phase`) is shown beside it, on the spinner or as `CI` lines.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{Ending, Runner};
use crate::report::{exit, Verdict};
use crate::watch::catalog::Severity;
use crate::watch::wake::Wake;
use crate::watch::Watcher;

/// The longest the loop sleeps with no log line arriving: the bound on noticing an exit, or a
/// port that starts to accept, which no file event announces.
const IDLE: Duration = Duration::from_millis(50);
/// The longest one readiness probe may take: a probe that hangs must not hold the loop.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How a sandbox process ended.
pub(crate) struct Exit {
    /// As the exit status prints it (`exit status: 1`, `signal: 4 (SIGILL)`).
    pub what: String,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
}

impl Exit {
    pub fn of(st: std::process::ExitStatus) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        Exit {
            what: st.to_string(),
            signal: st.signal(),
        }
    }
}

/// What one probe found.
pub(crate) enum Probed<T> {
    /// Ready: the wait ends with this.
    Ready(T),
    /// Not yet: probe again when the next one is due.
    NotYet,
    /// Probe again at once: something the probe sends changed (the FE's token).
    Again,
    /// The answer ends the wait.
    End(Ending),
}

/// The kind-specific half of a readiness wait.
pub(crate) trait Readiness {
    type Ready;
    /// What the wait is waiting for now, for the spinner (the timeout is added).
    fn waiting_for(&self, watch: &Watcher) -> String;
    /// Every log line as it is read, before it is classified.
    fn line(&mut self, _text: &str) {}
    /// The signature ids one read of the logs matched; true to probe at once (a start line that
    /// makes the probe worth sending now).
    fn matched(&mut self, _ids: &[&'static str]) -> bool {
        false
    }
    /// Whether the sandbox process is gone, and how.
    fn exited(&mut self, r: &mut Runner) -> Option<Exit>;
    /// How an exit ends the wait, once the logs it left are read.
    fn died(&mut self, r: &mut Runner, exit: Exit, watch: &Watcher) -> Ending;
    /// The time from this probe to the next.
    fn interval(&mut self) -> Duration;
    /// One probe, within `timeout`: what it saw (logged when it changes) and what that means.
    fn probe(&mut self, r: &mut Runner, timeout: Duration) -> (String, Probed<Self::Ready>);
    /// What the timeout message says before the last warning and line (a leading space).
    fn timed_out(&self, _r: &Runner, _watch: &Watcher) -> String {
        String::new()
    }
}

/// The wait's fixed inputs.
pub(crate) struct Wait<'a> {
    /// `FE` or `BE`, for the messages.
    pub what: &'a str,
    /// The logs, followed from where the caller set them.
    pub watch: &'a mut Watcher,
    /// The folders whose changes wake the loop (the logs' folders).
    pub wake: Vec<PathBuf>,
    /// When the wait gives up, and the `--timeout` that set it (for the message).
    pub deadline: Instant,
    pub timeout: Duration,
}

/// Waits until `kind` reports its sandbox ready, or the sandbox fails, exits or times out, or a
/// signal arrives.
pub(crate) fn await_ready<K: Readiness>(
    r: &mut Runner,
    wait: Wait,
    kind: &mut K,
) -> Result<K::Ready, Ending> {
    let Wait {
        what,
        watch,
        wake,
        deadline,
        timeout,
    } = wait;
    let dirs: Vec<&std::path::Path> = wake.iter().map(PathBuf::as_path).collect();
    let mut wake = Wake::new(&dirs);
    let spinner = crate::diag::Progress::spinner("decide", r.quiet);
    let mut ci_lines = crate::diag::CiLines::new("decide", r.quiet);
    let limit = crate::diag::short(timeout);
    let mut next_probe = Instant::now();
    let mut last_seen = String::new();
    // Where the node is in its startup, from its own lines (image load, journal replay).
    let mut phase = String::new();
    loop {
        r.interrupted()?;
        let waiting_for = kind.waiting_for(watch);
        spinner.set_message(&if phase.is_empty() {
            format!("decide: {waiting_for} (timeout {limit})")
        } else {
            format!("decide: {phase}; {waiting_for} (timeout {limit})")
        });
        ci_lines.tick(&waiting_for);
        // Read the logs after checking for exit, so the lines a dying process wrote last count.
        let exited = kind.exited(r);
        let mut on_line = |text: &str| {
            if let Some(p) = crate::watch::phase::phase_of(text) {
                ci_lines.phase(&p);
                phase = p;
            }
            kind.line(text)
        };
        let ids = if exited.is_some() {
            // Nothing more will be written: decide the records still open.
            watch.flush(&mut r.report.signatures, &mut on_line)?
        } else {
            watch.poll(&mut r.report.signatures, &mut on_line)?
        };
        if kind.matched(&ids) {
            next_probe = Instant::now();
        }
        if let Some(e) = exited {
            return Err(kind.died(r, e, watch));
        }
        if Instant::now() >= next_probe {
            let left = deadline.saturating_duration_since(Instant::now());
            let (seen, probed) = kind.probe(r, PROBE_TIMEOUT.min(left).max(IDLE));
            if seen != last_seen {
                tracing::debug!("probe {seen}");
                last_seen = seen;
            }
            match probed {
                Probed::Ready(v) => return Ok(v),
                Probed::End(e) => return Err(e),
                Probed::Again => {
                    next_probe = Instant::now();
                    continue;
                }
                Probed::NotYet => next_probe = Instant::now() + kind.interval(),
            }
        }
        if Instant::now() >= deadline {
            let hint = kind.timed_out(r, watch);
            return Err(timeout_ending(r, what, timeout, &hint, watch.last()));
        }
        // Sleep until a log line arrives or the next probe is due: a line may be the start line
        // that makes the probe worth sending, so it must not wait out a timer.
        wake.wait(
            next_probe
                .saturating_duration_since(Instant::now())
                .min(IDLE),
        );
    }
}

/// The run's end when `--timeout` passed: what was waited for, the last warning the logs showed,
/// and their last line.
pub(crate) fn timeout_ending(
    r: &Runner,
    what: &str,
    timeout: Duration,
    hint: &str,
    last_line: &str,
) -> Ending {
    let warning = r
        .report
        .signatures
        .iter()
        .rev()
        .find(|h| h.severity == Severity::Warning)
        .map(|h| format!(" Last warning: {} ({}:{}).", h.id, h.file, h.line))
        .unwrap_or_default();
    Ending::new(
        Verdict::Timeout,
        exit::TIMEOUT,
        format!(
            "no verdict within {}; the {what} was stopped.{hint}{warning} Last log line: {last_line}",
            humantime::format_duration(timeout)
        ),
    )
}

/// What is left of `deadline` for a probe after readiness, at most `cap`; `None` once it passed.
/// `--timeout` bounds the whole decision, the checks after readiness included.
pub(crate) fn left_for(deadline: Instant, cap: Duration) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero()).then(|| left.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_after_readiness_gets_what_is_left_of_the_deadline() {
        let cap = Duration::from_secs(10);
        let soon = Instant::now() + Duration::from_millis(300);
        let got = left_for(soon, cap).unwrap();
        assert!(got <= Duration::from_millis(300), "{got:?}");
        assert_eq!(
            left_for(Instant::now() + Duration::from_secs(60), cap),
            Some(cap)
        );
        assert_eq!(left_for(Instant::now(), cap), None);
    }
}
