//! VERSION and ROLE (`NodeMgr.getClusterIdAndRoleOnStartup`): the cluster id, token and run mode a
//! node carries, created on its very first start and checked against fe.conf on every other.
//!
//! This is where a rehearsal's cluster id comes from and where run-mode upgrades are refused, so
//! the files' exact rewriting rules live in one place.

use std::fs;
use std::path::Path;

use super::boot::{stack, Fe, Stop};
use crate::logs::FeLog;
use crate::meta::{random_token, random_u64, role_file, version_file};
use crate::release::Behaviour as _;
use crate::stamps::Stamps as _;
use starrocks_common::props;
use starrocks_common::timefmt::{unix_millis, Civil};

/// What VERSION and ROLE say of this node.
pub(super) struct Identity {
    pub(super) cluster_id: i64,
    pub(super) token: String,
    pub(super) run_mode: String,
    pub(super) role: String,
    /// `host_editlogport_timestamp`, as ROLE records it.
    pub(super) node_name: String,
    /// Neither file existed: the node starts a new cluster.
    pub(super) first_time: bool,
}

pub(super) fn identity(
    fe: &Fe,
    log: &FeLog,
    image_dir: &Path,
    self_host: &str,
    edit_log_port: u16,
) -> Result<Identity, Stop> {
    let v = fe.v;
    let version_path = image_dir.join("VERSION");
    let role_path = image_dir.join("ROLE");
    let run_mode_conf = fe.conf_str("run_mode", "shared_nothing");
    if v.has_run_mode() && run_mode_conf != "shared_nothing" && run_mode_conf != "shared_data" {
        return Err(fe.fatal(
            "RunMode.detectRunMode():56",
            &format!("Invalid run_mode \"{run_mode_conf}\". The candidates are \"shared_nothing\" and \"shared_data\""),
        ));
    }
    if v.has_run_mode() {
        log.info(
            "RunMode.detectRunMode():60",
            &format!("Current run_mode is {run_mode_conf}"),
        );
    }
    let date = Civil::now().java_date();
    let (cluster_id, token, run_mode, role, node_name, first_time) =
        match (version_path.exists(), role_path.exists()) {
            (false, false) => {
                let cid = ((random_u64() % 0x7FFF_FFFE) + 1) as i64;
                let token = random_token();
                let name = format!("{self_host}_{edit_log_port}_{}", unix_millis());
                let _ = fs::create_dir_all(image_dir);
                let _ = fs::write(
                    &version_path,
                    version_file(&date, cid, &token, v.has_run_mode().then_some(run_mode_conf.as_str())),
                );
                let _ = fs::write(&role_path, role_file(&date, "FOLLOWER", &name));
                log.info(
                    "NodeMgr.getClusterIdAndRoleOnStartup():520",
                    &format!("very first time to start this node. role: FOLLOWER, node name: {name}"),
                );
                (cid, token, run_mode_conf.clone(), "FOLLOWER".to_string(), name, true)
            }
            (true, true) => {
                let vp = props::parse_map(&fs::read_to_string(&version_path).unwrap_or_default());
                let rp = props::parse_map(&fs::read_to_string(&role_path).unwrap_or_default());
                let raw = vp.get("clusterId").cloned();
                let cid: i64 = match raw.as_deref().map(str::parse::<i32>) {
                    Some(Ok(c)) => c as i64,
                    Some(Err(_)) => {
                        return Err(Stop::StartFailed(stack(
                            &format!("java.lang.NumberFormatException: For input string: \"{}\"", raw.unwrap_or_default()),
                            &["java.lang.Integer.parseInt(Integer.java:652)", "com.starrocks.persist.Storage.reload(Storage.java:120)"],
                        )))
                    }
                    None => {
                        return Err(Stop::StartFailed(stack(
                            "java.lang.NumberFormatException: Cannot parse null string: null",
                            &["java.lang.Integer.parseInt(Integer.java:630)", "com.starrocks.persist.Storage.reload(Storage.java:120)"],
                        )))
                    }
                };
                let mut token = vp.get("token").cloned().unwrap_or_default();
                let mut file_mode = vp.get("runMode").cloned();
                let mut rewrite = false;
                if token.is_empty() {
                    token = random_token();
                    log.info("NodeMgr.getClusterIdAndRoleOnStartup():560", &format!("new token={token}"));
                    rewrite = true;
                }
                if v.has_run_mode() {
                    match file_mode.as_deref() {
                        None => {
                            if run_mode_conf != "shared_nothing" {
                                return Err(fe.fatal(
                                    "NodeMgr.getClusterIdAndRoleOnStartup():575",
                                    &format!("Upgrading from a cluster with version less than 3.0 to a cluster with run mode {run_mode_conf} of version 3.0 or above is disallowed. will exit"),
                                ));
                            }
                            file_mode = Some("shared_nothing".into());
                            rewrite = true;
                        }
                        Some(m) if m != run_mode_conf => {
                            return Err(fe.fatal(
                                "NodeMgr.getClusterIdAndRoleOnStartup():581",
                                &format!("Unmatched run mode between config file and version file: {run_mode_conf} vs {m}. will exit! "),
                            ));
                        }
                        _ => {}
                    }
                }
                if rewrite {
                    let _ = fs::write(
                        &version_path,
                        version_file(&date, cid, &token, file_mode.as_deref()),
                    );
                }
                let role = rp.get("role").cloned().unwrap_or_else(|| "FOLLOWER".into());
                let name = rp
                    .get("name")
                    .cloned()
                    .unwrap_or_else(|| format!("{self_host}_{edit_log_port}"));
                (cid, token, file_mode.unwrap_or_default(), role, name, false)
            }
            _ => {
                return Err(fe.fatal(
                    "NodeMgr.getClusterIdAndRoleOnStartup():508",
                    "role file and version file must both exist or both not exist. please specific one helper node to recover. will exit.",
                ))
            }
        };
    if v.checks_conf_cluster_id() {
        let conf_cid = fe.conf_int("cluster_id", -1)?;
        if conf_cid != -1 && conf_cid != cluster_id {
            return Err(fe.fatal(
                "NodeMgr.getClusterIdAndRoleOnStartup():545",
                "cluster id is not equal with config item cluster_id. will exit.",
            ));
        }
    }
    log.info(
        "NodeMgr.getClusterIdAndRoleOnStartup():601",
        &v.role_line(cluster_id, &role, &node_name, &run_mode),
    );
    Ok(Identity {
        cluster_id,
        token,
        run_mode,
        role,
        node_name,
        first_time,
    })
}
