//! What every run shares: the steps it prints and reports, how it ends, and what teardown undoes.
//!
//! The FE rehearsal and the BE canary are different pipelines over the same machinery: a report
//! filled step by step (printed as each step ends), a run folder with `run.json`, a process group
//! to stop, a probe runner that may live in a network namespace, and a signal check between steps.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::report::{exit, human, Report, Step, StepStatus, Verdict};
use crate::supervise::Group;
use crate::workspace::{self, RunState};

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
    pub printed_header: bool,
    /// What to do with the workspace if the run unwinds (a panic) instead of reaching `finish`.
    pub keep: Keep,
    finished: bool,
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
            printed_header: false,
            keep: Keep::OnFailure,
            finished: false,
        }
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
            Some(sig) => Err(Ending::interrupted(format!(
                "interrupted by signal {sig}; the sandbox was stopped"
            ))),
            None => Ok(()),
        }
    }
}

pub use crate::hooks::test_panic_at;

/// An I/O failure while laying out the workspace: bad input when the source was refused (a
/// dangling link, a loop: `InvalidInput`), an environment error otherwise.
pub fn io_ending(e: &std::io::Error, summary: String) -> Ending {
    if e.kind() == std::io::ErrorKind::InvalidInput {
        Ending::bad_input(summary)
    } else {
        Ending::env(summary)
    }
}

/// Refuses a zero `--timeout`, which would leave no time to decide.
pub fn check_timeout(timeout: std::time::Duration) -> Result<(), Ending> {
    if timeout.is_zero() {
        return Err(Ending::bad_input(
            "--timeout 0 leaves no time to decide; give a duration such as 10m",
        ));
    }
    Ok(())
}

/// Refuses a workspace root that does not exist or lies inside a folder the run must not write to.
pub fn check_workspace_root(
    root: &std::path::Path,
    guarded: &[(&str, &std::path::Path)],
) -> Result<(), Ending> {
    if !root.is_dir() {
        return Err(Ending::bad_input(format!(
            "--workspace-root {} is not a folder; create it or pass another",
            root.display()
        )));
    }
    for (what, p) in guarded {
        if workspace::is_within(root, p) {
            return Err(Ending::bad_input(format!(
                "--workspace-root {} is inside the {what} {}; the run must never write there, choose a folder outside it",
                root.display(),
                p.display()
            )));
        }
    }
    Ok(())
}

/// When to keep a run's workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Keep {
    /// Remove it whatever the verdict.
    Never,
    /// Keep it when the run did not pass.
    OnFailure,
    /// Keep it whatever the verdict.
    Always,
}

impl Runner {
    /// Stops the sandbox's process group (its stop script first) and records the `stop` step.
    pub fn stop_sandbox(&mut self, stop_script: Command, grace: Duration) {
        let Some(mut g) = self.group.take() else {
            return;
        };
        let t = Instant::now();
        self.save_state("stopping");
        tracing::debug!(pgid = g.pgid, grace = ?grace, "stopping the sandbox");
        let rep = g.stop(Some(stop_script), grace);
        // Fenced ports lived in the sandbox's own namespace, which is gone with its processes.
        let busy: Vec<String> = if self.fenced {
            Vec::new()
        } else {
            self.state
                .ports
                .iter()
                .filter(|p| !crate::ports::is_free(**p))
                .map(|p| p.to_string())
                .collect()
        };
        let ok = rep.leftover.is_empty() && busy.is_empty();
        let mut detail = format!("{} (no process left)", rep.method);
        if !rep.leftover.is_empty() {
            detail = format!("{}; processes still alive: {:?}", rep.method, rep.leftover);
        }
        if !busy.is_empty() {
            detail.push_str(&format!("; ports still in use: {}", busy.join(", ")));
        }
        let status = if ok {
            StepStatus::Ok
        } else {
            StepStatus::Failed
        };
        self.step("stop", t, status, detail);
        self.save_state("stopped");
    }

    /// Sets the verdict, keeps or removes the workspace, prints the footer, returns the report.
    pub fn finish(
        &mut self,
        outcome: Result<(), Ending>,
        keep: Keep,
        launched: bool,
        verbose: bool,
        started: Instant,
    ) -> Report {
        self.finished = true;
        // A signal that arrived during the stop (after the last check) still ends the run as
        // interrupted: the user asked for it, and CI must not read a pass.
        let outcome = match (outcome, crate::signals::interrupted()) {
            (Ok(()), Some(sig)) if launched => Err(Ending::interrupted(format!(
                "interrupted by signal {sig} while the sandbox was being stopped"
            ))),
            (Err(e), Some(sig))
                if launched
                    && e.verdict != Verdict::Interrupted
                    && e.code != exit::ROLLBACK_FAILED =>
            {
                Err(Ending::interrupted(format!(
                    "interrupted by signal {sig} while the sandbox was being stopped; before that: {}",
                    e.summary
                )))
            }
            (o, _) => o,
        };
        let (verdict, code) = match &outcome {
            Ok(()) => (Verdict::Pass, exit::PASS),
            Err(e) => (e.verdict, e.code),
        };
        self.report.verdict = verdict;
        self.report.exit_code = code;
        if let Err(e) = &outcome {
            self.report.summary = e.summary.clone();
        }
        // Keep the workspace only where it helps: a run that started something and did not pass.
        let keep = launched
            && match keep {
                Keep::Always => true,
                Keep::Never => false,
                Keep::OnFailure => verdict != Verdict::Pass,
            };
        tracing::info!(
            verdict = ?verdict,
            exit_code = code,
            kept = keep,
            "run ended: {}",
            self.report.summary
        );
        for h in &self.report.signatures {
            tracing::debug!(id = %h.id, severity = ?h.severity, "signature at {}:{}: {}", h.file, h.line, h.text);
        }
        crate::diag::detach();
        if let Some(d) = self.run_dir.clone() {
            if keep {
                self.report.workspace.kept = true;
                let _ = std::fs::remove_file(d.join(workspace::RUN_FILE));
            } else {
                crate::workspace::remove_dir_all_writable(&d);
            }
        }
        self.report.duration_ms = started.elapsed().as_millis() as u64;
        if verbose {
            for h in self
                .report
                .signatures
                .iter()
                .filter(|h| h.severity == crate::watch::catalog::Severity::Progress)
            {
                self.print(&format!("  seen {} at {}:{}\n", h.id, h.file, h.line));
            }
        }
        if self.printed_header {
            self.print(&human::footer(&self.report));
        } else {
            self.print(&human::render(&self.report));
        }
        let command = self.report.command.clone();
        std::mem::replace(&mut self.report, Report::new(&command))
    }
}

/// Whether to fence the sandbox in its own network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolate {
    /// A network namespace where the host allows one, else none (said in the report).
    Auto,
    /// A network namespace, or exit 3.
    Netns,
    /// No fence: moved ports and a new cluster id only.
    None,
}

impl Runner {
    /// Decides the fence for the sandbox `what` (FE or BE) and records it in the report.
    pub fn set_isolation(&mut self, isolate: Isolate, what: &str) -> Result<(), Ending> {
        let (fenced, reason) = match (isolate, crate::fence::available()) {
            (Isolate::None, _) => (false, format!("--isolate none: the sandbox {what} can reach the network; moved ports and a new cluster id keep it apart from production")),
            (Isolate::Netns | Isolate::Auto, Ok(())) => (true, "a fresh network namespace with only lo up; the probes run inside it".to_string()),
            (Isolate::Netns, Err(why)) => {
                return Err(Ending::env(format!("failed to set up the network fence (--isolate netns): {why}")))
            }
            (Isolate::Auto, Err(why)) => (false, format!("NO network fence: {why}; the sandbox {what} can reach the network, and only moved ports, a new cluster id and the election reset keep it apart from production")),
        };
        self.fenced = fenced;
        self.report.isolation.mode = if fenced { "netns" } else { "none" }.into();
        self.report.isolation.reason = reason;
        Ok(())
    }

    /// Runs `bash <home>/bin/<script>` as the sandbox, output appended to `<home>/log/<out>`, after
    /// checking its ports are still free; records the `launch` step.
    pub fn launch_script(
        &mut self,
        home: &std::path::Path,
        script: &str,
        out: &str,
        ports: &[(String, u16)],
    ) -> Result<(), Ending> {
        let t = Instant::now();
        for (name, port) in ports {
            if !crate::ports::is_free(*port) {
                self.step(
                    "launch",
                    t,
                    StepStatus::Failed,
                    format!("{name} {port} is in use"),
                );
                return Err(Ending::env(format!(
                    "failed to launch: sandbox {name} {port} was taken by another process after it was chosen; run again"
                )));
            }
        }
        let out_path = home.join("log").join(out);
        let open_err =
            |e: std::io::Error| Ending::env(format!("failed to open {}: {e}", out_path.display()));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .map_err(open_err)?;
        let err = out.try_clone().map_err(open_err)?;
        let mut cmd = Command::new("bash");
        cmd.arg(home.join("bin").join(script))
            .current_dir(home)
            .stdout(std::process::Stdio::from(out))
            .stderr(std::process::Stdio::from(err));
        self.launch(cmd)?;
        let detail = format!(
            "bash bin/{script} (process group {})",
            self.state.pgid.unwrap_or(0)
        );
        self.step("launch", t, StepStatus::Ok, detail);
        Ok(())
    }

    /// Starts `cmd` as the sandbox's process group (fenced when the run is), and joins its
    /// namespace for the probes.
    pub fn launch(&mut self, mut cmd: Command) -> Result<(), Ending> {
        // Only sandbox runs adopt orphans: an in-place canary's BE belongs to the node, not to us.
        crate::supervise::become_subreaper();
        if self.fenced {
            crate::fence::enter_new_netns(&mut cmd);
        }
        tracing::debug!(command = ?cmd, fenced = self.fenced, "starting the sandbox");
        let group = crate::supervise::spawn_group(cmd)
            .map_err(|e| Ending::env(format!("failed to start the sandbox: {e}")))?;
        self.state.pgid = Some(group.pgid);
        self.state.pgid_start_ticks = workspace::process_start_ticks(group.pgid as u32);
        self.state.pids = vec![group.pgid];
        let leader = group.pgid as u32;
        self.group = Some(group);
        if self.fenced {
            match crate::fence::ProbeRunner::inside(leader) {
                Ok(p) => self.probes = p,
                Err(e) => {
                    // A leader that already died left no namespace; the decision reports its exit.
                    if self.group.as_mut().and_then(|g| g.try_exit()).is_none() {
                        return Err(Ending::env(format!(
                            "failed to join the sandbox's network namespace: {e}"
                        )));
                    }
                }
            }
        }
        self.save_state("running");
        Ok(())
    }
}

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
            if self.keep == Keep::Never {
                crate::workspace::remove_dir_all_writable(&d);
            } else {
                let _ = std::fs::remove_file(d.join(workspace::RUN_FILE));
                crate::output::err(&format!("the workspace is kept in {}\n", d.display()));
            }
        }
    }
}
