//! The BE's heartbeat service: it takes the cluster id of the first FE that heartbeats it, stores
//! it in every storage path, and from then on rejects any other cluster id.
//!
//! This is what makes an in-place canary safe to reason about: a BE that already belongs to a
//! cluster refuses a rehearsal FE's heartbeat with `Unmatched cluster id`, and the tool looks for
//! that line. The wire format is the simulator's own line protocol (real StarRocks speaks Thrift).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::logs::Glog;

const HEARTBEAT_LOC: &str = "heartbeat_server.cpp:74";

/// Serves heartbeats for the life of the process; the flag turns true at the first accepted one.
pub(super) fn serve(
    hb: Vec<TcpListener>,
    log: &Arc<Glog>,
    cluster_id: Option<i64>,
    roots: &[PathBuf],
    reply: String,
) -> Arc<Mutex<bool>> {
    let cluster_id = Arc::new(Mutex::new(cluster_id));
    let got_first = Arc::new(Mutex::new(false));
    // One thread per bound address (the BE's host and its loopback), sharing one state.
    for l in hb {
        let log = log.clone();
        let got_first = got_first.clone();
        let cluster_id = cluster_id.clone();
        let roots = roots.to_vec();
        let reply = reply.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                handle_heartbeat(s, &log, &cluster_id, &got_first, &roots, &reply);
            }
        });
    }
    got_first
}

fn handle_heartbeat(
    s: std::net::TcpStream,
    log: &Glog,
    cluster_id: &Mutex<Option<i64>>,
    got_first: &Mutex<bool>,
    roots: &[PathBuf],
    ok_reply: &str,
) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let Ok(mut w) = s.try_clone() else { return };
    let mut line = String::new();
    if BufReader::new(s).read_line(&mut line).is_err() {
        return;
    }
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .map(String::from)
    };
    let Some(theirs) = field("cluster_id").and_then(|c| c.parse::<i64>().ok()) else {
        let _ = writeln!(w, "ERR invalid heartbeat");
        return;
    };
    let fe = format!(
        "{}:{}",
        field("fe_host").unwrap_or_default(),
        field("rpc_port").unwrap_or_default()
    );
    let mut cid = cluster_id.lock().unwrap();
    match *cid {
        None => {
            log.log(
                'I',
                "heartbeat_server.cpp:110",
                "Received first heartbeat. updating cluster id",
            );
            for r in roots {
                let _ = fs::write(r.join("cluster_id"), theirs.to_string());
            }
            *cid = Some(theirs);
        }
        Some(mine) if mine != theirs => {
            log.log(
                'W',
                HEARTBEAT_LOC,
                &format!("Fail to handle heartbeat: Internal error: Unmatched cluster id cached master info: TMasterInfo(network_address=TNetworkAddress(hostname={fe}), cluster_id={mine}) received master info: TMasterInfo(network_address=TNetworkAddress(hostname={fe}), cluster_id={theirs})"),
            );
            let _ = writeln!(w, "ERR Unmatched cluster id");
            return;
        }
        _ => {}
    }
    drop(cid);
    let mut first = got_first.lock().unwrap();
    if !*first {
        log.log('I', "heartbeat_server.cpp:130", &format!("Updating master info: TMasterInfo(network_address=TNetworkAddress(hostname={fe}), cluster_id={theirs})"));
        *first = true;
    }
    let _ = writeln!(w, "{ok_reply}");
}
