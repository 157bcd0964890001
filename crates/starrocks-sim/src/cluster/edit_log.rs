//! The `edit_log_port` as the simulator plays it: a one-line protocol standing in for BDB JE's
//! replication traffic (`WHO`, `QUERY`, the replay of global variables `VARS` and tablets
//! `TABLETS`) and for the leader's `setConfig` RPC (`SETCONFIG`), and the JSON line that carries a
//! forwarded answer back.
//!
//! Only members of the same cluster id are answered, so a rehearsal sandbox (with its new cluster
//! id) can never join or steer the group its meta was copied from.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::group::{Group, GroupRole, Who};
use crate::mysql::{Outcome, ResultSet};
use crate::{connect_loopback, ConnectError};

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
    } else if line.starts_with("TABLETS") {
        let t = g.tablets.lock().unwrap().clone();
        let _ = writeln!(w, "{}", serde_json::to_string(&t).unwrap_or_default());
    } else if line.starts_with("VARS") {
        let _ = writeln!(
            w,
            "{}",
            serde_json::to_string(&g.globals.snapshot()).unwrap_or_default()
        );
    } else if line.starts_with("SETCONFIG") {
        let _ = writeln!(w, "{}", answer_set_config(g, line));
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

/// A peer's side of `SETCONFIG` (the leader's `setConfig` call, see `admin`): the reply line.
fn answer_set_config(g: &Group, line: &str) -> String {
    let Some((_, json)) = line.split_once(" json=") else {
        return "ERR malformed request".into();
    };
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    match (v["key"].as_str(), v["value"].as_str()) {
        (Some(k), Some(val)) => match g.config.set(k, val) {
            Ok(()) => "OK".into(),
            Err(e) => format!("ERR {e}"),
        },
        _ => "ERR malformed request".into(),
    }
}

pub(super) fn request(
    g: &Group,
    host: &str,
    port: u16,
    line: &str,
) -> Result<String, ConnectError> {
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

/// The wire form of an answer a follower forwards: one JSON line on the `edit_log_port`.
pub(super) fn outcome_to_json(o: &Outcome) -> String {
    match o {
        Outcome::Rows(rs) => {
            serde_json::json!({"columns": rs.columns, "rows": rs.rows}).to_string()
        }
        Outcome::Ok => serde_json::json!({"ok": true}).to_string(),
        Outcome::Err(code, _, msg) => serde_json::json!({"error": [code, msg]}).to_string(),
    }
}

pub(super) fn outcome_from_json(text: &str) -> Outcome {
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
