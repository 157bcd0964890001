//! The harness every integration test shares, one module per job: finding the binaries, waiting
//! with a deadline, free ports, the skip rule, processes, file digests, a hostile FE, and the
//! simulated nodes, clusters and rehearsal setups the tests run against. Everything a test uses is re-exported here,
//! so a test file needs only `use crate::util::*`.

mod be_node;
mod bins;
mod cluster;
mod fe_node;
mod files;
mod hostile_fe;
mod ports;
mod procs;
mod rehearsal;
mod skip;
mod terminal;
mod wait;

pub use be_node::BeNode;
pub use bins::{run_sim, sim_bin, tool_bin};
pub use cluster::{stdout, SimCluster};
pub use fe_node::{FeBuild, FeNode};
pub use files::{content_digest, read, tree_digest};
pub use hostile_fe::{HostileFe, SqlMode};
pub use ports::free_port;
pub use procs::{
    alive, group_members, kill, kill_all_mentioning, procs_mentioning, Reaper, Signal,
};
pub use rehearsal::{Outcome, Rehearsal};
pub use skip::{is_root, skip};
pub use terminal::stderr_on_a_terminal;
pub use wait::{wait_exit, wait_for};
