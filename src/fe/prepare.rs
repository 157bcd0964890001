//! Preflight: everything the FE rehearsal checks before it writes anything.
//!
//! The checks are read-only and in the order an operator would fix them: the meta dir, the new
//! package, the production conf and its ports, the cluster id, where the workspace goes and how
//! much room it has, the JDK ([`jdk`](super::jdk)), and whether the source is live. The plan that
//! comes out ([`Plan`]) holds the sandbox ports and the base conf; `--plan` prints it and stops
//! there.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fs;

use super::rewrite::{check_conf, conf_warnings};
use super::{jdk, Ending, FeConfig, Plan};
use crate::conf::ConfFile;
use crate::meta;
use crate::runner::Runner;
use crate::version::Version;
use crate::workspace::{self, Layout, Place};

/// Production ports that matter for an FE, and StarRocks' defaults for them.
const PORT_KEYS: &[(&str, u16)] = &[
    ("http_port", 8030),
    ("rpc_port", 9020),
    ("query_port", 9030),
    ("edit_log_port", 9010),
    ("https_port", 8443),
    ("cloud_native_meta_port", 6090),
    ("arrow_flight_port", 9408),
];

fn port_value(conf: &ConfFile, key: &str, file: &str) -> Result<Option<u16>, Ending> {
    match conf.get(key) {
        None => Ok(None),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(-1) if key == "arrow_flight_port" => Ok(None),
            Ok(n) if (1..=65535).contains(&n) => Ok(Some(n as u16)),
            _ => Err(Ending::bad_input(format!(
                "{file}: {key} = `{}` (line {}) is not a port number; fix the value or pass another --prod-conf",
                v.trim(),
                conf.line_of(key).unwrap_or(0)
            ))),
        },
    }
}

/// Upgrade-path advice when both versions are known.
pub fn path_warnings(from: Version, to: Version) -> Vec<String> {
    let mut w = Vec::new();
    if to < from {
        w.push(format!("{from} -> {to} is a downgrade: downgrade one minor version at a time, FE first, then BE"));
        if to.line() == (3, 2) && to.patch <= 2 && from.line() >= (3, 3) {
            w.push("after 3.3 never downgrade straight to 3.2.0-3.2.2: it loses metadata".into());
        }
        return w;
    }
    if to.major == 3 && from.major == 2 && from.minor < 5 {
        w.push(format!(
            "{from} -> {to}: reaching 3.0 requires upgrading to 2.5 first"
        ));
    }
    let minors = |v: Version| v.major * 100 + v.minor;
    let gap = if from.major == to.major {
        to.minor.saturating_sub(from.minor)
    } else if from.line() == (2, 5) && to.major == 3 {
        to.minor + 1
    } else {
        minors(to) - minors(from)
    };
    if gap > 1 {
        w.push(format!("{from} -> {to} skips minor versions: StarRocks strongly recommends upgrading one minor version at a time"));
    }
    if from.meta_version_written() == 3 && to.check_meta_version(3).is_err() {
        w.push(format!("{to} refuses images last written by {from} (meta version 3): upgrade through 3.1 or 3.2 first and create a new image"));
    }
    w
}

/// The sandbox ports the rehearsal picks, in launch order.
pub(super) const SANDBOX_PORTS: &[&str] = &[
    "http_port",
    "rpc_port",
    "query_port",
    "edit_log_port",
    "https_port",
    "cloud_native_meta_port",
];

pub fn preflight(cfg: &FeConfig, run: &mut Runner) -> Result<Plan, Ending> {
    crate::runner::check_timeout(cfg.timeout)?;
    run.set_isolation(cfg.isolate, "FE")?;

    // The source meta dir.
    let source = meta::inspect(&cfg.meta).map_err(|e| Ending::bad_input(e.to_string()))?;
    run.report.source.cluster_id = Some(source.cluster_id);
    run.report.source.run_mode = source.run_mode.clone();
    run.report.source.highest_image_id = source.highest_image_id;
    run.report.source.live = !source.live_reasons.is_empty();
    run.report.source.live_reasons = source.live_reasons.clone();
    if cfg.cluster_id == source.cluster_id {
        return Err(Ending::bad_input(format!(
            "--cluster-id {} is the source's own cluster id; the sandbox needs a different one so production backends reject its heartbeats",
            cfg.cluster_id
        )));
    }
    if !(1..=i32::MAX as i64).contains(&cfg.cluster_id) {
        return Err(Ending::bad_input(format!(
            "--cluster-id {} is out of range; StarRocks cluster ids are positive 32-bit integers",
            cfg.cluster_id
        )));
    }

    // The new package.
    let start = cfg.new_fe.join("bin/start_fe.sh");
    if !start.is_file() {
        return Err(Ending::bad_input(format!(
            "{} has no bin/start_fe.sh; pass the unpacked new release's fe/ folder as --new-fe",
            cfg.new_fe.display()
        )));
    }
    if !cfg.new_fe.join("lib").is_dir() {
        return Err(Ending::bad_input(format!(
            "{} has no lib/ folder; pass the unpacked new release's fe/ folder as --new-fe",
            cfg.new_fe.display()
        )));
    }
    if !cfg.new_fe.join("bin/stop_fe.sh").is_file() {
        run.report
            .warnings
            .push("the package has no bin/stop_fe.sh; the FE will be stopped with signals".into());
    }

    // The conf: production's when given, else the package's.
    let conf_path = match &cfg.prod_conf {
        Some(p) => p.clone(),
        None => cfg.new_fe.join("conf/fe.conf"),
    };
    let text = fs::read_to_string(&conf_path).map_err(|e| {
        Ending::bad_input(format!(
            "failed to read {}: {e}; pass a readable fe.conf",
            conf_path.display()
        ))
    })?;
    if text.contains('\0') {
        return Err(Ending::bad_input(format!(
            "{} is not a text file; pass the production fe.conf",
            conf_path.display()
        )));
    }
    let base_conf = ConfFile::parse(&text);
    let file = conf_path.display().to_string();
    check_conf(&base_conf, &file)?;
    let mut production = BTreeMap::new();
    let mut avoid = BTreeSet::new();
    for (key, default) in PORT_KEYS {
        let value = port_value(&base_conf, key, &file)?;
        avoid.insert(*default);
        avoid.extend(value);
        let is_arrow = *key == "arrow_flight_port";
        // Without a production conf, StarRocks' defaults are the ones to avoid.
        let prod = if cfg.prod_conf.is_some() {
            value.or((!is_arrow).then_some(*default))
        } else {
            (!is_arrow).then_some(*default)
        };
        if let Some(v) = prod {
            production.insert(key.to_string(), v);
        }
    }
    let ports = run.pick_ports(SANDBOX_PORTS, &avoid, production.clone())?;

    // Where the workspace goes.
    let root = &cfg.workspace_root;
    crate::runner::check_workspace_root(
        root,
        &[("meta dir", &cfg.meta), ("new package", &cfg.new_fe)],
    )?;
    let (bytes, files) = meta::tree_size(&cfg.meta);
    // A clone shares the source's extents: only the 5 GB the FE insists on must be free.
    let copy_bytes = if workspace::may_clone(&cfg.meta, root) {
        0
    } else {
        bytes
    };
    let need = copy_bytes + (5u64 << 30);
    if let Some(free) = workspace::free_bytes(root) {
        if free < need {
            return Err(Ending::env(format!(
                "not enough free space in {}: {:.1} GiB free, the copy needs {:.1} GiB plus the 5 GB StarRocks 3.2+ requires on its meta disk; free space or choose another --workspace-root",
                root.display(),
                free as f64 / (1u64 << 30) as f64,
                copy_bytes as f64 / (1u64 << 30) as f64
            )));
        }
    }

    // The package's version, read with the JDK the script would run: a package that is not the
    // --to-version asked for is bad input, found before anything is copied; without
    // --to-version its own version decides which JDK rules apply.
    let package_version = crate::precheck::script_jdk::script_java_home(
        &base_conf,
        cfg.to_version.map(|r| r.lowest()),
    )
    .ok()
    .flatten()
    .and_then(|(home, _)| crate::precheck::package::fe_version(&cfg.new_fe, &home));
    if let (Some(want), Some(found)) = (cfg.to_version, &package_version) {
        if !want.matches_reported(found) {
            return Err(Ending::bad_input(format!(
                "the package {} is StarRocks {found}, not the --to-version {want} you asked to rehearse; pass the unpacked package of that release as --new-fe, or correct --to-version",
                cfg.new_fe.display()
            )));
        }
    }

    // The JDK and the password.
    let mut warnings = Vec::new();
    let to_line = cfg
        .to_version
        .map(|r| r.lowest())
        .or_else(|| package_version.as_deref().and_then(|v| v.parse().ok()));
    let java = jdk::check(&base_conf, to_line, &file, &mut warnings)?;
    if let Some(to) = to_line {
        let host = crate::precheck::host::Host::from_env();
        let (used, findings) = crate::precheck::preflight_findings(
            &host,
            crate::precheck::Role::Fe,
            cfg.from_version,
            to,
            &base_conf,
        );
        // What would stop the FE is said among the warnings too; the rest stays in the report.
        for f in findings
            .iter()
            .filter(|f| f.level == crate::precheck::Level::Error)
        {
            warnings.push(format!("precheck {}: {}; {}", f.id, f.found, f.fix));
        }
        run.report.target.jdk = used;
        run.report.precheck = findings;
    }
    let password = match &cfg.password_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            Ending::bad_input(format!(
                "--password-env {var}: the environment variable {var} is not set"
            ))
        })?),
        None => None,
    };
    warnings.extend(conf_warnings(&base_conf, &file));
    if let (Some(f), Some(t)) = (cfg.from_version, to_line) {
        warnings.extend(path_warnings(f, t));
    }
    for r in &source.live_reasons {
        warnings.push(format!(
            "the source looks live ({r}); it is copied as it is and checked for changes"
        ));
    }
    if source.run_mode.as_deref() == Some("shared_data") {
        warnings.push("shared_data metadata: the sandbox leader may contact object storage and compute nodes; rehearse it only on an isolated host".into());
    }
    run.report.warnings.extend(warnings.iter().cloned());
    run.report.source.bytes = bytes;
    run.report.source.file_count = files;
    Ok(Plan {
        source,
        source_bytes: bytes,
        source_files: files,
        base_conf: base_conf.clone(),
        base_conf_path: file,
        ports,
        avoid,
        production,
        password,
        java,
        warnings,
        conf: base_conf,
        changes: Vec::new(),
    })
}

/// The sandbox FE home: `bin/` and `conf/` copied (so pid files and the conf live in the
/// workspace), `lib/` and the other read-only folders of the release linked, `log/` and the folders
/// an FE writes into (`plugins`, `temp_dir`, `small_files`) empty, and `tmp/` for `java.io.tmpdir`.
pub const LAYOUT: Layout = Layout {
    made: &["log", "tmp"],
    place: |name| match name {
        "bin" | "conf" => Place::Copy,
        "log" | "meta" => Place::Skip,
        // Folders the FE writes into at run time start empty in the workspace.
        "plugins" | "temp_dir" | "small_files" => Place::Empty,
        _ => Place::Link,
    },
};
