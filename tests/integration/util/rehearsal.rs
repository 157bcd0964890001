//! The setup of an FE rehearsal as a user would give it (a production meta, a new package, a JDK
//! and a workspace root in one temporary folder), the `sr-rehearse fe` command line over it, and
//! what a run left: exit code, output, JSON report, workspaces and processes.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use super::bins::{run_sim, tool_bin};
use super::procs::procs_mentioning;

/// A rehearsal setup: a source meta, a new package, a JDK and a workspace root.
pub struct Rehearsal {
    pub dir: tempfile::TempDir,
    pub meta: PathBuf,
    pub pkg: PathBuf,
    pub jdk: PathBuf,
    pub root: PathBuf,
}

pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub json: serde_json::Value,
}

impl Rehearsal {
    pub fn new(meta_v: &str, pkg_v: &str, meta_args: &[&str], pkg_args: &[&str]) -> Rehearsal {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("prod/meta");
        let pkg = dir.path().join("release/fe");
        let jdk = dir.path().join("jdk");
        let root = dir.path().join("ws");
        fs::create_dir_all(&root).unwrap();
        let mut a = vec![
            "make-meta",
            "--version",
            meta_v,
            "--out",
            meta.to_str().unwrap(),
            "--backends",
            "0",
        ];
        a.extend_from_slice(meta_args);
        run_sim(&a);
        let mut a = vec![
            "make-package",
            "--role",
            "fe",
            "--version",
            pkg_v,
            "--out",
            pkg.to_str().unwrap(),
            "--heartbeat-ms",
            "200",
        ];
        a.extend_from_slice(pkg_args);
        run_sim(&a);
        run_sim(&["make-jdk", "--major", "17", "--out", jdk.to_str().unwrap()]);
        Rehearsal {
            dir,
            meta,
            pkg,
            jdk,
            root,
        }
    }

    pub fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(tool_bin());
        c.arg("fe")
            .arg("--meta")
            .arg(&self.meta)
            .arg("--new-fe")
            .arg(&self.pkg)
            .arg("--workspace-root")
            .arg(&self.root)
            .arg("--json")
            .arg(self.dir.path().join("report.json"))
            .arg("--timeout")
            .arg("60s")
            .args(extra)
            .env("JAVA_HOME", &self.jdk)
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, extra: &[&str]) -> Outcome {
        let out = self.command(extra).output().unwrap();
        self.outcome(out)
    }

    pub fn outcome(&self, out: Output) -> Outcome {
        let json = fs::read_to_string(self.dir.path().join("report.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(serde_json::Value::Null);
        Outcome {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            json,
        }
    }

    pub fn workspaces(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(&self.root)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    }

    /// Every process started by any run under this setup is gone, the moment the tool has exited:
    /// no grace period, since a process that is still there then has outlived the tool.
    pub fn assert_no_process_left(&self) {
        let left = procs_mentioning(self.dir.path());
        assert!(left.is_empty(), "processes left behind: {left:?}");
    }
}
