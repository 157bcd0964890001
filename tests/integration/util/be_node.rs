//! A single simulated BE started with its package's own scripts, for the simulator's BE tests: its
//! package and storage root built by `starrocks-sim`, its ports free, its process group killed when
//! it is dropped.

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

/// A simulated BE node: package, storage root and ports.
pub struct BeNode {
    pub _dir: tempfile::TempDir,
    pub home: PathBuf,
    pub storage: PathBuf,
    pub be_port: u16,
    pub http: u16,
    pub heartbeat: u16,
    pub brpc: u16,
    /// The four ports, held for the node's life (a restart binds them again).
    pub _ports: Lease,
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
        let lease = free_ports(4);
        let [be_port, http, heartbeat, brpc] = lease.ports()[..] else {
            unreachable!("a lease of 4 ports")
        };
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
            _ports: lease,
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
        self.reaper.push(child.id() as i32);
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
