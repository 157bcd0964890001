//! The leader's frontend heartbeat: `/api/bootstrap` on each member's HTTP port, as
//! `HeartbeatMgr.FrontendHeartbeatHandler` sends it.
//!
//! SHOW FRONTENDS on the leader shows the other members as this heartbeat last saw them, so its
//! failures carry the ErrMsg a real leader shows.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::edit_log::who;
use super::group::Group;
use crate::image::Frontend;
use crate::stamps::Stamps as _;
use starrocks_common::timefmt::Civil;

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

pub(super) fn millis_to_time(ms: i64) -> String {
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
    let addr: SocketAddr = crate::loopback_addr(host, port).ok_or(PeerError::NotLoopback)?;
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
