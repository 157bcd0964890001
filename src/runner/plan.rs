//! `--plan`: the parts of the plan text every sandbox prints the same way (the heading, a numbered
//! line per step under the step's own name, the run folder to be, the stop ladder, the port table),
//! and the run that ends after printing it.
//!
//! The FE and BE plans list different steps; each pipeline writes a step's line beside the step's
//! code under the name the run records, so `--plan` and the run list the same steps. What they
//! share is written once so the two read alike and stay true to what
//! [`create_workspace`](Runner::create_workspace) and [`stop_sandbox`](Runner::stop_sandbox) do.

use std::collections::BTreeMap;
use std::path::Path;

use super::Runner;
use crate::workspace::PREFIX;

/// The summary of a `--plan` run, FE or BE.
pub const PLAN_ONLY: &str = "plan only: nothing was written and nothing was started";

/// The first line of every plan.
pub const PLAN_HEADING: &str = "plan (nothing below has been done):\n";

/// A `--plan` text being written: the heading, then one numbered line per step.
pub struct PlanText {
    text: String,
    steps: usize,
}

impl Default for PlanText {
    fn default() -> Self {
        PlanText {
            text: PLAN_HEADING.to_string(),
            steps: 0,
        }
    }
}

impl PlanText {
    /// The step `name` (as the run records it) and what it will do.
    pub fn step(&mut self, name: &str, what: &str) {
        self.steps += 1;
        self.text
            .push_str(&format!("  {}. {name}: {what}\n", self.steps));
    }

    /// A line under the last step (a conf change, a note).
    pub fn detail(&mut self, line: &str) {
        self.text.push_str(&format!("       {line}\n"));
    }

    /// A line after the steps.
    pub fn line(&mut self, line: &str) {
        self.text.push_str(line);
        if !line.ends_with('\n') {
            self.text.push('\n');
        }
    }

    pub fn finish(self) -> String {
        self.text
    }
}

/// The run folder a run would create under `root`, its unknown parts named.
pub fn planned_run_dir(root: &Path) -> String {
    format!("{}/{PREFIX}<UTC timestamp>-<random>", root.display())
}

/// How the sandbox would be stopped: its `script`, then the signal ladder.
pub fn planned_stop(script: &str) -> String {
    format!("stop with bin/{script}, then SIGTERM, then SIGKILL to the process group")
}

/// The sandbox ports beside production's, one key a line.
pub fn ports_table(sandbox: &[(String, u16)], production: &BTreeMap<String, u16>) -> String {
    let mut s = String::from("ports (sandbox / production):\n");
    for (k, p) in sandbox {
        s.push_str(&format!(
            "  {k:<24} {p:>5} / {}\n",
            production
                .get(k)
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into())
        ));
    }
    s
}

impl Runner {
    /// Prints what `--plan` would do, and ends the run there.
    pub fn plan_only(&mut self, plan: &str) {
        self.print(plan);
        self.report.summary = PLAN_ONLY.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_table_pairs_each_sandbox_port_with_production_s() {
        let sandbox = vec![
            ("http_port".to_string(), 20123),
            ("rpc_port".to_string(), 20456),
        ];
        let production = BTreeMap::from([("http_port".to_string(), 8030)]);
        assert_eq!(
            ports_table(&sandbox, &production),
            format!(
                "ports (sandbox / production):\n  {:<24} 20123 / 8030\n  {:<24} 20456 / -\n",
                "http_port", "rpc_port"
            )
        );
        assert!(planned_run_dir(Path::new("/ws")).starts_with(&format!("/ws/{PREFIX}")));
        let mut p = PlanText::default();
        p.step("workspace", "create it");
        p.detail("a change: x = 1  ->  x = 2");
        p.step("rewrite fe.conf", "edit it");
        p.line("ports (sandbox / production):");
        assert_eq!(
            p.finish(),
            format!("{PLAN_HEADING}  1. workspace: create it\n       a change: x = 1  ->  x = 2\n  2. rewrite fe.conf: edit it\nports (sandbox / production):\n")
        );
    }
}
