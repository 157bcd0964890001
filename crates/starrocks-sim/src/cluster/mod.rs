//! The simulator's whole-cluster mode: several frontends forming one group, and per-host faults.
//!
//! A real cluster elects its leader through BDB JE on the `edit_log_port`s, and the leader learns
//! each follower's replayed journal, query port and version from an HTTP `/api/bootstrap`
//! heartbeat (`HeartbeatMgr.FrontendHeartbeatHandler`). The simulator keeps the second part as
//! StarRocks does it and stands in for BDB JE with a one-line protocol on the `edit_log_port`
//! (`WHO`, `QUERY` and the replay of what the simulator keeps in memory): enough to elect one leader
//! among the recorded followers once a majority is up, to elect another when it stops, to let a
//! restarted node rejoin as follower, and to forward what StarRocks forwards to the leader. What
//! is not modelled is said in docs/conformance.md.
//!
//! A node folder may hold `sim-host.json`, the faults of that *host* (not of a package): the
//! cluster builder uses it for a BE host that cannot run one particular new build and for a
//! follower that replays behind its leader.
//!
//! At run time: the member's state (`group`), the `edit_log_port` protocol (`edit_log`), the
//! election, re-election and a follower's replay (`election`), the leader's frontend heartbeat
//! (`heartbeat`), the tablets' health and clone repair (`tablets`), ADMIN SET FRONTEND CONFIG across
//! the group (`admin`) and SQL in a group (`sql`, with the leader's own answers in
//! `leader_answers`). At build time: `cluster.json` (`spec`), the host faults (`host`) and
//! `make-cluster` (`build`).

mod admin;
mod build;
mod edit_log;
mod election;
mod group;
mod heartbeat;
mod host;
mod leader_answers;
mod spec;
mod sql;
mod tablets;

pub use admin::{parse_set_config, set_config_error};
pub use build::{fe_per_host, make_cluster, ClusterBuild};
pub use edit_log::{serve_edit_log, who};
pub use election::{follow, try_elect};
pub use group::{Group, GroupRole, PeerInfo, Who, LAG_PER_FAULT_SEC};
pub use heartbeat::heartbeat_frontends;
pub use host::{
    bind_node, edit_log_host, guard_host, host_fault, host_of_networks, listen_addresses,
    HostFault, HostFaults, WrongHost, HOST_FILE, LOOPBACK, SIM_HOST_ENV, WRONG_HOST_LOG,
};
pub use leader_answers::{recorded_time, set_fe_start_millis, time_string};
pub use spec::{ClusterError, ClusterSpec, NodeSpec};
pub use sql::{intercept, is_set_global};
pub use tablets::{Round, Tablets, TABLETS_PER_TABLE};
