//! The leader's heartbeat to the backends recorded in the meta, as `HeartbeatMgr` sends it.
//!
//! This is the thread that would reach production from a sandbox: it connects to every recorded
//! backend, so tests can prove the tool rewrote or fenced those addresses. The tool's watch reads
//! the targets back from these lines, hence each failure's exact Java wording.

use std::time::Duration;

use super::boot::stack;
use super::state::State;
use crate::connect_loopback;
use crate::image::Backend;
use crate::logs::{FeLog, Level};
use crate::stamps::Stamps as _;
use starrocks_common::timefmt::{unix_millis, Civil};

enum HbFailure {
    /// The connection failed: the Java exception's message.
    Exception(String),
    /// The backend answered with an error status.
    Refused(String),
}

/// The Java exception a failed connection raises in the real FE, from the simulator's own error.
/// Addresses the simulator never contacts (anything but loopback) fail as an unreachable production
/// host does from a sandbox: the connect times out.
fn java_connect_error(e: &crate::ConnectError) -> String {
    // A backend the simulator will not contact (any non-loopback host) looks like one that does
    // not answer in time, which is what a fenced sandbox or a firewalled host shows.
    if let crate::ConnectError::NotLoopback { .. } = e {
        return "java.net.SocketTimeoutException: connect timed out".into();
    }
    let e = e.to_string();
    if e.contains("refused") {
        "java.net.ConnectException: Connection refused (Connection refused)".into()
    } else if e.contains("unreachable") {
        "java.net.NoRouteToHostException: No route to host (Host unreachable)".into()
    } else if e.contains("timed out") {
        "java.net.SocketTimeoutException: connect timed out".into()
    } else {
        format!("java.net.SocketException: {e}")
    }
}

/// Heartbeats every recorded backend at its heartbeat port, as `HeartbeatMgr` does. The wire format
/// is the simulator's own line protocol (real StarRocks speaks Thrift); what matters is that the
/// connection is made, to the recorded address, with the cluster id the FE believes in.
pub(super) fn heartbeat_loop(state: &State, log: &FeLog, interval: Duration) {
    use std::io::{BufRead, BufReader, Write};
    let tl = "heartbeat mgr|37";
    loop {
        let targets: Vec<Backend> = state
            .backends
            .lock()
            .unwrap()
            .iter()
            .map(|b| b.be.clone())
            .collect();
        for b in targets {
            let result = connect_loopback(&b.host, b.heartbeat_port, Duration::from_millis(500))
                .and_then(|mut s| {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                    writeln!(
                        s,
                        "HEARTBEAT cluster_id={} token={} fe_host=127.0.0.1 rpc_port={} http_port={}",
                        state.cluster_id, state.token, state.rpc_port, state.http_port
                    )?;
                    let mut line = String::new();
                    BufReader::new(s).read_line(&mut line)?;
                    Ok(line.trim().to_string())
                });
            let mut all = state.backends.lock().unwrap();
            let Some(bs) = all.iter_mut().find(|x| x.be.id == b.id) else {
                continue;
            };
            let was_alive = bs.alive;
            let failure = match &result {
                Ok(reply) if reply.starts_with("OK") => None,
                Ok(reply) => Some(HbFailure::Refused(
                    reply
                        .strip_prefix("ERR ")
                        .unwrap_or("no heartbeat response")
                        .to_string(),
                )),
                Err(e) => Some(HbFailure::Exception(java_connect_error(e))),
            };
            match result {
                Ok(reply) if reply.starts_with("OK") => {
                    if !was_alive || bs.last_start_ms <= 0 {
                        bs.last_start_ms = unix_millis();
                    }
                    let reboot = reply
                        .split_whitespace()
                        .find_map(|kv| kv.strip_prefix("reboot_time="))
                        .and_then(|t| t.parse::<i64>().ok())
                        .unwrap_or(-1);
                    if reboot > bs.last_start_ms {
                        bs.last_start_ms = reboot;
                    }
                    bs.alive = true;
                    bs.err.clear();
                    bs.version = reply
                        .split_whitespace()
                        .find_map(|kv| kv.strip_prefix("version="))
                        .unwrap_or("")
                        .to_string();
                    bs.last_heartbeat = Civil::now().log4j_comma();
                    for (i, key) in ["be_port=", "http_port=", "brpc_port="].iter().enumerate() {
                        if let Some(p) =
                            reply.split_whitespace().find_map(|kv| kv.strip_prefix(key))
                        {
                            bs.ports[i] = p.to_string();
                        }
                    }
                }
                Ok(reply) => {
                    bs.alive = false;
                    bs.err = reply
                        .strip_prefix("ERR ")
                        .unwrap_or("no heartbeat response")
                        .to_string();
                }
                Err(e) => {
                    bs.alive = false;
                    bs.err = e.to_string();
                }
            }
            // HeartbeatMgr's lines: the handler logs a failed connection with its exception on
            // the following lines, runAfterCatalogReady logs every bad response, and
            // ComputeNode.handleHbResponse logs the first answered heartbeat.
            match &failure {
                Some(HbFailure::Exception(ex)) => {
                    log.log(
                        Level::Warn,
                        "heartbeat-mgr-pool-0|61",
                        "HeartbeatMgr$BackendHeartbeatHandler.call():333",
                        &stack(
                            &format!(
                                "backend heartbeat got exception, addr: {}:{}\norg.apache.thrift.transport.TTransportException: {ex}",
                                b.host, b.heartbeat_port
                            ),
                            &[
                                "org.apache.thrift.transport.TSocket.open(TSocket.java:226)",
                                "com.starrocks.common.GenericPool$ThriftClientFactory.create(GenericPool.java:158)",
                                "com.starrocks.system.HeartbeatMgr$BackendHeartbeatHandler.call(HeartbeatMgr.java:296)",
                            ],
                        ),
                    );
                    log.log(
                        Level::Warn,
                        tl,
                        "HeartbeatMgr.runAfterCatalogReady():168",
                        &format!("get bad heartbeat response: type: BACKEND, status: BAD, msg: {ex}"),
                    );
                }
                Some(HbFailure::Refused(msg)) => log.log(
                    Level::Warn,
                    tl,
                    "HeartbeatMgr.runAfterCatalogReady():168",
                    &format!("get bad heartbeat response: type: BACKEND, status: BAD, msg: {msg}"),
                ),
                None if !was_alive => log.log(
                    Level::Info,
                    tl,
                    "ComputeNode.handleHbResponse():530",
                    &format!(
                        "Backend [id={}, host={}, heartbeatPort={}, alive=false] is alive, last start time: {}, hbTime: {}",
                        b.id, b.host, b.heartbeat_port, state.start_millis, unix_millis()
                    ),
                ),
                None => {}
            }
        }
        std::thread::sleep(interval);
    }
}
