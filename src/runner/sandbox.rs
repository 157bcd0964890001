//! The sandbox process: the network fence it may run in, its launch through the release's start
//! script as a process group of its own, and its stop through the stop script and then signals.
//!
//! Both sandboxes are a `bin/start_*.sh` and a `bin/stop_*.sh` of an unpacked release run from the
//! sandbox home; only the script names and the stop flags differ, so the ways in and out are here.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Ending, Runner};
use crate::report::StepStatus;
use crate::workspace;

/// Whether to fence the sandbox in its own network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolate {
    /// A network namespace where the host allows one, else none (said in the report).
    Auto,
    /// A network namespace, or exit 3.
    Netns,
    /// No fence: moved ports and a new cluster id only.
    None,
    /// Fenced from outside the tool (a Kubernetes NetworkPolicy denying the pod all traffic, a
    /// host firewall): where no namespace can be made, as in a pod without CAP_SYS_ADMIN. The tool
    /// cannot check it and records that the operator vouched for it.
    External,
}

impl Runner {
    /// Decides the fence for the sandbox `what` (FE or BE) and records it in the report.
    pub fn set_isolation(&mut self, isolate: Isolate, what: &str) -> Result<(), Ending> {
        let (fenced, reason) = match (isolate, crate::fence::available()) {
            (Isolate::None, _) => (false, format!("--isolate none: the sandbox {what} can reach the network; moved ports and a new cluster id keep it apart from production")),
            (Isolate::External, _) => (false, format!("--isolate external: the operator fenced the sandbox {what} from outside the tool (a NetworkPolicy or a firewall), which the tool cannot check; moved ports, a new cluster id and the election reset apply as well")),
            (Isolate::Netns | Isolate::Auto, Ok(())) => (true, "a fresh network namespace with only lo up; the probes run inside it".to_string()),
            (Isolate::Netns, Err(why)) => {
                return Err(Ending::env(format!("failed to set up the network fence (--isolate netns): {why}")))
            }
            (Isolate::Auto, Err(why)) => (false, format!("NO network fence: {why}; the sandbox {what} can reach the network, and only moved ports, a new cluster id and the election reset keep it apart from production")),
        };
        self.fenced = fenced;
        self.report.isolation.mode = match (fenced, isolate) {
            (true, _) => "netns",
            (false, Isolate::External) => "external",
            (false, _) => "none",
        }
        .into();
        self.report.isolation.reason = reason;
        Ok(())
    }

    /// Runs `bash <home>/bin/<script>` as the sandbox, output appended to `<home>/log/<out>`, after
    /// checking its ports are still free; records the `launch` step.
    pub fn launch_script(
        &mut self,
        home: &Path,
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
                    "failed to launch: sandbox {name} {port} was taken by {} after it was chosen; run again",
                    super::retry::holders_of(*port)
                )));
            }
        }
        // Only with the `test-hooks` feature: a port taken after the check, before the bind.
        self.squatted
            .extend(crate::hooks::test_squat(ports, "after-check"));
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
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
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
        self.launched = true;
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

    /// Stops the sandbox's process group, first with `bash <home>/bin/<script> <args>` run from
    /// `home` (its output discarded), then with the signal ladder, each rung waiting `grace`;
    /// records the `stop` step. Does nothing when no sandbox runs.
    pub fn stop_sandbox(&mut self, home: &Path, script: &str, args: &[&str], grace: Duration) {
        let Some(mut g) = self.group.take() else {
            return;
        };
        let t = Instant::now();
        self.save_state("stopping");
        let mut stop = Command::new("bash");
        stop.arg(home.join("bin").join(script))
            .args(args)
            .current_dir(home)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        tracing::debug!(pgid = g.pgid, grace = ?grace, "stopping the sandbox");
        let rep = g.stop(Some(stop), grace);
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
}
