//! The election among the recorded followers, and a follower's replay of its leader's journal.
//!
//! A member that already leads is joined; otherwise a majority must be up before the lowest
//! undecided `host:edit_log_port` leads, so a lone node of a recorded group never elects itself
//! (what keeps a rehearsal without the group reset from leading).

use std::sync::Arc;
use std::time::Duration;

use super::edit_log::who;
use super::group::{Group, GroupRole};
use crate::image::Frontend;

/// One round of the election among `peers` (the other electable members). A member that says it
/// is the leader is joined; otherwise, with a majority of the group up, the node with the lowest
/// `host:edit_log_port` among those still undecided becomes the leader.
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
            "UNKNOWN" if (p.host.clone(), p.edit_log_port) < me => lowest_undecided = false,
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
/// gone, looks for whichever member now says it leads.
pub fn follow(g: Arc<Group>, peers: Vec<Frontend>, interval: Duration) {
    std::thread::spawn(move || loop {
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
            *g.leader.lock().unwrap() = Some((h, p));
            g.set_journal(w.journal.saturating_sub(g.lag));
        }
        std::thread::sleep(interval);
    });
}
