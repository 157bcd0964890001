//! The sandbox canary: the new BE build started beside the node, touching nothing of it.
//!
//! The same shape as the FE rehearsal (`src/fe/`): `prepare` checks everything before anything is
//! written and yields the plan, `rewrite` makes the sandbox's be.conf, `decide` is the BE's half
//! of the shared readiness wait, and this module runs the steps in order, each step's `--plan`
//! line beside it, and stops the BE for sure. The workspace, the copy, launch, the retry on new
//! ports, stop and `--keep` are the shared `runner`'s.

mod decide;
mod prepare;
mod rewrite;

use std::fs;
use std::path::Path;
use std::time::Instant;

use super::BeConfig;
use crate::report::{Report, StepStatus};
use crate::runner::{CopyStep, Ending, Exit, Launch, PlanText, Relaunch, Runner, StopWith};
use crate::version::Version;
use crate::watch::catalog::Role;
use crate::watch::tail::Tailer;
use crate::watch::Watcher;

pub(super) use decide::{decide, log_files};

pub fn run(cfg: &BeConfig) -> Report {
    let started = Instant::now();
    let mut r = Runner::sandbox(super::new_report("be", cfg), cfg.quiet, cfg.keep);
    let outcome = pipeline(cfg, &mut r);
    if r.launched() {
        let home = r.run_dir.as_ref().map(|d| d.join("be")).unwrap_or_default();
        r.stop_sandbox(&home, "stop_be.sh", stop_args(&home), cfg.stop_grace);
    }
    r.finish_sandbox(outcome, cfg.verbose, started)
}

/// The stop script's arguments for the BE in `home`: a graceful stop (3.0+: `-g`, SIGTERM) lets
/// glog flush the INFO lines it still buffers, which are the sandbox's evidence; the default
/// SIGKILL would lose them.
fn stop_args(home: &Path) -> &'static [&'static str] {
    let graceful = super::node::binary_version(home)
        .and_then(|v| v.parse::<Version>().ok())
        .is_some_and(|v| v.stop_be_has_graceful());
    if graceful {
        &["-g"]
    } else {
        &[]
    }
}

// The steps' names, shared by the run and its `--plan` planned.
const WORKSPACE: &str = "workspace";
const STORAGE: &str = "storage";
const CONF: &str = "rewrite be.conf";
const LAUNCH: &str = "launch";
const DECIDE: &str = "decide";
const STOP: &str = "stop";

fn pipeline(cfg: &BeConfig, r: &mut Runner) -> Result<(), Ending> {
    let t = Instant::now();
    let checked = prepare::preflight(cfg, r);
    let mut plan = r.failed_step("preflight", t, checked)?;
    r.step("preflight", t, StepStatus::Ok, plan.preflight_detail());

    let ws = crate::runner::planned_run_dir(&cfg.workspace_root);
    let planned_home = format!("{ws}/be");
    let mut planned = PlanText::default();
    planned.step(
        WORKSPACE,
        &format!(
            "create {ws}/ with be/bin and be/conf (copied), be/lib (linked to {}/lib, starrocks_be copied), be/log, be/storage",
            plan.new_be.display()
        ),
    );
    planned.step(
        STORAGE,
        &match &cfg.storage_copy {
            Some(p) => format!(
                "copy the storage root {} into {planned_home}/storage, hashing into {ws}/storage-manifest.sha256",
                p.display()
            ),
            None => format!("start with an empty storage root {planned_home}/storage"),
        },
    );
    planned.step(CONF, &format!("base: {}", plan.node.path));
    let (_, changes) = rewrite::rewrite(&plan, &planned_home, &format!("{planned_home}/storage"));
    for c in &changes {
        planned.detail(&c.describe());
    }
    planned.step(
        LAUNCH,
        &format!("run `bash {planned_home}/bin/start_be.sh` in its own process group; once more on new ports if another process takes one of them first"),
    );
    planned.step(
        DECIDE,
        &format!(
            "from the process, GET /api/health and the heartbeat port (be.INFO/be.WARNING/be.out name failures); timeout {}",
            humantime::format_duration(cfg.timeout)
        ),
    );
    planned.step(STOP, &crate::runner::planned_stop("stop_be.sh"));
    planned.line(&format!(
        "then report; keep the workspace: {}",
        cfg.keep.describe()
    ));
    planned.line(&crate::runner::ports_table(&plan.ports, &plan.node.ports));
    if cfg.plan {
        r.plan_only(&planned.finish());
        return Ok(());
    }
    r.interrupted()?;

    let t = Instant::now();
    let (dir, home) = r.create_workspace(
        &cfg.workspace_root,
        &plan.ports,
        &plan.new_be,
        "be",
        &prepare::LAYOUT,
    )?;
    r.step(WORKSPACE, t, StepStatus::Ok, dir.display().to_string());

    let storage = home.join("storage");
    if let Some(src) = &cfg.storage_copy {
        let _ = fs::remove_dir(&storage);
        let (total, _) = crate::meta::tree_size(src);
        r.copy_step(CopyStep {
            step: STORAGE,
            label: "copy storage",
            tree: "storage root",
            what: "storage copy",
            src,
            dst: &storage,
            manifest: &dir.join("storage-manifest.sha256"),
            total,
            root: Some(&cfg.workspace_root),
        })?;
    } else {
        r.step(
            STORAGE,
            Instant::now(),
            StepStatus::Ok,
            "empty storage root",
        );
    }
    r.interrupted()?;

    let (home_text, storage_text) = (home.display().to_string(), storage.display().to_string());
    let conf_path = home.join("conf/be.conf");
    let t = Instant::now();
    let (conf, changes) = rewrite::rewrite(&plan, &home_text, &storage_text);
    r.write_conf(CONF, t, &conf_path, &conf, &changes, cfg.verbose)?;

    // Launch and decide; once more on new ports if a port picked here was taken meanwhile.
    let launch = Launch {
        what: "BE",
        home: &home,
        script_home: &home,
        start: "start_be.sh",
        out: "be.out",
        stop: StopWith {
            script: "stop_be.sh",
            args: stop_args(&home),
            grace: cfg.stop_grace,
        },
        keys: prepare::SANDBOX_PORTS,
        avoid: &plan.avoid.clone(),
    };
    let mut sandbox = Sandbox {
        cfg,
        version: super::node::binary_version(&home),
        plan: &mut plan,
        home: &home,
        home_text: &home_text,
        storage_text: &storage_text,
        conf_path: &conf_path,
    };
    r.launch_and_decide(launch, &mut sandbox)
}

/// The launched BE as the shared launch-and-decide step sees it.
struct Sandbox<'a> {
    cfg: &'a BeConfig,
    version: Option<String>,
    plan: &'a mut prepare::Plan,
    home: &'a Path,
    home_text: &'a str,
    storage_text: &'a str,
    conf_path: &'a Path,
}

impl Relaunch for Sandbox<'_> {
    fn ports(&self) -> &[(String, u16)] {
        &self.plan.ports
    }

    fn use_ports(&mut self, r: &mut Runner, ports: Vec<(String, u16)>) -> Result<(), Ending> {
        let t = Instant::now();
        self.plan.ports = ports;
        let (conf, changes) = rewrite::rewrite(self.plan, self.home_text, self.storage_text);
        r.write_conf(CONF, t, self.conf_path, &conf, &changes, false)
    }

    fn decide(&mut self, r: &mut Runner) -> Result<String, Ending> {
        let ports = (
            self.plan.port("be_http_port"),
            self.plan.port("heartbeat_service_port"),
        );
        let mut exited = |r: &mut Runner| r.group.as_mut().and_then(|g| g.try_exit()).map(Exit::of);
        let files = log_files(self.home);
        r.log_tail_from = vec![files[0].clone(), files[2].clone()];
        let mut watch = Watcher::new(Tailer::new(&files), Role::Be);
        let log_dir = self.home.join("log");
        decide(
            self.cfg.timeout,
            r,
            (&mut watch, &log_dir),
            ports,
            self.version.clone(),
            &mut exited,
        )
    }
}
