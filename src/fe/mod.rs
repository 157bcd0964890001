//! The FE rehearsal: `sr-rehearse fe`.
//!
//! Copy the Leader's meta into a fresh workspace, start the new release on the copy with every port
//! moved, a new cluster id and the election-group reset, decide from its logs and probes whether it
//! accepted the metadata, stop it for sure, report. `prepare` does everything that can be decided
//! without touching anything (preflight and the plan), `decide` watches the running FE, and this
//! module runs the steps in order and guarantees the teardown.

mod decide;
mod prepare;

use std::fs;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::{exit, human, Report, Step, StepStatus, Verdict};
use crate::supervise::{self, Group};
use crate::version::Version;
use crate::workspace::{self, RunState};

pub use prepare::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Keep {
    Never,
    OnFailure,
    Always,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolate {
    Auto,
    Netns,
    None,
}

/// Everything `sr-rehearse fe` was asked to do, checked for shape by the CLI.
#[derive(Debug, Clone)]
pub struct FeConfig {
    pub meta: PathBuf,
    pub new_fe: PathBuf,
    pub prod_conf: Option<PathBuf>,
    pub workspace_root: PathBuf,
    pub keep: Keep,
    pub timeout: Duration,
    pub plan: bool,
    pub isolate: Isolate,
    pub cluster_id: i64,
    /// None with `--no-query`.
    pub query: Option<String>,
    pub user: String,
    pub password_env: Option<String>,
    pub from_version: Option<Version>,
    pub to_version: Option<Version>,
    pub quiet: bool,
    /// Also print every fe.conf change and every signature, readiness lines included.
    pub verbose: bool,
    /// Grace period of each rung of the stop ladder.
    pub stop_grace: Duration,
}

/// How a run ended, when it did not pass.
#[derive(Debug)]
pub(crate) struct Ending {
    pub verdict: Verdict,
    pub code: i32,
    pub summary: String,
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
}

/// State shared by the steps, and what teardown must undo.
pub(crate) struct Run<'a> {
    pub cfg: &'a FeConfig,
    pub report: Report,
    pub run_dir: Option<PathBuf>,
    pub group: Option<Group>,
    pub state: RunState,
    /// Whether the sandbox runs in its own network namespace.
    pub fenced: bool,
    /// Where probes run: inside the sandbox's namespace when fenced.
    pub probes: crate::fence::ProbeRunner,
    printed_header: bool,
}

impl Run<'_> {
    fn print(&self, s: &str) {
        if !self.cfg.quiet {
            print!("{s}");
            let _ = std::io::stdout().flush();
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
        self.report.steps.push(st);
    }

    pub fn save_state(&mut self, phase: &str) {
        self.state.phase = phase.into();
        if let Some(d) = &self.run_dir {
            let _ = workspace::write_run_state(d, &self.state);
        }
    }

    pub fn interrupted(&self) -> Result<(), Ending> {
        match crate::signals::interrupted() {
            Some(sig) => Err(Ending::new(
                Verdict::Interrupted,
                exit::INTERRUPTED,
                format!("interrupted by signal {sig}; the sandbox was stopped"),
            )),
            None => Ok(()),
        }
    }
}

/// Runs the rehearsal and returns its report; never leaves a process or a half-made workspace.
pub fn run(cfg: &FeConfig) -> Report {
    let started = Instant::now();
    let mut report = Report::new("fe");
    report.source.meta = cfg.meta.display().to_string();
    report.target.package = cfg.new_fe.display().to_string();
    let mut run = Run {
        cfg,
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
    };
    let outcome = pipeline(&mut run);
    teardown(&mut run, outcome, started)
}

fn pipeline(run: &mut Run) -> Result<(), Ending> {
    let t = Instant::now();
    let mut plan = match prepare::preflight(run) {
        Ok(p) => p,
        Err(e) => {
            run.step("preflight", t, StepStatus::Failed, e.summary.clone());
            return Err(e);
        }
    };
    run.step("preflight", t, StepStatus::Ok, plan.preflight_detail());
    if run.cfg.plan {
        run.print(&plan.render(run.cfg));
        return Ok(());
    }
    run.interrupted()?;

    // Workspace.
    let t = Instant::now();
    let root = fs::canonicalize(&run.cfg.workspace_root)
        .unwrap_or_else(|_| run.cfg.workspace_root.clone());
    let dir = workspace::create_run_dir(&root).map_err(|e| {
        Ending::env(format!(
            "failed to create a run folder in {}: {e}",
            run.cfg.workspace_root.display()
        ))
    })?;
    run.run_dir = Some(dir.clone());
    run.report.workspace.path = Some(dir.display().to_string());
    run.state.ports = plan.sandbox_ports();
    run.save_state("workspace");
    let fe_home = dir.join("fe");
    prepare::lay_out_package(&run.cfg.new_fe, &fe_home).map_err(|e| {
        Ending::env(format!(
            "failed to lay out the sandbox package in {}: {e}",
            fe_home.display()
        ))
    })?;
    run.step("workspace", t, StepStatus::Ok, dir.display().to_string());
    run.interrupted()?;

    // Copy the meta.
    let t = Instant::now();
    let meta_copy = fe_home.join("meta");
    let total = plan.source_bytes;
    let show_progress = !run.cfg.quiet && std::io::stderr().is_terminal() && total > (256 << 20);
    let mut last_tick = Instant::now();
    let mut progress = |done: u64| {
        if show_progress && last_tick.elapsed() > Duration::from_millis(100) {
            last_tick = Instant::now();
            eprint!(
                "\r  copying meta: {:>3}% ({} / {} MiB)",
                done * 100 / total.max(1),
                done >> 20,
                total >> 20
            );
        }
    };
    let copied = workspace::copy_tree(
        &run.cfg.meta,
        &meta_copy,
        &dir.join("manifest.sha256"),
        &|| crate::signals::interrupted().is_some(),
        &mut progress,
    );
    if show_progress {
        eprint!("\r{:60}\r", "");
    }
    let copied = match copied {
        Ok(c) => c,
        Err(workspace::CopyError::Interrupted) => {
            run.interrupted()?;
            unreachable!("copy reports interruption only after a signal");
        }
        Err(e) => {
            let hint = if e.is_no_space() {
                format!(
                    "; free space on {} or choose another --workspace-root",
                    run.cfg.workspace_root.display()
                )
            } else {
                String::new()
            };
            run.step("copy meta", t, StepStatus::Failed, e.to_string());
            return Err(Ending::env(format!("{e}{hint}")));
        }
    };
    let src = &mut run.report.source;
    src.file_count = copied.files;
    src.bytes = copied.bytes;
    src.manifest_digest = Some(copied.manifest_digest.clone());
    src.changed_during_copy = copied.changed.clone();
    if !copied.changed.is_empty() {
        src.live = true;
        src.live_reasons.push(format!(
            "{} file(s) changed during the copy",
            copied.changed.len()
        ));
    }
    if !copied.still_changing.is_empty() {
        run.report.warnings.push(format!(
            "still changing after the re-copies, copied as a mid-write snapshot: {}",
            copied.still_changing.join(", ")
        ));
    }
    for l in &copied.outside_links {
        run.report.warnings.push(format!(
            "symlink pointing out of the meta dir copied as a link, not followed: {l}"
        ));
    }
    for s in &copied.skipped {
        run.report
            .warnings
            .push(format!("skipped transient file {s}"));
    }
    run.step(
        "copy meta",
        t,
        StepStatus::Ok,
        format!(
            "{} files, {:.1} MiB, manifest sha256 {}",
            copied.files,
            copied.bytes as f64 / (1 << 20) as f64,
            &copied.manifest_digest[..12]
        ),
    );
    run.interrupted()?;

    // fe.conf and VERSION.
    let t = Instant::now();
    let conf_path = fe_home.join("conf/fe.conf");
    plan.rewrite(&fe_home.display().to_string(), run.cfg.cluster_id);
    fs::write(&conf_path, plan.conf.render())
        .map_err(|e| Ending::env(format!("failed to write {}: {e}", conf_path.display())))?;
    run.step(
        "rewrite fe.conf",
        t,
        StepStatus::Ok,
        format!("{} keys changed", plan.changes.len()),
    );
    let t = Instant::now();
    let version_path = meta_copy.join("image/VERSION");
    let text = fs::read_to_string(&version_path)
        .map_err(|e| Ending::env(format!("failed to read {}: {e}", version_path.display())))?;
    fs::write(
        &version_path,
        crate::meta::patch_version(&text, run.cfg.cluster_id),
    )
    .map_err(|e| Ending::env(format!("failed to write {}: {e}", version_path.display())))?;
    run.step(
        "patch VERSION",
        t,
        StepStatus::Ok,
        format!(
            "clusterId {} -> {}",
            plan.source.cluster_id, run.cfg.cluster_id
        ),
    );
    run.interrupted()?;

    // Launch.
    let t = Instant::now();
    for (name, port) in &plan.ports {
        if !crate::ports::is_free(*port) {
            run.step(
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
    let out_path = fe_home.join("log/fe.out");
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out_path)
        .map_err(|e| Ending::env(format!("failed to open {}: {e}", out_path.display())))?;
    let err = out
        .try_clone()
        .map_err(|e| Ending::env(format!("failed to open {}: {e}", out_path.display())))?;
    let mut cmd = Command::new("bash");
    cmd.arg(fe_home.join("bin/start_fe.sh"))
        .current_dir(&fe_home)
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    if run.fenced {
        crate::fence::enter_new_netns(&mut cmd);
    }
    let group = supervise::spawn_group(cmd).map_err(|e| {
        Ending::env(format!(
            "failed to start bash {}/bin/start_fe.sh: {e}",
            fe_home.display()
        ))
    })?;
    run.state.pgid = Some(group.pgid);
    run.state.pids = vec![group.pgid];
    let leader = group.pgid as u32;
    run.group = Some(group);
    if run.fenced {
        match crate::fence::ProbeRunner::inside(leader) {
            Ok(p) => run.probes = p,
            Err(e) => {
                // A leader that already died left no namespace; the decision reports its exit.
                if run.group.as_mut().and_then(|g| g.try_exit()).is_none() {
                    return Err(Ending::env(format!(
                        "failed to join the sandbox's network namespace: {e}"
                    )));
                }
            }
        }
    }
    run.save_state("running");
    run.step(
        "launch",
        t,
        StepStatus::Ok,
        format!(
            "bash bin/start_fe.sh (process group {})",
            run.state.pgid.unwrap_or(0)
        ),
    );

    // Decide.
    let t = Instant::now();
    let decided = decide::decide(run, &plan, &fe_home, &meta_copy);
    let status = if decided.is_ok() {
        StepStatus::Ok
    } else {
        StepStatus::Failed
    };
    let detail = match &decided {
        Ok(s) => s.clone(),
        Err(e) => e.summary.clone(),
    };
    run.step("decide", t, status, detail);
    decided.map(|summary| {
        run.report.summary = summary;
    })
}

fn teardown(run: &mut Run, outcome: Result<(), Ending>, started: Instant) -> Report {
    let launched = run.group.is_some();
    if let Some(mut g) = run.group.take() {
        let t = Instant::now();
        run.save_state("stopping");
        let fe_home = run
            .run_dir
            .as_ref()
            .map(|d| d.join("fe"))
            .unwrap_or_default();
        let mut stop = Command::new("bash");
        stop.arg(fe_home.join("bin/stop_fe.sh"))
            .current_dir(&fe_home)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let rep = g.stop(Some(stop), run.cfg.stop_grace);
        // Fenced ports lived in the sandbox's own namespace, which is gone with its processes.
        let busy: Vec<String> = if run.fenced {
            Vec::new()
        } else {
            run.state
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
        run.step(
            "stop",
            t,
            if ok {
                StepStatus::Ok
            } else {
                StepStatus::Failed
            },
            detail,
        );
        run.save_state("stopped");
        run.report.isolation.reach_attempts =
            decide::reach_attempts(&fe_home.join("log/fe.log"), run.fenced);
    }
    let (verdict, code) = match &outcome {
        Ok(()) => (Verdict::Pass, exit::PASS),
        Err(e) => (e.verdict, e.code),
    };
    run.report.verdict = verdict;
    run.report.exit_code = code;
    if let Err(e) = &outcome {
        run.report.summary = e.summary.clone();
    } else if run.cfg.plan {
        run.report.summary = "plan only: nothing was written and nothing was started".into();
    }
    // Keep the workspace only where it helps: a rehearsal that ran and did not pass.
    let keep = launched
        && match run.cfg.keep {
            Keep::Always => true,
            Keep::Never => false,
            Keep::OnFailure => verdict != Verdict::Pass,
        };
    if let Some(d) = &run.run_dir {
        if keep {
            run.report.workspace.kept = true;
            let _ = fs::remove_file(d.join(workspace::RUN_FILE));
        } else {
            remove_dir_all_writable(d);
        }
    }
    run.report.duration_ms = started.elapsed().as_millis() as u64;
    if run.cfg.verbose {
        for h in run
            .report
            .signatures
            .iter()
            .filter(|h| h.severity == crate::watch::catalog::Severity::Progress)
        {
            run.print(&format!("  seen {} at {}:{}\n", h.id, h.file, h.line));
        }
    }
    if run.printed_header {
        run.print(&human::footer(&run.report));
    } else {
        run.print(&human::render(&run.report));
    }
    std::mem::replace(&mut run.report, Report::new("fe"))
}

/// Removes a run folder even where the copy kept read-only modes on folders.
pub(crate) fn remove_dir_all_writable(d: &Path) {
    if fs::remove_dir_all(d).is_ok() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    for e in walkdir::WalkDir::new(d).into_iter().flatten() {
        if e.file_type().is_dir() {
            let _ = fs::set_permissions(e.path(), fs::Permissions::from_mode(0o700));
        }
    }
    let _ = fs::remove_dir_all(d);
}
