//! A test-only FE that returns whatever rows a test gives it: `check` and `upgrade-plan` must
//! survive a cluster that reports values StarRocks never would (a host with `$(...)`, a port of
//! 99999, a Version with a newline, an ErrMsg with terminal escapes), an HTTP endpoint that
//! redirects or answers megabytes of HTML, and a password it refuses.
//!
//! The simulator's own MySQL server (`starrocks_sim::mysql`, real handshake and result sets) serves
//! the rows; the HTTP side is a few lines here because the simulator's server has no way to send a
//! redirect. Both listen on ports bound here (127.0.0.1:0) and kept, and serve until the test
//! process ends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use starrocks_sim::mysql::{serve, Outcome, ResultSet, ServerConfig};

/// How the FE's HTTP port answers `/api/bootstrap` (`/api/health` is always OK).
#[derive(Clone)]
pub enum Bootstrap {
    Ok,
    /// `302 Found` with this `Location`.
    Redirect(String),
    /// `200 OK` with this body, as `text/html`.
    Body(Vec<u8>),
}

/// One row of SHOW BACKENDS, by the values a test varies; the rest is a healthy BE's.
#[derive(Clone)]
pub struct BeRow {
    pub ip: String,
    pub heartbeat_port: String,
    /// None: the hostile FE's own HTTP port, which answers `/api/health` OK.
    pub http_port: Option<String>,
    pub version: Option<String>,
    pub err_msg: String,
    /// StatusCode (3.4+): OK, or SHUTDOWN during a graceful stop.
    pub status_code: String,
    /// A new LastStartTime at every SHOW BACKENDS: a BE in a restart loop.
    pub restarting: bool,
}

impl BeRow {
    pub fn new(ip: &str, heartbeat_port: &str) -> BeRow {
        BeRow {
            ip: ip.into(),
            heartbeat_port: heartbeat_port.into(),
            http_port: None,
            version: None,
            err_msg: String::new(),
            status_code: "OK".into(),
            restarting: false,
        }
    }
}

/// What the hostile FE reports: itself as the leader (IP 127.0.0.1 unless `leader_ip`), extra
/// FE rows, and the BEs.
pub struct HostileSpec {
    pub version: String,
    pub leader_ip: String,
    /// `(ip, role)` of more FEs, each on the hostile FE's own ports.
    pub more_fes: Vec<(String, String)>,
    pub backends: Vec<BeRow>,
    /// SHOW COMPUTE NODES rows, as BE rows are written (the ComputeNodeId column first).
    pub compute_nodes: Vec<BeRow>,
    pub root_password: String,
    pub bootstrap: Bootstrap,
    /// What `ADMIN SHOW FRONTEND CONFIG LIKE 'run_mode'` answers (None: an unknown statement).
    pub run_mode: Option<String>,
    /// `(db, table, replication_num)` rows of the partitions_meta query.
    pub low_replication: Vec<(String, String, String)>,
    /// SHOW FRONTENDS as releases before 2.4 print it: `IsMaster` where `Role` is.
    pub is_master_column: bool,
}

impl Default for HostileSpec {
    fn default() -> Self {
        HostileSpec {
            version: "3.2.11-98f7576".into(),
            leader_ip: "127.0.0.1".into(),
            more_fes: Vec::new(),
            backends: vec![BeRow::new("127.0.0.1", "9050")],
            compute_nodes: Vec::new(),
            root_password: String::new(),
            bootstrap: Bootstrap::Ok,
            run_mode: None,
            low_replication: Vec::new(),
            is_master_column: false,
        }
    }
}

pub struct HostileFe {
    pub http_port: u16,
    pub query_port: u16,
    /// The request line of every HTTP request it got.
    requests: Arc<Mutex<Vec<String>>>,
}

/// The columns of SHOW FRONTENDS, as the simulator answers them (FrontendsProcNode.TITLE_NAMES).
use starrocks_sim::answers::FRONTENDS_COLUMNS as FE_COLUMNS;
const BE_COLUMNS: [&str; 16] = [
    "BackendId",
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
    "TabletNum",
    "ErrMsg",
    "Version",
    "Status",
    "StatusCode",
];
const STATISTIC_COLUMNS: [&str; 11] = [
    "DbId",
    "DbName",
    "TableNum",
    "PartitionNum",
    "IndexNum",
    "TabletNum",
    "ReplicaNum",
    "UnhealthyTabletNum",
    "InconsistentTabletNum",
    "CloningTabletNum",
    "ErrorStateTabletNum",
];

fn rs(columns: &[&str], rows: Vec<Vec<String>>) -> ResultSet {
    ResultSet {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: rows
            .into_iter()
            .map(|r| r.into_iter().map(Some).collect())
            .collect(),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl HostileFe {
    pub fn start(spec: HostileSpec) -> HostileFe {
        let http = TcpListener::bind("127.0.0.1:0").unwrap();
        let mysql = TcpListener::bind("127.0.0.1:0").unwrap();
        let http_port = http.local_addr().unwrap().port();
        let query_port = mysql.local_addr().unwrap().port();
        let (hp, qp) = (http_port.to_string(), query_port.to_string());
        let fe = |ip: &str, role: &str| {
            strings(&[
                "fe",
                ip,
                "9010",
                &hp,
                &qp,
                "9020",
                role,
                "1",
                "true",
                "true",
                "1000",
                "2024-01-19 20:03:14",
                "true",
                "",
                "2024-01-19 20:00:00",
                &spec.version,
            ])
        };
        let mut fes = vec![fe(&spec.leader_ip, "LEADER")];
        fes.extend(spec.more_fes.iter().map(|(ip, role)| fe(ip, role)));
        let row_of = |rows: &[BeRow]| -> Vec<Vec<String>> {
            rows.iter()
                .enumerate()
                .map(|(i, b)| {
                    strings(&[
                        &(10001 + i).to_string(),
                        &b.ip,
                        &b.heartbeat_port,
                        "9060",
                        b.http_port.as_deref().unwrap_or(&hp),
                        "8060",
                        "2024-01-19 20:00:00",
                        "2024-01-19 20:03:14",
                        "true",
                        "false",
                        "false",
                        "10",
                        &b.err_msg,
                        b.version.as_deref().unwrap_or(&spec.version),
                        "{}",
                        &b.status_code,
                    ])
                })
                .collect()
        };
        let bes = row_of(&spec.backends);
        let cns = row_of(&spec.compute_nodes);
        let total = strings(&["Total", "1", "1", "1", "1", "10", "30", "0", "0", "0", "0"]);
        let fe_columns: Vec<&str> = FE_COLUMNS
            .iter()
            .map(|c| match *c {
                "Role" if spec.is_master_column => "IsMaster",
                c => c,
            })
            .collect();
        let run_mode = spec.run_mode.clone();
        let low: Vec<Vec<String>> = spec
            .low_replication
            .iter()
            .map(|(d, t, n)| vec![d.clone(), t.clone(), n.clone()])
            .collect();
        let restarting: Vec<bool> = spec.backends.iter().map(|b| b.restarting).collect();
        let answers = std::sync::atomic::AtomicU32::new(0);
        let answer = move |_user: &str, sql: &str| {
            let sql = sql.trim().to_uppercase();
            let set = if sql.starts_with("SHOW FRONTENDS") {
                rs(&fe_columns, fes.clone())
            } else if let (true, Some(m)) =
                (sql.starts_with("ADMIN SHOW FRONTEND CONFIG"), &run_mode)
            {
                rs(
                    &["Key", "AliasNames", "Value", "Type", "IsMutable", "Comment"],
                    vec![strings(&["run_mode", "[]", m, "String", "false", ""])],
                )
            } else if sql.starts_with("SHOW BACKENDS") {
                // A restarting BE's LastStartTime moves on a second at every answer.
                let n = answers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut rows = bes.clone();
                for (row, r) in rows.iter_mut().zip(&restarting) {
                    if *r {
                        row[6] = format!("2024-01-19 21:{:02}:{:02}", (n / 60) % 60, n % 60);
                    }
                }
                rs(&BE_COLUMNS, rows)
            } else if sql.starts_with("SHOW COMPUTE NODES") {
                let mut columns = BE_COLUMNS;
                columns[0] = "ComputeNodeId";
                rs(&columns, cns.clone())
            } else if sql.starts_with("SHOW PROC '/STATISTIC'") {
                rs(&STATISTIC_COLUMNS, vec![total.clone()])
            } else if sql.starts_with("SELECT DB_NAME") {
                rs(&["DB_NAME", "TABLE_NAME", "REPLICATION_NUM"], low.clone())
            } else {
                return Outcome::Err(1064, "42000", "unknown statement (hostile FE)".into());
            };
            Outcome::Rows(set)
        };
        serve(
            mysql,
            Arc::new(ServerConfig {
                server_version: "5.1.0".into(),
                root_password: spec.root_password.clone(),
                users: Vec::new(),
                query: Arc::new(answer),
            }),
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (seen, bootstrap) = (requests.clone(), spec.bootstrap.clone());
        std::thread::spawn(move || {
            for s in http.incoming().flatten() {
                let (seen, bootstrap) = (seen.clone(), bootstrap.clone());
                std::thread::spawn(move || answer_http(s, &seen, &bootstrap));
            }
        });
        HostileFe {
            http_port,
            query_port,
            requests,
        }
    }

    /// `--fe 127.0.0.1:HTTP --query-port QUERY`.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--fe".into(),
            format!("127.0.0.1:{}", self.http_port),
            "--query-port".into(),
            self.query_port.to_string(),
        ]
    }

    /// How many HTTP requests asked for `path`.
    pub fn hits(&self, path: &str) -> usize {
        let needle = format!(" {path} ");
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.contains(&needle))
            .count()
    }
}

fn answer_http(mut s: TcpStream, seen: &Mutex<Vec<String>>, bootstrap: &Bootstrap) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    seen.lock().unwrap().push(line.clone());
    let ok = |body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let resp = match bootstrap {
        _ if !line.contains("/api/bootstrap") => ok(r#"{"status":"OK","msg":"To Be Added"}"#),
        Bootstrap::Ok => ok(r#"{"status":"OK","msg":"Success"}"#),
        Bootstrap::Redirect(to) => format!(
            "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
        Bootstrap::Body(body) => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend_from_slice(body);
            r
        }
    };
    let _ = s.write_all(&resp);
}
