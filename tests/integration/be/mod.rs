//! `sr-rehearse be`: the sandbox canary and the in-place canary with its journal and rollback,
//! against simulated nodes started with their own scripts. This file holds what every BE test runs
//! against (a node, an FE that records it); the tests are grouped by mode in `sandbox`, `in_place`,
//! `rollback` (kill -9 at each journal step) and `readiness` (how a build is judged started).

mod in_place;
mod in_place_guards;
mod in_place_soak;
mod readiness;
mod rollback;
mod sandbox;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::*;

const T: Duration = Duration::from_secs(60);

/// A node: a BE home of one version with its storage, and an unpacked new release.
struct Node {
    dir: tempfile::TempDir,
    home: PathBuf,
    new_be: PathBuf,
    root: PathBuf,
    http: u16,
    heartbeat: u16,
    /// The node's four ports, held while it may run.
    _ports: Lease,
}

impl Drop for Node {
    fn drop(&mut self) {
        kill_all_mentioning(self.dir.path());
    }
}

impl Node {
    fn new(old: &str, new: &str, new_args: &[&str]) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("node/be");
        let new_be = dir.path().join("release/be");
        let root = dir.path().join("ws");
        let storage = dir.path().join("node/storage");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&storage).unwrap();
        run_sim(&[
            "make-package",
            "--role",
            "be",
            "--version",
            old,
            "--out",
            home.to_str().unwrap(),
        ]);
        let mut a = vec![
            "make-package",
            "--role",
            "be",
            "--version",
            new,
            "--out",
            new_be.to_str().unwrap(),
        ];
        a.extend_from_slice(new_args);
        run_sim(&a);
        fs::write(home.join("lib/udf/my_udf.jar"), b"operator's own UDF").unwrap();
        let lease = free_ports(4);
        let [be, http, hb, brpc] = lease.ports()[..] else {
            unreachable!("a lease of 4 ports")
        };
        let key = if old.starts_with("2.") {
            "webserver_port"
        } else {
            "be_http_port"
        };
        let mut conf = read(&home.join("conf/be.conf"));
        conf.push_str(&format!(
            "\nbe_port = {be}\n{key} = {http}\nheartbeat_service_port = {hb}\nbrpc_port = {brpc}\nstorage_root_path = {}\n",
            storage.display()
        ));
        fs::write(home.join("conf/be.conf"), conf).unwrap();
        Node {
            dir,
            home,
            new_be,
            root,
            http,
            heartbeat: hb,
            _ports: lease,
        }
    }

    /// Starts the node's BE as an operator would, in its own session.
    fn start(&self) {
        let mut c = Command::new("bash");
        c.arg(self.home.join("bin/start_be.sh"))
            .arg("--daemon")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        unsafe {
            c.pre_exec(|| {
                nix::unistd::setsid()
                    .map(|_| ())
                    .map_err(std::io::Error::from)
            });
        }
        let st = c.status().unwrap();
        assert!(
            st.success(),
            "start_be.sh: {st}; be.out: {}",
            read(&self.home.join("log/be.out"))
        );
        self.wait_healthy();
    }

    /// Appends a line to the node's be.conf (a later key wins).
    fn conf(&self, line: &str) {
        let mut conf = read(&self.home.join("conf/be.conf"));
        conf.push_str(&format!("{line}\n"));
        fs::write(self.home.join("conf/be.conf"), conf).unwrap();
    }

    fn healthy(&self) -> bool {
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], self.http).into();
        sr_rehearse::probe::http::get(addr, "/api/health", Duration::from_secs(1))
            .is_ok_and(|r| r.body.contains("\"OK\""))
    }

    fn wait_healthy(&self) {
        wait_for("the node's BE healthy", T, || self.healthy().then_some(()));
    }

    /// The live pid in be.pid: bin/, or run/ for the tests that move PID_DIR there.
    fn pid(&self) -> Option<i32> {
        ["bin", "run"].iter().find_map(|d| {
            read(&self.home.join(d).join("be.pid"))
                .trim()
                .parse()
                .ok()
                .filter(|p| alive(*p))
        })
    }

    fn binlib(&self) -> (String, String) {
        (
            content_digest(&self.home.join("bin"), &["be.pid"]),
            content_digest(&self.home.join("lib"), &["udf-runtime"]),
        )
    }

    fn cmd(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(tool_bin());
        c.arg("be").arg("--be-home").arg(&self.home);
        // A sandbox's run folder goes under the test's own root; the in-place modes have none,
        // and naming one there is an error.
        if !extra
            .iter()
            .any(|a| *a == "--in-place" || *a == "--rollback")
        {
            c.arg("--workspace-root").arg(&self.root);
        }
        c.arg("--json")
            .arg(self.dir.path().join("report.json"))
            .arg("--timeout")
            .arg("30s")
            .args(extra)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, extra: &[&str]) -> (Option<i32>, String, serde_json::Value) {
        let _ = fs::remove_file(self.dir.path().join("report.json"));
        let out = self.cmd(extra).output().unwrap();
        let json = fs::read_to_string(self.dir.path().join("report.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(serde_json::Value::Null);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            json,
        )
    }

    fn sandbox(&self, extra: &[&str]) -> (Option<i32>, String, serde_json::Value) {
        let mut a = vec!["--new-be", self.new_be.to_str().unwrap()];
        a.extend_from_slice(extra);
        self.run(&a)
    }

    fn in_place(&self, extra: &[&str]) -> (Option<i32>, String, serde_json::Value) {
        let mut a = vec![
            "--new-be",
            self.new_be.to_str().unwrap(),
            "--in-place",
            "--soak",
            "1s",
        ];
        a.extend_from_slice(extra);
        self.run(&a)
    }

    /// The last step the in-place canary journaled on this node.
    fn last_step(&self) -> String {
        sr_rehearse::be::inplace::read_journal(&self.home)
            .last()
            .map(|e| e.step.clone())
            .unwrap_or_default()
    }

    /// After a rollback: be.pid names the one BE of this node, and that BE is the old build. Its
    /// banner sits in glog's buffer until it exits, so it is stopped with SIGTERM (a clean exit
    /// flushes) and the last banner read.
    fn assert_one_be_serving_old_build(&self, what: &str) {
        let pid = self.pid().expect("be.pid names a live BE");
        let bes: Vec<i32> = procs_mentioning(self.dir.path())
            .into_iter()
            .filter(|(_, cmd)| cmd.contains("starrocks_be"))
            .map(|(p, _)| p)
            .collect();
        assert_eq!(bes, vec![pid], "{what}: one BE, the one be.pid names");
        assert!(self.healthy(), "{what}: it serves");
        kill(pid, Signal::SIGTERM);
        wait_for("the BE to exit", T, || (!alive(pid)).then_some(()));
        let info = read(&self.home.join("log/be.INFO"));
        let last = info
            .lines()
            .rev()
            .find(|l| l.contains("daemon.cpp") && l.contains(" version "))
            .unwrap_or("");
        assert!(last.contains("3.2.11"), "{what}: the old build ran: {last}");
    }

    fn workspaces(&self) -> Vec<PathBuf> {
        fs::read_dir(&self.root)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect()
    }
}

fn sig_ids(j: &serde_json::Value) -> String {
    j["signatures"].to_string()
}

/// An FE whose meta records the node as its backend, so SHOW BACKENDS can vouch for it.
fn fe_for(n: &Node) -> FeNode {
    fe_with_backends(&[format!("127.0.0.1:{}", n.heartbeat)])
}

/// An FE whose meta records `backends` (HOST:HEARTBEAT_PORT).
fn fe_with_backends(backends: &[String]) -> FeNode {
    let mut b = FeBuild::new("3.3.0", "3.3.0");
    b.meta_args = Vec::new();
    for be in backends {
        b.meta_args.push("--backend".into());
        b.meta_args.push(be.clone());
    }
    b.meta_args.extend([
        "--table".into(),
        "shop.orders:3".into(),
        "--table".into(),
        "shop.scratch:1".into(),
    ]);
    let mut fe = b.build();
    fe.start_daemon();
    fe.wait_ready();
    fe
}
