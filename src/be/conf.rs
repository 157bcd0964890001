//! Reading a node's be.conf the way the BE does: ports, `storage_root_path`, the version era.
//!
//! The BE's rules are not Java's (`starrocks_common::beconf`, after `be/src/common/configbase.cpp`
//! `Properties::load`): LF-only lines trimmed of `isspace`, `#` comments, `key = value` split at
//! the first `=` only (a Java-style `be_port: 9061` is a key the BE ignores, so the port stays
//! 9060), no escapes or continuations, `doris_` prefixes dropped, the last line of a key winning,
//! and `${VAR}` from the environment with an unset or unclosed reference an error.

use std::collections::BTreeMap;
use std::path::Path;

use crate::conf::ConfFile;
use crate::runner::Ending;
use starrocks_common::beconf;

/// The BE's ports, with StarRocks' defaults.
pub const PORT_KEYS: &[(&str, u16)] = &[
    ("be_port", 9060),
    ("be_http_port", 8040),
    ("heartbeat_service_port", 9050),
    ("brpc_port", 8060),
    ("starlet_port", 9070),
];

/// The node's conf, read.
pub struct NodeConf {
    pub conf: ConfFile,
    pub path: String,
    /// Production ports by key (`be_http_port` holds `webserver_port` on 2.x nodes).
    pub ports: BTreeMap<String, u16>,
    pub storage_roots: Vec<String>,
}

fn bad(msg: String) -> Ending {
    Ending::bad_input(msg)
}

/// An entry of `storage_root_path` the BE would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageRootError {
    #[error("`{item}`: the path must be absolute")]
    Relative { item: String },
    #[error("`{item}`: invalid storage medium `{medium}` (SSD or HDD)")]
    Medium { item: String, medium: String },
    #[error("`{item}`: invalid property `{prop}`")]
    Property { item: String, prop: String },
    #[error("no path given")]
    Empty,
}

/// Parses `storage_root_path` as the BE does: `path[,medium:SSD|HDD][,capacity:N]` separated by `;`.
pub fn parse_storage_roots(value: &str) -> Result<Vec<String>, StorageRootError> {
    let mut out = Vec::new();
    for item in value.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let mut parts = item.split(',');
        let path = parts.next().unwrap_or("").trim();
        if !path.starts_with('/') {
            return Err(StorageRootError::Relative { item: item.into() });
        }
        for prop in parts.map(str::trim).filter(|p| !p.is_empty()) {
            match prop.split_once(':') {
                Some((k, v)) if k.trim().eq_ignore_ascii_case("medium") => {
                    let m = v.trim().to_ascii_uppercase();
                    if m != "SSD" && m != "HDD" {
                        return Err(StorageRootError::Medium {
                            item: item.into(),
                            medium: v.trim().into(),
                        });
                    }
                }
                Some((k, _)) if k.trim().eq_ignore_ascii_case("capacity") => {}
                None if prop.parse::<i64>().is_ok() => {}
                _ => {
                    return Err(StorageRootError::Property {
                        item: item.into(),
                        prop: prop.into(),
                    })
                }
            }
        }
        out.push(path.to_string());
    }
    if out.is_empty() {
        return Err(StorageRootError::Empty);
    }
    Ok(out)
}

pub fn read(be_home: &Path) -> Result<NodeConf, Ending> {
    let path = be_home.join("conf/be.conf");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        bad(format!(
            "failed to read {}: {e}; pass the BE's home folder (holding bin/, lib/ and conf/be.conf) as --be-home",
            path.display()
        ))
    })?;
    if text.contains('\0') {
        return Err(bad(format!("{} is not a text file", path.display())));
    }
    let conf = ConfFile::parse_be(&text);
    let file = path.display().to_string();
    // start_be.sh exports be.conf's uppercase keys with `while read line`, which joins a line
    // ending in a backslash and drops other backslashes: a key only the shell sees there would
    // keep production's value in the sandbox.
    if let Some(m) = conf.shell_mismatches().first() {
        return Err(bad(format!(
            "{file}: {m}: the start scripts export this key from a line the BE reads otherwise (a backslash before it or in its name); write it as `KEY = value` on a line of its own"
        )));
    }
    let mut ports = BTreeMap::new();
    for (key, default) in PORT_KEYS {
        // 2.x names the HTTP port webserver_port; 3.x accepts both, the later line winning.
        let keys: &[&str] = if *key == "be_http_port" {
            &["be_http_port", "webserver_port"]
        } else {
            &[key]
        };
        let mut value = None;
        let mut line = 0;
        for k in keys {
            if let (Some(v), Some(l)) = (conf.get(k), conf.line_of(k)) {
                if l >= line {
                    value = Some(v);
                    line = l;
                }
            }
        }
        let port = match value {
            None => *default,
            Some(v) => match v.trim().parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => {
                    return Err(bad(format!(
                        "{file}: {key} = `{}` (line {line}) is not a port number; fix be.conf",
                        v.trim()
                    )))
                }
            },
        };
        ports.insert(key.to_string(), port);
    }
    if let Some(v) = conf.get("arrow_flight_port") {
        if let Ok(p) = v.trim().parse::<i64>() {
            if p > 0 && p <= 65535 {
                ports.insert("arrow_flight_port".into(), p as u16);
            }
        }
    }
    let home = be_home.display().to_string();
    let raw = conf
        .get("storage_root_path")
        .unwrap_or_else(|| "${STARROCKS_HOME}/storage".into());
    // `Properties::get` expands with `replaceenv` (getenv; start_be.sh exports STARROCKS_HOME).
    let expanded = beconf::expand(&raw, &|n: &str| {
        if n == "STARROCKS_HOME" {
            Some(home.clone())
        } else {
            std::env::var(n).ok()
        }
    })
    .map_err(|e| {
        bad(format!(
            "{file}: storage_root_path: {e}; the BE would not start"
        ))
    })?;
    let storage_roots = parse_storage_roots(&expanded).map_err(|e| {
        bad(format!(
            "{file}: storage_root_path (line {}) cannot be parsed: {e}",
            conf.line_of("storage_root_path").unwrap_or(0)
        ))
    })?;
    Ok(NodeConf {
        conf,
        path: file,
        ports,
        storage_roots,
    })
}

/// Checks that `dir` is an unpacked BE release.
pub fn check_package(dir: &Path) -> Result<(), Ending> {
    for need in ["bin/start_be.sh", "lib/starrocks_be"] {
        if !dir.join(need).is_file() {
            return Err(bad(format!(
                "{} has no {need}; pass the unpacked new release's be/ folder as --new-be",
                dir.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_roots_follow_the_be_rules() {
        assert_eq!(
            parse_storage_roots("/data1,medium:HDD;/data2,medium:ssd;/data3,10").unwrap(),
            ["/data1", "/data2", "/data3"]
        );
        assert!(parse_storage_roots("data1")
            .unwrap_err()
            .to_string()
            .contains("absolute"));
        assert!(parse_storage_roots("/d,medium:floppy")
            .unwrap_err()
            .to_string()
            .contains("floppy"));
        assert!(parse_storage_roots("/d,colour:red")
            .unwrap_err()
            .to_string()
            .contains("invalid property"));
        assert_eq!(parse_storage_roots(" ; "), Err(StorageRootError::Empty));
    }

    #[test]
    fn be_conf_is_read_and_edited_by_the_be_rules() {
        let text = "be_port: 9061\nbe_port = 9062 \r\ndoris_brpc_port=8061\nmem = 1 \\\n# be_port = 1\nsp = \"/x\"";
        let mut c = ConfFile::parse_be(text);
        assert_eq!(c.get("be_port").as_deref(), Some("9062"));
        assert_eq!(c.get("brpc_port").as_deref(), Some("8061"));
        assert_eq!(c.get("mem").as_deref(), Some("1 \\"));
        assert_eq!(c.line_of("be_port"), Some(2));
        let ch = c.set("be_port", "19062");
        assert_eq!(ch.after, "be_port = 19062");
        c.set("brpc_port", "18061");
        c.set("sp", "/ws");
        let out = c.render();
        assert_eq!(
            out,
            "be_port: 9061\nbe_port = 19062\ndoris_brpc_port=18061\nmem = 1 \\\n# be_port = 1\nsp = \"/ws\""
        );
        let mut be = ConfFile::parse_be("x=1\r\nstorage_root_path =");
        be.set("storage_root_path", "/ws/s");
        assert_eq!(be.render(), "x=1\r\nstorage_root_path = /ws/s");
        assert!(be.java_error().is_none() && ConfFile::parse("k=\\u00").java_error().is_some());
    }
}

#[cfg(test)]
mod read_tests {
    use super::*;

    fn node(conf: &str) -> Result<NodeConf, Ending> {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("conf")).unwrap();
        std::fs::write(d.path().join("conf/be.conf"), conf).unwrap();
        read(d.path())
    }

    /// Java's reading took `be_port: 9061` and a CR-split line; the BE takes neither.
    #[test]
    fn ports_and_storage_as_the_be_reads_them() {
        let n = node(
            "be_port: 9061\nheartbeat_service_port = 9051\r\ndoris_brpc_port = 8061\n\
             storage_root_path = /data/a;/data/b\rbe_http_port = 8041\n",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            n.ports["be_port"], 9060,
            "`k: v` is a key the BE does not know"
        );
        assert_eq!(n.ports["heartbeat_service_port"], 9051);
        assert_eq!(n.ports["brpc_port"], 8061);
        assert_eq!(n.ports["be_http_port"], 8040, "a CR does not end the line");
        assert!(node("storage_root_path = ${STARROCKS_HOME/s\n").is_err());
        assert!(node("PID_DIR\\ = /prod/run\n").is_err(), "the shell's key");
    }
}
