//! The sixth startup phase: `transferToLeader`, replaying the journal from the image's id to the
//! last entry, then (as leader) writing to the meta it was given, and declaring itself ready.
//!
//! A journal holding an operation this release does not know fails here, after the image was
//! accepted; and the writes here are why a rehearsal must run on a copy of the meta.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::boot::{stack, stdout_with_time, Fe, Stop};
use super::election::Elected;
use super::meta_dir::MetaDir;
use super::node::Node;
use crate::image::{self, Frontend, ImageHeader, JdbHeader};
use crate::logs::{FeLog, Level};
use crate::meta::role_file;
use crate::release::Behaviour as _;
use crate::stamps::Stamps as _;
use crate::Fault;
use starrocks_common::timefmt::Civil;

/// What the replay leaves: the last journal id and the frontends the node now records.
pub(super) struct Replayed {
    pub(super) journal_id: u64,
    pub(super) frontends: Vec<Frontend>,
}

pub(super) fn replay(
    fe: &Fe,
    log: &FeLog,
    dirs: &MetaDir,
    header: &ImageHeader,
    node: &Node,
    recovery: bool,
    elected: &Elected,
) -> Result<Replayed, Stop> {
    let v = fe.v;
    let (leader, group) = (elected.leader, &elected.group);
    let fe_type = if leader { "LEADER" } else { "FOLLOWER" };
    let (self_host, edit_log_port) = (&node.self_host, node.ports.edit_log);
    let (role, node_name) = (&node.id.role, &node.id.node_name);
    let bdb_dir = &dirs.bdb_dir;
    let role_path = dirs.image_dir.join("ROLE");
    // transferToLeader on the stateChangeExecutor thread: replay, then ready.
    let sce = "stateChangeExecutor|77";
    log.log(
        Level::Info,
        sce,
        "GlobalStateMgr.transferToLeader():1015",
        &format!("begin to transfer FE type from INIT to {fe_type}"),
    );
    let jdbs = list_jdbs(bdb_dir);
    let mut last_journal = header.journal_id;
    let mut max_op = 0;
    for (_, h) in &jdbs {
        last_journal = last_journal.max(h.last_journal);
        max_op = max_op.max(h.max_op);
    }
    let from = header.journal_id + 1;
    log.log(
        Level::Info,
        "replayer|81",
        "GlobalStateMgr.replayJournal():1780",
        &format!("start to replay journal from {from} to {last_journal}"),
    );
    let replay_started = Instant::now();
    if fe.release.fault_is(Fault::SlowStart) {
        std::thread::sleep(Duration::from_secs(fe.release.fault_secs));
    }
    let unknown_op = if fe.release.fault_is(Fault::UnknownOperationType) {
        Some(v.max_op_code() + 22)
    } else {
        (max_op > v.max_op_code()).then_some(max_op)
    };
    if let Some(op) = unknown_op {
        let key = (from + last_journal) / 2;
        log.log(
            Level::Error,
            "replayer|81",
            "BDBJournalCursor.deserializeData():241",
            &stack(
                &format!("fail to read journal entity key={key}, data=\njava.io.IOException: UNKNOWN Operation Type {op}"),
                &["com.starrocks.journal.JournalEntity.readFields(JournalEntity.java:1093)", "com.starrocks.journal.bdbje.BDBJournalCursor.deserializeData(BDBJournalCursor.java:236)"],
            ),
        );
        log.log(
            Level::Error,
            sce,
            "GlobalStateMgr.transferToLeader():1035",
            "failed to init journal after transfer to leader! will exit",
        );
        return Err(Stop::Exit);
    }
    log.log(
        Level::Info,
        "replayer|81",
        "GlobalStateMgr.replayJournal():1810",
        &format!(
            "finish replay from {from} to {last_journal} in {} msec",
            replay_started.elapsed().as_millis()
        ),
    );
    // The new leader writes to the meta it was given: new journal entries, ROLE.
    let mut frontends = header.frontends.clone();
    if recovery && v.resets_frontends() {
        // resetFrontends: every recorded FE is dropped and the node re-added with its own address.
        frontends = vec![Frontend {
            role: role.clone(),
            host: self_host.clone(),
            edit_log_port,
            name: node_name.clone(),
        }];
    }
    // Only the leader writes the journal; a follower replays it.
    if let Some((path, _)) = jdbs.last().filter(|_| leader) {
        let _ = fs::OpenOptions::new()
            .append(true)
            .open(path)
            .and_then(|mut f| {
                use std::io::Write;
                writeln!(
                    f,
                    "journal id={} op=meta_version writer={v}",
                    last_journal + 1
                )
            });
    }
    let final_journal = last_journal + 1;
    let _ = fs::write(
        &role_path,
        role_file(&Civil::now().java_date(), role, node_name),
    );

    if leader {
        log.log(
            Level::Info,
            sce,
            "GlobalStateMgr.transferToLeader():1101",
            "leader finished to replay journal, can write now.",
        );
        stdout_with_time("leader finished to replay journal, can write now.");
        log.log(
            Level::Info,
            sce,
            "GlobalStateMgr.transferToLeader():1120",
            v.leader_transfer_line(),
        );
    }
    log.info(
        "GlobalStateMgr.waitForReady():1355",
        &format!("globalStateMgr is ready. FE type: {fe_type}"),
    );
    if let Some(g) = group.as_ref().filter(|_| leader) {
        g.set_journal(final_journal);
    }
    Ok(Replayed {
        journal_id: final_journal,
        frontends,
    })
}

fn list_jdbs(bdb: &Path) -> Vec<(PathBuf, JdbHeader)> {
    let mut files: Vec<PathBuf> = fs::read_dir(bdb)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "jdb"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let h = image::read_header_lines(&p)
                .ok()
                .and_then(|l| JdbHeader::parse(&l).ok())?;
            Some((p, h))
        })
        .collect()
}
