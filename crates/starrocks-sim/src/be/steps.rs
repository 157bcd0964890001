//! The BE's own start and exit lines: glog's version banner, `BE start step N` (3.0+), `BE started
//! successfully` (3.1+) and the exit steps on a clean stop.
//!
//! The tool decides that a BE is up, or stopped cleanly, partly from these lines, and which ones a
//! release prints changed between 2.5, 3.0 and 3.1; the numbering is kept in one place for that.

use std::sync::Arc;

use crate::logs::Glog;
use crate::release::Behaviour as _;
use starrocks_common::version::Version;

pub(super) fn banner(v: Version) -> String {
    if v.glog_year() {
        format!(
            " version {}\nBuildType: RELEASE\nBuild distributor id: ubuntu\nBuild arch: x86_64\nBuilt on 2025-01-01 00:00:00 by sim@starrocks-sim",
            v.full()
        )
    } else {
        format!(
            " version {v} RELEASE (build {})\nBuilt on 2025-01-01 00:00:00 by sim@starrocks-sim",
            v.commit()
        )
    }
}

/// The daemon's first lines: the banner, the CPU and the network options (`BackendOptions`:
/// `priority_networks` as configured, and the address it selected).
pub(super) fn log_daemon_start(log: &Glog, v: Version, networks: &str, host: &str) {
    log.log('I', "daemon.cpp:188", &banner(v));
    log.log(
        'I',
        "daemon.cpp:285",
        "Cpu Info:\n  Model: starrocks-sim virtual cpu\n  Cores: 2",
    );
    log.log(
        'I',
        "backend_options.cpp:80",
        &format!("priority cidrs in conf: {networks}"),
    );
    log.log('I', "backend_options.cpp:95", &format!("localhost {host}"));
}

/// `BE start step N: … successfully`, numbered in the order the steps complete (3.0+ only).
pub(super) struct Steps {
    log: Arc<Glog>,
    on: bool,
    n: u32,
}

impl Steps {
    pub(super) fn new(log: Arc<Glog>, v: Version) -> Steps {
        Steps {
            log,
            on: v.be_start_steps(),
            n: 0,
        }
    }

    pub(super) fn done(&mut self, what: &str) {
        if self.on {
            self.n += 1;
            self.log.log(
                'I',
                "starrocks_be.cpp:140",
                &format!("BE start step {}: {what} successfully", self.n),
            );
        }
    }
}

/// The exit steps a 3.0+ BE logs when it stops on a signal.
pub(super) fn log_exit_steps(log: &Glog) {
    for (i, what) in [
        "wait exec engine tasks finish",
        "heartbeat server exit",
        "http server exit",
        "brpc server exit",
        "thrift server exit",
    ]
    .iter()
    .enumerate()
    {
        log.log(
            'I',
            "starrocks_be.cpp:340",
            &format!("BE exit step {}: {what} successfully", i + 1),
        );
    }
    log.log('I', "starrocks_be.cpp:372", "BE exited successfully");
}

/// `BE started successfully` came with StarRocks PR #24079 (merged 2023-05-25, after 3.0.0 was
/// cut); whether branch-3.0 ever got it is not known, so no 3.0.x build prints it here.
pub(super) fn logs_started_successfully(v: Version) -> bool {
    v >= Version::new(3, 1, 0)
}
