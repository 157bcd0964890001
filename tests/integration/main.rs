//! Integration tests: both binaries, driven through the real scripts of simulated releases.

mod be;
mod check;
mod cluster_util;
mod fe;
mod fence;
mod plan;
mod scan;
mod sim_be;
mod sim_cluster;
mod sim_fe;
mod sim_meta;
mod util;
