//! The harness every integration test shares, one module per job: finding the binaries, waiting
//! with a deadline, leased ports, who holds a port, the skip rule, processes, file digests, two
//! hostile FEs (one serving any rows, one misbehaving in the SQL exchange), and the simulated nodes,
//! clusters and rehearsal setups the tests run against, and SSH hosts for them. Everything a test uses is re-exported here,
//! so a test file needs only `use crate::util::*`.

mod be_node;
mod bins;
mod cluster;
mod fe_node;
mod files;
mod hostile_fe;
mod hostile_sql;
mod ports;
mod procs;
mod rehearsal;
mod skip;
mod sockets;
mod ssh;
mod terminal;
mod wait;

pub use be_node::BeNode;
pub use bins::{run_sim, sim_bin, tool_bin};
pub use cluster::{stdout, SimCluster};
pub use fe_node::{FeBuild, FeNode};
pub use files::{content_digest, read, tree_digest};
pub use hostile_fe::{BeRow, Bootstrap, HostileFe, HostileSpec};
pub use hostile_sql::{HostileSqlFe, SqlMode};
pub use ports::{free_ports, Lease};
pub use procs::{
    alive, group_members, kill, kill_all_mentioning, procs_mentioning, Reaper, Signal,
};
pub use rehearsal::{Outcome, Rehearsal};
pub use skip::{is_root, skip};
pub use ssh::{shell_quote, SshHosts};
pub use terminal::stderr_on_a_terminal;
pub use wait::{wait_exit, wait_for};
