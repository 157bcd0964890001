//! `StarRocksFE.start`: the startup phases in their real order, each in its own file, then the
//! threads a ready FE keeps running (heartbeats, and the crash a fault schedules).
//!
//! The order is the behaviour: an FE that meets two problems reports the one its release checks
//! first, so this file only sequences the phases and hands each the facts the earlier ones found.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::boot::{Fe, LogSlot, Stop};
use super::heartbeat::heartbeat_loop;
use super::state::{BackendState, State};
use super::{bdb, conf, election, image_load, meta_dir, node, replay, servers};
use crate::cluster;
use crate::global_vars::GlobalVars;
use crate::release::Behaviour as _;
use crate::Fault;
use starrocks_common::timefmt::unix_millis;

pub(super) fn start(fe: &mut Fe, log_slot: &LogSlot) -> Result<(), Stop> {
    conf::read_conf(fe)?;
    // The test-only host guard (`cluster::host`): before anything is written in the node's home.
    if let Err(refused) = cluster::guard_host("FE", &node::own_host(fe), &fe.home) {
        eprintln!("{refused}");
        crate::proc::exit_deleting_pid(1);
    }
    let log = conf::open_log(fe, log_slot)?;
    let dirs = meta_dir::check_meta_dir(fe, &log)?;
    let (node, edit_listener) = node::identify(fe, &log, &dirs.image_dir)?;
    let header = image_load::load_image(fe, &log, &dirs, &node)?;
    let recovery = bdb::setup_environment(fe, &log, &dirs.bdb_dir, &node.id.role)?;
    let globals = Arc::new(GlobalVars::load(dirs.image_dir.parent()));
    let elected = election::elect(fe, &log, &header, &node, recovery, edit_listener, &globals);
    let replayed = replay::replay(fe, &log, &dirs, &header, &node, recovery, &elected)?;

    let start_millis = unix_millis();
    cluster::set_fe_start_millis(start_millis);
    let state = Arc::new(State {
        version: fe.v,
        cluster_id: node.id.cluster_id,
        token: node.id.token.clone(),
        run_mode: node.id.run_mode.clone(),
        self_host: node.self_host.clone(),
        node_name: node.id.node_name.clone(),
        http_port: node.ports.http,
        rpc_port: node.ports.rpc,
        query_port: node.ports.query,
        edit_log_port: node.ports.edit_log,
        journal_id: replayed.journal_id,
        group: elected.group.clone(),
        start_millis,
        frontends: replayed.frontends,
        tables: header.tables.clone(),
        config: fe.config.clone(),
        globals,
        log: log.clone(),
        image_dir: dirs.image_dir.clone(),
        backends: Mutex::new(
            header
                .backends
                .iter()
                .map(|b| BackendState {
                    be: b.clone(),
                    alive: false,
                    err: String::new(),
                    version: String::new(),
                    last_heartbeat: "NULL".into(),
                    last_start: 0,
                    retries: 0,
                    ports: ["-1".into(), "-1".into(), "-1".into()],
                })
                .collect(),
        ),
    });
    let election::Elected {
        leader,
        peers,
        group,
        edit_listener,
    } = elected;
    servers::serve(fe, &log, &state, &header, group.as_ref(), edit_listener)?;

    let interval = Duration::from_millis(fe.release.heartbeat_ms.max(50));
    match &group {
        Some(g) if !leader => {
            // Should the leader stop, this follower may win the next election and lead from then.
            let (g2, peers2, st, lg) = (g.clone(), peers.clone(), state.clone(), log.clone());
            let v = fe.v;
            let on_leader = Box::new(move || {
                lg.warn(
                    "StateChangeExecutor.notifyNewFETypeTransfer():62",
                    "notify new FE type transfer: LEADER",
                );
                lg.info(
                    "GlobalStateMgr.transferToLeader():1015",
                    "begin to transfer FE type from FOLLOWER to LEADER",
                );
                // The backends' liveness as replayed (the heartbeats' journal entries).
                let alive = g2.tablets.lock().unwrap().alive.clone();
                for b in st.backends.lock().unwrap().iter_mut() {
                    b.alive = alive.contains(&b.be.id);
                }
                // The new leader writes its first entry after what it replayed.
                g2.set_journal(g2.journal() + 1);
                lg.info(
                    "GlobalStateMgr.transferToLeader():1101",
                    "leader finished to replay journal, can write now.",
                );
                lg.info(
                    "GlobalStateMgr.transferToLeader():1120",
                    v.leader_transfer_line(),
                );
                lead(&g2, peers2, &st, &lg, interval);
            });
            cluster::follow(g.clone(), peers.clone(), interval, on_leader);
        }
        Some(g) => lead(g, peers.clone(), &state, &log, interval),
        None => {
            let (hb_state, hb_log) = (state.clone(), log.clone());
            std::thread::spawn(move || heartbeat_loop(&hb_state, &hb_log, interval));
        }
    }

    if fe.release.fault_is(Fault::CrashAfterReady) {
        let secs = fe.release.fault_secs;
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            // An abrupt death, as the OOM killer or a JVM crash would cause: no hook, pid file left.
            let _ = nix::sys::signal::raise(Signal::SIGKILL);
        });
    }
    Ok(())
}

/// The leader's threads: the frontend heartbeat (group mode) and the backend heartbeat.
fn lead(
    g: &Arc<cluster::Group>,
    peers: Vec<crate::image::Frontend>,
    state: &Arc<State>,
    log: &Arc<crate::logs::FeLog>,
    interval: Duration,
) {
    cluster::heartbeat_frontends(g.clone(), peers, interval, log.clone());
    let (hb_state, hb_log) = (state.clone(), log.clone());
    std::thread::spawn(move || heartbeat_loop(&hb_state, &hb_log, interval));
}
