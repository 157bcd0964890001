//! The simulated backend: `lib/starrocks_be` of a simulated release.
//!
//! It starts the way the real BE does for its version: the environment checks that only show in
//! be.out, glog files with the version's prefix, the `storage_root_path` rules, the tablet meta load
//! (which can be slow, or fail), the four ports with each era's failure wording, `BE start step N`
//! lines from 3.0 and `BE started successfully` from 3.1 (PR #24079), glog's INFO buffering and
//! `sys_log_level`, `/api/health` with its exact body, and a heartbeat
//! service that accepts the simulated FE's heartbeats and rejects a foreign cluster id.
//!
//! One file per part: the process and the order of its phases (`launch`), the checks before
//! `main` (`checks`), be.conf (`conf`), the start and exit lines (`steps`), the storage paths and
//! tablet load (`storage`), the servers (`servers`) and the heartbeat service (`heartbeat`).

mod checks;
mod conf;
mod heartbeat;
mod launch;
mod servers;
mod steps;
mod storage;

pub use launch::be_main;
