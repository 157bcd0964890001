//! `starrocks-sim make-meta`: a Leader FE's meta directory in the real layout.
//!
//! VERSION and ROLE are byte-for-byte what a JDK 11–17 runtime writes through `Properties.store`
//! (date comment, key order), because the tool must parse and patch real ones. The image and
//! journal files carry the simulator's own header (see `image.rs`) and are padded to the size asked
//! for, so a benchmark can make a 2 GiB meta that hashes like real data.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::image::{self, Backend, Frontend, ImageHeader, JdbHeader};
use super::SimError;
use crate::release::Behaviour as _;
use crate::stamps::Stamps as _;
use starrocks_common::timefmt::{unix_millis, Civil};
use starrocks_common::version::Version;

/// What `make-meta` builds.
#[derive(Debug, Clone)]
pub struct MetaSpec {
    pub version: Version,
    pub out: PathBuf,
    pub cluster_id: Option<i32>,
    pub token: Option<String>,
    pub run_mode: String,
    /// Node role in ROLE: `FOLLOWER` (a leader's ROLE says FOLLOWER) or `OBSERVER`.
    pub role: String,
    /// Frontends as `host:edit_log_port`; the first one is this node.
    pub frontends: Vec<String>,
    /// Backends as `host:heartbeat_port`.
    pub backends: Vec<String>,
    /// Approximate total size of image and journal files.
    pub size: u64,
    /// Meta version in the image header; defaults to what `version` writes.
    pub meta_version: Option<u32>,
    pub root_password: String,
    /// Tables as `db.table:replication_num`.
    pub tables: Vec<String>,
    /// Accounts besides root, as `name:password`, with no privilege granted.
    pub users: Vec<String>,
    /// Highest journal id; the image is a few thousand entries behind it.
    pub journal_id: u64,
}

impl MetaSpec {
    pub fn new(version: Version, out: PathBuf) -> MetaSpec {
        MetaSpec {
            version,
            out,
            cluster_id: None,
            token: None,
            run_mode: "shared_nothing".into(),
            role: "FOLLOWER".into(),
            frontends: Vec::new(),
            backends: Vec::new(),
            size: 0,
            meta_version: None,
            root_password: String::new(),
            tables: Vec::new(),
            users: Vec::new(),
            journal_id: 120_000,
        }
    }

    /// Default recorded hosts, production-like and never loopback, as a meta copied from a real
    /// cluster holds them: frontends on 192.0.2.11.., backends on 192.0.2.101.. (TEST-NET-1, RFC
    /// 5737, so they route nowhere; the simulator refuses to connect to them anyway). A test that
    /// needs a recorded node to answer passes loopback hosts explicitly.
    pub fn with_counts(mut self, fes: usize, bes: usize) -> MetaSpec {
        self.frontends = (0..fes.max(1)).map(default_frontend).collect();
        self.backends = (0..bes)
            .map(|i| format!("192.0.2.{}:9050", 101 + i))
            .collect();
        self
    }
}

fn default_frontend(i: usize) -> String {
    format!("192.0.2.{}:9010", 11 + i)
}

/// What was written, for the caller to print.
#[derive(Debug, Clone)]
pub struct MetaSummary {
    pub cluster_id: i32,
    pub token: String,
    pub image_id: u64,
    pub journal_id: u64,
    pub files: usize,
    pub bytes: u64,
}

fn parse_host_port(s: &str, what: &str) -> Result<(String, u16), SimError> {
    let (h, p) = s
        .rsplit_once(':')
        .ok_or_else(|| SimError::BadArgument(format!("{what} `{s}` is not HOST:PORT")))?;
    let port = p
        .parse()
        .map_err(|_| SimError::BadArgument(format!("{what} `{s}` has a bad port")))?;
    Ok((h.to_string(), port))
}

pub use starrocks_common::rand::random_u64;

/// A UUID-shaped token, as `UUID.randomUUID().toString()` prints one.
pub fn random_token() -> String {
    let a = random_u64();
    let b = random_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a & 0xfff) as u16,
        ((b >> 48) as u16 & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// The VERSION file text in JDK 11–17 key order.
pub fn version_file(date: &str, cluster_id: i64, token: &str, run_mode: Option<&str>) -> String {
    let cid = cluster_id.to_string();
    let mut entries: Vec<(&str, &str)> = vec![("clusterId", &cid)];
    if let Some(rm) = run_mode {
        entries.push(("runMode", rm));
    }
    if !token.is_empty() {
        entries.push(("token", token));
    }
    crate::properties::store(date, &entries)
}

/// The ROLE file text in JDK 11–17 key order.
pub fn role_file(date: &str, role: &str, name: &str) -> String {
    crate::properties::store(date, &[("role", role), ("hostType", "IP"), ("name", name)])
}

pub fn make_meta(spec: &MetaSpec) -> Result<MetaSummary, SimError> {
    let io_err = |p: &Path, e: io::Error| SimError::Io(p.display().to_string(), e);
    if spec.out.join("image").exists() || spec.out.join("bdb").exists() {
        return Err(SimError::BadArgument(format!(
            "{} already holds a meta dir; choose an empty folder",
            spec.out.display()
        )));
    }
    let frontends: Vec<(String, u16)> = if spec.frontends.is_empty() {
        vec![parse_host_port(&default_frontend(0), "frontend")?]
    } else {
        spec.frontends
            .iter()
            .map(|f| parse_host_port(f, "frontend"))
            .collect::<Result<_, _>>()?
    };
    let backends: Vec<(String, u16)> = spec
        .backends
        .iter()
        .map(|b| parse_host_port(b, "backend"))
        .collect::<Result<_, _>>()?;

    let image_dir = spec.out.join("image");
    let bdb_dir = spec.out.join("bdb");
    for d in [&image_dir, &bdb_dir] {
        fs::create_dir_all(d).map_err(|e| io_err(d, e))?;
    }
    let cluster_id = spec
        .cluster_id
        .unwrap_or_else(|| ((random_u64() % 0x7FFF_FFFE) + 1) as i32);
    let token = spec.token.clone().unwrap_or_else(random_token);
    let date = Civil::now().java_date();
    let millis = unix_millis();

    let run_mode = spec
        .version
        .has_run_mode()
        .then_some(spec.run_mode.as_str());
    let version_path = image_dir.join("VERSION");
    fs::write(
        &version_path,
        version_file(&date, cluster_id as i64, &token, run_mode),
    )
    .map_err(|e| io_err(&version_path, e))?;

    let self_name = format!("{}_{}_{}", frontends[0].0, frontends[0].1, millis);
    let role_path = image_dir.join("ROLE");
    fs::write(&role_path, role_file(&date, &spec.role, &self_name))
        .map_err(|e| io_err(&role_path, e))?;

    let header = ImageHeader {
        meta_version: spec
            .meta_version
            .unwrap_or(spec.version.meta_version_written()),
        writer_version: spec.version.to_string(),
        journal_id: spec.journal_id.saturating_sub(2_000),
        root_password: spec.root_password.clone(),
        frontends: frontends
            .iter()
            .enumerate()
            .map(|(i, (h, p))| Frontend {
                role: if i == 0 {
                    spec.role.clone()
                } else {
                    "FOLLOWER".into()
                },
                host: h.clone(),
                edit_log_port: *p,
                name: if i == 0 {
                    self_name.clone()
                } else {
                    format!("{h}_{p}_{}", millis - 1000 * i as i64)
                },
            })
            .collect(),
        backends: backends
            .iter()
            .enumerate()
            .map(|(i, (h, p))| Backend {
                id: 10001 + i as u64,
                host: h.clone(),
                heartbeat_port: *p,
            })
            .collect(),
        tables: spec
            .tables
            .iter()
            .map(|t| {
                let bad = || {
                    SimError::BadArgument(format!("table `{t}` is not DB.TABLE:REPLICATION_NUM"))
                };
                let (name, n) = t.rsplit_once(':').ok_or_else(bad)?;
                let (db, tbl) = name.split_once('.').ok_or_else(bad)?;
                Ok(image::Table {
                    db: db.into(),
                    name: tbl.into(),
                    replication_num: n.parse().map_err(|_| bad())?,
                })
            })
            .collect::<Result<_, SimError>>()?,
        users: spec
            .users
            .iter()
            .map(|u| {
                u.split_once(':')
                    .filter(|(n, _)| !n.is_empty() && *n != "root" && !n.contains(' '))
                    .map(|(n, p)| (n.to_string(), p.to_string()))
                    .ok_or_else(|| {
                        SimError::BadArgument(format!("user `{u}` is not NAME:PASSWORD (not root)"))
                    })
            })
            .collect::<Result<_, SimError>>()?,
    };

    // A quarter of the size goes to the image, the rest to journal files of at most 64 MiB.
    let image_bytes = (spec.size / 4).max(4096);
    let jdb_total = spec.size.saturating_sub(image_bytes).max(3 * 4096);
    const JDB_MAX: u64 = 64 << 20;
    let jdb_count = jdb_total.div_ceil(JDB_MAX).max(3);
    let image_id = header.journal_id;
    let mut files = 2;
    let mut bytes = 0u64;

    let image_text = header.render();
    let image_path = if spec.version.has_image_v2() {
        let v2 = image_dir.join("v2");
        fs::create_dir_all(&v2).map_err(|e| io_err(&v2, e))?;
        v2.join(format!("image.{image_id}"))
    } else {
        image_dir.join(format!("image.{image_id}"))
    };
    image::write_padded(&image_path, &image_text, image_bytes, random_u64())
        .map_err(|e| io_err(&image_path, e))?;
    files += 1;
    bytes += image_bytes;
    if spec.version.has_image_v2() {
        let crc = image::crc32_file(&image_path).map_err(|e| io_err(&image_path, e))?;
        let ck = image_dir.join("v2").join(format!("checksum.{image_id}"));
        fs::write(&ck, crc.to_string()).map_err(|e| io_err(&ck, e))?;
        files += 1;
    }

    let per_file = (jdb_total / jdb_count).max(4096);
    let first_journal = image_id.saturating_sub(5_000);
    let span = (spec.journal_id - first_journal) / jdb_count;
    for i in 0..jdb_count {
        let first = first_journal + i * span + 1;
        let last = if i + 1 == jdb_count {
            spec.journal_id
        } else {
            first_journal + (i + 1) * span
        };
        let h = JdbHeader {
            first_journal: first,
            last_journal: last,
            max_op: spec.version.max_op_code(),
            writer_version: spec.version.to_string(),
        };
        let p = bdb_dir.join(format!("{:08x}.jdb", i));
        image::write_padded(&p, &h.render(), per_file, random_u64() ^ i)
            .map_err(|e| io_err(&p, e))?;
        files += 1;
        bytes += per_file;
    }
    let info = bdb_dir.join("je.info.0");
    fs::write(
        &info,
        format!(
            "{} INFO [{}] Started JE environment for PALO_JOURNAL_GROUP\n",
            Civil::now().rfc3339(),
            self_name
        ),
    )
    .map_err(|e| io_err(&info, e))?;
    let lck = bdb_dir.join("je.lck");
    fs::write(&lck, b"").map_err(|e| io_err(&lck, e))?;
    files += 2;

    Ok(MetaSummary {
        cluster_id,
        token,
        image_id,
        journal_id: spec.journal_id,
        files,
        bytes,
    })
}
