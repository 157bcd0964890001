//! A simulated cluster for the `check` and `upgrade-plan` tests: built with
//! `starrocks-sim make-cluster`, every node started and stopped by its own scripts, and every
//! process mentioning the cluster folder killed when the test ends, whatever started it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use std::os::unix::process::CommandExt;

use sr_rehearse::sim::cluster::{ClusterSpec, NodeSpec};

use super::util::{kill_all_mentioning, run_sim, tool_bin, wait_for_or_none};

pub struct SimCluster {
    pub _dir: tempfile::TempDir,
    pub dir: PathBuf,
    pub spec: ClusterSpec,
}

impl Drop for SimCluster {
    fn drop(&mut self) {
        kill_all_mentioning(&self.dir);
    }
}

impl SimCluster {
    /// Builds 3 FEs and 3 BEs of `version` with `extra` make-cluster arguments.
    pub fn build(version: &str, extra: &[&str]) -> SimCluster {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("cluster");
        let mut args = vec![
            "make-cluster",
            "--version",
            version,
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run_sim(&args);
        let spec = ClusterSpec::load(&out).unwrap();
        SimCluster {
            _dir: dir,
            dir: out,
            spec,
        }
    }

    pub fn node(&self, name: &str) -> &NodeSpec {
        self.spec.nodes.iter().find(|n| n.name == name).unwrap()
    }

    fn script(&self, name: &str, script: &str, args: &[&str]) -> Output {
        let n = self.node(name);
        Command::new("bash")
            .arg(n.home.join("bin").join(script))
            .args(args)
            .env("JAVA_HOME", &self.spec.jdk)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .output()
            .unwrap()
    }

    pub fn start(&self, name: &str) -> Output {
        let script = if name.starts_with("fe") {
            "start_fe.sh"
        } else {
            "start_be.sh"
        };
        self.script(name, script, &["--daemon"])
    }

    pub fn stop(&self, name: &str) -> Output {
        let script = if name.starts_with("fe") {
            "stop_fe.sh"
        } else {
            "stop_be.sh"
        };
        self.script(name, script, &[])
    }

    pub fn start_all(&self) {
        for n in ["fe1", "fe2", "fe3", "be1", "be2", "be3"] {
            let out = self.start(n);
            assert!(
                out.status.success(),
                "{n} did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// The `--fe` and `--query-port` arguments pointing at `name`.
    pub fn fe_args(&self, name: &str) -> Vec<String> {
        let n = self.node(name);
        vec![
            "--fe".into(),
            format!("127.0.0.1:{}", n.ports["http_port"]),
            "--query-port".into(),
            n.ports["query_port"].to_string(),
        ]
    }

    pub fn check(&self, extra: &[&str]) -> Output {
        Command::new(tool_bin())
            .arg("check")
            .args(self.fe_args("fe1"))
            .args(extra)
            .output()
            .unwrap()
    }

    /// Runs `check` until `accept` takes its output, or panics with the last one.
    pub fn check_until(&self, extra: &[&str], accept: impl Fn(&Output) -> bool) -> Output {
        let mut last = None;
        let got = wait_for_or_none(Duration::from_secs(60), || {
            let out = self.check(extra);
            if accept(&out) {
                return Some(out);
            }
            last = Some(out);
            None
        });
        got.unwrap_or_else(|| {
            let o = last.unwrap();
            panic!(
                "check never gave the expected answer; last (exit {:?}):\n{}{}",
                o.status.code(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
    }

    /// Waits until `check` says healthy.
    pub fn wait_healthy(&self) -> Output {
        self.check_until(&[], |o| o.status.code() == Some(0))
    }

    pub fn be_home(&self, name: &str) -> &Path {
        &self.node(name).home
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
