//! What a running FE knows and serves: the state its HTTP, SQL and heartbeat threads share.
//!
//! Startup builds it once, after the journal replay; from then on only the backends' liveness
//! changes (the heartbeat thread writes it, SHOW BACKENDS and `/api/health` read it), which is why
//! that part alone sits behind a mutex.

use std::sync::{Arc, Mutex};

use std::path::PathBuf;

use crate::cluster;
use crate::frontend_config::FeConfig;
use crate::global_vars::GlobalVars;
use crate::image::{self, Backend, Frontend};
use crate::logs::FeLog;
use starrocks_common::version::Version;

pub(super) struct BackendState {
    pub(super) be: Backend,
    pub(super) alive: bool,
    pub(super) err: String,
    pub(super) version: String,
    pub(super) last_heartbeat: String,
    /// The BE's start time in ms, as its heartbeat reply last gave it (0 before).
    pub(super) last_start: i64,
    /// Failed heartbeats in a row not yet counted against `alive` (`heartbeatRetryTimes`).
    pub(super) retries: i64,
    /// be_port, http_port and brpc_port as the BE's heartbeat reply gave them (-1 before).
    pub(super) ports: [String; 3],
}

pub(super) struct State {
    pub(super) version: Version,
    pub(super) cluster_id: i64,
    pub(super) token: String,
    pub(super) run_mode: String,
    /// The address this FE believes is its own (`frontend_address`, else the local IP).
    pub(super) self_host: String,
    /// `host_editlogport_timestamp`, as ROLE records it.
    pub(super) node_name: String,
    pub(super) http_port: u16,
    pub(super) rpc_port: u16,
    pub(super) query_port: u16,
    pub(super) edit_log_port: u16,
    pub(super) journal_id: u64,
    pub(super) start_millis: i64,
    pub(super) frontends: Vec<Frontend>,
    /// Set in the cluster mode: this node's part in the group (the `cluster` module).
    pub(super) group: Option<Arc<cluster::Group>>,
    pub(super) backends: Mutex<Vec<BackendState>>,
    pub(super) tables: Vec<image::Table>,
    /// fe.conf over the defaults, changed at run time by ADMIN SET FRONTEND CONFIG.
    pub(super) config: Arc<FeConfig>,
    /// Global variables as replayed (SET GLOBAL), kept in the meta folder.
    pub(super) globals: Arc<GlobalVars>,
    /// fe.log, for what the FE logs while it serves (the checkpoint).
    pub(super) log: Arc<FeLog>,
    /// `<meta_dir>/image`, where the checkpoint writes images.
    pub(super) image_dir: PathBuf,
}
