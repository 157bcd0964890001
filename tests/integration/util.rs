//! Shared helpers: temporary clusters built with `starrocks-sim`, free ports, waiting on a condition
//! with a deadline, and a guard that kills every process a test started.

use sr_rehearse::procfs;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

pub use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// `starrocks-sim`, built beside the tool: its package has integration tests of its own, so
/// `cargo test` at the top of the source tree builds its binary before any test runs.
pub fn sim_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let p = std::path::Path::new(tool_bin()).with_file_name("starrocks-sim");
        assert!(
            p.is_file(),
            "{} is missing: run `cargo test` at the top of the source tree, or `cargo build -p starrocks-sim` first",
            p.display()
        );
        p.to_string_lossy().into_owned()
    })
}

/// A port nobody listens on now, outside the ephemeral range that the tests' own connections
/// draw their local ports from (see `sr_rehearse::ports::pick`).
pub fn free_port() -> u16 {
    sr_rehearse::ports::pick(1, &Default::default()).expect("a free port")[0]
}

/// Polls `f` until it returns Some or the deadline passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > end {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the tests run as root (CI does: `.ci/run` runs the `#[ignore = "needs root"]` tests).
pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// The variable `.ci/run` sets: there every test must run, so a skip is a failure.
pub const REQUIRE_ALL: &str = "SR_REHEARSE_REQUIRE_ALL";

/// A test that cannot run on this host says why and returns; where `SR_REHEARSE_REQUIRE_ALL=1`
/// (CI, after scripts/install-deps.sh installed what the tests need) it fails instead, so a missing
/// tool or capability cannot turn a test into a silent pass.
pub fn skip(test: &str, why: impl std::fmt::Display) {
    if std::env::var_os(REQUIRE_ALL).is_some_and(|v| v == "1") {
        panic!("{test} cannot run here ({why}) and {REQUIRE_ALL}=1 requires every test to run");
    }
    eprintln!("SKIPPED {test}: {why}");
}

/// Runs `starrocks-sim` to completion; a failure shows its command line and both outputs.
pub fn run_sim(args: &[&str]) -> Output {
    assert_cmd::Command::new(sim_bin())
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone()
}

pub fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

/// Kills the process groups it was given when dropped, so no test leaves a server behind.
#[derive(Default)]
pub struct Reaper {
    pub groups: Vec<i32>,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for g in &self.groups {
            let _ = kill(-g, Signal::SIGKILL);
        }
    }
}

pub fn kill(pid: i32, sig: Signal) -> bool {
    nix::sys::signal::kill(Pid::from_raw(pid), sig).is_ok()
}

pub fn alive(pid: i32) -> bool {
    // Zombies count as gone.
    procfs::stat(pid).is_some_and(|s| !s.is_zombie())
}

/// Every live process whose process group is `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    procfs::pids()
        .into_iter()
        .filter(|pid| procfs::stat(*pid).is_some_and(|s| !s.is_zombie() && s.pgrp == pgid))
        .collect()
}

/// A simulated FE node: meta dir, package, JDK and the ports it was given.
pub struct FeNode {
    pub _dir: tempfile::TempDir,
    pub home: PathBuf,
    pub meta: PathBuf,
    pub jdk: PathBuf,
    pub http: u16,
    pub rpc: u16,
    pub query: u16,
    pub edit: u16,
    pub reaper: Reaper,
}

pub struct FeBuild<'a> {
    pub meta_version: &'a str,
    pub pkg_version: &'a str,
    pub jdk: u32,
    pub meta_args: Vec<String>,
    pub pkg_args: Vec<String>,
    /// Lines appended to fe.conf (a later key wins).
    pub conf: Vec<String>,
    pub recovery: bool,
}

impl<'a> FeBuild<'a> {
    pub fn new(meta_version: &'a str, pkg_version: &'a str) -> Self {
        FeBuild {
            meta_version,
            pkg_version,
            jdk: 17,
            // A production FE started on its own meta: its recorded address is its own.
            meta_args: vec![
                "--backends".into(),
                "0".into(),
                "--frontend".into(),
                "127.0.0.1:9010".into(),
            ],
            pkg_args: vec!["--heartbeat-ms".into(), "200".into()],
            conf: Vec::new(),
            recovery: true,
        }
    }

    pub fn build(self) -> FeNode {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("meta");
        let home = dir.path().join("fe");
        let jdk = dir.path().join("jdk");
        let mut args: Vec<String> = vec![
            "make-meta".into(),
            "--version".into(),
            self.meta_version.into(),
            "--out".into(),
            meta.display().to_string(),
        ];
        args.extend(self.meta_args);
        run_sim(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let mut args: Vec<String> = vec![
            "make-package".into(),
            "--role".into(),
            "fe".into(),
            "--version".into(),
            self.pkg_version.into(),
            "--out".into(),
            home.display().to_string(),
        ];
        args.extend(self.pkg_args);
        run_sim(&args.iter().map(String::as_str).collect::<Vec<_>>());
        run_sim(&[
            "make-jdk",
            "--major",
            &self.jdk.to_string(),
            "--out",
            jdk.to_str().unwrap(),
        ]);
        let (http, rpc, query, edit) = (free_port(), free_port(), free_port(), free_port());
        let mut conf = format!(
            "\n# test overrides\nmeta_dir = {}\nhttp_port = {http}\nrpc_port = {rpc}\nquery_port = {query}\nedit_log_port = {edit}\n",
            meta.display()
        );
        if self.recovery {
            conf.push_str("metadata_failure_recovery = true\nbdbje_reset_election_group = true\n");
        }
        for l in self.conf {
            conf.push_str(&l);
            conf.push('\n');
        }
        let conf_path = home.join("conf/fe.conf");
        let mut text = read(&conf_path);
        text.push_str(&conf);
        fs::write(&conf_path, text).unwrap();
        FeNode {
            _dir: dir,
            home,
            meta,
            jdk,
            http,
            rpc,
            query,
            edit,
            reaper: Reaper::default(),
        }
    }
}

impl FeNode {
    fn script(&self, name: &str, args: &[&str]) -> Command {
        let mut c = Command::new("bash");
        c.arg(self.home.join("bin").join(name))
            .args(args)
            .env("JAVA_HOME", &self.jdk)
            .stdin(Stdio::null())
            .process_group(0);
        c
    }

    /// Runs `start_fe.sh --daemon` to completion and remembers the server's process group.
    pub fn start_daemon(&mut self) -> Output {
        let child = self
            .script("start_fe.sh", &["--daemon"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.reaper.groups.push(child.id() as i32);
        child.wait_with_output().unwrap()
    }

    /// Starts `start_fe.sh` in the foreground (the script becomes the JVM from 3.1).
    pub fn start_foreground(&mut self) -> Child {
        let child = self
            .script("start_fe.sh", &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.reaper.groups.push(child.id() as i32);
        child
    }

    pub fn stop(&self, args: &[&str]) -> Output {
        self.script("stop_fe.sh", args).output().unwrap()
    }

    pub fn log(&self) -> String {
        read(&self.home.join("log/fe.log"))
    }

    pub fn out(&self) -> String {
        read(&self.home.join("log/fe.out"))
    }

    pub fn pid(&self) -> Option<i32> {
        read(&self.home.join("bin/fe.pid")).trim().parse().ok()
    }

    pub fn token(&self) -> String {
        read(&self.meta.join("image/VERSION"))
            .lines()
            .find_map(|l| l.strip_prefix("token=").map(String::from))
            .unwrap()
    }

    pub fn cluster_id(&self) -> String {
        read(&self.meta.join("image/VERSION"))
            .lines()
            .find_map(|l| l.strip_prefix("clusterId=").map(String::from))
            .unwrap()
    }

    pub fn http_get(&self, path: &str) -> Option<sr_rehearse::probe::http::HttpResponse> {
        let addr: SocketAddr = ([127, 0, 0, 1], self.http).into();
        sr_rehearse::probe::http::get(addr, path, Duration::from_secs(2)).ok()
    }

    pub fn wait_log(&self, needle: &str, timeout: Duration) {
        wait_for(&format!("`{needle}` in fe.log"), timeout, || {
            self.log().contains(needle).then_some(())
        });
    }

    pub fn wait_ready(&self) {
        wait_for("/api/bootstrap OK", Duration::from_secs(30), || {
            self.http_get("/api/bootstrap")
                .filter(|r| r.body.contains("\"status\":\"OK\""))
                .map(|_| ())
        });
    }
}

/// Waits for a child with a deadline and returns its exit status.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    wait_for("process exit", timeout, || child.try_wait().unwrap())
}

/// A simulated BE node: package, storage root and ports.
pub struct BeNode {
    pub _dir: tempfile::TempDir,
    pub home: PathBuf,
    pub storage: PathBuf,
    pub be_port: u16,
    pub http: u16,
    pub heartbeat: u16,
    pub brpc: u16,
    pub reaper: Reaper,
}

impl BeNode {
    pub fn build(version: &str, pkg_args: &[&str], conf: &[String]) -> BeNode {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("be");
        let storage = dir.path().join("storage");
        fs::create_dir_all(&storage).unwrap();
        let mut args = vec![
            "make-package",
            "--role",
            "be",
            "--version",
            version,
            "--out",
            home.to_str().unwrap(),
        ];
        args.extend_from_slice(pkg_args);
        run_sim(&args);
        let (be_port, http, heartbeat, brpc) = (free_port(), free_port(), free_port(), free_port());
        let v: sr_rehearse::version::Version = version.parse().unwrap();
        let mut text = read(&home.join("conf/be.conf"));
        text.push_str(&format!(
            "\nbe_port = {be_port}\n{} = {http}\nheartbeat_service_port = {heartbeat}\nbrpc_port = {brpc}\nstorage_root_path = {}\n",
            starrocks_sim::release::Behaviour::be_http_key(&v),
            storage.display()
        ));
        for l in conf {
            text.push_str(l);
            text.push('\n');
        }
        fs::write(home.join("conf/be.conf"), text).unwrap();
        BeNode {
            _dir: dir,
            home,
            storage,
            be_port,
            http,
            heartbeat,
            brpc,
            reaper: Reaper::default(),
        }
    }

    pub fn start(&mut self, daemon: bool) -> Child {
        let mut c = Command::new("bash");
        c.arg(self.home.join("bin/start_be.sh"));
        if daemon {
            c.arg("--daemon");
        }
        let child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        self.reaper.groups.push(child.id() as i32);
        child
    }

    pub fn stop(&self, args: &[&str]) -> Output {
        Command::new("bash")
            .arg(self.home.join("bin/stop_be.sh"))
            .args(args)
            .output()
            .unwrap()
    }

    pub fn info(&self) -> String {
        read(&self.home.join("log/be.INFO"))
    }

    pub fn warning(&self) -> String {
        read(&self.home.join("log/be.WARNING"))
    }

    pub fn out(&self) -> String {
        read(&self.home.join("log/be.out"))
    }

    pub fn pid(&self) -> Option<i32> {
        read(&self.home.join("bin/be.pid")).trim().parse().ok()
    }

    pub fn health(&self) -> Option<sr_rehearse::probe::http::HttpResponse> {
        let addr: SocketAddr = ([127, 0, 0, 1], self.http).into();
        sr_rehearse::probe::http::get(addr, "/api/health", Duration::from_secs(2)).ok()
    }

    /// Waits until the BE answers /api/health (its INFO lines may still be in glog's buffer).
    pub fn wait_serving(&self) {
        wait_for(
            "the BE answering /api/health",
            Duration::from_secs(30),
            || self.health().filter(|h| h.status == 200).map(|_| ()),
        );
    }
}

pub fn tool_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sr-rehearse")
}

/// sha256 of every file, link target and mode under `dir`, to prove a tree was not touched.
pub fn tree_digest(dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    let mut h = Sha256::new();
    let mut entries: Vec<PathBuf> = walk(dir);
    entries.sort();
    for p in entries {
        let m = fs::symlink_metadata(&p).unwrap();
        h.update(p.strip_prefix(dir).unwrap().to_string_lossy().as_bytes());
        h.update(m.mode().to_le_bytes());
        h.update(m.mtime().to_le_bytes());
        if m.file_type().is_symlink() {
            h.update(fs::read_link(&p).unwrap().to_string_lossy().as_bytes());
        } else if m.is_file() {
            h.update(fs::read(&p).unwrap());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Live processes whose command line or working folder mentions `path`.
pub fn procs_mentioning(path: &Path) -> Vec<(i32, String)> {
    let needle = path.to_string_lossy().to_string();
    let mut out = Vec::new();
    for pid in procfs::pids() {
        if pid == std::process::id() as i32 || !alive(pid) {
            continue;
        }
        let cmd = procfs::cmdline(pid).unwrap_or_default();
        let cwd = procfs::cwd(pid)
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_default();
        if cmd.contains(&needle) || cwd.contains(&needle) {
            out.push((pid, format!("{cmd} (cwd {cwd})")));
        }
    }
    out
}

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

/// Like `wait_for`, but returns None at the deadline instead of panicking.
pub fn wait_for_or_none<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Digest of the files, links and modes under `dir` (not mtimes), leaving out `skip` names: what
/// "byte for byte the same bin/ and lib/" means once a BE has run from them.
pub fn content_digest(dir: &Path, skip: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    let mut h = Sha256::new();
    let mut entries: Vec<PathBuf> = walk(dir);
    entries.sort();
    for p in entries {
        let rel = p.strip_prefix(dir).unwrap().to_string_lossy().to_string();
        if skip
            .iter()
            .any(|s| rel == *s || rel.starts_with(&format!("{s}/")))
        {
            continue;
        }
        let m = fs::symlink_metadata(&p).unwrap();
        h.update(rel.as_bytes());
        if m.file_type().is_symlink() {
            h.update(fs::read_link(&p).unwrap().to_string_lossy().as_bytes());
        } else if m.is_file() {
            h.update(m.mode().to_le_bytes());
            h.update(fs::read(&p).unwrap());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Kills every process mentioning `dir` (daemons started in their own sessions by a test).
pub fn kill_all_mentioning(dir: &Path) {
    for (pid, _) in procs_mentioning(dir) {
        let _ = kill(pid, Signal::SIGKILL);
    }
}
