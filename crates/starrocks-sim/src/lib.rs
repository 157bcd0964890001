//! `starrocks-sim`: a stand-in for StarRocks FE and BE releases.
//!
//! No StarRocks release can be downloaded where this project is built and tested, so the tool is
//! proven against this simulator instead. It writes meta dirs and release folders in the real
//! layout, and as a server it follows the reference notes: the same startup checks in the same
//! order, the same log lines in each version's format, the same ports, HTTP answers and MySQL
//! protocol, the same pid files and script behaviour. Faults baked into a package reproduce the
//! failures operators meet. It only ever connects to loopback addresses.

pub mod answers;
pub mod be;
pub mod cli;
pub mod cluster;
pub mod fe;
pub mod frontend_config;
pub mod global_vars;
pub mod http;
pub mod image;
pub mod logs;
pub mod meta;
pub mod mysql;
pub mod package;
pub mod proc;
pub mod properties;
pub mod release;
mod scripts;
pub mod stamps;

use std::io;
use std::net::{IpAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use starrocks_common::version::Version;

/// Errors of the simulator's build commands (`make-meta`, `make-package`).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("failed to write {0}: {1}")]
    Io(String, #[source] io::Error),
    #[error("{0}")]
    BadArgument(String),
    #[error(transparent)]
    Cluster(Box<cluster::ClusterError>),
}

/// A fault baked into a package at build time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// FE: the image's meta version is not accepted by this release.
    IncompatibleMeta,
    /// FE: the journal holds an operation this release does not know.
    UnknownOperationType,
    /// FE: election never completes; `wait globalStateMgr to be ready` repeats.
    Hang,
    /// FE/BE: a slow start (`--fault-secs`, default 5 s) during journal replay.
    SlowStart,
    /// FE/BE: the process dies abruptly `--fault-secs` after it became ready.
    CrashAfterReady,
    /// FE: behaves as if `edit_log_port` were taken; BE: as if its HTTP port were taken.
    PortInUse,
    /// FE: `JAVA_OPTS` carries CMS options a JDK 14+ refuses; the failure shows only in fe.out.
    JvmOption,
    /// FE/BE: SIGTERM is ignored; only SIGKILL stops the server.
    IgnoreSigterm,
    /// FE/BE: the server starts a helper process that outlives it.
    Grandchild,
    /// BE: the CPU lacks AVX2 (SIGILL on 2.x, `CPU flags check failed!` on 3.x).
    NoAvx2,
    /// BE: a new `lib/` under an old `bin/`: `TCMALLOC_HEAP_LIMIT_MB` is not set.
    LibWithoutBin,
    /// BE: a build for another OS: the dynamic linker misses a shared library.
    MissingLibrary,
    /// BE: a tablet header fails to load and the BE stops.
    TabletLoadFailure,
    /// BE: tablet meta takes `--fault-secs` to load (a slow start, not a failure).
    SlowTabletLoad,
    /// FE (a host fault of the cluster mode): a follower replays `1000 × --fault-secs` journal
    /// entries behind its leader.
    LaggingFollower,
}

impl Fault {
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    }
}

/// The release description a simulated package carries in `lib/starrocks-sim.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Release {
    pub role: String,
    pub version: Version,
    #[serde(default)]
    pub fault: Option<Fault>,
    /// Seconds used by time-based faults.
    #[serde(default = "default_fault_secs")]
    pub fault_secs: u64,
    /// Interval between leader heartbeats to backends, in milliseconds.
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_ms: u64,
    /// Interval of the "It took too much time" warning while an election hangs (60 s in StarRocks).
    #[serde(default = "default_too_much_time_secs")]
    pub too_much_time_secs: u64,
}

fn default_fault_secs() -> u64 {
    5
}
fn default_heartbeat_ms() -> u64 {
    5000
}
fn default_too_much_time_secs() -> u64 {
    60
}

pub const RELEASE_FILE: &str = "starrocks-sim.json";

/// Why a package's release description cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("failed to read {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to parse {}: {source}", path.display())]
    Malformed {
        path: std::path::PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Why the simulator did not open a connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{host}:{port} is not a loopback address; not contacted")]
    NotLoopback { host: String, port: u16 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Release {
    pub fn load(home: &Path) -> Result<Release, ReleaseError> {
        let path = home.join("lib").join(RELEASE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(source) => return Err(ReleaseError::Read { path, source }),
        };
        serde_json::from_str(&text).map_err(|source| ReleaseError::Malformed { path, source })
    }

    pub fn fault_is(&self, f: Fault) -> bool {
        self.fault == Some(f)
    }
}

/// Whether `host` resolves only to loopback addresses. The simulator never opens a connection to
/// anything else, so a meta recording production hosts cannot make it reach production.
pub fn loopback_addr(host: &str, port: u16) -> Option<std::net::SocketAddr> {
    let ip: IpAddr = host.parse().ok()?;
    ip.is_loopback().then(|| (ip, port).into())
}

/// Tries a TCP connection to a loopback `host:port`; any other host is refused without a packet.
pub fn connect_loopback(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, ConnectError> {
    let addr = loopback_addr(host, port).ok_or_else(|| ConnectError::NotLoopback {
        host: host.into(),
        port,
    })?;
    Ok(TcpStream::connect_timeout(&addr, timeout)?)
}
