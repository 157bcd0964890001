//! Controlling one BE of a node: where its pid file is, whether it runs and serves, its scripts,
//! and the node as the in-place canary and its rollback see it (ports, pid folder, the address
//! SHOW BACKENDS lists it under), read once so every step looks at the same node.
//!
//! Readiness is decided from what a BE shows at once: the process is alive, `/api/health` answers
//! OK and the heartbeat port accepts connections. be.INFO cannot be the gate: StarRocks buffers
//! INFO lines for up to 30 s (`FLAGS_logbufsecs`) and `sys_log_level = WARNING` drops them.

use std::fs;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::unix::ffi::OsStrExt;
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

/// Whether `pid` is a live (not zombie) `starrocks_be`, of any node.
pub fn is_be(pid: i32) -> bool {
    let live = crate::procfs::stat(pid).is_some_and(|s| !s.is_zombie());
    live && crate::procfs::comm(pid).is_some_and(|c| c == "starrocks_be")
}

/// `p` resolved, without the ` (deleted)` the kernel appends to a removed file's name.
fn canonical(p: &Path) -> PathBuf {
    let s = p.to_string_lossy();
    let p = match s.strip_suffix(" (deleted)") {
        Some(t) => PathBuf::from(t),
        None => p.to_path_buf(),
    };
    fs::canonicalize(&p).unwrap_or(p)
}

/// The folder a BE process says is its home: `STARROCKS_HOME` of its environment (the start
/// scripts export it), or its working folder when that variable is not set.
fn home_of(pid: i32) -> Option<PathBuf> {
    match crate::procfs::env_var(pid, "STARROCKS_HOME") {
        Some(v) => Some(canonical(Path::new(std::ffi::OsStr::from_bytes(&v)))),
        None => crate::procfs::cwd(pid).map(|p| canonical(&p)),
    }
}

/// Whether `pid` is a live BE of the node whose (canonical) home is `home`: a `starrocks_be` whose
/// executable lies in that home (`lib/`, or a backup folder of the canary there) or is the home's
/// `lib/starrocks_be` itself, and whose `STARROCKS_HOME` is that home. The name alone proves
/// nothing: a stale be.pid can name another node's BE on the same host, whose pid it reused.
pub fn is_be_of(pid: i32, home: &Path) -> bool {
    if !is_be(pid) {
        return false;
    }
    let Some(exe) = crate::procfs::exe(pid) else {
        return false;
    };
    let exe_ours =
        canonical(&exe).starts_with(home) || same_file(&exe, &home.join("lib/starrocks_be"));
    exe_ours && home_of(pid).is_some_and(|h| h == home)
}

/// Whether `a` and `b` are one file (`a` may be `/proc/<pid>/exe`: the program a process runs,
/// wherever it has been moved since).
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// What a process is, for a message: a BE of which home, or the program's name.
pub fn describe_process(pid: i32) -> String {
    let comm = crate::procfs::comm(pid).unwrap_or_else(|| "?".into());
    if crate::procfs::stat(pid).is_some_and(|s| s.is_zombie()) {
        return format!("a `{comm}` that has exited and not yet been reaped by its parent");
    }
    if comm == "starrocks_be" {
        let (Some(exe), Some(home)) = (crate::procfs::exe(pid), home_of(pid)) else {
            return "a starrocks_be whose executable or home cannot be read (another user's process?)".into();
        };
        return format!(
            "the BE of another home (STARROCKS_HOME {}, executable {})",
            home.display(),
            exe.display()
        );
    }
    let cmd = crate::procfs::cmdline(pid).unwrap_or_default();
    let cmd: String = cmd.trim().chars().take(120).collect();
    format!("`{comm}` ({cmd}), not a BE")
}

/// What `be.pid` of a node names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidFile {
    /// No file, or no number in it.
    Missing,
    /// A pid no process has.
    Dead(i32),
    /// A live BE of this node.
    Ours(i32),
    /// A process that is not a live BE of this node (a zombie, another node's BE, anything else),
    /// described for messages.
    Foreign(i32, String),
}

/// The pid `pid_dir/be.pid` holds, if it holds a number.
pub fn recorded_pid(pid_dir: &Path) -> Option<i32> {
    fs::read_to_string(pid_dir.join("be.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// What `pid_dir/be.pid` names, judged against the node whose canonical home is `home`.
pub fn pid_file(home: &Path, pid_dir: &Path) -> PidFile {
    match recorded_pid(pid_dir) {
        None => PidFile::Missing,
        Some(p) if is_be_of(p, home) => PidFile::Ours(p),
        Some(p) if crate::procfs::exists(p) => PidFile::Foreign(p, describe_process(p)),
        Some(p) => PidFile::Dead(p),
    }
}

/// The pid in `pid_dir/be.pid`, if that process is a live BE of the node `home`.
pub fn running_pid(home: &Path, pid_dir: &Path) -> Option<i32> {
    recorded_pid(pid_dir).filter(|p| is_be_of(*p, home))
}

/// Every live BE of the node whose canonical home is `home` (see [`is_be_of`]).
pub fn be_processes(home: &Path) -> Vec<i32> {
    let mut out: Vec<i32> = crate::procfs::pids()
        .into_iter()
        .filter(|pid| is_be_of(*pid, home))
        .collect();
    out.sort();
    out
}

/// Live `stop_be.sh` scripts of the node `home` (run from a folder in it, or named by a path in
/// it), such as the one a killed canary started in its own session: until it ends it may still
/// signal the pid it read, or remove a `be.pid` written after it.
pub fn stop_scripts(home: &Path) -> Vec<i32> {
    let me = std::process::id() as i32;
    crate::procfs::pids()
        .into_iter()
        .filter(|p| *p != me)
        .filter(|p| crate::procfs::stat(*p).is_some_and(|s| !s.is_zombie()))
        .filter(|p| {
            let Ok(raw) = fs::read(format!("/proc/{p}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
            // A shell running the script (`bash .../stop_be.sh`, or the script run by its
            // shebang), not any program that merely names it (an editor, a `tail`).
            let shell = crate::procfs::comm(*p)
                .is_some_and(|c| ["bash", "sh", "dash", "stop_be.sh"].contains(&c.as_str()));
            let names_script = shell && args.iter().take(2).any(|a| a.ends_with(b"stop_be.sh"));
            let in_home = |a: &[u8]| {
                let a = Path::new(std::ffi::OsStr::from_bytes(a));
                a.is_absolute() && canonical(a).starts_with(home)
            };
            names_script
                && (args.iter().any(|a| in_home(a))
                    || crate::procfs::cwd(*p).is_some_and(|c| canonical(&c).starts_with(home)))
        })
        .collect()
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
    // The one runner of `--version`, shared with the host precheck.
    crate::precheck::package::be_version_within(pkg, Duration::from_secs(10))
}

/// The node an in-place canary or rollback works on.
#[derive(Debug, Clone)]
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

    /// The pid be.pid names, if it is a live BE of this node.
    pub fn running_pid(&self) -> Option<i32> {
        running_pid(&self.home, &self.pid_dir)
    }

    /// What be.pid names.
    pub fn pid_file(&self) -> PidFile {
        pid_file(&self.home, &self.pid_dir)
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
    script_until(home, name, args, limit, || false)
}

/// How long a stop script may go on once the BE it stops is gone: the real script notices within
/// its one-second poll and removes be.pid; past that it waits on a pid that never goes (a zombie
/// whose parent does not reap).
const SCRIPT_AFTER_DONE: Duration = Duration::from_secs(2);

/// [`script`], ended early (as a success) `SCRIPT_AFTER_DONE` after `done` turns true.
fn script_until(
    home: &Path,
    name: &str,
    args: &[&str],
    limit: Duration,
    done: impl Fn() -> bool,
) -> Result<(), NodeError> {
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
    let mut done_at: Option<Instant> = None;
    loop {
        let status = child.try_wait();
        if matches!(status, Ok(None)) && done() {
            let since = *done_at.get_or_insert_with(Instant::now);
            if since.elapsed() >= SCRIPT_AFTER_DONE {
                let _ = kill(Pid::from_raw(-(child.id() as i32)), Signal::SIGKILL);
                let _ = child.wait();
                return Ok(());
            }
        }
        match status {
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

/// Stops the BE `pid` of the node `home`, and waits until it is gone. Nothing is signalled unless
/// `pid` is a live BE of that node. `script` is the stop_be.sh to use, as its home and the folder
/// of the be.pid it reads: it runs only when that be.pid names `pid` (the script signals whatever
/// its pid file names); otherwise, and when it is missing, SIGKILL, as that script sends by
/// default. SIGKILL again after `grace`.
pub fn stop(
    pid: i32,
    home: &Path,
    script: Option<(&Path, &Path)>,
    grace: Duration,
) -> Result<(), NodeError> {
    if !is_be_of(pid, home) {
        return Ok(());
    }
    let script = script.filter(|(h, pid_dir)| {
        h.join("bin/stop_be.sh").is_file() && recorded_pid(pid_dir) == Some(pid)
    });
    match script {
        Some((h, _)) => {
            let _ = script_until(h, "stop_be.sh", &[], grace, || !is_be_of(pid, home));
        }
        None => {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    let wait = |d: Duration| {
        let until = Instant::now() + d;
        while is_be_of(pid, home) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait(grace);
    if is_be_of(pid, home) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        wait(Duration::from_secs(5));
    }
    if is_be_of(pid, home) {
        Err(NodeError::StillRunning(pid))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_no_be_of_any_home() {
        let me = std::process::id() as i32;
        let cwd = canonical(&std::env::current_dir().unwrap());
        assert!(
            !is_be_of(me, &cwd),
            "not a starrocks_be, whatever its folder"
        );
        assert!(describe_process(me).contains("not a BE"));
        assert_eq!(
            canonical(Path::new("/no/such/lib/starrocks_be (deleted)")),
            PathBuf::from("/no/such/lib/starrocks_be")
        );
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("be.pid"), format!("{me}\n")).unwrap();
        assert_eq!(recorded_pid(dir.path()), Some(me));
        assert!(matches!(pid_file(&cwd, dir.path()), PidFile::Foreign(p, _) if p == me));
        assert_eq!(running_pid(&cwd, dir.path()), None);
    }

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
