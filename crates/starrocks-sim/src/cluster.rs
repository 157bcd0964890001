//! The simulator's whole-cluster mode: several frontends forming one group, and per-host faults.
//!
//! A real cluster elects its leader through BDB JE on the `edit_log_port`s, and the leader learns
//! each follower's replayed journal, query port and version from an HTTP `/api/bootstrap`
//! heartbeat (`HeartbeatMgr.FrontendHeartbeatHandler`). The simulator keeps the second part as
//! StarRocks does it and stands in for BDB JE with a one-line protocol on the `edit_log_port`
//! (`WHO` and `QUERY`): enough to elect one leader among the recorded followers once a majority is
//! up, to let a restarted node rejoin as follower, and to let a follower answer the statements it
//! would answer from replicated metadata. What is not modelled is said in docs/conformance.md.
//!
//! A node folder may hold `sim-host.json`, the faults of that *host* (not of a package): the
//! cluster builder uses it for a BE host that cannot run one particular new build and for a
//! follower that replays behind its leader.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::answers::{statistic_result, DbStat};
use super::image::{Frontend, Table};
use super::mysql::{Outcome, ResultSet};
use super::{connect_loopback, ConnectError, Fault};
use crate::release::Behaviour as _;
use crate::stamps::Stamps as _;
use starrocks_common::timefmt::Civil;
use starrocks_common::version::Version;

/// How far a lagging follower stays behind its leader, in journal entries, per `fault_secs`.
pub const LAG_PER_FAULT_SEC: u64 = 1000;

/// Faults of one simulated host, read from `<node>/sim-host.json` beside the StarRocks home.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HostFaults {
    #[serde(default)]
    pub faults: Vec<HostFault>,
    /// Leader only: tablets SHOW PROC '/statistic' reports unhealthy (a replica missing).
    #[serde(default)]
    pub unhealthy_tablets: u64,
}

impl HostFaults {
    /// The faults of the host this process runs on (its STARROCKS_HOME's parent).
    pub fn of_this_host() -> HostFaults {
        std::env::var("STARROCKS_HOME")
            .ok()
            .and_then(|h| std::fs::read_to_string(Path::new(&h).parent()?.join(HOST_FILE)).ok())
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }
}

/// A fault that applies on this host to the builds whose version starts with `version`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostFault {
    pub fault: Fault,
    /// A version prefix such as `3.3`; empty for every build.
    #[serde(default)]
    pub version: String,
}

pub const HOST_FILE: &str = "sim-host.json";

/// The fault this host imposes on a build of version `v` started from `home`, if any.
pub fn host_fault(home: &Path, v: Version) -> Option<Fault> {
    let text = std::fs::read_to_string(home.parent()?.join(HOST_FILE)).ok()?;
    let hf: HostFaults = serde_json::from_str(&text).ok()?;
    let full = v.to_string();
    hf.faults
        .iter()
        .find(|f| {
            f.version.is_empty()
                || full == f.version
                || full.starts_with(&format!("{}.", f.version))
        })
        .map(|f| f.fault)
}

// ---------------------------------------------------------------- the group at run time

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupRole {
    Unknown,
    Leader,
    Follower,
}

impl GroupRole {
    fn word(self) -> &'static str {
        match self {
            GroupRole::Unknown => "UNKNOWN",
            GroupRole::Leader => "LEADER",
            GroupRole::Follower => "FOLLOWER",
        }
    }
}

/// What the leader last learnt of another frontend from its `/api/bootstrap` heartbeat.
#[derive(Debug, Clone, Default)]
pub struct PeerInfo {
    pub alive: bool,
    pub http_port: u16,
    pub query_port: u16,
    pub rpc_port: u16,
    pub journal: u64,
    pub start_time: String,
    pub version: String,
    pub err: String,
    pub last_heartbeat: String,
}

/// This frontend's part in the group.
pub struct Group {
    pub cluster_id: i64,
    pub token: String,
    pub host: String,
    pub edit_log_port: u16,
    pub http_port: u16,
    pub query_port: u16,
    pub rpc_port: u16,
    pub version: String,
    /// Entries a lagging follower stays behind its leader (0 for a healthy node).
    pub lag: u64,
    role: Mutex<GroupRole>,
    leader: Mutex<Option<(String, u16)>>,
    journal: AtomicU64,
    peers: Mutex<BTreeMap<(String, u16), PeerInfo>>,
    /// Answers a forwarded query once the node serves SQL.
    query: Mutex<Option<super::mysql::QueryFn>>,
}

/// A frontend's answer to `WHO`.
#[derive(Debug, Clone)]
pub struct Who {
    pub role: String,
    pub journal: u64,
    pub http_port: u16,
    pub leader: Option<(String, u16)>,
}

impl Group {
    pub fn new(
        cluster_id: i64,
        token: String,
        host: String,
        ports: (u16, u16, u16, u16),
        version: String,
        lag: u64,
    ) -> Arc<Group> {
        let (edit_log_port, http_port, query_port, rpc_port) = ports;
        Arc::new(Group {
            cluster_id,
            token,
            host,
            edit_log_port,
            http_port,
            query_port,
            rpc_port,
            version,
            lag,
            role: Mutex::new(GroupRole::Unknown),
            leader: Mutex::new(None),
            journal: AtomicU64::new(0),
            peers: Mutex::new(BTreeMap::new()),
            query: Mutex::new(None),
        })
    }

    pub fn role(&self) -> GroupRole {
        *self.role.lock().unwrap()
    }

    pub fn journal(&self) -> u64 {
        self.journal.load(Ordering::SeqCst)
    }

    pub fn set_journal(&self, j: u64) {
        self.journal.store(j, Ordering::SeqCst)
    }

    pub fn set_query(&self, q: super::mysql::QueryFn) {
        *self.query.lock().unwrap() = Some(q);
    }

    pub fn peer(&self, host: &str, port: u16) -> Option<PeerInfo> {
        self.peers
            .lock()
            .unwrap()
            .get(&(host.to_string(), port))
            .cloned()
    }

    fn who_line(&self) -> String {
        let leader = self
            .leader
            .lock()
            .unwrap()
            .clone()
            .map(|(h, p)| format!(" leader={h}:{p}"))
            .unwrap_or_default();
        format!(
            "ROLE {} journal={} http_port={}{leader}",
            self.role().word(),
            self.journal(),
            self.http_port
        )
    }
}

/// Serves the `edit_log_port` for the life of the process.
pub fn serve_edit_log(listener: TcpListener, g: Arc<Group>) {
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let g = g.clone();
            std::thread::spawn(move || answer(s, &g));
        }
    });
}

fn answer(s: TcpStream, g: &Group) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let Ok(mut w) = s.try_clone() else { return };
    let mut line = String::new();
    if BufReader::new(s).read_line(&mut line).is_err() {
        return;
    }
    let line = line.trim();
    let cid = line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("cluster_id="))
        .and_then(|c| c.parse::<i64>().ok());
    if cid != Some(g.cluster_id) {
        // A node of another cluster (a rehearsal sandbox with its new cluster id) is not a member.
        let _ = writeln!(
            w,
            "ERR cluster id {} is not this group's",
            cid.unwrap_or(-1)
        );
        return;
    }
    if line.starts_with("WHO") {
        let _ = writeln!(w, "{}", g.who_line());
    } else if let Some((head, sql)) = line.split_once(" sql=") {
        // The follower forwards the statement with the account it was asked by.
        let user = head
            .split_once(" user=")
            .map(|(_, u)| u.trim())
            .unwrap_or("root");
        let q = g.query.lock().unwrap().clone();
        let reply = match q {
            Some(f) if g.role() == GroupRole::Leader => outcome_to_json(&f(user, sql)),
            _ => {
                serde_json::json!({"error": [1064, "this frontend is not the leader"]}).to_string()
            }
        };
        let _ = writeln!(w, "{reply}");
    }
}

fn request(g: &Group, host: &str, port: u16, line: &str) -> Result<String, ConnectError> {
    let mut s = connect_loopback(host, port, Duration::from_millis(500))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    writeln!(s, "{verb} cluster_id={} {rest}", g.cluster_id)?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply)?;
    Ok(reply.trim().to_string())
}

/// Asks a peer who it is; None when it does not answer as a member of this group.
pub fn who(g: &Group, host: &str, port: u16) -> Option<Who> {
    let reply = request(g, host, port, "WHO").ok()?;
    let rest = reply.strip_prefix("ROLE ")?;
    let mut it = rest.split_whitespace();
    let role = it.next()?.to_string();
    let mut w = Who {
        role,
        journal: 0,
        http_port: 0,
        leader: None,
    };
    for kv in it {
        match kv.split_once('=') {
            Some(("journal", v)) => w.journal = v.parse().unwrap_or(0),
            Some(("http_port", v)) => w.http_port = v.parse().unwrap_or(0),
            Some(("leader", v)) => {
                w.leader = v
                    .rsplit_once(':')
                    .and_then(|(h, p)| Some((h.to_string(), p.parse().ok()?)))
            }
            _ => {}
        }
    }
    Some(w)
}

/// One round of the election among `peers` (the other electable members). A member that says it
/// is the leader is joined; otherwise, with a majority of the group up, the node with the lowest
/// `host:edit_log_port` among those still undecided becomes the leader.
pub fn try_elect(g: &Group, peers: &[Frontend]) -> Option<GroupRole> {
    let mut up = 1;
    let me = (g.host.clone(), g.edit_log_port);
    let mut lowest_undecided = true;
    for p in peers {
        let Some(w) = who(g, &p.host, p.edit_log_port) else {
            continue;
        };
        up += 1;
        match w.role.as_str() {
            "LEADER" => {
                *g.leader.lock().unwrap() = Some((p.host.clone(), p.edit_log_port));
                *g.role.lock().unwrap() = GroupRole::Follower;
                g.set_journal(w.journal.saturating_sub(g.lag));
                return Some(GroupRole::Follower);
            }
            "UNKNOWN" if (p.host.clone(), p.edit_log_port) < me => lowest_undecided = false,
            _ => {}
        }
    }
    let electable = peers.len() + 1;
    if up * 2 > electable && lowest_undecided {
        *g.role.lock().unwrap() = GroupRole::Leader;
        *g.leader.lock().unwrap() = Some(me);
        return Some(GroupRole::Leader);
    }
    None
}

/// A follower's replay: it follows the leader's journal (less its lag) and, when the leader is
/// gone, looks for whichever member now says it leads.
pub fn follow(g: Arc<Group>, peers: Vec<Frontend>, interval: Duration) {
    std::thread::spawn(move || loop {
        let leader = g.leader.lock().unwrap().clone();
        let found = leader
            .and_then(|(h, p)| {
                who(&g, &h, p)
                    .filter(|w| w.role == "LEADER")
                    .map(|w| (h, p, w))
            })
            .or_else(|| {
                peers.iter().find_map(|f| {
                    who(&g, &f.host, f.edit_log_port)
                        .filter(|w| w.role == "LEADER")
                        .map(|w| (f.host.clone(), f.edit_log_port, w))
                })
            });
        if let Some((h, p, w)) = found {
            *g.leader.lock().unwrap() = Some((h, p));
            g.set_journal(w.journal.saturating_sub(g.lag));
        }
        std::thread::sleep(interval);
    });
}

/// The leader's frontend heartbeat: `/api/bootstrap` on each member's HTTP port, as
/// `HeartbeatMgr` does, recording what SHOW FRONTENDS shows of the other frontends.
pub fn heartbeat_frontends(g: Arc<Group>, peers: Vec<Frontend>, interval: Duration) {
    std::thread::spawn(move || loop {
        for p in &peers {
            let key = (p.host.clone(), p.edit_log_port);
            let mut info = g.peer(&p.host, p.edit_log_port).unwrap_or_default();
            let http = who(&g, &p.host, p.edit_log_port).map(|w| w.http_port);
            let got = http.ok_or(PeerError::ConnectFailed).and_then(|port| {
                info.http_port = port;
                bootstrap(&g, &p.host, port)
            });
            match got {
                Ok(b) => {
                    info.alive = true;
                    info.err.clear();
                    info.journal = b["replayedJournalId"].as_u64().unwrap_or(0);
                    info.query_port = b["queryPort"].as_u64().unwrap_or(0) as u16;
                    info.rpc_port = b["rpcPort"].as_u64().unwrap_or(0) as u16;
                    info.version = b["feVersion"].as_str().unwrap_or("").to_string();
                    info.start_time = millis_to_time(b["feStartTime"].as_i64().unwrap_or(0));
                    info.last_heartbeat = Civil::now().log4j_comma();
                }
                Err(e) => {
                    info.alive = false;
                    info.err = e.to_string();
                }
            }
            g.peers.lock().unwrap().insert(key, info);
        }
        std::thread::sleep(interval);
    });
}

fn millis_to_time(ms: i64) -> String {
    if ms <= 0 {
        return "NULL".into();
    }
    Civil::from_unix_micros(ms * 1000).log4j_comma()
}

/// Why a peer FE's heartbeat failed; the text is what SHOW FRONTENDS shows as its ErrMsg.
#[derive(Debug, thiserror::Error)]
enum PeerError {
    #[error("connect failed")]
    ConnectFailed,
    #[error("not a loopback address")]
    NotLoopback,
    #[error(transparent)]
    Http(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The peer answered with a failure of its own.
    #[error("{0}")]
    Refused(String),
}

/// One GET to a peer FE within 2 s, as the leader's heartbeat does: no proxy, no pooled
/// connection, and an error status read as an answer rather than a transport failure.
fn peer_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .max_idle_connections(0)
        .timeout_global(Some(Duration::from_secs(2)))
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .get(format!("http://{addr}{path}"))
        .call()
        .map_err(ureq::Error::into_io)?
        .body_mut()
        .read_to_string()
        .map_err(ureq::Error::into_io)
}

fn bootstrap(g: &Group, host: &str, port: u16) -> Result<serde_json::Value, PeerError> {
    let addr: SocketAddr = super::loopback_addr(host, port).ok_or(PeerError::NotLoopback)?;
    let path = format!(
        "/api/bootstrap?cluster_id={}&token={}",
        g.cluster_id, g.token
    );
    let v: serde_json::Value = serde_json::from_str(&peer_get(addr, &path)?)?;
    if v["status"] != "OK" {
        return Err(PeerError::Refused(
            v["msg"].as_str().unwrap_or("bootstrap failed").to_string(),
        ));
    }
    Ok(v)
}

// ---------------------------------------------------------------- SQL in a group

fn outcome_to_json(o: &Outcome) -> String {
    match o {
        Outcome::Rows(rs) => {
            serde_json::json!({"columns": rs.columns, "rows": rs.rows}).to_string()
        }
        Outcome::Ok => serde_json::json!({"ok": true}).to_string(),
        Outcome::Err(code, _, msg) => serde_json::json!({"error": [code, msg]}).to_string(),
    }
}

fn outcome_from_json(text: &str) -> Outcome {
    let v: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Outcome::Err(1064, "HY000", format!("bad forwarded answer: {e}")),
    };
    if let Some(e) = v.get("error") {
        return Outcome::Err(
            e[0].as_u64().unwrap_or(1064) as u16,
            "HY000",
            e[1].as_str().unwrap_or("").to_string(),
        );
    }
    if v.get("ok").is_some() {
        return Outcome::Ok;
    }
    Outcome::Rows(ResultSet {
        columns: serde_json::from_value(v["columns"].clone()).unwrap_or_default(),
        rows: serde_json::from_value(v["rows"].clone()).unwrap_or_default(),
    })
}

/// Statements a follower answers from the metadata it replicated from the leader; the simulator
/// asks the leader for them instead of keeping a replica.
fn replicated(norm: &str) -> bool {
    norm == "SHOW FRONTENDS"
        || norm == "SHOW BACKENDS"
        || norm == "SHOW COMPUTE NODES"
        || norm.starts_with("SHOW PROC")
        || norm.contains("INFORMATION_SCHEMA.PARTITIONS_META")
}

/// Answers `sql` in group mode, or None to let the node's own handler answer.
pub fn intercept(
    g: &Group,
    frontends: &[Frontend],
    tables: &[Table],
    node_name: &str,
    user: &str,
    sql: &str,
) -> Option<Outcome> {
    let q = sql.trim().trim_end_matches(';').trim();
    let norm = q
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    match g.role() {
        GroupRole::Follower if replicated(&norm) => {
            let leader = g.leader.lock().unwrap().clone();
            Some(match leader {
                Some((h, p)) => match request(g, &h, p, &format!("QUERY user={user} sql={q}")) {
                    Ok(reply) => outcome_from_json(&reply),
                    Err(e) => {
                        Outcome::Err(1064, "HY000", format!("failed to reach the leader: {e}"))
                    }
                },
                None => Outcome::Err(1064, "HY000", "no leader".into()),
            })
        }
        GroupRole::Leader if norm == "SHOW FRONTENDS" => {
            Some(show_frontends(g, frontends, node_name))
        }
        GroupRole::Leader if norm == "SHOW COMPUTE NODES" => Some(show_compute_nodes()),
        GroupRole::Leader
            if norm == "SHOW PROC '/STATISTIC'" || norm == "SHOW PROC \"/STATISTIC\"" =>
        {
            Some(show_statistic(
                tables,
                HostFaults::of_this_host().unhealthy_tablets,
            ))
        }
        _ => None,
    }
}

/// Tablets per table in the simulated catalogue (buckets of one partition).
const TABLETS_PER_TABLE: u64 = 10;

/// SHOW PROC '/statistic' on the leader: a row per database, `TABLETS_PER_TABLE` tablets per
/// table. The unhealthy count is what the cluster was built with (all in the first database), not
/// derived from BE liveness. The simulated clusters are 3.x, which have `ErrorStateTabletNum`.
fn show_statistic(tables: &[Table], unhealthy: u64) -> Outcome {
    let mut per_db: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for t in tables {
        let e = per_db.entry(t.db.as_str()).or_default();
        e.0 += 1;
        e.1 += TABLETS_PER_TABLE * t.replication_num as u64;
    }
    let dbs: Vec<DbStat> = per_db
        .iter()
        .enumerate()
        .map(|(i, (db, (n, replicas)))| {
            let tablets = n * TABLETS_PER_TABLE;
            DbStat {
                id: 10_004 + i as u64,
                name: db.to_string(),
                tables: *n,
                partitions: *n,
                indexes: *n,
                tablets,
                replicas: *replicas,
                unhealthy: if i == 0 { unhealthy.min(tablets) } else { 0 },
            }
        })
        .collect();
    statistic_result(true, &dbs)
}

/// SHOW COMPUTE NODES (ComputeNodeProcDir, shared-nothing columns): the simulated clusters have none.
fn show_compute_nodes() -> Outcome {
    let cols = [
        "ComputeNodeId",
        "IP",
        "HeartbeatPort",
        "BePort",
        "HttpPort",
        "BrpcPort",
        "LastStartTime",
        "LastHeartbeat",
        "Alive",
        "SystemDecommissioned",
        "ClusterDecommissioned",
        "ErrMsg",
        "Version",
        "CpuCores",
        "NumRunningQueries",
        "MemUsedPct",
        "CpuUsedPct",
        "HasStoragePath",
    ];
    Outcome::Rows(ResultSet {
        columns: cols.iter().map(|c| c.to_string()).collect(),
        rows: Vec::new(),
    })
}

/// SHOW FRONTENDS on the leader (FrontendsProcNode): this node's own values, the others' from the
/// last frontend heartbeat. The HttpPort of the other rows is the one they serve on (see
/// docs/conformance.md: StarRocks prints its own `http_port`, which a real cluster must share).
fn show_frontends(g: &Group, frontends: &[Frontend], node_name: &str) -> Outcome {
    let cols = super::answers::FRONTENDS_COLUMNS;
    let now = Civil::now().log4j_comma();
    let rows = frontends
        .iter()
        .map(|f| {
            let me =
                f.name == node_name || (f.host == g.host && f.edit_log_port == g.edit_log_port);
            let p = g.peer(&f.host, f.edit_log_port).unwrap_or_default();
            let role = if me {
                "LEADER".to_string()
            } else {
                f.role.clone()
            };
            let cells = if me {
                vec![
                    g.http_port.to_string(),
                    g.query_port.to_string(),
                    g.rpc_port.to_string(),
                    role,
                    g.cluster_id.to_string(),
                    "true".into(),
                    "true".into(),
                    g.journal().to_string(),
                    now.clone(),
                    "true".into(),
                    String::new(),
                    now.clone(),
                    g.version.clone(),
                ]
            } else {
                vec![
                    p.http_port.to_string(),
                    p.query_port.to_string(),
                    p.rpc_port.to_string(),
                    role,
                    g.cluster_id.to_string(),
                    p.alive.to_string(),
                    p.alive.to_string(),
                    p.journal.to_string(),
                    if p.last_heartbeat.is_empty() {
                        "NULL".into()
                    } else {
                        p.last_heartbeat.clone()
                    },
                    "false".into(),
                    p.err.clone(),
                    if p.alive {
                        p.start_time.clone()
                    } else {
                        "NULL".into()
                    },
                    if p.version.is_empty() {
                        "NULL".into()
                    } else {
                        p.version.clone()
                    },
                ]
            };
            let mut row = vec![
                Some(f.name.clone()),
                Some(f.host.clone()),
                Some(f.edit_log_port.to_string()),
            ];
            row.extend(cells.into_iter().map(Some));
            row
        })
        .collect();
    Outcome::Rows(ResultSet {
        columns: cols.iter().map(|c| c.to_string()).collect(),
        rows,
    })
}

// ---------------------------------------------------------------- building a cluster

/// One node of a built cluster, as `cluster.json` records it for tests, `demo` and the playbook.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeSpec {
    pub name: String,
    pub role: String,
    pub dir: PathBuf,
    pub home: PathBuf,
    pub ports: BTreeMap<String, u16>,
}

/// `cluster.json`: the nodes, the JDK the FEs run on, the version built.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterSpec {
    pub version: Version,
    pub jdk: PathBuf,
    pub cluster_id: i64,
    pub nodes: Vec<NodeSpec>,
}

/// Why `make-cluster` or reading `cluster.json` failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{} already holds a cluster; choose an empty folder", .0.display())]
    NotEmpty(PathBuf),
    #[error("failed to {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse {}: {source}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to find free ports for the cluster outside the ephemeral range")]
    NoFreePort,
    #[error("--host-fault {0}: expected be<N> or fe<N>, then :<fault>[@<version>]")]
    HostFaultSyntax(String),
    #[error("--host-fault {spec}: unknown fault {fault}")]
    UnknownFault { spec: String, fault: String },
    #[error(transparent)]
    Build(#[from] super::SimError),
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ClusterError {
    let path = path.to_path_buf();
    move |source| ClusterError::Io {
        action,
        path,
        source,
    }
}

impl ClusterSpec {
    pub fn load(dir: &Path) -> Result<ClusterSpec, ClusterError> {
        let path = dir.join("cluster.json");
        let t = std::fs::read_to_string(&path).map_err(io_err("read", &path))?;
        serde_json::from_str(&t).map_err(|source| ClusterError::Parse { path, source })
    }

    pub fn leader_candidate(&self) -> &NodeSpec {
        self.nodes
            .iter()
            .find(|n| n.role == "fe")
            .expect("a cluster has FEs")
    }
}

/// Ports nobody listens on now, all distinct, outside the kernel's ephemeral range (where any
/// outgoing connection of this host could take one before the node binds it).
fn free_ports(n: usize) -> Result<Vec<u16>, ClusterError> {
    starrocks_common::ports::pick(n, &Default::default()).ok_or(ClusterError::NoFreePort)
}

/// What `make-cluster` builds.
pub struct ClusterBuild {
    pub version: Version,
    pub out: PathBuf,
    pub fes: usize,
    pub bes: usize,
    pub heartbeat_ms: u64,
    /// `be<N>:<fault>@<version prefix>` (or `fe<N>:…`): a host that cannot run that build.
    pub be_faults: Vec<String>,
    /// `fe<N>`: followers that replay behind the leader.
    pub lagging: Vec<String>,
    pub lag_secs: u64,
    pub tables: Vec<String>,
    /// Unhealthy tablets the leader reports (set on every FE host, read by whichever leads).
    pub unhealthy_tablets: u64,
}

fn host_faults_for(name: &str, b: &ClusterBuild) -> Result<HostFaults, ClusterError> {
    let mut hf = HostFaults::default();
    for spec in &b.be_faults {
        let (node, rest) = spec
            .split_once(':')
            .ok_or_else(|| ClusterError::HostFaultSyntax(spec.clone()))?;
        if node != name {
            continue;
        }
        let (fault, version) = rest.split_once('@').unwrap_or((rest, ""));
        let fault: Fault = serde_json::from_value(serde_json::Value::String(fault.into()))
            .map_err(|_| ClusterError::UnknownFault {
                spec: spec.clone(),
                fault: fault.into(),
            })?;
        hf.faults.push(HostFault {
            fault,
            version: version.to_string(),
        });
    }
    if name.starts_with("fe") {
        hf.unhealthy_tablets = b.unhealthy_tablets;
    }
    if b.lagging.iter().any(|l| l == name) {
        hf.faults.push(HostFault {
            fault: Fault::LaggingFollower,
            version: String::new(),
        });
    }
    Ok(hf)
}

/// Builds `fes` FE nodes and `bes` BE nodes under `out`, each in its own folder with its own
/// package, meta or storage and ports, and writes `cluster.json`.
pub fn make_cluster(b: &ClusterBuild) -> Result<ClusterSpec, ClusterError> {
    use super::meta::{make_meta, MetaSpec};
    use super::package::{make_jdk, make_package, PackageSpec, Role};
    if b.out.join("cluster.json").exists() {
        return Err(ClusterError::NotEmpty(b.out.clone()));
    }
    let v = b.version;
    let jdk = b.out.join("jdk");
    make_jdk(17, &jdk)?;
    // Sorted, so fe1 has the lowest edit_log_port and wins the first election.
    let mut ports = free_ports(b.fes * 4 + b.bes * 4)?;
    ports.sort_unstable();
    let mut it = ports.into_iter();
    let mut nodes = Vec::new();
    let edit_ports: Vec<u16> = it.by_ref().take(b.fes).collect();
    let fe_ports: Vec<[u16; 4]> = edit_ports
        .iter()
        .map(|e| {
            [
                it.next().unwrap(),
                it.next().unwrap(),
                it.next().unwrap(),
                *e,
            ]
        })
        .collect();
    let be_ports: Vec<[u16; 4]> = (0..b.bes)
        .map(|_| {
            [
                it.next().unwrap(),
                it.next().unwrap(),
                it.next().unwrap(),
                it.next().unwrap(),
            ]
        })
        .collect();
    let cluster_id = 100_000 + (super::meta::random_u64() % 800_000) as i64;
    let token = super::meta::random_token();
    let backends: Vec<String> = be_ports
        .iter()
        .map(|p| format!("127.0.0.1:{}", p[2]))
        .collect();
    for (i, p) in fe_ports.iter().enumerate() {
        let name = format!("fe{}", i + 1);
        let dir = b.out.join(&name);
        let home = dir.join("fe");
        let meta = dir.join("meta");
        let mut spec = MetaSpec::new(v, meta.clone());
        // Each node records the whole group, itself first, as `ADD FOLLOWER` leaves it.
        let mut fes = vec![format!("127.0.0.1:{}", p[3])];
        fes.extend(
            fe_ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, q)| format!("127.0.0.1:{}", q[3])),
        );
        spec.frontends = fes;
        spec.backends = backends.clone();
        spec.cluster_id = Some(cluster_id as i32);
        spec.token = Some(token.clone());
        spec.tables = b.tables.clone();
        make_meta(&spec)?;
        make_package(&PackageSpec {
            role: Role::Fe,
            version: v,
            out: home.clone(),
            fault: None,
            fault_secs: b.lag_secs,
            heartbeat_ms: b.heartbeat_ms,
            too_much_time_secs: 60,
        })?;
        append(
            &home.join("conf/fe.conf"),
            &format!(
                "\n# node {name} of a simulated cluster\nmeta_dir = {}\nhttp_port = {}\nrpc_port = {}\nquery_port = {}\nedit_log_port = {}\n",
                meta.display(),
                p[0], p[1], p[2], p[3]
            ),
        )?;
        write_host(&dir, &host_faults_for(&name, b)?)?;
        let ports = BTreeMap::from([
            ("http_port".to_string(), p[0]),
            ("rpc_port".to_string(), p[1]),
            ("query_port".to_string(), p[2]),
            ("edit_log_port".to_string(), p[3]),
        ]);
        nodes.push(NodeSpec {
            name,
            role: "fe".into(),
            dir,
            home,
            ports,
        });
    }
    for (i, p) in be_ports.iter().enumerate() {
        let name = format!("be{}", i + 1);
        let dir = b.out.join(&name);
        let home = dir.join("be");
        let storage = dir.join("storage");
        std::fs::create_dir_all(&storage).map_err(io_err("create", &storage))?;
        make_package(&PackageSpec {
            role: Role::Be,
            version: v,
            out: home.clone(),
            fault: None,
            fault_secs: 5,
            heartbeat_ms: b.heartbeat_ms,
            too_much_time_secs: 60,
        })?;
        append(
            &home.join("conf/be.conf"),
            &format!(
                "\n# node {name} of a simulated cluster\nbe_port = {}\n{} = {}\nheartbeat_service_port = {}\nbrpc_port = {}\nstorage_root_path = {}\n",
                p[0],
                v.be_http_key(),
                p[1],
                p[2],
                p[3],
                storage.display()
            ),
        )?;
        write_host(&dir, &host_faults_for(&name, b)?)?;
        let ports = BTreeMap::from([
            ("be_port".to_string(), p[0]),
            ("http_port".to_string(), p[1]),
            ("heartbeat_service_port".to_string(), p[2]),
            ("brpc_port".to_string(), p[3]),
        ]);
        nodes.push(NodeSpec {
            name,
            role: "be".into(),
            dir,
            home,
            ports,
        });
    }
    let spec = ClusterSpec {
        version: v,
        jdk,
        cluster_id,
        nodes,
    };
    let text = serde_json::to_string_pretty(&spec).expect("a cluster spec serialises");
    let path = b.out.join("cluster.json");
    std::fs::write(&path, text).map_err(io_err("write", &path))?;
    Ok(spec)
}

fn append(p: &Path, text: &str) -> Result<(), ClusterError> {
    let mut t = std::fs::read_to_string(p).map_err(io_err("read", p))?;
    t.push_str(text);
    std::fs::write(p, t).map_err(io_err("write", p))
}

fn write_host(dir: &Path, hf: &HostFaults) -> Result<(), ClusterError> {
    if hf.faults.is_empty() && hf.unhealthy_tablets == 0 {
        return Ok(());
    }
    let p = dir.join(HOST_FILE);
    std::fs::write(&p, serde_json::to_string_pretty(hf).unwrap_or_default())
        .map_err(io_err("write", &p))
}
