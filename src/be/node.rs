//! Controlling one BE of a node: where its pid file is, whether it runs and serves, its scripts,
//! and the node as the in-place canary and its rollback see it (ports, pid folder, the address
//! SHOW BACKENDS lists it under), read once so every step looks at the same node.
//!
//! Readiness is decided from what a BE shows at once: the process is alive, `/api/health` answers
//! OK and the heartbeat port accepts connections. be.INFO cannot be the gate: StarRocks buffers
//! INFO lines for up to 30 s (`FLAGS_logbufsecs`) and `sys_log_level = WARNING` drops them.

use std::fs;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::backends::{self, Want};
use super::{conf, BeConfig};
use crate::conf::ConfFile;
use crate::probe::http;
use crate::runner::Ending;

/// The folder holding `be.pid` for the BE home `home`: `PID_DIR` of be.conf (exported by the start
/// and stop scripts, so `${STARROCKS_HOME}` and other variables expand), or `bin/`.
pub fn pid_dir(home: &Path, conf: &ConfFile) -> PathBuf {
    let Some(raw) = conf.get("PID_DIR") else {
        return home.join("bin");
    };
    let raw = raw.trim().trim_matches(|c| c == '"' || c == '\'');
    let home_s = home.display().to_string();
    let expanded = crate::props::expand_vars(raw, &|n: &str| match n {
        "STARROCKS_HOME" => Some(home_s.clone()),
        _ => std::env::var(n).ok(),
    })
    .unwrap_or_else(|_| raw.to_string());
    let p = PathBuf::from(expanded);
    if p.is_absolute() {
        p
    } else {
        home.join(p)
    }
}

/// Whether `pid` is a live (not zombie) `starrocks_be`.
pub fn is_be(pid: i32) -> bool {
    let live = crate::procfs::stat(pid).is_some_and(|s| !s.is_zombie());
    live && crate::procfs::comm(pid).is_some_and(|c| c == "starrocks_be")
}

/// The pid in `pid_dir/be.pid`, if that process is a live BE.
pub fn running_pid(pid_dir: &Path) -> Option<i32> {
    let pid: i32 = fs::read_to_string(pid_dir.join("be.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    is_be(pid).then_some(pid)
}

/// Every live `starrocks_be` whose `STARROCKS_HOME` is `home` (the scripts export it, as the
/// logical path `pwd` prints, so both sides are canonicalised before they are compared).
pub fn be_processes(home: &Path) -> Vec<i32> {
    let want = fs::canonicalize(home).unwrap_or_else(|_| home.to_path_buf());
    let home_of = |pid: i32| -> Option<PathBuf> {
        let v = crate::procfs::env_var(pid, "STARROCKS_HOME")?;
        let p = PathBuf::from(String::from_utf8(v).ok()?);
        Some(fs::canonicalize(&p).unwrap_or(p))
    };
    let mut out: Vec<i32> = crate::procfs::pids()
        .into_iter()
        .filter(|pid| is_be(*pid))
        .filter(|pid| home_of(*pid).is_some_and(|h| h == want))
        .collect();
    out.sort();
    out
}

/// `/api/health` on this host answers 200 with `"status": "OK"`.
pub fn healthy(http_port: u16) -> bool {
    let addr: SocketAddr = ([127, 0, 0, 1], http_port).into();
    http::get(addr, "/api/health", Duration::from_secs(3))
        .ok()
        .is_some_and(|r| crate::probe::endpoints::health(&r).is_ok())
}

/// The heartbeat port on this host accepts a TCP connection (which is then closed unused).
pub fn accepts(port: u16) -> bool {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// The version a BE build reports: the first word of `lib/starrocks_be --version`
/// (`3.3.5-6d81f75`, or `2.5.13` for 2.x's `2.5.13 RELEASE (build …)`). None when the binary does
/// not run here; the caller falls back to the log banner.
pub fn binary_version(pkg: &Path) -> Option<String> {
    let mut child = Command::new(pkg.join("lib/starrocks_be"))
        .arg("--version")
        .env("STARROCKS_HOME", pkg)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    let first = out.split_whitespace().next()?.to_string();
    first
        .parse::<crate::version::Version>()
        .is_ok()
        .then_some(first)
}

/// The node an in-place canary or rollback works on.
pub struct Node {
    pub home: PathBuf,
    pub http_port: u16,
    pub hb_port: u16,
    /// Where be.pid lives (`PID_DIR` of be.conf, or bin/).
    pub pid_dir: PathBuf,
    /// This node's address in SHOW BACKENDS: `--be-host`, or the detected candidates.
    pub be_host: Option<String>,
    pub candidates: Vec<IpAddr>,
}

impl Node {
    pub fn read(cfg: &BeConfig) -> Result<Node, Ending> {
        let nc = conf::read(&cfg.be_home)?;
        let home = fs::canonicalize(&cfg.be_home).unwrap_or_else(|_| cfg.be_home.clone());
        let networks = nc.conf.get("priority_networks").unwrap_or_default();
        let networks = backends::parse_priority_networks(&networks).map_err(|bad| {
            Ending::bad_input(format!(
                "{}: priority_networks has `{}`, which is not a CIDR; fix be.conf",
                nc.path, bad.0
            ))
        })?;
        Ok(Node {
            http_port: nc.ports["be_http_port"],
            hb_port: nc.ports["heartbeat_service_port"],
            pid_dir: pid_dir(&home, &nc.conf),
            be_host: cfg.be_host.clone(),
            candidates: backends::candidate_addresses(&backends::local_addresses(), &networks),
            home,
        })
    }

    /// Where be.pid of the old BE is once bin/ moved into `backup`.
    pub fn old_pid_dir(&self, backup: &Path) -> PathBuf {
        if self.pid_dir == self.home.join("bin") {
            backup.join("bin")
        } else {
            self.pid_dir.clone()
        }
    }

    pub fn want(&self) -> Want<'_> {
        match &self.be_host {
            Some(h) => Want::Host(h),
            None => Want::Detected(&self.candidates),
        }
    }
}

/// Why a BE script or a stop did not do its job.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("failed to run {}: {source}", path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} exited with {status}", path.display())]
    Exited {
        path: PathBuf,
        status: std::process::ExitStatus,
    },
    #[error("{} did not finish within {}", path.display(), humantime::format_duration(*limit))]
    Overran { path: PathBuf, limit: Duration },
    #[error("BE process {0} did not stop")]
    StillRunning(i32),
}

/// Runs a BE script of `home` (start with `--daemon`, or stop) in its own session, so the BE it
/// starts belongs to the node, not to this tool; a script still running after `limit` is killed.
pub fn script(home: &Path, name: &str, args: &[&str], limit: Duration) -> Result<(), NodeError> {
    let path = home.join("bin").join(name);
    let mut cmd = Command::new("bash");
    cmd.arg(&path)
        .args(args)
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let mut child = cmd.spawn().map_err(|source| NodeError::Spawn {
        path: path.clone(),
        source,
    })?;
    let until = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(status)) => return Err(NodeError::Exited { path, status }),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                // The script leads its own session and group: end all of it.
                let _ = kill(Pid::from_raw(-(child.id() as i32)), Signal::SIGKILL);
                let _ = child.wait();
                return Err(NodeError::Overran { path, limit });
            }
        }
    }
}

/// Stops the BE `pid` with the stop_be.sh of `script_home` (if given and present; SIGKILL, as
/// that script sends by default, otherwise), then SIGKILL after `grace`, and waits until it is gone.
pub fn stop(pid: i32, script_home: Option<&Path>, grace: Duration) -> Result<(), NodeError> {
    if !is_be(pid) {
        return Ok(());
    }
    match script_home.filter(|h| h.join("bin/stop_be.sh").is_file()) {
        Some(h) => {
            let _ = script(h, "stop_be.sh", &[], grace);
        }
        None => {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    let wait = |d: Duration| {
        let until = Instant::now() + d;
        while is_be(pid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait(grace);
    if is_be(pid) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        wait(Duration::from_secs(5));
    }
    if is_be(pid) {
        Err(NodeError::StillRunning(pid))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_dir_follows_be_conf() {
        let home = Path::new("/opt/sr/be");
        assert_eq!(pid_dir(home, &ConfFile::parse("")), home.join("bin"));
        assert_eq!(
            pid_dir(home, &ConfFile::parse("PID_DIR = ${STARROCKS_HOME}/run\n")),
            home.join("run")
        );
        assert_eq!(
            pid_dir(home, &ConfFile::parse("PID_DIR = \"/var/run/sr\"\n")),
            PathBuf::from("/var/run/sr")
        );
    }
}
