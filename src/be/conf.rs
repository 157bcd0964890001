//! Reading a node's be.conf the way the BE does: ports, `storage_root_path`, the version era.

use std::collections::BTreeMap;
use std::path::Path;

use crate::conf::ConfFile;
use crate::runner::Ending;

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
    let conf = ConfFile::parse(&text);
    let file = path.display().to_string();
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
    let expanded = crate::props::expand_vars(&raw, &|n: &str| {
        if n == "STARROCKS_HOME" {
            Some(home.clone())
        } else {
            std::env::var(n).ok()
        }
    })
    .map_err(|v| {
        bad(format!(
            "{file}: storage_root_path uses ${{{}}}, which is not set",
            v.0
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
}
