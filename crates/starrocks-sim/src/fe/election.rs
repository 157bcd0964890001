//! The fifth startup phase, second half: the election. Alone (or with the group reset) the node
//! leads at once; with recorded followers it waits for the group, and the `Hang` fault waits
//! forever, logging what a real FE logs while no master can be determined.
//!
//! The waiting node contacts the recorded frontends; that is what tests watch for to prove a
//! rehearsal never reaches production's electable nodes.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::boot::{stdout_with_time, Fe};
use super::node::Node;
use crate::cluster::{self, GroupRole};
use crate::global_vars::GlobalVars;
use crate::image::{Frontend, ImageHeader};
use crate::logs::FeLog;
use crate::release::Behaviour as _;
use crate::{connect_loopback, Fault};
use starrocks_common::version::Version;

/// How the election ended.
pub(super) struct Elected {
    pub(super) leader: bool,
    /// The other electable members the node recorded.
    pub(super) peers: Vec<Frontend>,
    /// Set when the node takes part in a group (the cluster mode).
    pub(super) group: Option<Arc<cluster::Group>>,
    /// The `edit_log_port` still to serve, when no group serves it.
    pub(super) edit_listener: Option<TcpListener>,
}

pub(super) fn elect(
    fe: &Fe,
    log: &FeLog,
    header: &ImageHeader,
    node: &Node,
    recovery: bool,
    edit_listener: TcpListener,
    globals: &Arc<GlobalVars>,
) -> Elected {
    let v = fe.v;
    let (self_host, node_name) = (&node.self_host, &node.id.node_name);
    let p = &node.ports;
    let (http_port, rpc_port, query_port, edit_log_port) = (p.http, p.rpc, p.query, p.edit_log);

    // Without the reset, the node can only win an election its recorded group agrees to.
    let self_recorded = header
        .frontends
        .iter()
        .find(|f| f.name == *node_name)
        .cloned();
    let moved = self_recorded
        .as_ref()
        .is_some_and(|f| f.edit_log_port != edit_log_port || f.host != *self_host);
    let peers: Vec<Frontend> = header
        .frontends
        .iter()
        .filter(|f| f.role == "FOLLOWER" && (f.name != *node_name || moved))
        .cloned()
        .collect();
    // With recorded followers and no reset, the node waits for the group (cluster mode) to elect.
    let grouped = !recovery && !peers.is_empty();
    let lag = if fe.release.fault_is(Fault::LaggingFollower) {
        fe.release.fault_secs * cluster::LAG_PER_FAULT_SEC
    } else {
        0
    };
    let group = grouped.then(|| {
        cluster::Group::new(
            node.id.cluster_id,
            node.id.token.clone(),
            self_host.clone(),
            (edit_log_port, http_port, query_port, rpc_port),
            v.full(),
            lag,
            (fe.config.clone(), globals.clone()),
        )
    });
    let edit_listener = match &group {
        Some(g) => {
            cluster::serve_edit_log(edit_listener, g.clone());
            None
        }
        None => Some(edit_listener),
    };
    let mut group_role = GroupRole::Leader;
    if fe.release.fault_is(Fault::Hang) || grouped {
        let electing = group.as_ref().filter(|_| !fe.release.fault_is(Fault::Hang));
        group_role = election_hang(fe, log, &peers, electing);
    }
    let leader = group_role == GroupRole::Leader;
    let fe_type = if leader { "LEADER" } else { "FOLLOWER" };

    log.info(
        "BDBEnvironment.setup():236",
        &format!("state change done, current role {fe_type}"),
    );
    log.info(
        "BDBEnvironment.setup():238",
        "end setup bdb environment after 1 times",
    );
    log.rename_main_thread(format!("UNKNOWN {node_name}(-1)"));
    log.warn(
        "StateChangeExecutor.notifyNewFETypeTransfer():62",
        &format!("notify new FE type transfer: {fe_type}"),
    );
    stdout_with_time(&format!("notify new FE type transfer: {fe_type}"));
    Elected {
        leader,
        peers,
        group,
        edit_listener,
    }
}

/// The election that never completes: contact the recorded group, then wait and say so.
/// In the cluster mode (`group`), each round may end the wait with the role the group gave.
fn election_hang(
    fe: &Fe,
    log: &FeLog,
    peers: &[Frontend],
    group: Option<&Arc<cluster::Group>>,
) -> GroupRole {
    let helpers: Vec<String> = peers
        .iter()
        .map(|p| format!("/{}:{}", p.host, p.edit_log_port))
        .collect();
    let started = Instant::now();
    let mut warned = 0;
    loop {
        if let Some(role) = group.and_then(|g| cluster::try_elect(g, peers)) {
            return role;
        }
        // BDB JE contacts the recorded electable nodes itself and logs to bdb/je.info, not fe.log;
        // what fe.log shows is the UnknownMasterException that names them.
        for p in peers {
            let _ = connect_loopback(&p.host, p.edit_log_port, Duration::from_millis(500));
        }
        if !helpers.is_empty() {
            log.warn(
                "BDBEnvironment.setup():240",
                &format!(
                    "com.sleepycat.je.rep.UnknownMasterException: (JE 18.3.16) Could not determine master from helpers at:[{}]",
                    helpers.join(", ")
                ),
            );
        }
        log.info(
            "StarRocksFE.start():140",
            "wait globalStateMgr to be ready. FE type: UNKNOWN. is ready: false",
        );
        let waited = started.elapsed().as_secs();
        if fe.v >= Version::new(3, 3, 0) && waited / fe.release.too_much_time_secs.max(1) > warned {
            warned += 1;
            log.warn(
                "GlobalStateMgr.waitForReady():1370",
                "It took too much time for FE to transfer to a stable state(LEADER/FOLLOWER), it maybe caused by one of the following reasons: 1. There are some problems with the network connection between this FE and the others. 2. The other FEs are not started. 3. The metadata of this FE is broken.",
            );
        }
        std::thread::sleep(Duration::from_millis(if group.is_some() {
            300
        } else {
            2000
        }));
    }
}
