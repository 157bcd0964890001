//! The election among the recorded followers, and a follower's replay of its leader's journal.
//!
//! A member that already leads is joined; otherwise a majority must be up before the lowest
//! undecided `host:edit_log_port` leads, so a lone node of a recorded group never elects itself
//! (what keeps a rehearsal without the group reset from leading). When the leader stops, its
//! followers notice within `LEADER_LOST_ROUNDS` rounds and elect one of themselves by the same
//! rule, as BDB JE's replication group does; a leader that comes back finds the new one and follows.

use std::sync::Arc;
use std::time::Duration;

use super::edit_log::{request, who};
use super::group::{Group, GroupRole};
use crate::image::Frontend;

/// Rounds of the follower's loop without an answer from its leader after which it holds an
/// election (BDB JE waits `bdbje_heartbeat_timeout_second`, 30 s; the simulator counts its own
/// short rounds instead).
pub const LEADER_LOST_ROUNDS: u32 = 3;

/// One round of the election among `peers` (the other electable members). A member that says it
/// is the leader is joined; otherwise, with a majority of the group up, the node with the lowest
/// `host:edit_log_port` among those up and not leading becomes the leader (a follower whose leader
/// is gone is as undecided as a starting node, so two followers never both win).
pub fn try_elect(g: &Group, peers: &[Frontend]) -> Option<GroupRole> {
    let mut up = 1;
    let me = (g.host.clone(), g.edit_log_port);
    let mut lowest_undecided = true;
    for p in peers {
        let Some(w) = who(g, &p.host, p.edit_log_port) else {
            continue;
        };
        up += 1;
        match w.role.as_str() {
            "LEADER" => {
                *g.leader.lock().unwrap() = Some((p.host.clone(), p.edit_log_port));
                *g.role.lock().unwrap() = GroupRole::Follower;
                g.set_journal(w.journal.saturating_sub(g.lag));
                return Some(GroupRole::Follower);
            }
            _ if (p.host.clone(), p.edit_log_port) < me => lowest_undecided = false,
            _ => {}
        }
    }
    let electable = peers.len() + 1;
    if up * 2 > electable && lowest_undecided {
        *g.role.lock().unwrap() = GroupRole::Leader;
        *g.leader.lock().unwrap() = Some(me);
        return Some(GroupRole::Leader);
    }
    None
}

/// A follower's replay: it follows the leader's journal (less its lag) and, when the leader is
/// gone, looks for whichever member now says it leads; after `LEADER_LOST_ROUNDS` rounds without
/// one it takes part in an election, and `on_leader` runs once if it wins (the thread then ends:
/// the leader's own threads take over).
pub fn follow(
    g: Arc<Group>,
    peers: Vec<Frontend>,
    interval: Duration,
    on_leader: Box<dyn FnOnce() + Send>,
) {
    std::thread::spawn(move || {
        let mut missed = 0;
        loop {
            let leader = g.leader.lock().unwrap().clone();
            let found = leader
                .and_then(|(h, p)| {
                    who(&g, &h, p)
                        .filter(|w| w.role == "LEADER")
                        .map(|w| (h, p, w))
                })
                .or_else(|| {
                    peers.iter().find_map(|f| {
                        who(&g, &f.host, f.edit_log_port)
                            .filter(|w| w.role == "LEADER")
                            .map(|w| (f.host.clone(), f.edit_log_port, w))
                    })
                });
            if let Some((h, p, w)) = found {
                missed = 0;
                *g.leader.lock().unwrap() = Some((h.clone(), p));
                *g.role.lock().unwrap() = GroupRole::Follower;
                g.set_journal(w.journal.saturating_sub(g.lag));
                // The replay carries the leader's global variables.
                if let Some(vars) = request(&g, &h, p, "VARS")
                    .ok()
                    .and_then(|r| serde_json::from_str(&r).ok())
                {
                    g.globals.replace_all(vars);
                }
                // And the tablets' state (replica versions, backends' liveness).
                if let Some(t) = request(&g, &h, p, "TABLETS")
                    .ok()
                    .and_then(|r| serde_json::from_str(&r).ok())
                {
                    *g.tablets.lock().unwrap() = t;
                }
            } else {
                missed += 1;
                if missed >= LEADER_LOST_ROUNDS {
                    // The group lost its leader: this node is undecided until an election ends.
                    *g.role.lock().unwrap() = GroupRole::Unknown;
                    if try_elect(&g, &peers) == Some(GroupRole::Leader) {
                        on_leader();
                        return;
                    }
                }
            }
            std::thread::sleep(interval);
        }
    });
}
