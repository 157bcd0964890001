//! The FE rehearsal: `sr-rehearse fe`.
//!
//! Copy the Leader's meta into a fresh workspace, start the new release on the copy with every port
//! moved, a new cluster id and the election-group reset, decide from its logs and probes whether it
//! accepted the metadata, stop it for sure, report. `prepare` does everything that can be decided
//! without touching anything (preflight, into a `plan`; with `jdk`), `rewrite` makes the sandbox's
//! fe.conf, `home` the path the scripts reach the sandbox by, `decide` (with `sql`) watches the
//! running FE, and this module runs the steps in order and guarantees the teardown. What is not
//! FE-specific (the workspace, the copy, launch and stop, `--keep`) is the shared `runner`.

mod decide;
mod home;
mod jdk;
mod plan;
mod prepare;
mod rewrite;
mod sql;

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::report::{Report, StepStatus};
use crate::version::Version;
use crate::workspace;

pub use home::remove_home_link;
pub use plan::Plan;

pub use crate::runner::Keep;

pub use crate::runner::Isolate;

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
    /// The FE-only SQL check (off with `--no-query`).
    pub sql_check: bool,
    /// A statement of the user's own to run after the built-in ones (`--query`).
    pub query: Option<String>,
    pub user: String,
    pub password_env: Option<String>,
    pub from_version: Option<Version>,
    pub to_version: Option<crate::version::VersionReq>,
    pub quiet: bool,
    /// Also print every fe.conf change and every signature, readiness lines included.
    pub verbose: bool,
    /// Grace period of each rung of the stop ladder.
    pub stop_grace: Duration,
}

pub(crate) use crate::runner::{Ending, Runner};

/// The FE rehearsal's state: the shared run context plus its config.
pub(crate) struct Run<'a> {
    pub cfg: &'a FeConfig,
    pub ctx: Runner,
    /// The sandbox home as the scripts are given it, and the symlink made for that when the real
    /// path is not shell-safe (see `home::script_home`).
    pub script_home: Option<PathBuf>,
    pub home_link: Option<PathBuf>,
}

impl std::ops::Deref for Run<'_> {
    type Target = Runner;
    fn deref(&self) -> &Runner {
        &self.ctx
    }
}

impl std::ops::DerefMut for Run<'_> {
    fn deref_mut(&mut self) -> &mut Runner {
        &mut self.ctx
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
        ctx: Runner::sandbox(report, cfg.quiet, cfg.keep),
        script_home: None,
        home_link: None,
    };
    let outcome = pipeline(&mut run);
    teardown(&mut run, outcome, started)
}

fn pipeline(run: &mut Run) -> Result<(), Ending> {
    let t = Instant::now();
    let checked = prepare::preflight(run);
    let mut plan = run.failed_step("preflight", t, checked)?;
    run.step("preflight", t, StepStatus::Ok, plan.preflight_detail());
    if run.cfg.plan {
        let text = plan.render(run.cfg);
        run.plan_only(&text);
        return Ok(());
    }
    run.interrupted()?;

    // Workspace.
    let t = Instant::now();
    let (dir, fe_home) = run.ctx.create_workspace(
        &run.cfg.workspace_root,
        &plan.ports,
        &run.cfg.new_fe,
        "fe",
        &prepare::LAYOUT,
    )?;
    let (script_home, link) = home::script_home(&dir, &fe_home).map_err(|e| {
        Ending::env(format!(
            "failed to link the sandbox home {} under a path without blanks or shell characters: {e}",
            fe_home.display()
        ))
    })?;
    run.script_home = Some(script_home.clone());
    run.home_link = link.clone();
    let detail = match &link {
        Some(l) => format!(
            "{} (the scripts reach it as {})",
            dir.display(),
            l.display()
        ),
        None => dir.display().to_string(),
    };
    run.step("workspace", t, StepStatus::Ok, detail);
    run.interrupted()?;

    // Copy the meta.
    let t = Instant::now();
    let meta_copy = fe_home.join("meta");
    let copied = run.copy_tree(
        "copy meta",
        &run.cfg.meta,
        &meta_copy,
        &dir.join("manifest.sha256"),
        plan.source_bytes,
    );
    let copied = match copied {
        Ok(c) => c,
        Err(e) => {
            if !matches!(e, workspace::CopyError::Interrupted) {
                run.step("copy meta", t, StepStatus::Failed, e.to_string());
            }
            return Err(run.copy_failed(&e, "copy", Some(&run.cfg.workspace_root)));
        }
    };
    let src = &mut run.report.source;
    src.file_count = copied.files;
    src.bytes = copied.bytes;
    src.manifest_digest = Some(copied.manifest_digest.clone());
    src.changed_during_copy = copied.changed.clone();
    src.copy_methods = copied.methods;
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
            "symlink pointing out of the meta dir copied as the content it points to: {l}"
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
            "{} files, {:.1} MiB ({}), manifest sha256 {}",
            copied.files,
            copied.bytes as f64 / (1 << 20) as f64,
            copied.methods.describe(),
            &copied.manifest_digest[..12]
        ),
    );
    run.interrupted()?;

    // fe.conf and VERSION.
    let t = Instant::now();
    plan.rewrite(&script_home.display().to_string(), run.cfg.cluster_id);
    let verbose = run.cfg.verbose;
    run.ctx.write_conf(
        "rewrite fe.conf",
        t,
        &fe_home.join("conf/fe.conf"),
        &plan.conf,
        &plan.changes,
        verbose,
    )?;
    let t = Instant::now();
    let version_path = meta_copy.join("image/VERSION");
    let text = fs::read_to_string(&version_path)
        .map_err(|e| Ending::env(format!("failed to read {}: {e}", version_path.display())))?;
    fs::write(
        &version_path,
        crate::meta::patch_version(&text, run.cfg.cluster_id),
    )
    .map_err(|e| Ending::env(format!("failed to write {}: {e}", version_path.display())))?;
    let detail = format!(
        "clusterId {} -> {}",
        plan.source.cluster_id, run.cfg.cluster_id
    );
    run.step("patch VERSION", t, StepStatus::Ok, detail);
    run.interrupted()?;

    // Launch.
    run.launch_script(&script_home, "start_fe.sh", "fe.out", &plan.ports)?;

    // Decide.
    let t = Instant::now();
    let decided = decide::decide(run, &plan, &fe_home, &meta_copy);
    run.decide_step(t, decided)
}

fn teardown(run: &mut Run, outcome: Result<(), Ending>, started: Instant) -> Report {
    if run.launched() {
        let fe_home = run
            .run_dir
            .as_ref()
            .map(|d| d.join("fe"))
            .unwrap_or_default();
        let script_home = run.script_home.clone().unwrap_or_else(|| fe_home.clone());
        let grace = run.cfg.stop_grace;
        run.stop_sandbox(&script_home, "stop_fe.sh", &[], grace);
        run.report.isolation.reach_attempts =
            decide::reach_attempts(&fe_home.join("log/fe.log"), run.fenced);
    }
    // Only once the FE is stopped: until then its paths go through the link.
    if let Some(link) = run.home_link.take() {
        let _ = fs::remove_file(link);
    }
    let verbose = run.cfg.verbose;
    run.finish_sandbox(outcome, verbose, started)
}
