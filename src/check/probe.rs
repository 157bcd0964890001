//! The probes `check` sends to each node: its HTTP endpoint and SQL on its query port.
//!
//! Each probe ends in a `ProbeResult` rather than an error, because one unreachable node is a
//! finding about the cluster, not a reason to stop looking at the others.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use super::values::{escape, shown, summarise};
use super::ProbeResult;
use crate::probe::mysql::{Session, SqlError};

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
    /// A redirect is not followed: the node asked must answer itself, not send the probe to
    /// another server whose answer would count for it.
    #[error("HTTP {status} redirect to {location} (not followed: the node itself must answer)")]
    Redirect { status: u16, location: String },
    /// `body` is the summary of what came back (`values::summarise`).
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

pub(super) fn http_json(
    host: &str,
    port: u16,
    path: &str,
    t: Duration,
) -> Result<serde_json::Value, ProbeError> {
    let addr = resolve(host, port)?;
    let r = crate::probe::http::get(addr, path, t)?;
    if (300..400).contains(&r.status) {
        return Err(ProbeError::Redirect {
            status: r.status,
            location: r
                .location
                .as_deref()
                .map_or_else(|| "nowhere (no Location)".into(), summarise),
        });
    }
    if r.status != 200 {
        return Err(ProbeError::Status(r.status));
    }
    serde_json::from_str(&r.body).map_err(|source| ProbeError::NotJson {
        body: summarise(&r.body),
        source,
    })
}

/// `/api/bootstrap` answers `{"status":"OK","msg":"Success"}` on a ready FE.
pub(super) fn probe_bootstrap(host: &str, port: u16, t: Duration) -> ProbeResult {
    let r = http_json(host, port, "/api/bootstrap", t).and_then(|v| {
        use crate::probe::endpoints::Bootstrap;
        match crate::probe::endpoints::bootstrap_json(v) {
            Bootstrap::Ready { .. } | Bootstrap::Withheld => {
                Ok(format!("{}:{port}/api/bootstrap OK", escape(host)))
            }
            // What the server said, escaped and cut: it is printed on a terminal.
            Bootstrap::Rejected(m) => Err(ProbeError::NotOk(summarise(&m))),
            Bootstrap::NotReady(e) => Err(ProbeError::NotOk(summarise(&e.to_string()))),
        }
    });
    probe_result("bootstrap", r)
}

/// `/api/health` answers `{"status": "OK","msg": "To Be Added"}` on a healthy BE or CN.
pub(super) fn probe_health(host: &str, port: u16, t: Duration) -> ProbeResult {
    let r = http_json(host, port, "/api/health", t).and_then(|v| {
        crate::probe::endpoints::health_json(&v)
            .map(|()| format!("{}:{port}/api/health OK", escape(host)))
            .map_err(|e| ProbeError::NotOk(summarise(&e.to_string())))
    });
    probe_result("health", r)
}

pub(super) fn probe_result(name: &str, r: Result<String, ProbeError>) -> ProbeResult {
    match r {
        Ok(detail) => ProbeResult {
            name: name.into(),
            ok: true,
            detail,
        },
        // The error text carries what the server said: escaped once, here.
        Err(e) => ProbeResult {
            name: name.into(),
            ok: false,
            detail: shown(&e),
        },
    }
}
