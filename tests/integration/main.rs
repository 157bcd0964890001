//! Integration tests: both binaries, driven through the real scripts of simulated releases.

mod be;
mod check;
mod cli;
mod copy;
mod error_types;
mod fe;
mod fe_conf;
mod fe_sql;
mod fence;
mod fuzz;
mod module_cycles;
mod plan;
mod report_paths;
mod report_schema;
mod run_module;
mod safety;
mod scan;
mod scan_hostile;
mod sim_be;
mod sim_cluster;
mod sim_fe;
mod sim_meta;
mod source_layout;
mod util;
