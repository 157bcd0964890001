//! What every run shares: the steps it prints and reports, how it ends, and what teardown undoes.
//!
//! The FE rehearsal and the BE canary are different pipelines over the same machinery: a report
//! filled step by step (printed as each step ends), a run folder with `run.json` and the run log, a
//! process group to stop, a probe runner that may live in a network namespace, and a signal check
//! between steps. The pipelines say what is theirs (which package, which conf, how to decide) and
//! call this module for the rest, so a rule such as `--keep` or the stop ladder exists once:
//!
//! - [`checks`]: the preflight checks and the port picking both sandboxes make the same way;
//! - [`workspace_step`]: the run folder, the package laid out in it, the copy, the rewritten conf;
//! - [`sandbox`]: the network fence, the launch through the start script, the stop through the
//!   stop script and the signal ladder;
//! - [`ready`]: the wait for the started sandbox to be ready, whose probe each kind supplies;
//! - [`retry`]: one relaunch on new ports when another process took a port the run picked;
//! - [`finish`]: the verdict, the keep rules, and what happens to the run folder;
//! - [`plan`]: what the `--plan` texts share.

mod checks;
mod finish;
mod plan;
mod ready;
mod retry;
mod sandbox;
mod workspace_step;

use std::path::PathBuf;
use std::time::Instant;

use crate::report::{exit, human, Report, Step, StepStatus, Verdict};
use crate::supervise::Group;
use crate::workspace::{self, RunState};

pub use checks::{check_timeout, check_workspace_root, io_ending};
pub use finish::Keep;
pub use plan::{planned_run_dir, planned_stop, ports_table, PlanText};
pub(crate) use ready::{await_ready, left_for, timeout_ending, Exit, Probed, Readiness, Wait};
pub(crate) use retry::{Launch, Relaunch, StopWith};
pub use sandbox::Isolate;
pub use workspace_step::CopyStep;

/// How a run ended, when it did not pass.
#[derive(Debug)]
pub(crate) struct Ending {
    pub verdict: Verdict,
    pub code: i32,
    pub summary: String,
}

impl From<crate::watch::Fatal> for Ending {
    fn from(f: crate::watch::Fatal) -> Ending {
        Ending::fail(f.0)
    }
}

impl Ending {
    pub fn new(verdict: Verdict, code: i32, summary: impl Into<String>) -> Ending {
        Ending {
            verdict,
            code,
            summary: summary.into(),
        }
    }
    pub fn bad_input(s: impl Into<String>) -> Ending {
        Ending::new(Verdict::Error, exit::BAD_INPUT, s)
    }
    pub fn env(s: impl Into<String>) -> Ending {
        Ending::new(Verdict::Error, exit::ENVIRONMENT, s)
    }
    pub fn fail(s: impl Into<String>) -> Ending {
        Ending::new(Verdict::Fail, exit::FAIL, s)
    }
    pub fn interrupted(s: impl Into<String>) -> Ending {
        Ending::new(Verdict::Interrupted, crate::signals::exit_code(), s)
    }
}

/// State shared by the steps of a run, and what teardown must undo.
pub(crate) struct Runner {
    pub quiet: bool,
    pub report: Report,
    pub run_dir: Option<PathBuf>,
    pub group: Option<Group>,
    pub state: RunState,
    /// Whether the sandbox runs in its own network namespace.
    pub fenced: bool,
    /// Where probes run: inside the sandbox's namespace when fenced.
    pub probes: crate::fence::ProbeRunner,
    /// The sandbox's ports, leased until the Runner is dropped: after teardown stopped the
    /// sandbox (or after `Drop` stopped it on a panic), never before.
    port_lease: crate::ports::Lease,
    pub printed_header: bool,
    /// What to do with the workspace when the run ends (`--keep`), or unwinds from a panic
    /// instead of reaching `finish`.
    keep: Keep,
    /// Whether a sandbox was started: only then is there a workspace worth keeping.
    launched: bool,
    /// Ports the `SR_REHEARSE_TEST_SQUAT` hook holds until the run ends.
    squatted: Vec<std::net::TcpListener>,
    finished: bool,
    /// The node's main logs, whose last lines the report keeps (`LogTail`): set by the pipeline
    /// once it knows where they are.
    pub log_tail_from: Vec<PathBuf>,
}

impl Runner {
    pub fn new(report: Report, quiet: bool) -> Runner {
        Runner {
            quiet,
            report,
            run_dir: None,
            group: None,
            state: RunState {
                tool_pid: std::process::id(),
                tool_start_ticks: workspace::process_start_ticks(std::process::id()).unwrap_or(0),
                started_at: crate::timefmt::Civil::now().rfc3339(),
                ..Default::default()
            },
            fenced: false,
            probes: crate::fence::ProbeRunner::host(),
            port_lease: crate::ports::Lease::default(),
            printed_header: false,
            keep: Keep::OnFailure,
            launched: false,
            squatted: Vec::new(),
            finished: false,
            log_tail_from: Vec::new(),
        }
    }

    /// A run that starts a sandbox in a workspace of its own, kept or removed per `keep`.
    pub fn sandbox(report: Report, quiet: bool, keep: Keep) -> Runner {
        let mut r = Runner::new(report, quiet);
        r.keep = keep;
        r
    }

    /// Prints to stdout; a reader that went away (`sr-rehearse fe | head`) is not an error, the run
    /// goes on and still stops its sandbox.
    pub fn print(&self, s: &str) {
        if !self.quiet {
            crate::output::out(s);
        }
    }

    pub fn step(
        &mut self,
        name: &str,
        started: Instant,
        status: StepStatus,
        detail: impl Into<String>,
    ) {
        if !self.printed_header {
            self.printed_header = true;
            self.print(&human::header(&self.report));
        }
        let st = Step {
            name: name.into(),
            status,
            duration_ms: started.elapsed().as_millis() as u64,
            detail: detail.into(),
        };
        self.print(&human::step_line(&st));
        // Info, not a warning: the summary on stdout already shows a failed step.
        tracing::info!(step = %st.name, status = ?st.status, ms = st.duration_ms, "{}", st.detail);
        self.report.steps.push(st);
        test_panic_at(name);
    }

    /// Passes `result` on, recording the step `name` as failed (with the ending's summary) when it
    /// is an error: for a step whose success the caller records with its own detail.
    pub fn failed_step<T>(
        &mut self,
        name: &str,
        started: Instant,
        result: Result<T, Ending>,
    ) -> Result<T, Ending> {
        if let Err(e) = &result {
            self.step(name, started, StepStatus::Failed, e.summary.clone());
        }
        result
    }

    /// Records the `decide` step; a verdict reached becomes the report's summary.
    pub fn decide_step(
        &mut self,
        started: Instant,
        decided: Result<String, Ending>,
    ) -> Result<(), Ending> {
        let (status, detail) = match &decided {
            Ok(s) => (StepStatus::Ok, s.clone()),
            Err(e) => (StepStatus::Failed, e.summary.clone()),
        };
        self.step("decide", started, status, detail);
        decided.map(|summary| self.report.summary = summary)
    }

    /// Records the phase in `run.json`, which `clean` reads to finish a run whose tool was killed.
    pub fn save_state(&mut self, phase: &str) {
        self.state.phase = phase.into();
        tracing::debug!(phase, "run state");
        if let Some(d) = &self.run_dir {
            // The run log lives in the run folder from the moment there is one.
            crate::diag::attach(d);
            let _ = workspace::write_run_state(d, &self.state);
        }
    }

    /// Ends the run as interrupted if a signal arrived.
    pub fn interrupted(&self) -> Result<(), Ending> {
        match crate::signals::interrupted() {
            // Only a run that started a sandbox has one to stop; the in-place canary has none.
            Some(sig) if self.launched() => Err(Ending::interrupted(format!(
                "interrupted by signal {sig}; the sandbox was stopped"
            ))),
            Some(sig) => Err(Ending::interrupted(format!("interrupted by signal {sig}"))),
            None => Ok(()),
        }
    }

    /// Whether a sandbox was started (even one that has been stopped since).
    pub fn launched(&self) -> bool {
        self.launched
    }
}

pub use crate::hooks::test_panic_at;

impl Drop for Runner {
    /// Reached without `finish` only when the run unwinds from a panic: the sandbox is stopped
    /// (by dropping its group) and the workspace kept or removed per `--keep`, as after a failure.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        drop(self.group.take());
        tracing::error!("the run unwound from a panic; its sandbox was stopped");
        crate::diag::detach();
        if let Some(d) = self.run_dir.take() {
            let keep = self.keep != Keep::Never;
            finish::release_run_dir(&d, keep);
            if keep {
                crate::output::err(&format!("the workspace is kept in {}\n", d.display()));
            }
        }
    }
}
