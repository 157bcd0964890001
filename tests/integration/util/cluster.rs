//! A simulated cluster for the `check` and `upgrade-plan` tests: built with
//! `starrocks-sim make-cluster`, every node started and stopped by its own scripts, and every
//! process mentioning the cluster folder killed when the test ends, whatever started it.
//!
//! Each FE runs on a loopback address of its own (127.0.0.1, .2, .3) and the BEs on 127.0.0.1
//! (`starrocks_sim::cluster::fe_per_host`), unless the test names every node's address itself
//! (`build_on_hosts`).
//!
//! The cluster's 24 ports are leased by the test, not by `make-cluster` (which exits before any
//! node binds them), and held until the cluster is dropped: no other test and no sandbox of the
//! tool is handed one of them while a node starts, stops or restarts on it. A start that still
//! fails says which node, which port, and who holds the port.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use std::os::unix::process::CommandExt;

use starrocks_sim::cluster::{ClusterSpec, NodeSpec};

use super::bins::{run_sim, tool_bin};
use super::ports::{free_ports, Lease};
use super::procs::kill_all_mentioning;
use super::sockets;
use super::wait::wait_for_or_none;

/// How long `start_all` waits for each node, in turn, to listen on its ports.
const NODE_LISTENS: Duration = Duration::from_secs(30);

pub struct SimCluster {
    pub _dir: tempfile::TempDir,
    pub dir: PathBuf,
    pub spec: ClusterSpec,
    /// The nodes' ports, held until the nodes are killed (fields drop after `drop` ran).
    _ports: Lease,
}

impl Drop for SimCluster {
    fn drop(&mut self) {
        kill_all_mentioning(&self.dir);
    }
}

/// The node count `flag` (`--fes`, `--bes`) gives in make-cluster arguments, 3 by default.
fn count(extra: &[&str], flag: &str) -> usize {
    extra
        .iter()
        .position(|a| *a == flag)
        .and_then(|i| extra.get(i + 1))
        .map_or(3, |n| n.parse::<usize>().unwrap())
}

impl SimCluster {
    /// Builds 3 FEs and 3 BEs of `version` (or the `--fes`/`--bes` counts in `extra`) with
    /// `extra` make-cluster arguments, on 4 ports per node leased for the cluster's life, each FE
    /// on a host of its own.
    pub fn build(version: &str, extra: &[&str]) -> SimCluster {
        let hosts =
            starrocks_sim::cluster::fe_per_host(count(extra, "--fes"), count(extra, "--bes"));
        let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
        SimCluster::build_on_hosts(version, extra, &hosts)
    }

    /// Builds 3 FEs and 3 BEs of `version` on the given loopback addresses (fe1..fe3, then
    /// be1..be3; one may repeat), with `extra` make-cluster arguments.
    pub fn build_on_hosts(version: &str, extra: &[&str], addrs: &[&str]) -> SimCluster {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("cluster");
        let lease = free_ports((count(extra, "--fes") + count(extra, "--bes")) * 4);
        let ports: Vec<String> = lease.ports().iter().map(u16::to_string).collect();
        let ports = ports.join(",");
        let hosts = addrs.join(",");
        let mut args = vec![
            "make-cluster",
            "--version",
            version,
            "--out",
            out.to_str().unwrap(),
            "--ports",
            &ports,
            "--hosts",
            &hosts,
        ];
        args.extend_from_slice(extra);
        run_sim(&args);
        let spec = ClusterSpec::load(&out).unwrap();
        SimCluster {
            _dir: dir,
            dir: out,
            spec,
            _ports: lease,
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

    /// Starts every node, then waits for each in turn to listen on all its ports (an FE opens
    /// its HTTP port only once a majority of FEs is up, so the waits come after all the starts).
    pub fn start_all(&self) {
        let names: Vec<&str> = self.spec.nodes.iter().map(|n| n.name.as_str()).collect();
        for n in names {
            let out = self.start(n);
            assert!(
                out.status.success(),
                "{n} did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for n in &self.spec.nodes {
            self.wait_listening(n);
        }
    }

    /// The node's live processes: those whose `STARROCKS_HOME` (exported by its start scripts
    /// before they run the server) is the node's home. A pid file would not do: an FE writes its
    /// own and removes it when it exits.
    fn node_pids(&self, n: &NodeSpec) -> Vec<i32> {
        let home = std::fs::canonicalize(&n.home).unwrap_or_else(|_| n.home.clone());
        let home = home.as_os_str().as_encoded_bytes();
        sr_rehearse::procfs::pids()
            .into_iter()
            .filter(|p| {
                super::procs::alive(*p)
                    && sr_rehearse::procfs::env_var(*p, "STARROCKS_HOME").as_deref() == Some(home)
            })
            .collect()
    }

    /// Waits until the node listens on every port of cluster.json, or panics naming the node, the
    /// port and who holds it: nobody (with the node's logs), or a process that is not the node.
    fn wait_listening(&self, n: &NodeSpec) {
        let mut waiting = String::new();
        let got = wait_for_or_none(NODE_LISTENS, || match self.port_problem(n) {
            Ok(None) => Some(Ok(())),
            Ok(Some(w)) => {
                waiting = w;
                None
            }
            Err(foreign) => Some(Err(foreign)),
        });
        let problem = match got {
            Some(Ok(())) => return,
            Some(Err(foreign)) => foreign,
            None => format!("{waiting} after {NODE_LISTENS:?}"),
        };
        panic!("{}: {problem}\n{}", n.name, self.log_tails());
    }

    /// `Ok(None)` when the node's processes listen on all its ports; `Ok(Some(why))` for a port
    /// nobody listens on yet; `Err(why)` when a process that is not the node's listens on one of
    /// its ports: the node cannot bind it, so waiting longer is useless.
    fn port_problem(&self, n: &NodeSpec) -> Result<Option<String>, String> {
        let pids = self.node_pids(n);
        let mine: Vec<u64> = pids
            .iter()
            .flat_map(|p| sockets::socket_inodes(*p))
            .collect();
        let mut missing = None;
        for (key, port) in &n.ports {
            let inodes = sockets::listening_inodes(*port);
            if inodes.is_empty() {
                missing.get_or_insert(format!("{key} {port}"));
            } else if !inodes.iter().any(|i| mine.contains(i)) {
                // A socket no process can be found holding is one being set up or torn down (a
                // process exiting, or one the listing missed while it started): not proof of a
                // stranger, so wait and look again. Only a named holder that is not the node is.
                let holders = sockets::holders(*port);
                if holders.is_empty() {
                    missing.get_or_insert(format!("{key} {port} (its holder not found yet)"));
                    continue;
                }
                return Err(format!(
                    "{key} {port} is held by {}, not by the node (its processes: {pids:?})",
                    holders.join(", ")
                ));
            }
        }
        Ok(missing.map(|m| format!("nobody listens on {m} (the node's processes: {pids:?})")))
    }

    /// The `--fe` and `--query-port` arguments pointing at `name`.
    pub fn fe_args(&self, name: &str) -> Vec<String> {
        let n = self.node(name);
        vec![
            "--fe".into(),
            format!("{}:{}", n.host, n.ports["http_port"]),
            "--query-port".into(),
            n.ports["query_port"].to_string(),
        ]
    }

    /// One statement as root on `fe`'s query port, at its own host, with the tool's own MySQL
    /// client.
    pub fn sql(&self, fe: &str, stmt: &str) -> Result<Vec<sr_rehearse::probe::mysql::Row>, String> {
        let n = self.node(fe);
        let mut s = sr_rehearse::probe::mysql::Session::connect(
            &n.host,
            n.ports["query_port"],
            "root",
            None,
            Duration::from_secs(5),
        )
        .map_err(|e| e.to_string())?;
        s.query(stmt).map_err(|e| e.to_string())
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
                "check never gave the expected answer; last (exit {:?}):\n{}{}\n{}",
                o.status.code(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr),
                self.log_tails()
            )
        })
    }

    /// The last lines of every FE's fe.out and fe.log and every BE's be.out: what a failed wait
    /// needs to be understood after the temporary folder is gone.
    fn log_tails(&self) -> String {
        let mut out = String::new();
        for n in &self.spec.nodes {
            let files: &[&str] = if n.role == "fe" {
                &["log/fe.out", "log/fe.log"]
            } else {
                &["log/be.out"]
            };
            let name = &n.name;
            for f in files {
                let path = n.home.join(f);
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("({e})"));
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(8)..].join("\n");
                out.push_str(&format!("--- {name} {f}:\n{tail}\n"));
            }
        }
        out
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

impl SimCluster {
    /// `--node-home` for every node, from cluster.json.
    pub fn node_home_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        for n in &self.spec.nodes {
            let port = if n.role == "fe" {
                n.ports["query_port"]
            } else {
                n.ports["heartbeat_service_port"]
            };
            out.push("--node-home".into());
            out.push(format!("{}@{}:{port}={}", n.role, n.host, n.home.display()));
        }
        out
    }

    /// Builds the new release `version` (fe/ and be/) beside the cluster.
    pub fn new_release(&self, version: &str) -> (PathBuf, PathBuf) {
        let base = self.dir.join(format!("StarRocks-{version}"));
        let (fe, be) = (base.join("fe"), base.join("be"));
        for (role, out) in [("fe", &fe), ("be", &be)] {
            run_sim(&[
                "make-package",
                "--role",
                role,
                "--version",
                version,
                "--out",
                out.to_str().unwrap(),
            ]);
        }
        (fe, be)
    }

    /// A real FE rehearsal of fe1's meta and a BE sandbox canary on be1, for the new release;
    /// returns their JSON reports.
    pub fn rehearse(&self, new_fe: &Path, new_be: &Path) -> (PathBuf, PathBuf) {
        let ws = self.dir.join("ws");
        std::fs::create_dir_all(&ws).unwrap();
        let fe_report = self.dir.join("rehearsal.json");
        let be_report = self.dir.join("canary.json");
        assert_cmd::Command::new(tool_bin())
            .arg("fe")
            .arg("--meta")
            .arg(self.node("fe1").dir.join("meta"))
            .arg("--new-fe")
            .arg(new_fe)
            .args(["--isolate", "none", "-q", "--json"])
            .arg(&fe_report)
            .arg("--workspace-root")
            .arg(&ws)
            .env("JAVA_HOME", &self.spec.jdk)
            .assert()
            .success();
        assert_cmd::Command::new(tool_bin())
            .arg("be")
            .arg("--be-home")
            .arg(self.be_home("be1"))
            .arg("--new-be")
            .arg(new_be)
            .args(["--isolate", "none", "-q", "--json"])
            .arg(&be_report)
            .arg("--workspace-root")
            .arg(&ws)
            .assert()
            .success();
        (fe_report, be_report)
    }

    /// `sr-rehearse upgrade-plan` against fe1 with every node's home.
    pub fn plan(&self, new_fe: &Path, new_be: &Path, extra: &[&str]) -> Output {
        Command::new(tool_bin())
            .arg("upgrade-plan")
            .args(self.fe_args("fe1"))
            .arg("--new-fe")
            .arg(new_fe)
            .arg("--new-be")
            .arg(new_be)
            .args(self.node_home_args())
            .args(extra)
            .output()
            .unwrap()
    }
}
