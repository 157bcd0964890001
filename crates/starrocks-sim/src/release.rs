//! The behaviours of StarRocks releases that only the simulator plays.
//!
//! The version facts both sides need (which meta versions load, the JDK a release wants, whether
//! `FE started successfully` is logged) live with `Version` in `starrocks-common`. What only a
//! simulated server needs to act like a given release (its log formats, its HTTP answer fields,
//! what its scripts accept, its journal operation codes) lives here, as one trait on `Version`, so
//! each boundary is still found, with its source, in one place.

use sha2::{Digest, Sha256};
use starrocks_common::version::{Version, KEY_NEW_RECOVERY, KEY_OLD_RECOVERY};

/// What a simulated release does differently from the others.
pub trait Behaviour {
    /// A stable short commit hash for this release, so simulated builds print `3.2.1-79ee91d`-style
    /// versions that are the same on every run.
    fn commit(&self) -> String;

    /// The version string StarRocks reports (`feVersion`, `SHOW FRONTENDS`, be.INFO banner).
    fn full(&self) -> String;

    // ---- FE ----

    /// fe.log uses `yyyy-MM-dd HH:mm:ss.SSSXXX` from 3.3, `yyyy-MM-dd HH:mm:ss,SSS` before.
    fn fe_log_iso_offset(&self) -> bool;

    /// The first fe.log line names the version from 3.1 on.
    fn starting_line(&self) -> String;

    /// The recovery (election-group reset) key this release honours.
    fn recovery_key(&self) -> &'static str;

    /// Up to 3.3 the flag is a String compared with `.equals("true")`; 3.4 made the new key a boolean.
    fn recovery_flag_is_set(&self, value: &str) -> bool;

    /// fe.conf `cluster_id` is compared with VERSION's `clusterId` only up to 3.2.
    fn checks_conf_cluster_id(&self) -> bool;

    /// VERSION gains `runMode` in 3.0.
    fn has_run_mode(&self) -> bool;

    /// 3.4 added `image/v2/` with `checksum.<id>`.
    fn has_image_v2(&self) -> bool;

    /// From 3.1 a startup exception ends the JVM; on 2.5/3.0 it stays alive.
    fn start_failure_exits(&self) -> bool;

    /// From 3.4 start_fe.sh creates a missing meta dir, so the FE boots an empty cluster.
    fn creates_missing_meta_dir(&self) -> bool;

    /// From 3.2 the FE refuses to start with less than 5 GB free on the meta disk.
    fn checks_meta_free_space(&self) -> bool;

    /// From 3.4 the new leader drops every other frontend when the reset flag is on.
    fn resets_frontends(&self) -> bool;

    /// The handshake version string of the MySQL protocol server.
    fn mysql_server_version(&self) -> &'static str;

    /// From 3.2 `RestBaseResult` carries `code` and `message` too.
    fn rest_has_code(&self) -> bool;

    /// `/api/bootstrap` checks `cluster_id` as well as `token` up to 3.2.
    fn bootstrap_checks_cluster_id(&self) -> bool;

    /// 3.4 added `heapUsedPercent`, 4.0 `cpuCores`.
    fn bootstrap_has_heap(&self) -> bool;

    fn bootstrap_has_cpu_cores(&self) -> bool;

    /// start_fe.sh decides "already running" with `ps … cmd` from 3.4, `kill -0` before.
    fn start_script_checks_cmd(&self) -> bool;

    /// stop_fe.sh gained `--graceful` and `--timeout` in 3.5.
    fn stop_fe_has_timeout(&self) -> bool;

    /// The NodeMgr line that reports the node's identity, by era.
    fn role_line(&self, cluster_id: i64, role: &str, name: &str, run_mode: &str) -> String;

    /// The line that ends the transfer to leader.
    fn leader_transfer_line(&self) -> &'static str;

    /// The highest journal operation code this release knows. Newer releases add operation types;
    /// an older FE replaying them fails with `UNKNOWN Operation Type <n>`.
    fn max_op_code(&self) -> u32;

    // ---- BE ----

    /// glog prefixes carry the year from 3.3 (seen on 3.3.5).
    fn glog_year(&self) -> bool;

    /// The BE HTTP port key: `webserver_port` before 3.0, `be_http_port` after.
    fn be_http_key(&self) -> &'static str;

    /// `BE start step N` lines and `BE started successfully` exist from 3.0.
    fn be_start_steps(&self) -> bool;

    fn stop_be_has_timeout(&self) -> bool;

    /// Arrow Flight came in 3.4 (FE and BE).
    fn has_arrow_flight(&self) -> bool;

    /// `https_port` came in 4.0.
    fn has_https_port(&self) -> bool;
}

impl Behaviour for Version {
    fn commit(&self) -> String {
        let digest = Sha256::digest(format!("starrocks-{self}").as_bytes());
        format!("{digest:x}")[..7].to_string()
    }

    fn full(&self) -> String {
        format!("{}-{}", self, self.commit())
    }

    // ---- FE ----
    fn fe_log_iso_offset(&self) -> bool {
        self.at_least(3, 3)
    }

    fn starting_line(&self) -> String {
        if self.at_least(3, 1) {
            format!("StarRocks FE starting, version: {}", self.full())
        } else {
            "StarRocks FE starting...".to_string()
        }
    }

    fn recovery_key(&self) -> &'static str {
        let new = match (self.major, self.minor) {
            (m, _) if m < 3 => false,
            (3, 0) => false,
            (3, 1) => self.patch >= 10,
            (3, 2) => self.patch >= 5,
            _ => true,
        };
        if new {
            KEY_NEW_RECOVERY
        } else {
            KEY_OLD_RECOVERY
        }
    }

    fn recovery_flag_is_set(&self, value: &str) -> bool {
        if self.at_least(3, 4) {
            value.trim().eq_ignore_ascii_case("true")
        } else {
            value.trim() == "true"
        }
    }

    fn checks_conf_cluster_id(&self) -> bool {
        !self.at_least(3, 3)
    }

    fn has_run_mode(&self) -> bool {
        self.at_least(3, 0)
    }

    fn has_image_v2(&self) -> bool {
        self.at_least(3, 4)
    }

    fn start_failure_exits(&self) -> bool {
        self.at_least(3, 1)
    }

    fn creates_missing_meta_dir(&self) -> bool {
        self.at_least(3, 4)
    }

    fn checks_meta_free_space(&self) -> bool {
        self.at_least(3, 2)
    }

    fn resets_frontends(&self) -> bool {
        self.at_least(3, 4)
    }

    fn mysql_server_version(&self) -> &'static str {
        if self.at_least(3, 4) {
            "8.0.33"
        } else {
            "5.1.0"
        }
    }

    fn rest_has_code(&self) -> bool {
        self.at_least(3, 2)
    }

    fn bootstrap_checks_cluster_id(&self) -> bool {
        !self.at_least(3, 3)
    }

    fn bootstrap_has_heap(&self) -> bool {
        self.at_least(3, 4)
    }

    fn bootstrap_has_cpu_cores(&self) -> bool {
        self.at_least(4, 0)
    }

    fn start_script_checks_cmd(&self) -> bool {
        self.at_least(3, 4)
    }

    fn stop_fe_has_timeout(&self) -> bool {
        self.at_least(3, 5)
    }

    fn role_line(&self, cluster_id: i64, role: &str, name: &str, run_mode: &str) -> String {
        if self.at_least(3, 3) {
            format!("Got role: {role}, node name: {name} and run_mode: {run_mode}")
        } else if self.at_least(3, 0) {
            format!(
                "Got cluster id: {cluster_id}, role: {role}, node name: {name} and run_mode: {run_mode}"
            )
        } else {
            format!("finished to get cluster id: {cluster_id}, role: {role} and node name: {name}")
        }
    }

    fn leader_transfer_line(&self) -> &'static str {
        if self.at_least(3, 1) {
            "finished to transfer FE type from INIT to LEADER"
        } else {
            "finished to transfer FE type to LEADER"
        }
    }

    fn max_op_code(&self) -> u32 {
        10000 + self.major * 100 + self.minor * 10
    }

    // ---- BE ----
    fn glog_year(&self) -> bool {
        self.at_least(3, 3)
    }

    fn be_http_key(&self) -> &'static str {
        if self.at_least(3, 0) {
            "be_http_port"
        } else {
            "webserver_port"
        }
    }

    fn be_start_steps(&self) -> bool {
        self.at_least(3, 0)
    }

    fn stop_be_has_timeout(&self) -> bool {
        self.at_least(3, 4)
    }

    fn has_arrow_flight(&self) -> bool {
        self.at_least(3, 4)
    }

    fn has_https_port(&self) -> bool {
        self.at_least(4, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn recovery_key_follows_patch_boundaries() {
        assert_eq!(v("2.5.22").recovery_key(), KEY_OLD_RECOVERY);
        assert_eq!(v("3.1.9").recovery_key(), KEY_OLD_RECOVERY);
        assert_eq!(v("3.1.10").recovery_key(), KEY_NEW_RECOVERY);
        assert_eq!(v("3.2.4").recovery_key(), KEY_OLD_RECOVERY);
        assert_eq!(v("3.2.5").recovery_key(), KEY_NEW_RECOVERY);
        assert_eq!(v("3.3.0").recovery_key(), KEY_NEW_RECOVERY);
    }

    #[test]
    fn commit_is_stable_and_short() {
        assert_eq!(v("3.2.1").commit(), v("3.2.1").commit());
        assert_eq!(v("3.2.1").commit().len(), 7);
        assert_ne!(v("3.2.1").commit(), v("3.2.2").commit());
    }
}
