//! One frontend's part in the group at run time: its role, the leader it follows, its replayed
//! journal, and what it last learnt of its peers.
//!
//! The edit-log server, the election, the heartbeat and the SQL answers all read and write this
//! one state from their own threads, which is why it is shared behind an `Arc` with a lock (or an
//! atomic) per field.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::mysql::QueryFn;

/// How far a lagging follower stays behind its leader, in journal entries, per `fault_secs`.
pub const LAG_PER_FAULT_SEC: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupRole {
    Unknown,
    Leader,
    Follower,
}

impl GroupRole {
    fn word(self) -> &'static str {
        match self {
            GroupRole::Unknown => "UNKNOWN",
            GroupRole::Leader => "LEADER",
            GroupRole::Follower => "FOLLOWER",
        }
    }
}

/// What the leader last learnt of another frontend from its `/api/bootstrap` heartbeat.
#[derive(Debug, Clone, Default)]
pub struct PeerInfo {
    pub alive: bool,
    pub http_port: u16,
    pub query_port: u16,
    pub rpc_port: u16,
    pub journal: u64,
    pub start_time: String,
    pub version: String,
    pub err: String,
    pub last_heartbeat: String,
}

/// This frontend's part in the group.
pub struct Group {
    pub cluster_id: i64,
    pub token: String,
    pub host: String,
    pub edit_log_port: u16,
    pub http_port: u16,
    pub query_port: u16,
    pub rpc_port: u16,
    pub version: String,
    /// Entries a lagging follower stays behind its leader (0 for a healthy node).
    pub lag: u64,
    pub(super) role: Mutex<GroupRole>,
    pub(super) leader: Mutex<Option<(String, u16)>>,
    pub(super) journal: AtomicU64,
    pub(super) peers: Mutex<BTreeMap<(String, u16), PeerInfo>>,
    /// Answers a forwarded query once the node serves SQL.
    pub(super) query: Mutex<Option<QueryFn>>,
    /// When this FE started (unix ms, 0 before it is set): the StartTime of its own row.
    pub start_millis: std::sync::atomic::AtomicI64,
}

/// A frontend's answer to `WHO`.
#[derive(Debug, Clone)]
pub struct Who {
    pub role: String,
    pub journal: u64,
    pub http_port: u16,
    pub leader: Option<(String, u16)>,
}

impl Group {
    pub fn new(
        cluster_id: i64,
        token: String,
        host: String,
        ports: (u16, u16, u16, u16),
        version: String,
        lag: u64,
    ) -> Arc<Group> {
        let (edit_log_port, http_port, query_port, rpc_port) = ports;
        Arc::new(Group {
            cluster_id,
            token,
            host,
            edit_log_port,
            http_port,
            query_port,
            rpc_port,
            version,
            lag,
            role: Mutex::new(GroupRole::Unknown),
            leader: Mutex::new(None),
            journal: AtomicU64::new(0),
            peers: Mutex::new(BTreeMap::new()),
            query: Mutex::new(None),
            start_millis: std::sync::atomic::AtomicI64::new(0),
        })
    }

    pub fn role(&self) -> GroupRole {
        *self.role.lock().unwrap()
    }

    pub fn journal(&self) -> u64 {
        self.journal.load(Ordering::SeqCst)
    }

    pub fn set_journal(&self, j: u64) {
        self.journal.store(j, Ordering::SeqCst)
    }

    pub fn set_query(&self, q: QueryFn) {
        *self.query.lock().unwrap() = Some(q);
    }

    pub fn peer(&self, host: &str, port: u16) -> Option<PeerInfo> {
        self.peers
            .lock()
            .unwrap()
            .get(&(host.to_string(), port))
            .cloned()
    }

    pub(super) fn who_line(&self) -> String {
        let leader = self
            .leader
            .lock()
            .unwrap()
            .clone()
            .map(|(h, p)| format!(" leader={h}:{p}"))
            .unwrap_or_default();
        format!(
            "ROLE {} journal={} http_port={}{leader}",
            self.role().word(),
            self.journal(),
            self.http_port
        )
    }
}
