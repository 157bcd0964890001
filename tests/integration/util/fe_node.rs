//! A single simulated FE started with its package's own scripts, for the tests of the simulator and
//! of the tool against a live FE: its meta, package and JDK built by `starrocks-sim`, its ports
//! free, its process group killed when it is dropped.

use std::fs;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::bins::run_sim;
use super::files::read;
use super::ports::{free_ports, Lease};
use super::procs::Reaper;
use super::wait::wait_for;

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
    /// The four ports, held for the node's life (a restart binds them again).
    pub _ports: Lease,
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
        let lease = free_ports(4);
        let [http, rpc, query, edit] = lease.ports()[..] else {
            unreachable!("a lease of 4 ports")
        };
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
            _ports: lease,
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
        self.reaper.push(child.id() as i32);
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
        self.reaper.push(child.id() as i32);
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
