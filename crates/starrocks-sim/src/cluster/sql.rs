//! SQL in a group: which statements a follower forwards to its leader, which the leader answers
//! from the group's state.
//!
//! A real follower answers these from metadata replicated to it; the simulator keeps no replica
//! and asks the leader instead, which gives the same rows as long as the leader is up.

use super::edit_log::{outcome_from_json, request};
use super::group::{Group, GroupRole};
use super::host::HostFaults;
use super::leader_answers::{show_compute_nodes, show_frontends, show_statistic};
use crate::answers::statement;
use crate::image::{Frontend, Table};
use crate::mysql::Outcome;

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
