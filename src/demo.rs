//! `sr-rehearse demo`: the newcomer's first command.
//!
//! The simulated cluster and releases are built with the simulator's library, and their servers
//! are the `starrocks-sim` binary that `cargo build` puts beside this one. It shows a
//! rehearsal that passes (3.2 metadata on 3.3) and one that fails with its diagnosis (metadata last
//! written by 3.0, which 3.3 refuses), a BE canary in a sandbox, and leaves the JSON reports behind.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::fe::{FeConfig, Isolate, Keep};
use crate::report::{exit, Verdict};
use starrocks_sim::meta::{make_meta, MetaSpec};
use starrocks_sim::package::{make_jdk, make_package, PackageSpec, Role};

fn scenario(
    root: &Path,
    name: &str,
    meta_v: &str,
    pkg_v: &str,
    keep: bool,
) -> anyhow::Result<FeConfig> {
    let meta = root.join(name).join("prod-meta");
    let mut spec = MetaSpec::new(meta_v.parse()?, meta.clone()).with_counts(3, 3);
    spec.cluster_id = Some(1_986_310_427);
    make_meta(&spec).with_context(|| format!("failed to build the simulated {meta_v} meta"))?;
    let pkg = root.join(name).join(format!("StarRocks-{pkg_v}/fe"));
    make_package(&PackageSpec {
        role: Role::Fe,
        version: pkg_v.parse()?,
        out: pkg.clone(),
        fault: None,
        fault_secs: 5,
        heartbeat_ms: 5000,
        too_much_time_secs: 60,
    })
    .with_context(|| format!("failed to build the simulated {pkg_v} release"))?;
    Ok(FeConfig {
        meta,
        new_fe: pkg,
        prod_conf: None,
        workspace_root: root.to_path_buf(),
        keep: if keep { Keep::Always } else { Keep::Never },
        timeout: Duration::from_secs(120),
        plan: false,
        isolate: Isolate::Auto,
        cluster_id: 123456,
        sql_check: true,
        query: None,
        user: "root".into(),
        password_env: None,
        from_version: meta_v.parse().ok(),
        to_version: pkg_v.parse().ok(),
        quiet: false,
        verbose: false,
        stop_grace: Duration::from_secs(10),
    })
}

/// A 3.2.11 BE node (its home and storage) and an unpacked 3.3.5 BE release.
fn be_scenario(root: &Path, keep: bool) -> anyhow::Result<crate::be::BeConfig> {
    let dir = root.join("be-canary");
    let home = dir.join("node/be");
    let storage = dir.join("node/storage");
    std::fs::create_dir_all(&storage)?;
    for (version, out) in [
        ("3.2.11", home.clone()),
        ("3.3.5", dir.join("StarRocks-3.3.5/be")),
    ] {
        make_package(&PackageSpec {
            role: Role::Be,
            version: version.parse()?,
            out,
            fault: None,
            fault_secs: 5,
            heartbeat_ms: 5000,
            too_much_time_secs: 60,
        })
        .with_context(|| format!("failed to build the simulated {version} BE"))?;
    }
    let conf = home.join("conf/be.conf");
    let mut text = std::fs::read_to_string(&conf)?;
    text.push_str(&format!("storage_root_path = {}\n", storage.display()));
    std::fs::write(&conf, text)?;
    Ok(crate::be::BeConfig {
        be_home: home,
        new_be: Some(dir.join("StarRocks-3.3.5/be")),
        in_place: false,
        rollback: false,
        storage_copy: None,
        fe: None,
        be_host: None,
        user: "root".into(),
        password_env: None,
        soak: Duration::from_secs(30),
        workspace_root: root.to_path_buf(),
        keep: if keep { Keep::Always } else { Keep::Never },
        timeout: Duration::from_secs(120),
        plan: false,
        isolate: Isolate::Auto,
        quiet: false,
        verbose: false,
        stop_grace: Duration::from_secs(10),
    })
}

/// The `starrocks-sim` binary beside this one, which the simulated packages run as their servers.
fn simulator() -> anyhow::Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let me = std::env::current_exe().context("failed to find the running sr-rehearse binary")?;
    let sim = me.with_file_name("starrocks-sim");
    match std::fs::metadata(&sim) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(sim),
        _ => anyhow::bail!(
            "failed to find the simulator {} that demo runs as its StarRocks nodes; build it with `cargo build --release` at the top of the source tree (or `cargo build --release -p starrocks-sim`)",
            sim.display()
        ),
    }
}

pub fn run(keep: bool) -> anyhow::Result<i32> {
    starrocks_sim::package::use_binary(simulator()?);
    let base = std::env::temp_dir().join(format!(
        "sr-rehearse-demo-{}",
        crate::timefmt::Civil::now().compact()
    ));
    std::fs::create_dir_all(&base)
        .with_context(|| format!("failed to create {}", base.display()))?;
    let reports = base.join("reports");
    std::fs::create_dir_all(&reports)?;
    let jdk = base.join("jdk-17");
    make_jdk(17, &jdk).context("failed to build the simulated JDK 17")?;
    // SAFETY: single-threaded at this point; the simulated packages read JAVA_HOME like real ones.
    std::env::set_var("JAVA_HOME", &jdk);

    crate::output::outln(
        "== demo 1/4: StarRocks 3.2.5 metadata on a new 3.3.2 release (expected: pass)\n",
    );
    let pass_cfg = scenario(&base, "upgrade-3.2-to-3.3", "3.2.5", "3.3.2", keep)?;
    let pass = crate::fe::run(&pass_cfg);
    crate::report::file::write_new(&reports.join("pass.json"), pass.to_json().as_bytes())?;

    crate::output::outln(
        "\n== demo 2/4: metadata last written by 3.0.9, straight to 3.3.2 (expected: fail)\n",
    );
    let fail_cfg = scenario(&base, "skip-3.0-to-3.3", "3.0.9", "3.3.2", keep)?;
    let fail = crate::fe::run(&fail_cfg);
    crate::report::file::write_new(&reports.join("fail.json"), fail.to_json().as_bytes())?;

    crate::output::outln("\n== demo 3/4: BE canary of a new 3.3.5 build beside a 3.2.11 node, in a sandbox (expected: pass)\n");
    let be = be_scenario(&base, keep)?;
    let canary = crate::be::run(&be);
    crate::report::file::write_new(&reports.join("be-canary.json"), canary.to_json().as_bytes())?;

    crate::output::outln("\n== demo 4/4: a 3.2.11 cluster of 3 FEs and 3 BEs: check, plan the upgrade to 3.3.5, run the playbook (expected: healthy after)\n");
    let cluster_ok = crate::demo_cluster::run(&base, &reports, keep)?;

    crate::output::outln(&format!(
        "\nreports: {0}/pass.json, {0}/fail.json and {0}/be-canary.json",
        reports.display()
    ));
    if keep {
        crate::output::outln(&format!(
            "kept the simulated cluster and workspaces under {}",
            base.display()
        ));
    } else {
        for e in std::fs::read_dir(&base)?.flatten() {
            if e.path() != reports {
                crate::workspace::remove_dir_all_writable(&e.path());
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let as_expected = pass.verdict == Verdict::Pass
        && fail.verdict == Verdict::Fail
        && canary.verdict == Verdict::Pass
        && cluster_ok;
    if as_expected {
        crate::output::outln("demo: all four parts ended as expected");
        Ok(exit::PASS)
    } else {
        crate::output::outln(&format!(
            "demo: a part did not end as expected (pass: {:?}, fail: {:?}, canary: {:?}, cluster: {})",
            pass.verdict,
            fail.verdict,
            canary.verdict,
            if cluster_ok { "as expected" } else { "not as expected" }
        ));
        Ok(exit::FAIL)
    }
}
