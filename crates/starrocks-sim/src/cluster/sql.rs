//! SQL in a group: which statements a follower forwards to its leader (`RedirectStatus`), and
//! which the leader answers from the group's state.
//!
//! StarRocks forwards SHOW FRONTENDS, SHOW BACKENDS and SHOW COMPUTE NODES (FORWARD_NO_SYNC), ADMIN
//! SET FRONTEND CONFIG (FORWARD_NO_SYNC), and DDL such as ALTER SYSTEM and SET GLOBAL
//! (FORWARD_WITH_SYNC); everything else (SHOW PROC '/statistic', ADMIN SHOW FRONTEND CONFIG, SHOW
//! VARIABLES, queries such as those on information_schema) the FE a client is connected to answers
//! itself, from the metadata it replayed.

use super::admin::{parse_set_config, set_on_group};
use super::edit_log::{outcome_from_json, request};
use super::group::{Group, GroupRole};
use super::host::HostFaults;
use super::leader_answers::{show_compute_nodes, show_frontends, show_statistic};
use crate::answers::statement;
use crate::image::{Frontend, Table};
use crate::mysql::Outcome;

/// Statements a follower sends to its leader, per `RedirectStatus.RedirectStatusVisitor`.
fn forwarded(norm: &str) -> bool {
    norm == "SHOW FRONTENDS"
        || norm == "SHOW BACKENDS"
        || norm == "SHOW COMPUTE NODES"
        || norm.starts_with("ADMIN SET FRONTEND CONFIG")
        || norm.starts_with("ALTER SYSTEM ")
        || is_set_global(norm)
}

/// `SET GLOBAL x = ...` (or `SET @@global.x`): a global variable is written to the journal, so
/// the statement goes to the leader.
pub fn is_set_global(norm: &str) -> bool {
    norm.starts_with("SET GLOBAL ") || norm.starts_with("SET @@GLOBAL.")
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
        GroupRole::Follower | GroupRole::Unknown if forwarded(&norm) => {
            let leader = g.leader.lock().unwrap().clone();
            Some(match leader.filter(|_| g.role() == GroupRole::Follower) {
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
        // Not forwarded: every member answers from the catalog it replayed.
        _ if norm == "SHOW PROC '/STATISTIC'" || norm == "SHOW PROC \"/STATISTIC\"" => Some(
            show_statistic(
                tables,
                &g.tablets.lock().unwrap(),
                HostFaults::of_this_host().unhealthy_tablets,
            ),
        ),
        GroupRole::Leader if norm.starts_with("ADMIN SET FRONTEND CONFIG") && user == "root" => {
            Some(match parse_set_config(q) {
                Some((k, v)) => set_on_group(g, frontends, &k, &v),
                None => Outcome::Err(
                    1064,
                    "42000",
                    format!("Getting syntax error. Detail message: unsupported statement `{q}` in starrocks-sim."),
                ),
            })
        }
        _ => None,
    }
}
