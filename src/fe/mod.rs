//! The FE rehearsal: `sr-rehearse fe`.
//!
//! Copy the Leader's meta into a fresh workspace, start the new release on the copy with every port
//! moved, a new cluster id and the election-group reset, decide from its logs and probes whether it
//! accepted the metadata, stop it for sure, report. `prepare` does everything that can be decided
//! without touching anything (preflight, into a `plan`; with `jdk`), `rewrite` makes the sandbox's
//! fe.conf, `home` the path the scripts reach the sandbox by, `decide` (with `sql`) watches the
//! running FE, and this module runs the steps in order, writes each step's `--plan` line beside
//! it, and guarantees the teardown. What is not FE-specific (the workspace, the copy, launch, the
//! readiness wait, the retry on new ports, stop, `--keep`) is the shared `runner`.

mod decide;
mod home;
mod jdk;
mod plan;
mod prepare;
mod rewrite;
mod sql;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::report::{Report, StepStatus};
use crate::runner::{CopyStep, Launch, PlanText, Relaunch, StopWith};
use crate::version::Version;

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

/// The path the scripts reach the sandbox home by, and the symlink made for that when the real
/// path is not shell-safe (see `home::script_home`): what teardown needs besides the runner.
#[derive(Default)]
struct Homes {
    script_home: Option<PathBuf>,
    link: Option<PathBuf>,
}

/// Runs the rehearsal and returns its report; never leaves a process or a half-made workspace.
pub fn run(cfg: &FeConfig) -> Report {
    let started = Instant::now();
    let mut report = Report::new("fe");
    report.source.meta = cfg.meta.display().to_string();
    report.target.package = cfg.new_fe.display().to_string();
    let mut r = Runner::sandbox(report, cfg.quiet, cfg.keep);
    let mut homes = Homes::default();
    let outcome = pipeline(cfg, &mut r, &mut homes);
    teardown(cfg, &mut r, homes, outcome, started)
}

// The steps' names, shared by the run and its `--plan` text.
const WORKSPACE: &str = "workspace";
const COPY: &str = "copy meta";
const CONF: &str = "rewrite fe.conf";
const VERSION: &str = "patch VERSION";
const LAUNCH: &str = "launch";
const DECIDE: &str = "decide";
const STOP: &str = "stop";

fn pipeline(cfg: &FeConfig, r: &mut Runner, homes: &mut Homes) -> Result<(), Ending> {
    let t = Instant::now();
    let checked = prepare::preflight(cfg, r);
    let mut plan = r.failed_step("preflight", t, checked)?;
    r.step("preflight", t, StepStatus::Ok, plan.preflight_detail());
    let mut planned = PlanText::default();
    let planned_home = planned_home(cfg);

    // Workspace.
    planned.step(
        WORKSPACE,
        &format!(
            "create {}/ with fe/bin (copied), fe/lib (linked to {}/lib), fe/conf, fe/log",
            crate::runner::planned_run_dir(&cfg.workspace_root),
            cfg.new_fe.display()
        ),
    );
    if let Some(l) = &planned_home.1 {
        planned.detail(&format!(
            "and the link {l} -> {}, through which the scripts reach it (the workspace path has characters the start scripts split or evaluate); removed once the FE is stopped",
            planned_home.0
        ));
    }
    // Copy the meta.
    let fe_home_text = &planned_home.0;
    planned.step(
        COPY,
        &format!(
            "{} -> {fe_home_text}/meta ({} files, {:.1} MiB), hashing into {}/manifest.sha256",
            plan.source.path.display(),
            plan.source_files,
            plan.source_bytes as f64 / (1 << 20) as f64,
            crate::runner::planned_run_dir(&cfg.workspace_root)
        ),
    );
    // fe.conf and VERSION.
    plan.rewrite(
        planned_home.1.as_deref().unwrap_or(fe_home_text),
        cfg.cluster_id,
    );
    planned.step(CONF, &format!("base: {}", plan.base_conf_path));
    for c in &plan.changes {
        planned.detail(&c.describe());
    }
    planned.step(
        VERSION,
        &format!(
            "{fe_home_text}/meta/image/VERSION: clusterId={} -> clusterId={}",
            plan.source.cluster_id, cfg.cluster_id
        ),
    );
    // Launch, decide, stop.
    planned.step(
        LAUNCH,
        &format!(
            "run `bash {fe_home_text}/bin/start_fe.sh` in its own process group (JAVA_HOME={}); once more on new ports if another process takes one of them first",
            plan.java.as_ref().map(|j| j.0.as_str()).unwrap_or("unset")
        ),
    );
    planned.step(DECIDE, &decide_plan(cfg));
    planned.step(STOP, &crate::runner::planned_stop("stop_fe.sh"));
    planned.line(&format!(
        "then report; keep the workspace: {}",
        cfg.keep.describe()
    ));
    planned.line(&crate::runner::ports_table(&plan.ports, &plan.production));
    if cfg.plan {
        r.plan_only(&planned.finish());
        return Ok(());
    }
    r.interrupted()?;

    // Workspace.
    let t = Instant::now();
    let (dir, fe_home) = r.create_workspace(
        &cfg.workspace_root,
        &plan.ports,
        &cfg.new_fe,
        "fe",
        &prepare::LAYOUT,
    )?;
    let (script_home, link) = home::script_home(&dir, &fe_home).map_err(|e| {
        Ending::env(format!(
            "failed to link the sandbox home {} under a path without blanks or shell characters: {e}",
            fe_home.display()
        ))
    })?;
    homes.script_home = Some(script_home.clone());
    homes.link = link.clone();
    let detail = match &link {
        Some(l) => format!(
            "{} (the scripts reach it as {})",
            dir.display(),
            l.display()
        ),
        None => dir.display().to_string(),
    };
    r.step(WORKSPACE, t, StepStatus::Ok, detail);
    r.interrupted()?;

    // Copy the meta.
    let meta_copy = fe_home.join("meta");
    r.copy_step(CopyStep {
        step: COPY,
        label: COPY,
        tree: "meta dir",
        what: "copy",
        src: &cfg.meta,
        dst: &meta_copy,
        manifest: &dir.join("manifest.sha256"),
        total: plan.source_bytes,
        root: Some(&cfg.workspace_root),
    })?;
    r.interrupted()?;

    // fe.conf and VERSION.
    let t = Instant::now();
    let script_text = script_home.display().to_string();
    plan.rewrite(&script_text, cfg.cluster_id);
    let conf_path = fe_home.join("conf/fe.conf");
    r.write_conf(CONF, t, &conf_path, &plan.conf, &plan.changes, cfg.verbose)?;
    let t = Instant::now();
    let version_path = meta_copy.join("image/VERSION");
    let text = fs::read_to_string(&version_path)
        .map_err(|e| Ending::env(format!("failed to read {}: {e}", version_path.display())))?;
    fs::write(
        &version_path,
        crate::meta::patch_version(&text, cfg.cluster_id),
    )
    .map_err(|e| Ending::env(format!("failed to write {}: {e}", version_path.display())))?;
    let detail = format!("clusterId {} -> {}", plan.source.cluster_id, cfg.cluster_id);
    r.step(VERSION, t, StepStatus::Ok, detail);
    r.interrupted()?;

    // Launch and decide; once more on new ports if a port picked here was taken meanwhile.
    let launch = Launch {
        what: "FE",
        home: &fe_home,
        script_home: &script_home,
        start: "start_fe.sh",
        out: "fe.out",
        stop: StopWith {
            script: "stop_fe.sh",
            args: &[],
            grace: cfg.stop_grace,
        },
        keys: prepare::SANDBOX_PORTS,
        avoid: &plan.avoid.clone(),
    };
    let mut sandbox = Sandbox {
        cfg,
        plan: &mut plan,
        fe_home: &fe_home,
        meta_copy: &meta_copy,
        script_text: &script_text,
        conf_path: &conf_path,
    };
    r.launch_and_decide(launch, &mut sandbox)
}

/// The launched FE as the shared launch-and-decide step sees it.
struct Sandbox<'a> {
    cfg: &'a FeConfig,
    plan: &'a mut Plan,
    fe_home: &'a Path,
    meta_copy: &'a Path,
    script_text: &'a str,
    conf_path: &'a Path,
}

impl Relaunch for Sandbox<'_> {
    fn ports(&self) -> &[(String, u16)] {
        &self.plan.ports
    }

    fn use_ports(&mut self, r: &mut Runner, ports: Vec<(String, u16)>) -> Result<(), Ending> {
        let t = Instant::now();
        self.plan.ports = ports;
        self.plan.rewrite(self.script_text, self.cfg.cluster_id);
        let plan = &self.plan;
        r.write_conf(CONF, t, self.conf_path, &plan.conf, &plan.changes, false)
    }

    fn decide(&mut self, r: &mut Runner) -> Result<String, Ending> {
        decide::decide(self.cfg, r, self.plan, self.fe_home, self.meta_copy)
    }
}

/// The sandbox home as `--plan` names it, and the link the scripts would reach it by when the
/// workspace path is not shell-safe; the run folder's own name is not chosen yet.
fn planned_home(cfg: &FeConfig) -> (String, Option<String>) {
    let ws = crate::runner::planned_run_dir(&cfg.workspace_root);
    let root = fs::canonicalize(&cfg.workspace_root).unwrap_or_else(|_| cfg.workspace_root.clone());
    let link = (!home::shell_safe(&root.display().to_string())).then(|| {
        home::home_link_path(Path::new("sr-rehearse-TIMESTAMP-RANDOM"))
            .display()
            .to_string()
            .replace("TIMESTAMP-RANDOM", "<UTC timestamp>-<random>")
    });
    (format!("{ws}/fe"), link)
}

/// The decide step's `--plan` line: what `decide` and `sql` check, as the config asks.
fn decide_plan(cfg: &FeConfig) -> String {
    let sql = if cfg.sql_check {
        let mut s = "`SHOW DATABASES`, `SHOW PROC '/statistic'` and `SHOW FRONTENDS`".to_string();
        if let Some(q) = &cfg.query {
            s.push_str(&format!(", then `{q}`,"));
        }
        format!("{s} as {} over MySQL", cfg.user)
    } else {
        "(no SQL check: --no-query)".to_string()
    };
    format!(
        "from fe.log/fe.warn.log/fe.out, GET /api/bootstrap, then {sql}, GET /api/health; all within the timeout {}",
        humantime::format_duration(cfg.timeout)
    )
}

fn teardown(
    cfg: &FeConfig,
    r: &mut Runner,
    homes: Homes,
    outcome: Result<(), Ending>,
    started: Instant,
) -> Report {
    if r.launched() {
        let fe_home = r.run_dir.as_ref().map(|d| d.join("fe")).unwrap_or_default();
        let script_home = homes.script_home.clone().unwrap_or_else(|| fe_home.clone());
        r.stop_sandbox(&script_home, "stop_fe.sh", &[], cfg.stop_grace);
        r.report.isolation.reach_attempts =
            decide::reach_attempts(&fe_home.join("log/fe.log"), r.fenced);
    }
    // Only once the FE is stopped: until then its paths go through the link.
    if let Some(link) = homes.link {
        let _ = fs::remove_file(link);
    }
    r.finish_sandbox(outcome, cfg.verbose, started)
}
