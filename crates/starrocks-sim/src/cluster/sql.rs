//! SQL in a group: which statements a follower forwards to its leader, which the leader answers
//! from the group's state, and the wire form of a forwarded answer.
//!
//! A real follower answers these from metadata replicated to it; the simulator keeps no replica
//! and asks the leader instead, which gives the same rows as long as the leader is up.

use super::edit_log::request;
use super::group::{Group, GroupRole};
use super::host::HostFaults;
use super::leader_answers::{show_compute_nodes, show_frontends, show_statistic};
use crate::answers::statement;
use crate::image::{Frontend, Table};
use crate::mysql::{Outcome, ResultSet};

pub(super) fn outcome_to_json(o: &Outcome) -> String {
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
    let (q, norm) = statement(sql);
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
