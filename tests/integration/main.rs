//! Integration tests: both binaries, driven through the real scripts of simulated releases.

mod be;
mod copy;
mod fe;
mod fe_conf;
mod fe_sql;
mod fence;
mod fuzz;
mod safety;
mod scan;
mod sim_be;
mod sim_fe;
mod sim_meta;
mod util;
