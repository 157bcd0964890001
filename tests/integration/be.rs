//! `sr-rehearse be`: the sandbox canary and the in-place canary with its journal and rollback,
//! against simulated nodes started with their own scripts.

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
        let (be, http, hb, brpc) = (free_port(), free_port(), free_port(), free_port());
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
        c.arg("be")
            .arg("--be-home")
            .arg(&self.home)
            .arg("--workspace-root")
            .arg(&self.root)
            .arg("--json")
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

#[test]
fn sandbox_passes_and_touches_nothing() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    let before = (tree_digest(&n.home), tree_digest(&n.new_be));
    let (code, out, j) = n.sandbox(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        (tree_digest(&n.home), tree_digest(&n.new_be)),
        before,
        "node and package untouched"
    );
    assert!(j["target"]["detected_version"]
        .as_str()
        .unwrap()
        .starts_with("3.3.5"));
    let prod: Vec<u64> = j["ports"]["production"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .collect();
    for (k, p) in j["ports"]["sandbox"].as_object().unwrap() {
        assert!(
            !prod.contains(&p.as_u64().unwrap()),
            "{k} collides with production"
        );
    }
    assert!(n.workspaces().is_empty());
    assert!(procs_mentioning(n.dir.path()).is_empty(), "no process left");
}

#[test]
fn sandbox_catches_what_breaks_a_build_on_this_host() {
    for (version, fault, id) in [
        ("3.3.5", "no-avx2", "be.cpu.avx2"),
        ("2.5.22", "no-avx2", "be.cpu.avx2"),
        ("3.3.5", "missing-library", "be.lib.shared-library"),
        ("3.0.2", "lib-without-bin", "be.lib.bin-not-replaced"),
        ("3.3.5", "port-in-use", "be.port.http"),
        ("3.2.11", "tablet-load-failure", "be.storage.tablet-load"),
    ] {
        let n = Node::new("3.2.11", version, &["--fault", fault]);
        let (code, out, j) = n.sandbox(&["--keep", "never"]);
        assert_eq!(code, Some(1), "{version} {fault}: {out}");
        assert!(
            sig_ids(&j).contains(id),
            "{version} {fault}: {}",
            sig_ids(&j)
        );
        assert!(
            procs_mentioning(n.dir.path()).is_empty(),
            "{fault}: no process left"
        );
    }
}

#[test]
fn sandbox_slow_tablet_load_times_out_with_advice() {
    let n = Node::new(
        "3.2.11",
        "3.3.5",
        &["--fault", "slow-tablet-load", "--fault-secs", "30"],
    );
    let (code, out, j) = n.sandbox(&["--timeout", "2s"]);
    assert_eq!(code, Some(4), "{out}");
    assert!(
        j["summary"]
            .as_str()
            .unwrap()
            .contains("allow a longer --timeout"),
        "{out}"
    );
    assert!(procs_mentioning(n.dir.path()).is_empty());
}

#[test]
fn sandbox_plan_changes_nothing() {
    let n = Node::new("2.5.22", "3.3.5", &[]);
    let before = (tree_digest(&n.home), tree_digest(&n.new_be));
    let (code, out, _) = n.sandbox(&["--plan"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("plan (nothing below has been done)"));
    assert!(
        out.contains(&format!(
            "webserver_port = {}  ->  webserver_port = ",
            n.http
        )),
        "the 2.x key is moved: {out}"
    );
    assert!(out.contains("(added)  arrow_flight_port = -1"));
    assert_eq!((tree_digest(&n.home), tree_digest(&n.new_be)), before);
    assert!(n.workspaces().is_empty());
    assert!(!n.dir.path().join("report.json").exists());
}

#[test]
fn sandbox_interrupted_stops_everything() {
    let n = Node::new(
        "3.2.11",
        "3.3.5",
        &["--fault", "slow-tablet-load", "--fault-secs", "60"],
    );
    let mut child = n
        .cmd(&["--new-be", n.new_be.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The BE writes its pid before it loads tablets (whose INFO lines glog holds back).
    wait_for("the sandbox BE loading tablets", T, || {
        n.workspaces().first().and_then(|w| {
            read(&w.join("be/bin/be.pid"))
                .trim()
                .parse::<i32>()
                .ok()
                .filter(|p| alive(*p))
        })
    });
    kill(child.id() as i32, Signal::SIGTERM);
    let st = wait_exit(&mut child, T);
    assert_eq!(st.code(), Some(143), "SIGTERM is 128 + 15");
    let j: serde_json::Value =
        serde_json::from_str(&read(&n.dir.path().join("report.json"))).unwrap();
    assert_eq!(j["verdict"], "interrupted");
    wait_for("no process left", Duration::from_secs(5), || {
        procs_mentioning(n.dir.path()).is_empty().then_some(())
    });
}

#[test]
fn sandbox_bad_input() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    fs::rename(n.home.join("conf/be.conf"), n.home.join("conf/be.conf.bak")).unwrap();
    let (code, out, _) = n.sandbox(&[]);
    assert_eq!(code, Some(2));
    assert!(
        out.contains("conf/be.conf") && out.contains("--be-home"),
        "{out}"
    );
    fs::rename(n.home.join("conf/be.conf.bak"), n.home.join("conf/be.conf")).unwrap();

    let mut conf = read(&n.home.join("conf/be.conf"));
    conf.push_str("storage_root_path = relative/dir,medium:SSD\n");
    fs::write(n.home.join("conf/be.conf"), &conf).unwrap();
    let (code, out, _) = n.sandbox(&[]);
    assert_eq!(code, Some(2));
    assert!(
        out.contains("storage_root_path (line") && out.contains("must be absolute"),
        "{out}"
    );

    let n = Node::new("3.2.11", "3.3.5", &[]);
    fs::remove_file(n.new_be.join("lib/starrocks_be")).unwrap();
    let (code, out, _) = n.sandbox(&[]);
    assert_eq!(code, Some(2));
    assert!(out.contains("has no lib/starrocks_be"), "{out}");
    assert!(n.workspaces().is_empty());
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

#[test]
fn in_place_pass_keeps_the_new_build() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let fe = fe_for(&n);
    let fe_addr = format!("127.0.0.1:{}", fe.query);
    let package = tree_digest(&n.new_be);
    let (code, out, j) = n.in_place(&["--fe", &fe_addr, "--soak", "2s"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        tree_digest(&n.new_be),
        package,
        "the new package is only read"
    );
    assert!(j["summary"]
        .as_str()
        .unwrap()
        .contains("now runs the new build"));
    let pid = n.pid().expect("the new BE keeps running");
    assert!(j["target"]["detected_version"]
        .as_str()
        .unwrap()
        .starts_with("3.3.5-"));
    assert_eq!(
        read(&n.home.join("lib/udf/my_udf.jar")),
        "operator's own UDF",
        "lib/udf carried over"
    );
    assert_eq!(n.last_step(), "kept");
    assert!(n.healthy());
    let _ = kill(pid, Signal::SIGKILL);
}

#[test]
fn in_place_failure_rolls_back_to_the_old_build() {
    let n = Node::new("3.2.11", "3.3.5", &["--fault", "tablet-load-failure"]);
    n.start();
    let before = n.binlib();
    let (code, out, j) = n.in_place(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(sig_ids(&j).contains("be.storage.tablet-load"));
    assert!(out.contains("[ ok ] rollback"), "{out}");
    assert_eq!(
        n.binlib(),
        before,
        "bin/ and lib/ are the old build again, byte for byte"
    );
    assert!(
        n.pid().is_some() && n.healthy(),
        "the old BE is back and healthy"
    );
    assert_eq!(n.last_step(), "rolled-back");
}

#[test]
fn in_place_failure_with_a_failed_rollback_is_exit_5() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let old_pid = n.pid().unwrap();
    let http = n.http;
    // As soon as the old BE is stopped, something else takes the node's HTTP port: the new build
    // cannot start, and neither can the old one on the way back.
    let squatter = std::thread::spawn(move || {
        wait_for("old BE stopped", T, || (!alive(old_pid)).then_some(()));
        wait_for("port free", T, || {
            std::net::TcpListener::bind(("0.0.0.0", http)).ok()
        })
    });
    let (code, out, j) = n.in_place(&["--timeout", "5s"]);
    let _held = squatter.join().unwrap();
    assert_eq!(code, Some(5), "{out}");
    assert_eq!(j["exit_code"], 5);
    let summary = j["summary"].as_str().unwrap();
    assert!(
        summary.contains("AND THE ROLLBACK FAILED")
            && summary.contains("old build is back in bin/ and lib/"),
        "{summary}"
    );
}

#[test]
fn a_second_canary_is_refused_while_one_is_open() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let st = n
        .cmd(&["--new-be", n.new_be.to_str().unwrap(), "--in-place"])
        .env("SR_REHEARSE_TEST_KILL_AT", "install")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(9));
    let (code, out, _) = n.in_place(&[]);
    assert_eq!(code, Some(2));
    assert!(
        out.contains("another canary's journal is open") && out.contains("--rollback"),
        "{out}"
    );
    let (code, out, _) = n.run(&["--rollback"]);
    assert_eq!(code, Some(0), "{out}");
}

/// The steps a passing in-place canary journals, in order (src/be/inplace/upgrade.rs `upgrade`).
const FORWARD_STEPS: &[&str] = &[
    "begin",
    "backup-bin",
    "backup-lib",
    "install",
    "stop-old",
    "start-new",
    "verify",
    "kept",
];

/// The steps a rollback journals after a failed or killed canary (src/be/inplace/rollback.rs `restore`).
const ROLLBACK_STEPS: &[&str] = &[
    "rollback-begin",
    "rollback-restore",
    "rollback-start-old",
    "rolled-back",
];

impl Node {
    /// Runs the in-place canary (or `--rollback` when `new_be` is false) with the crash hook set
    /// at `step`, and asserts the tool died there by SIGKILL.
    fn killed_at(&self, step: &str, canary: bool) {
        let mut c = if canary {
            self.cmd(&[
                "--new-be",
                self.new_be.to_str().unwrap(),
                "--in-place",
                "--soak",
                "1s",
            ])
        } else {
            self.cmd(&["--rollback"])
        };
        let st = c
            .env("SR_REHEARSE_TEST_KILL_AT", step)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(9), "{step}: the tool was killed there");
        assert_eq!(self.last_step(), step, "the journal ends with the step");
    }

    /// The steps journaled on this node so far, without repeats.
    fn journaled(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for e in sr_rehearse::be::inplace::read_journal(&self.home) {
            if !v.contains(&e.step) {
                v.push(e.step);
            }
        }
        v
    }

    /// `--rollback` brings the old build back (or finds nothing to do after a closed journal),
    /// and a second one has nothing left to do.
    fn assert_rollback_restores(&self, step: &str, before: &(String, String)) {
        let (code, out, _) = self.run(&["--rollback"]);
        assert_eq!(code, Some(0), "{step}: {out}");
        assert_eq!(
            &self.binlib(),
            before,
            "{step}: bin/ and lib/ byte for byte"
        );
        assert!(
            self.pid().is_some() && self.healthy(),
            "{step}: the old BE runs and is healthy"
        );
        self.assert_one_be_serving_old_build(step);
        let (code, out, _) = self.run(&["--rollback"]);
        assert_eq!(code, Some(0));
        assert!(out.contains("nothing to roll back"), "{step}: {out}");
    }
}

/// On a terminal the storage copy shows a bar and the wait says what it waits for; on a pipe
/// (CI) stderr carries no progress bytes.
#[test]
fn sandbox_progress_on_a_terminal_only() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    let root = n.dir.path().join("node/storage");
    fs::create_dir_all(root.join("data/10005")).unwrap();
    fs::write(root.join("data/10005/0.dat"), b"tablet bytes").unwrap();
    let args = [
        "--new-be",
        n.new_be.to_str().unwrap(),
        "--storage-copy",
        root.to_str().unwrap(),
    ];
    let mut c = n.cmd(&args);
    c.env_remove("CI").env("TERM", "xterm");
    let (code, out, err) = crate::cli::stderr_on_a_terminal(c);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        err.contains("copy storage"),
        "the storage copy's bar: {err:?}"
    );
    assert!(
        err.contains("decide: waiting for the BE to answer /api/health"),
        "the wait says what for: {err:?}"
    );
    let o = n.cmd(&args).env_remove("CI").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains('\r') && !err.contains('\x1b') && !err.contains("copy storage"),
        "{err:?}"
    );
}

#[test]
fn kill_9_at_every_upgrade_step_then_rollback_restores_the_node() {
    for step in FORWARD_STEPS {
        let n = Node::new("3.2.11", "3.3.5", &[]);
        n.start();
        let before = n.binlib();
        n.killed_at(step, true);
        if *step == "kept" {
            // Killed after the canary closed its journal: the new build stays and there is
            // nothing for --rollback to do. Every upgrade step was journaled on the way, so a step
            // added to the canary without being added here fails this test.
            assert_eq!(
                n.journaled(),
                FORWARD_STEPS,
                "the steps of a passing canary"
            );
            assert_ne!(n.binlib(), before, "kept: the new build is installed");
            let (code, out, _) = n.run(&["--rollback"]);
            assert_eq!(code, Some(0), "{out}");
            assert!(out.contains("nothing to roll back"), "kept: {out}");
            continue;
        }
        n.assert_rollback_restores(step, &before);
    }
}

#[test]
fn kill_9_during_the_canarys_own_rollback_then_rollback_finishes_it() {
    for step in ROLLBACK_STEPS {
        // The new build cannot load its tablets: the canary fails and rolls back by itself.
        let n = Node::new("3.2.11", "3.3.5", &["--fault", "tablet-load-failure"]);
        n.start();
        let before = n.binlib();
        n.killed_at(step, true);
        // The rollback journaled its steps in order up to the kill; killed at the last one, this
        // is every step of a rollback, so a step added without being added here fails this test.
        let steps = n.journaled();
        let from = steps
            .iter()
            .position(|s| s == "rollback-begin")
            .expect("the canary began its rollback");
        let upto = ROLLBACK_STEPS.iter().position(|s| s == step).unwrap();
        assert_eq!(
            &steps[from..],
            &ROLLBACK_STEPS[..=upto],
            "{step}: {steps:?}"
        );
        n.assert_rollback_restores(step, &before);
    }
}

#[test]
fn kill_9_during_rollback_then_rollback_again_finishes_it() {
    // The canary is killed while the new build runs; the `--rollback` that follows is killed at
    // each of its own steps, and the next `--rollback` still brings the old build back.
    for step in ROLLBACK_STEPS {
        let n = Node::new("3.2.11", "3.3.5", &[]);
        n.start();
        let before = n.binlib();
        n.killed_at("verify", true);
        n.killed_at(step, false);
        n.assert_rollback_restores(step, &before);
    }
}

#[test]
fn sandbox_storage_copy_is_copied_not_used() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    let root = n.dir.path().join("node/storage");
    fs::create_dir_all(root.join("data/10005")).unwrap();
    fs::write(root.join("data/10005/0.dat"), b"tablet bytes").unwrap();
    let before = tree_digest(&root);
    let (code, out, j) = n.sandbox(&["--storage-copy", root.to_str().unwrap(), "--keep", "always"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        tree_digest(&root),
        before,
        "the node's storage root is only read"
    );
    let ws = &n.workspaces()[0];
    assert_eq!(
        read(&ws.join("be/storage/data/10005/0.dat")),
        "tablet bytes"
    );
    assert!(
        read(&ws.join("be/log/be.INFO")).contains("loaded tablet: 1,"),
        "the sandbox BE loaded the copy"
    );
    assert!(j["steps"].to_string().contains("copied"));
}

#[test]
fn interrupted_in_place_canary_rolls_back() {
    let n = Node::new(
        "3.2.11",
        "3.3.5",
        &["--fault", "slow-tablet-load", "--fault-secs", "60"],
    );
    n.start();
    let before = n.binlib();
    let mut child = n
        .cmd(&["--new-be", n.new_be.to_str().unwrap(), "--in-place"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let old_pid = n.pid().unwrap();
    wait_for("the new BE loading tablets", T, || {
        (n.last_step() == "start-new" && n.pid().is_some_and(|p| p != old_pid)).then_some(())
    });
    kill(child.id() as i32, Signal::SIGINT);
    let st = wait_exit(&mut child, T);
    assert_eq!(st.code(), Some(130));
    assert_eq!(n.binlib(), before);
    assert!(n.pid().is_some() && n.healthy(), "the old BE is back");
    assert_eq!(n.last_step(), "rolled-back");
}

#[test]
fn clean_ends_a_killed_sandbox_canary() {
    let n = Node::new(
        "3.2.11",
        "3.3.5",
        &["--fault", "slow-tablet-load", "--fault-secs", "60"],
    );
    fs::create_dir_all(n.new_be.join("lib/jdbc_drivers")).unwrap();
    let package = tree_digest(&n.new_be);
    let mut child = n
        .cmd(&["--new-be", n.new_be.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (ws, pgid) = wait_for("run.json with a process group", T, || {
        let w = n.workspaces().into_iter().next()?;
        let st = sr_rehearse::workspace::read_run_state(&w)?;
        st.pgid.map(|g| (w, g))
    });
    kill(child.id() as i32, Signal::SIGKILL);
    wait_exit(&mut child, T);
    assert!(
        !group_members(pgid).is_empty(),
        "the sandbox BE outlives a SIGKILLed tool"
    );
    let out = Command::new(tool_bin())
        .args(["clean", "--workspace-root"])
        .arg(&n.root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ended processes"));
    assert!(group_members(pgid).is_empty());
    assert!(!ws.exists());
    assert_eq!(
        tree_digest(&n.new_be),
        package,
        "the sandbox never wrote into the package's lib/"
    );
}

#[test]
fn in_place_plan_and_junit() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let before = n.binlib();
    let (code, out, _) = n.in_place(&["--plan"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("plan (nothing below has been done)")
            && out.contains("sr-rehearse-canary.journal")
    );
    assert_eq!(n.binlib(), before, "--plan moves nothing");
    assert!(sr_rehearse::be::inplace::read_journal(&n.home).is_empty());

    let junit = n.dir.path().join("junit.xml");
    let (code, out, _) = n.in_place(&["--junit", junit.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    let x = read(&junit);
    for step in [
        "preflight",
        "backup",
        "install",
        "stop old",
        "start new",
        "verify",
    ] {
        assert!(x.contains(&format!("name=\"{step}\"")), "{step} in {x}");
    }
    assert!(!x.contains("<failure"));
    if let Some(pid) = n.pid() {
        let _ = kill(pid, Signal::SIGKILL);
    }
}

/// A storage root whose data folder links to another disk, and one with a dangling link: the
/// first is copied (the sandbox BE writes only into its copy), the second refused with exit 2.
#[test]
fn sandbox_storage_copy_follows_the_symlink_rule() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    let disk = n.dir.path().join("other-disk/10005");
    fs::create_dir_all(&disk).unwrap();
    fs::write(disk.join("0.dat"), b"tablet bytes").unwrap();
    let root = n.dir.path().join("node/storage");
    fs::create_dir_all(root.join("data")).unwrap();
    std::os::unix::fs::symlink(&disk, root.join("data/10005")).unwrap();
    let before = tree_digest(&disk);
    let (code, out, _) = n.sandbox(&["--storage-copy", root.to_str().unwrap(), "--keep", "always"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(tree_digest(&disk), before);
    let ws = &n.workspaces()[0];
    let copied = ws.join("be/storage/data/10005");
    assert!(!fs::symlink_metadata(&copied)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(read(&copied.join("0.dat")), "tablet bytes");
    std::os::unix::fs::symlink("/nonexistent/sr-rehearse", root.join("data/gone")).unwrap();
    let (code, out, j) = n.sandbox(&["--storage-copy", root.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(j["summary"].as_str().unwrap().contains("dangling"), "{j}");
}

// ---------------------------------------------------------------- issue 10: readiness, rows, safety

#[test]
fn canaries_pass_on_a_node_that_logs_warnings_only() {
    // glog holds INFO back for 30 s and sys_log_level = WARNING drops it: a healthy build must be
    // judged from the process, /api/health and the heartbeat port, well inside that buffer.
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.conf("sys_log_level = WARNING");
    let (code, out, j) = n.sandbox(&["--timeout", "20s", "--keep", "always"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(j["target"]["detected_version"]
        .as_str()
        .unwrap()
        .starts_with("3.3.5-"));
    let ws = &n.workspaces()[0];
    assert!(
        read(&ws.join("be/conf/be.conf")).contains("sys_log_level = INFO"),
        "the sandbox logs INFO"
    );
    assert!(
        read(&ws.join("be/log/be.INFO")).contains("BE started successfully"),
        "the sandbox's INFO lines are kept: the graceful stop flushed them"
    );

    n.start();
    let fe = fe_for(&n);
    let fe_addr = format!("127.0.0.1:{}", fe.query);
    let (code, out, _) = n.in_place(&["--fe", &fe_addr, "--timeout", "20s"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        !read(&n.home.join("log/be.INFO")).contains("BE started successfully"),
        "the node itself logged no INFO"
    );
    assert_eq!(n.last_step(), "kept");
}

#[test]
fn a_3_0_build_without_the_success_line_passes() {
    let n = Node::new("2.5.22", "3.0.2", &[]);
    let (code, out, j) = n.sandbox(&["--timeout", "20s"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!sig_ids(&j).contains("be.ready.started"));
    assert!(j["target"]["detected_version"]
        .as_str()
        .unwrap()
        .starts_with("3.0.2"));
}

/// A TCP proxy to `upstream` that drops the connections whose (1-based) number is in `drop`.
fn flaky_proxy(upstream: u16, drop: &'static [usize]) -> u16 {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (i, c) in l.incoming().enumerate() {
            let Ok(c) = c else { continue };
            if drop.contains(&(i + 1)) {
                continue;
            }
            let Ok(u) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let (mut c2, mut u2) = (c.try_clone().unwrap(), u.try_clone().unwrap());
            let (mut c, mut u) = (c, u);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut u2);
                let _ = u2.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut u, &mut c);
                let _ = c.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

#[test]
fn in_place_finds_its_row_among_three_on_one_port_and_rides_out_sql_errors() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    // Every BE on the same heartbeat port, as in real clusters; SHOW BACKENDS sorts by IP, so the
    // other nodes' rows (never contacted by the simulated FE: Alive=false) come first.
    let p = n.heartbeat;
    let fe = fe_with_backends(&[
        format!("127.0.0.1:{p}"),
        format!("10.255.255.253:{p}"),
        format!("10.255.255.254:{p}"),
    ]);
    wait_for("the FE to see this node alive", T, || {
        let rows = sr_rehearse::probe::mysql::query_host(
            "127.0.0.1",
            fe.query,
            "root",
            None,
            "SHOW BACKENDS",
            Duration::from_secs(5),
        )
        .ok()?;
        assert_eq!(rows[0]["IP"], "10.255.255.253", "rows are sorted by IP");
        rows.iter()
            .any(|r| r["IP"] == "127.0.0.1" && r["Alive"] == "true")
            .then_some(())
    });
    // Connections 1 and 2 are the preflight's; 3 and 4 are the first two soak checks.
    let proxy = flaky_proxy(fe.query, &[3, 4]);
    let fe_addr = format!("127.0.0.1:{proxy}");
    let (code, out, j) = n.in_place(&["--fe", &fe_addr, "--soak", "3s"]);
    assert_eq!(code, Some(0), "detected 127.0.0.1 on this host: {out}");
    assert!(
        out.contains(&format!(
            "this node in SHOW BACKENDS: BackendId 10001 127.0.0.1:{p}"
        )),
        "{out}"
    );
    let warnings = j["warnings"].to_string();
    assert_eq!(
        warnings.matches("SHOW BACKENDS failed").count(),
        2,
        "each transient error is reported: {warnings}"
    );
    assert!(j["steps"]
        .to_string()
        .contains("2 transient SHOW BACKENDS error(s) tolerated"));
}

#[test]
fn in_place_row_by_be_host_and_refusals_when_the_row_is_unclear() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let p = n.heartbeat;
    let fe = fe_with_backends(&[
        format!("127.0.0.2:{p}"),
        format!("127.0.0.3:{p}"),
        format!("localhost:{p}"),
        format!("127.0.0.1:{p}"),
    ]);
    let fe_addr = format!("127.0.0.1:{}", fe.query);
    let before = n.binlib();
    let old_pid = n.pid().unwrap();

    // localhost and 127.0.0.1 are both this host: two rows match, nothing is touched.
    let (code, out, _) = n.in_place(&["--fe", &fe_addr]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("several rows") && out.contains("--be-host"),
        "{out}"
    );
    // An address SHOW BACKENDS does not list.
    let (code, out, _) = n.in_place(&["--fe", &fe_addr, "--be-host", "192.0.2.7"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no row for --be-host 192.0.2.7"), "{out}");
    assert_eq!(n.binlib(), before);
    assert_eq!(n.pid(), Some(old_pid), "the node's BE was not touched");
    assert!(sr_rehearse::be::inplace::read_journal(&n.home).is_empty());

    wait_for("the FE to see 127.0.0.3 alive", T, || {
        sr_rehearse::probe::mysql::query_host(
            "127.0.0.1",
            fe.query,
            "root",
            None,
            "SHOW BACKENDS",
            Duration::from_secs(5),
        )
        .ok()?
        .iter()
        .any(|r| r["IP"] == "127.0.0.3" && r["Alive"] == "true")
        .then_some(())
    });
    let (code, out, _) = n.in_place(&["--fe", &fe_addr, "--be-host", "127.0.0.3"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "this node in SHOW BACKENDS: BackendId 10002 127.0.0.3:{p}"
        )),
        "{out}"
    );
}

#[test]
fn two_canaries_at_once_one_runs_the_other_names_it() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let mut first = n
        .cmd(&[
            "--new-be",
            n.new_be.to_str().unwrap(),
            "--in-place",
            "--soak",
            "3s",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let lock = n.home.join("sr-rehearse-canary.lock");
    let me = format!("pid {} ", first.id());
    wait_for("the first canary to hold the lock", T, || {
        read(&lock).contains(&me).then_some(())
    });
    let out = n
        .cmd(&[
            "--new-be",
            n.new_be.to_str().unwrap(),
            "--in-place",
            "--soak",
            "1s",
        ])
        .arg("--json")
        .arg(n.dir.path().join("second.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&me) && text.contains("sr-rehearse-canary.lock"),
        "{text}"
    );
    assert_eq!(
        wait_exit(&mut first, T).code(),
        Some(0),
        "the first one runs to the end"
    );
    assert_eq!(n.last_step(), "kept");
    let journal = read(&n.home.join("sr-rehearse-canary.journal"));
    assert!(journal
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    assert_eq!(journal.matches("\"begin\"").count(), 1, "one run journaled");
}

#[test]
fn rollback_refuses_a_missing_backup_and_changes_nothing() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    n.start();
    let st = n
        .cmd(&[
            "--new-be",
            n.new_be.to_str().unwrap(),
            "--in-place",
            "--soak",
            "1s",
        ])
        .env("SR_REHEARSE_TEST_KILL_AT", "verify")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(9));
    let backup = sr_rehearse::be::inplace::read_journal(&n.home)[0]
        .backup
        .clone()
        .map(PathBuf::from)
        .unwrap();
    let away = n.dir.path().join("moved-away");
    fs::rename(&backup, &away).unwrap();
    let before = (
        content_digest(&n.home, &["log", "sr-rehearse-canary.lock"]),
        read(&n.home.join("sr-rehearse-canary.journal")),
        n.pid(),
    );
    let (code, out, j) = n.run(&["--rollback"]);
    assert_eq!(code, Some(5), "{out}");
    let summary = j["summary"].as_str().unwrap();
    assert!(
        summary.contains("Nothing was changed")
            && summary.contains("Node state: bin/ is not the old build")
            && summary.contains(&format!("a BE runs as pid {}", before.2.unwrap()))
            && summary.contains("put the backup back"),
        "{summary}"
    );
    assert_eq!(
        (
            content_digest(&n.home, &["log", "sr-rehearse-canary.lock"]),
            read(&n.home.join("sr-rehearse-canary.journal")),
            n.pid(),
        ),
        before,
        "nothing changed"
    );
    // Cut short instead of gone: still refused.
    fs::rename(&away, &backup).unwrap();
    fs::remove_file(backup.join("lib/starrocks_be")).unwrap();
    let (code, out, _) = n.run(&["--rollback"]);
    assert_eq!(code, Some(5), "{out}");
    assert!(
        out.contains("lib/ in it is incomplete (lib/starrocks_be missing"),
        "{out}"
    );
}

#[test]
fn pid_dir_from_be_conf_is_honoured() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    fs::create_dir_all(n.home.join("run")).unwrap();
    n.conf("PID_DIR = ${STARROCKS_HOME}/run");
    n.start();
    assert!(n.home.join("run/be.pid").exists() && !n.home.join("bin/be.pid").exists());

    // The sandbox BE writes its pid into the workspace, not into the node's PID_DIR.
    let node_pid = read(&n.home.join("run/be.pid"));
    let (code, out, _) = n.sandbox(&["--keep", "always"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(read(&n.home.join("run/be.pid")), node_pid);
    assert!(read(&n.workspaces()[0].join("be/conf/be.conf")).contains("/be/bin\n"));

    let (code, out, _) = n.in_place(&[]);
    assert_eq!(code, Some(0), "{out}");
    let new_pid = n.pid().unwrap();
    assert_ne!(new_pid.to_string(), node_pid.trim());

    let _ = kill(new_pid, Signal::SIGKILL);
    drop(n);

    // Killed mid-canary and rolled back: run/be.pid names the one BE serving, the old build.
    for step in ["stop-old", "verify"] {
        let n = Node::new("3.2.11", "3.3.5", &[]);
        fs::create_dir_all(n.home.join("run")).unwrap();
        n.conf("PID_DIR = ${STARROCKS_HOME}/run");
        n.start();
        let before = n.binlib();
        let st = n
            .cmd(&[
                "--new-be",
                n.new_be.to_str().unwrap(),
                "--in-place",
                "--soak",
                "1s",
            ])
            .env("SR_REHEARSE_TEST_KILL_AT", step)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(9));
        let (code, out, _) = n.run(&["--rollback"]);
        assert_eq!(code, Some(0), "{step}: {out}");
        assert_eq!(n.binlib(), before, "{step}");
        n.assert_one_be_serving_old_build(step);
    }
}
