//! The BE's storage: `storage_root_path` parsed by its rules, each path's read-write test, the
//! cluster id a path remembers, and the tablet meta load per path.
//!
//! A broken or missing disk, a bad path entry and a corrupt tablet header each end a BE start
//! differently; an in-place canary meets them here, before any port is bound.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use super::conf::Conf;
use crate::logs::Glog;
use crate::{Fault, Release};

/// The storage paths that passed the read-write test, or None when the BE must exit (255).
pub(super) fn usable_paths(conf: &Conf, home: &str, log: &Glog) -> Option<Vec<PathBuf>> {
    let root_value = conf.get("storage_root_path", &format!("{home}/storage"));
    let ignore_broken = conf.get("ignore_broken_disk", "false") == "true";
    let paths = match parse_storage_paths(&root_value, log, ignore_broken) {
        Ok(p) => p,
        Err(()) => {
            log.log(
                'F',
                "starrocks_main.cpp:211",
                &format!("parse config storage path failed, path={root_value}"),
            );
            return None;
        }
    };
    let mut usable = Vec::new();
    for p in paths {
        let probe = p.join(".read_write_test_file");
        let ok = fs::write(&probe, b"test").is_ok() && fs::read(&probe).is_ok();
        let _ = fs::remove_file(&probe);
        if ok {
            usable.push(p);
        } else if ignore_broken {
            log.log(
                'W',
                "starrocks_main.cpp:222",
                &format!("read write test file failed, path={}", p.display()),
            );
        } else {
            log.log(
                'F',
                "starrocks_main.cpp:224",
                &format!("read write test file failed, path={}", p.display()),
            );
            return None;
        }
    }
    if usable.is_empty() {
        log.log('F', "starrocks_main.cpp:230", "All disks are broken, exit.");
        return None;
    }
    Some(usable)
}

/// Loads each path's tablet meta, as slowly as a fault asks; a failed load aborts the process.
pub(super) fn load_tablets(usable: &[PathBuf], log: &Glog, release: &Release) {
    for p in usable {
        let ps = p.display();
        log.log(
            'I',
            "data_dir.cpp:160",
            &format!("path: {ps}, hash: {}", fnv(&ps.to_string())),
        );
        log.log(
            'I',
            "data_dir.cpp:372",
            &format!("begin loading tablet from meta {ps}"),
        );
        if release.fault_is(Fault::SlowTabletLoad) || release.fault_is(Fault::SlowStart) {
            std::thread::sleep(Duration::from_secs(release.fault_secs));
        }
        if release.fault_is(Fault::TabletLoadFailure) {
            log.log('W', "data_dir.cpp:405", "load tablet from header failed. status:Corruption: tablet meta is broken, tablet=10005.368169874");
            log.log('W', "data_dir.cpp:420", &format!("load tablets from header failed, loaded tablet: 12, error tablet: 1, path: {ps}"));
            log.log(
                'F',
                "data_dir.cpp:425",
                &format!("load tablets encounter failure. stop BE process. path: {ps}"),
            );
            eprintln!("*** Check failure stack trace: ***");
            eprintln!("    @          0x2a1c3f5  google::LogMessage::Fail()");
            eprintln!("    @          0x4b3d2e1  starrocks::DataDir::load()");
            eprintln!(
                "    @          0x4b1f0c7  starrocks::TabletManager::load_tablet_from_meta()"
            );
            std::process::abort();
        }
        let tablets = fs::read_dir(p.join("data")).map(|d| d.count()).unwrap_or(0);
        log.log('I', "data_dir.cpp:440", &format!("load tablet from meta finished, loaded tablet: {tablets}, error tablet: 0, path: {ps} duration: 1ms"));
        log.log(
            'I',
            "data_dir.cpp:455",
            &format!("begin loading rowset from meta {ps}"),
        );
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// `storage_root_path`: `path[,medium:SSD|HDD][,capacity:N]` entries separated by `;`.
fn parse_storage_paths(value: &str, log: &Glog, ignore_broken: bool) -> Result<Vec<PathBuf>, ()> {
    let mut out = Vec::new();
    let mut failed = false;
    for item in value.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let mut parts = item.split(',');
        let path = parts.next().unwrap_or("").trim();
        let mut err: Option<String> = None;
        for prop in parts.map(str::trim).filter(|p| !p.is_empty()) {
            if let Some((k, val)) = prop.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "medium" => {
                        let m = val.trim().to_ascii_uppercase();
                        if m != "SSD" && m != "HDD" {
                            log.log(
                                'W',
                                "options.cpp:60",
                                &format!("invalid storage medium. medium={}", val.trim()),
                            );
                            err = Some("Invalid argument: invalid storage medium".into());
                        }
                    }
                    "capacity" => {}
                    _ => {
                        log.log(
                            'W',
                            "options.cpp:70",
                            &format!("invalid property of store path, {prop}"),
                        );
                        err = Some("Invalid argument: invalid property of store path".into());
                    }
                }
            } else if prop.parse::<i64>().is_err() {
                log.log(
                    'W',
                    "options.cpp:70",
                    &format!("invalid property of store path, {prop}"),
                );
                err = Some("Invalid argument: invalid property of store path".into());
            }
        }
        if err.is_none() && !path.starts_with('/') {
            log.log(
                'W',
                "options.cpp:45",
                &format!("invalid store path. path={path}"),
            );
            err = Some("Invalid argument: invalid store path".into());
        }
        if err.is_none() {
            match fs::canonicalize(path) {
                Ok(p) => out.push(p),
                Err(_) => {
                    log.log(
                        'W',
                        "options.cpp:50",
                        &format!("path can not be canonicalized. may be not exist. path={path}"),
                    );
                    err = Some("IO error: canonicalize failed".into());
                }
            }
        }
        if let Some(res) = err {
            log.log(
                'W',
                "options.cpp:90",
                &format!("failed to parse store path {item}, res={res}"),
            );
            failed = true;
        }
    }
    if (failed && !ignore_broken) || (out.is_empty() && !failed) {
        log.log(
            'W',
            "options.cpp:100",
            &format!("fail to parse storage_root_path config. value=[{value}]"),
        );
        return Err(());
    }
    Ok(out)
}

pub(super) fn read_cluster_id(roots: &[PathBuf], conf: &HashMap<String, String>) -> Option<i64> {
    roots
        .iter()
        .find_map(|r| fs::read_to_string(r.join("cluster_id")).ok())
        .and_then(|s| s.trim().parse().ok())
        .or_else(|| {
            conf.get("cluster_id")
                .and_then(|c| c.trim().parse().ok())
                .filter(|c| *c != -1)
        })
}
