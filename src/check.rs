//! `sr-rehearse check`: the health of a whole cluster, discovered from one FE.
//!
//! The operations guide checks a cluster by hand: `/api/bootstrap` on every FE, `/api/health` on
//! every BE, a query, and before an upgrade the replica count. This command does all of it from one
//! FE address and adds what decides whether a rolling upgrade may go on: which version each node
//! runs, who leads and how far each follower's replayed journal is behind, unhealthy and
//! inconsistent tablets, decommissioning nodes. `--wait` makes it the gate between two upgrade
//! steps: it polls until the cluster is healthy or the deadline passes.

use crate::probe::mysql::{Session, SqlError};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::report::{exit, Report, Step, StepStatus, Verdict};
use crate::version::Version;

/// What `check` was asked to do.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// The FE to start from, as HOST:HTTP_PORT.
    pub fe: String,
    pub query_port: u16,
    pub user: String,
    pub password_env: Option<String>,
    /// Poll until healthy or this long has passed.
    pub wait: Option<Duration>,
    /// A follower further behind the leader than this many journal entries is lagging.
    pub max_journal_lag: u64,
    /// Versions allowed to run side by side (a rolling upgrade in progress); others are mixed.
    pub allow_versions: Vec<String>,
    /// Each probe's connect and read timeout.
    pub probe_timeout: Duration,
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub quiet: bool,
}

/// A failure to run the check at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Unreachable(String),
}

impl CheckError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CheckError::BadInput(_) => exit::BAD_INPUT,
            CheckError::Unreachable(_) => exit::ENVIRONMENT,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// One node as SHOW FRONTENDS / BACKENDS / COMPUTE NODES and its own endpoints show it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// `fe`, `be` or `cn`.
    pub kind: String,
    pub host: String,
    pub http_port: u16,
    /// FE query port, BE heartbeat port.
    pub port: u16,
    /// LEADER, FOLLOWER or OBSERVER for an FE; empty for a BE or CN.
    pub role: String,
    pub alive: bool,
    pub version: String,
    pub last_heartbeat: String,
    pub err_msg: String,
    pub replayed_journal_id: Option<u64>,
    /// How many entries this follower is behind the leader.
    pub journal_lag: Option<u64>,
    pub decommissioned: bool,
    pub probes: Vec<ProbeResult>,
    /// Why this node is not healthy; empty when it is.
    pub problems: Vec<String>,
}

impl NodeStatus {
    pub fn id(&self) -> String {
        format!("{} {}:{}", self.kind, self.host, self.port)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Tablets {
    pub total: u64,
    pub unhealthy: u64,
    pub inconsistent: u64,
}

/// The result of one look at the cluster (the last one, with `--wait`).
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    pub schema: u32,
    pub command: String,
    /// `healthy`, `degraded`, `unreachable` or `bad input`.
    pub verdict: String,
    pub exit_code: i32,
    pub fe: String,
    pub leader: Option<String>,
    /// Version → the nodes running it.
    pub versions: BTreeMap<String, Vec<String>>,
    pub tablets: Option<Tablets>,
    /// `db.table (replication_num N)` of tables with fewer than 3 replicas.
    pub low_replication: Vec<String>,
    pub nodes: Vec<NodeStatus>,
    /// What is degraded and why; empty when healthy.
    pub problems: Vec<String>,
    /// What an operator should know but does not make the cluster degraded.
    pub warnings: Vec<String>,
    pub polls: u32,
    pub started_at: String,
    pub duration_ms: u64,
}

impl ClusterStatus {
    fn new(fe: &str) -> ClusterStatus {
        ClusterStatus {
            schema: 1,
            command: "check".into(),
            verdict: "unreachable".into(),
            exit_code: exit::ENVIRONMENT,
            fe: fe.to_string(),
            leader: None,
            versions: BTreeMap::new(),
            tablets: None,
            low_replication: Vec::new(),
            nodes: Vec::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
            polls: 0,
            started_at: crate::timefmt::Civil::now().rfc3339(),
            duration_ms: 0,
        }
    }

    pub fn healthy(&self) -> bool {
        self.exit_code == exit::PASS
    }
}

/// Splits HOST:PORT, naming the flag in the error.
pub fn parse_host_port(flag: &str, s: &str) -> Result<(String, u16), CheckError> {
    let (h, p) = s.rsplit_once(':').ok_or_else(|| {
        CheckError::BadInput(format!(
            "failed to read {flag} {s}: expected HOST:PORT, e.g. 10.0.0.1:8030"
        ))
    })?;
    let port = p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
        CheckError::BadInput(format!(
            "failed to read {flag} {s}: the port must be a number from 1 to 65535"
        ))
    })?;
    if h.is_empty() {
        return Err(CheckError::BadInput(format!(
            "failed to read {flag} {s}: the host is empty"
        )));
    }
    Ok((h.trim_matches(['[', ']']).to_string(), port))
}

/// Why a probe of one node failed; the text becomes the probe's detail.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("failed to resolve {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to resolve {0}: no address")]
    NoAddress(String),
    #[error(transparent)]
    Http(#[from] std::io::Error),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("not JSON ({source}): {body}")]
    NotJson {
        body: String,
        #[source]
        source: serde_json::Error,
    },
    /// The endpoint answered, and not OK: its own status and message.
    #[error("{0}")]
    NotOk(String),
    /// The leader does not know the port to probe.
    #[error("{0}")]
    NoPort(&'static str),
    #[error(transparent)]
    Sql(#[from] SqlError),
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, ProbeError> {
    (host, port)
        .to_socket_addrs()
        .map_err(|source| ProbeError::Resolve {
            host: host.into(),
            source,
        })?
        .next()
        .ok_or_else(|| ProbeError::NoAddress(host.into()))
}

/// The SQL connection settings StarRocks accepts: TCP only (it refuses `SELECT @@socket`) and an
/// explicit `max_allowed_packet`, so the client does not ask for it.
pub struct Sql {
    user: String,
    password: Option<String>,
    timeout: Duration,
}

pub type Rows = Vec<crate::probe::mysql::Row>;

impl Sql {
    pub fn new(user: &str, password: Option<String>, timeout: Duration) -> Sql {
        Sql {
            user: user.to_string(),
            password,
            timeout,
        }
    }

    /// Runs `sql` on its own connection, through the same client settings as the rehearsal's
    /// SQL check (src/probe/mysql.rs).
    pub fn query(&self, host: &str, port: u16, sql: &str) -> Result<Rows, SqlError> {
        let mut s = Session::connect(
            host,
            port,
            &self.user,
            self.password.as_deref(),
            self.timeout,
        )?;
        s.query(sql)
    }
}

fn col<'a>(row: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    row.get(name).map(String::as_str).unwrap_or("")
}

fn http_json(
    host: &str,
    port: u16,
    path: &str,
    t: Duration,
) -> Result<serde_json::Value, ProbeError> {
    let addr = resolve(host, port)?;
    let r = crate::probe::http::get(addr, path, t)?;
    if r.status != 200 {
        return Err(ProbeError::Status(r.status));
    }
    serde_json::from_str(&r.body).map_err(|source| ProbeError::NotJson {
        body: r.body.trim().to_string(),
        source,
    })
}

/// `/api/bootstrap` answers `{"status":"OK","msg":"Success"}` on a ready FE.
fn probe_bootstrap(host: &str, port: u16, t: Duration) -> ProbeResult {
    let r = http_json(host, port, "/api/bootstrap", t).and_then(|v| {
        if v["status"] == "OK" {
            Ok(format!("{}:{port}/api/bootstrap OK", host))
        } else {
            Err(ProbeError::NotOk(format!(
                "status {} ({})",
                v["status"], v["msg"]
            )))
        }
    });
    probe_result("bootstrap", r)
}

/// `/api/health` answers `{"status": "OK","msg": "To Be Added"}` on a healthy BE or CN.
fn probe_health(host: &str, port: u16, t: Duration) -> ProbeResult {
    let r = http_json(host, port, "/api/health", t).and_then(|v| {
        if v["status"] == "OK" {
            Ok(format!("{}:{port}/api/health OK", host))
        } else {
            Err(ProbeError::NotOk(format!("status {}", v["status"])))
        }
    });
    probe_result("health", r)
}

fn probe_result(name: &str, r: Result<String, ProbeError>) -> ProbeResult {
    match r {
        Ok(detail) => ProbeResult {
            name: name.into(),
            ok: true,
            detail,
        },
        Err(e) => ProbeResult {
            name: name.into(),
            ok: false,
            detail: e.to_string(),
        },
    }
}

fn port_of(s: &str) -> u16 {
    s.trim().parse().unwrap_or(0)
}

/// One look at the cluster.
pub fn check_once(cfg: &CheckConfig) -> Result<ClusterStatus, CheckError> {
    let started = Instant::now();
    let (host, http_port) = parse_host_port("--fe", &cfg.fe)?;
    let password = match &cfg.password_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            CheckError::BadInput(format!(
                "failed to read the password: environment variable {var} is not set; export it or drop --password-env"
            ))
        })?),
        None => None,
    };
    let t = cfg.probe_timeout;
    let sql = Sql::new(&cfg.user, password, t);
    let mut st = ClusterStatus::new(&cfg.fe);

    let entry = probe_bootstrap(&host, http_port, t);
    if !entry.ok {
        return Err(CheckError::Unreachable(format!(
            "failed to reach the FE at {}: /api/bootstrap: {}",
            cfg.fe, entry.detail
        )));
    }
    let frontends = sql
        .query(&host, cfg.query_port, "SHOW FRONTENDS")
        .map_err(|e| {
            CheckError::Unreachable(format!(
                "failed to run SHOW FRONTENDS on {host}:{}: {e}",
                cfg.query_port
            ))
        })?;

    // Frontends: the leader's journal is the reference for every follower's.
    let leader_journal = frontends
        .iter()
        .find(|r| col(r, "Role") == "LEADER")
        .and_then(|r| col(r, "ReplayedJournalId").parse::<u64>().ok());
    let leaders: Vec<String> = frontends
        .iter()
        .filter(|r| col(r, "Role") == "LEADER")
        .map(|r| format!("fe {}:{}", col(r, "IP"), col(r, "QueryPort")))
        .collect();
    match leaders.len() {
        0 => st
            .problems
            .push("no FE is LEADER: the group has not elected one".into()),
        1 => st.leader = leaders.first().cloned(),
        _ => st.problems.push(format!(
            "more than one FE says LEADER: {}",
            leaders.join(", ")
        )),
    }
    let mut query_target: Option<(String, u16)> = None;
    for r in &frontends {
        let h = col(r, "IP").to_string();
        let qp = port_of(col(r, "QueryPort"));
        let hp = port_of(col(r, "HttpPort"));
        let mut n = NodeStatus {
            kind: "fe".into(),
            host: h.clone(),
            http_port: hp,
            port: qp,
            role: col(r, "Role").to_string(),
            alive: col(r, "Alive") == "true",
            version: col(r, "Version").to_string(),
            last_heartbeat: col(r, "LastHeartbeat").to_string(),
            err_msg: col(r, "ErrMsg").to_string(),
            replayed_journal_id: col(r, "ReplayedJournalId").parse().ok(),
            journal_lag: None,
            decommissioned: false,
            probes: Vec::new(),
            problems: Vec::new(),
        };
        if !n.alive {
            n.problems.push(format!(
                "not Alive in SHOW FRONTENDS{}",
                if n.err_msg.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", n.err_msg)
                }
            ));
        }
        let b = probe_bootstrap(&h, hp, t);
        if !b.ok {
            n.problems.push(format!("/api/bootstrap: {}", b.detail));
        }
        n.probes.push(b);
        let q = match qp {
            0 => Err(ProbeError::NoPort(
                "no query port known (the leader has no heartbeat from it)",
            )),
            _ => sql
                .query(&h, qp, "SHOW FRONTENDS")
                .map(|rows| format!("SHOW FRONTENDS on {h}:{qp}: {} rows", rows.len()))
                .map_err(ProbeError::Sql),
        };
        let q = probe_result("query", q);
        if !q.ok {
            n.problems
                .push(format!("SQL on the query port: {}", q.detail));
        }
        n.probes.push(q);
        // A follower the leader has not heard from has no journal position to compare.
        if n.role != "LEADER" && n.alive {
            if let (Some(l), Some(mine)) = (leader_journal, n.replayed_journal_id) {
                let lag = l.saturating_sub(mine);
                n.journal_lag = Some(lag);
                if lag > cfg.max_journal_lag {
                    n.problems.push(format!(
                        "replayed journal {mine} is {lag} entries behind the leader's {l} (more than {})",
                        cfg.max_journal_lag
                    ));
                }
            }
        } else if n.problems.is_empty() {
            query_target = Some((h.clone(), qp));
        }
        st.nodes.push(n);
    }
    // Statements about the whole cluster go to the leader (its state is the reference), or to the
    // FE we were given when the leader cannot be asked.
    let (qh, qp) = query_target.unwrap_or((host.clone(), cfg.query_port));

    for (stmt, kind) in [("SHOW BACKENDS", "be"), ("SHOW COMPUTE NODES", "cn")] {
        let rows = match sql.query(&qh, qp, stmt) {
            Ok(r) => r,
            Err(e) if kind == "cn" => {
                // Releases before 3.0 have no compute nodes; the statement is then unknown.
                st.warnings.push(format!(
                    "{stmt} not answered ({e}); compute nodes not checked"
                ));
                continue;
            }
            Err(e) => {
                st.problems.push(format!("failed to run {stmt}: {e}"));
                continue;
            }
        };
        for r in &rows {
            let h = col(r, "IP").to_string();
            let hp = port_of(col(r, "HttpPort"));
            let mut n = NodeStatus {
                kind: kind.into(),
                host: h.clone(),
                http_port: hp,
                port: port_of(col(r, "HeartbeatPort")),
                role: String::new(),
                alive: col(r, "Alive") == "true",
                version: col(r, "Version").to_string(),
                last_heartbeat: col(r, "LastHeartbeat").to_string(),
                err_msg: col(r, "ErrMsg").to_string(),
                replayed_journal_id: None,
                journal_lag: None,
                decommissioned: col(r, "SystemDecommissioned") == "true",
                probes: Vec::new(),
                problems: Vec::new(),
            };
            if !n.alive {
                n.problems.push(format!(
                    "not Alive in {stmt}{}",
                    if n.err_msg.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", n.err_msg)
                    }
                ));
            } else if !n.err_msg.is_empty() {
                n.problems.push(format!("ErrMsg: {}", n.err_msg));
            }
            if n.decommissioned {
                n.problems.push("being decommissioned".into());
            }
            let p = if hp == 0 {
                probe_result("health", Err(ProbeError::NoPort("no HTTP port known")))
            } else {
                probe_health(&h, hp, t)
            };
            if !p.ok {
                n.problems.push(format!("/api/health: {}", p.detail));
            }
            n.probes.push(p);
            st.nodes.push(n);
        }
    }

    // Versions: one per cluster, or the ones a rolling upgrade in progress allows.
    for n in &st.nodes {
        let v = if n.version.is_empty() {
            "unknown".to_string()
        } else {
            n.version.clone()
        };
        st.versions.entry(v).or_default().push(n.id());
    }
    let known: BTreeSet<&String> = st.versions.keys().filter(|v| *v != "unknown").collect();
    if known.len() > 1 {
        let allowed = |v: &str| {
            cfg.allow_versions.iter().any(|a| {
                v == a || v.starts_with(&format!("{a}-")) || v.starts_with(&format!("{a}."))
            })
        };
        let described: Vec<String> = st
            .versions
            .iter()
            .map(|(v, nodes)| format!("{v} on {}", nodes.join(", ")))
            .collect();
        // The version the cluster runs plus those an upgrade in progress allows.
        if known.iter().filter(|v| !allowed(v)).count() <= 1 {
            st.warnings.push(format!(
                "versions side by side (allowed): {}",
                described.join("; ")
            ));
        } else {
            st.problems
                .push(format!("mixed versions: {}", described.join("; ")));
        }
    }

    // Tablets: the Total row of SHOW PROC '/statistic' (StatisticProcDir).
    match sql.query(&qh, qp, "SHOW PROC '/statistic'") {
        Ok(rows) => {
            let num = |r: &BTreeMap<String, String>, c: &str| col(r, c).parse::<u64>().unwrap_or(0);
            let total = rows.iter().find(|r| col(r, "DbId") == "Total");
            let tab = match total {
                Some(r) => Tablets {
                    total: num(r, "TabletNum"),
                    unhealthy: num(r, "UnhealthyTabletNum"),
                    inconsistent: num(r, "InconsistentTabletNum"),
                },
                None => rows.iter().fold(Tablets::default(), |a, r| Tablets {
                    total: a.total + num(r, "TabletNum"),
                    unhealthy: a.unhealthy + num(r, "UnhealthyTabletNum"),
                    inconsistent: a.inconsistent + num(r, "InconsistentTabletNum"),
                }),
            };
            if tab.unhealthy > 0 || tab.inconsistent > 0 {
                st.problems.push(format!(
                    "{} unhealthy and {} inconsistent tablets of {} (SHOW PROC '/statistic')",
                    tab.unhealthy, tab.inconsistent, tab.total
                ));
            }
            st.tablets = Some(tab);
        }
        Err(e) => st.problems.push(format!(
            "failed to read tablet health with SHOW PROC '/statistic': {e}"
        )),
    }

    // The guide: make sure every table has 3 replicas before a BE is taken down.
    match sql.query(
        &qh,
        qp,
        "SELECT DB_NAME, TABLE_NAME, PARTITION_NAME, REPLICATION_NUM FROM information_schema.partitions_meta WHERE REPLICATION_NUM < 3",
    ) {
        Ok(rows) => {
            let mut seen = BTreeSet::new();
            for r in &rows {
                seen.insert(format!(
                    "{}.{} (replication_num {})",
                    col(r, "DB_NAME"),
                    col(r, "TABLE_NAME"),
                    col(r, "REPLICATION_NUM")
                ));
            }
            st.low_replication = seen.into_iter().collect();
            if !st.low_replication.is_empty() {
                st.warnings.push(format!(
                    "tables with fewer than 3 replicas (a BE taken down makes them unavailable): {}",
                    st.low_replication.join(", ")
                ));
            }
        }
        Err(e) => st.warnings.push(format!(
            "replication numbers not checked (information_schema.partitions_meta: {e})"
        )),
    }

    for n in &st.nodes {
        for p in &n.problems {
            st.problems.push(format!("{}: {p}", n.id()));
        }
    }
    let healthy = st.problems.is_empty();
    st.verdict = if healthy { "healthy" } else { "degraded" }.into();
    st.exit_code = if healthy { exit::PASS } else { exit::FAIL };
    st.duration_ms = started.elapsed().as_millis() as u64;
    Ok(st)
}

/// Checks once, or with `--wait` until healthy or the deadline. Errors other than bad input are
/// retried while waiting: an FE that is restarting is unreachable for a moment.
pub fn run_check(cfg: &CheckConfig) -> Result<ClusterStatus, CheckError> {
    let started = Instant::now();
    let deadline = cfg.wait.map(|w| started + w);
    let mut polls = 0;
    loop {
        polls += 1;
        let r = check_once(cfg);
        let done = match (&r, deadline) {
            (Err(CheckError::BadInput(_)), _) => true,
            (Ok(s), _) if s.healthy() => true,
            (_, None) => true,
            (_, Some(d)) => Instant::now() >= d,
        };
        if done {
            return r.map(|mut s| {
                s.polls = polls;
                s.duration_ms = started.elapsed().as_millis() as u64;
                s
            });
        }
        // The tool's own polling interval (not a test synchronisation).
        std::thread::sleep(Duration::from_millis(500));
    }
}

pub fn render_human(s: &ClusterStatus) -> String {
    let mut o = format!("sr-rehearse check: cluster of {}\n", s.fe);
    for n in &s.nodes {
        let mark = if n.problems.is_empty() {
            " ok "
        } else {
            "FAIL"
        };
        let mut line = format!(
            "  [{mark}] {:<28} {:<9} {}",
            n.id(),
            if n.role.is_empty() { "-" } else { &n.role },
            if n.version.is_empty() {
                "?"
            } else {
                &n.version
            }
        );
        if let Some(lag) = n.journal_lag {
            line.push_str(&format!("  journal lag {lag}"));
        }
        if !n.problems.is_empty() {
            line.push_str(&format!("  {}", n.problems.join("; ")));
        }
        o.push_str(&line);
        o.push('\n');
    }
    if let Some(l) = &s.leader {
        o.push_str(&format!("leader: {l}\n"));
    }
    if let Some(t) = &s.tablets {
        o.push_str(&format!(
            "tablets: {} total, {} unhealthy, {} inconsistent\n",
            t.total, t.unhealthy, t.inconsistent
        ));
    }
    for w in &s.warnings {
        o.push_str(&format!("warning: {w}\n"));
    }
    o.push_str(&format!("verdict: {} (exit {})", s.verdict, s.exit_code));
    if !s.problems.is_empty() {
        o.push_str(&format!(": {}", s.problems.join("; ")));
    }
    if s.polls > 1 {
        o.push_str(&format!(" after {} polls", s.polls));
    }
    o.push('\n');
    o
}

/// The JUnit form: one test case per node, plus one for the cluster-wide checks.
pub fn to_report(s: &ClusterStatus) -> Report {
    let mut r = Report::new("check");
    r.verdict = if s.healthy() {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    r.exit_code = s.exit_code;
    r.summary = format!("{}: {}", s.verdict, s.problems.join("; "));
    r.started_at = s.started_at.clone();
    r.duration_ms = s.duration_ms;
    for n in &s.nodes {
        r.steps.push(Step {
            name: n.id(),
            status: if n.problems.is_empty() {
                StepStatus::Ok
            } else {
                StepStatus::Failed
            },
            duration_ms: 0,
            detail: if n.problems.is_empty() {
                format!("{} {}", n.role, n.version)
            } else {
                n.problems.join("; ")
            },
        });
    }
    let node_problems: usize = s.nodes.iter().map(|n| n.problems.len()).sum();
    // Node problems are appended after the cluster-wide ones.
    let cluster_only = s.problems.len().saturating_sub(node_problems);
    r.steps.push(Step {
        name: "cluster".into(),
        status: if cluster_only == 0 {
            StepStatus::Ok
        } else {
            StepStatus::Failed
        },
        duration_ms: 0,
        detail: s
            .problems
            .iter()
            .take(cluster_only)
            .cloned()
            .collect::<Vec<_>>()
            .join("; "),
    });
    r
}

/// The leader's version, as SHOW FRONTENDS reports it.
pub fn leader_version(s: &ClusterStatus) -> Option<Version> {
    s.nodes
        .iter()
        .find(|n| n.role == "LEADER")
        .and_then(|n| n.version.split('-').next()?.parse().ok())
}
