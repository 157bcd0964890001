//! Unit tests of the precheck on fixture trees: each check's levels from what the host shows, and
//! the JDK judged as the start scripts judge it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::host::Host;
use super::java::{find, judge, refused_options};
use super::*;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// A host as the environment page wants it: AVX2, 655350 open files, no swap, THP madvise,
/// overcommit 1, max_map_count 262144.
fn good_host(root: &Path) {
    write(root, "proc/self/limits", "Limit                     Soft Limit           Hard Limit           Units\nMax open files            655350               655350               files\n");
    write(
        root,
        "proc/self/status",
        "Name:\tsr\nUid:\t1000\t1000\t1000\t1000\n",
    );
    write(
        root,
        "proc/cpuinfo",
        "processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 bmi2\n",
    );
    write(
        root,
        "proc/meminfo",
        "MemTotal:       67108864 kB\nMemAvailable:   60000000 kB\nSwapTotal:             0 kB\n",
    );
    write(root, "proc/sys/vm/swappiness", "0\n");
    write(root, "proc/sys/vm/overcommit_memory", "1\n");
    write(root, "proc/sys/vm/max_map_count", "262144\n");
    write(
        root,
        "sys/kernel/mm/transparent_hugepage/enabled",
        "always [madvise] never\n",
    );
    write(root, "proc/net/tcp", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
    write(
        root,
        "sr-rehearse-disk-free",
        &format!("{}\n", 100u64 << 30),
    );
}

fn level_of(f: &[Finding], id: &str) -> Option<Level> {
    f.iter().find(|x| x.id == id).map(|x| x.level)
}

fn v(s: &str) -> Version {
    s.parse().unwrap()
}

#[test]
fn a_good_host_passes_every_host_check() {
    let d = tempfile::tempdir().unwrap();
    good_host(d.path());
    let f = checks::host_checks(
        &Host::at(d.path().into()),
        Role::Be,
        &ConfFile::parse(""),
        None,
        None,
        v("3.5.0"),
    );
    assert!(f.iter().all(|x| x.level == Level::Ok), "{f:#?}");
    for id in [
        "host.open-files",
        "host.cpu-avx2",
        "host.swap",
        "host.transparent-huge-pages",
        "host.overcommit",
        "host.max-map-count",
    ] {
        assert_eq!(level_of(&f, id), Some(Level::Ok), "{id}");
    }
}

#[test]
fn open_files_below_the_floor_is_an_error_only_where_the_script_cannot_raise_it() {
    let d = tempfile::tempdir().unwrap();
    good_host(d.path());
    let limits = |soft: &str, hard: &str| {
        format!("Limit  Soft Limit  Hard Limit  Units\nMax open files            {soft}                 {hard}                files\n")
    };
    write(d.path(), "proc/self/limits", &limits("1024", "4096"));
    let f = checks::open_files(&Host::at(d.path().into()));
    assert_eq!(f.level, Level::Error);
    assert!(
        f.found.contains("ulimit -n is 1024 (hard 4096)"),
        "{}",
        f.found
    );
    assert!(
        f.found
            .contains("File descriptor number is less than 60000"),
        "{}",
        f.found
    );
    assert!(f.doc.contains("environment_configurations"));
    // start_be.sh's `ulimit -n 65535` works within the hard limit, or as root.
    write(d.path(), "proc/self/limits", &limits("1024", "1048576"));
    assert_eq!(
        checks::open_files(&Host::at(d.path().into())).level,
        Level::Notice
    );
    write(d.path(), "proc/self/limits", &limits("1024", "4096"));
    write(d.path(), "proc/self/status", "Uid:\t0\t0\t0\t0\n");
    assert_eq!(
        checks::open_files(&Host::at(d.path().into())).level,
        Level::Notice
    );
    write(
        d.path(),
        "proc/self/limits",
        &limits("unlimited", "unlimited"),
    );
    assert_eq!(
        checks::open_files(&Host::at(d.path().into())).level,
        Level::Ok
    );
}

#[test]
fn a_cpu_without_avx2_is_an_error_with_the_bes_own_words() {
    let d = tempfile::tempdir().unwrap();
    good_host(d.path());
    write(
        d.path(),
        "proc/cpuinfo",
        "processor\t: 0\nflags\t\t: fpu sse4_2 avx\n",
    );
    let f = checks::cpu(&Host::at(d.path().into()));
    assert_eq!(f.level, Level::Error);
    assert!(f.found.contains("CPU flags check failed!") && f.found.contains("Illegal instruction"));
    assert!(f.doc.contains("deployment_prerequisites"));
    write(
        d.path(),
        "proc/cpuinfo",
        "processor\t: 0\nFeatures\t: fp asimd\n",
    );
    assert_eq!(checks::cpu(&Host::at(d.path().into())).level, Level::Notice);
}

#[test]
fn kernel_settings_against_the_environment_page() {
    let d = tempfile::tempdir().unwrap();
    good_host(d.path());
    write(
        d.path(),
        "sys/kernel/mm/transparent_hugepage/enabled",
        "[always] madvise never\n",
    );
    write(
        d.path(),
        "proc/meminfo",
        "MemTotal: 8388608 kB\nMemAvailable: 4194304 kB\nSwapTotal: 2097152 kB\n",
    );
    write(d.path(), "proc/sys/vm/overcommit_memory", "0\n");
    write(d.path(), "proc/sys/vm/max_map_count", "65530\n");
    let conf = ConfFile::parse("JAVA_OPTS=\"-Xmx8192m -XX:+UseG1GC\"\n");
    let f = checks::host_checks(
        &Host::at(d.path().into()),
        Role::Fe,
        &conf,
        None,
        None,
        v("3.5.0"),
    );
    assert_eq!(
        level_of(&f, "host.transparent-huge-pages"),
        Some(Level::Warning)
    );
    assert_eq!(level_of(&f, "host.swap"), Some(Level::Warning));
    assert_eq!(level_of(&f, "host.overcommit"), Some(Level::Warning));
    assert_eq!(level_of(&f, "host.max-map-count"), Some(Level::Notice));
    // 8 GiB of heap, 4 GiB available.
    assert_eq!(level_of(&f, "host.memory"), Some(Level::Warning));
    assert_eq!(
        level_of(&f, "host.open-files"),
        None,
        "the floor is the BE's"
    );
}

#[test]
fn disk_and_ports_of_a_home_on_a_fixture_host() {
    let d = tempfile::tempdir().unwrap();
    good_host(d.path());
    let home = d.path().join("fe");
    write(&home, "conf/fe.conf", "http_port = 8050\n");
    // Something listens on 8050 (0x1F72).
    write(d.path(), "proc/net/tcp", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:1F72 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1\n");
    write(
        d.path(),
        "sr-rehearse-disk-free",
        &format!("{}\n", 1u64 << 30),
    );
    let conf = ConfFile::parse("http_port = 8050\n");
    let f = checks::host_checks(
        &Host::at(d.path().into()),
        Role::Fe,
        &conf,
        Some(&home),
        None,
        v("3.3.0"),
    );
    assert_eq!(level_of(&f, "host.disk-meta"), Some(Level::Error), "{f:#?}");
    let ports: Vec<&Finding> = f.iter().filter(|x| x.id == "host.ports").collect();
    assert_eq!(ports.len(), 4);
    assert!(ports
        .iter()
        .any(|p| p.level == Level::Notice && p.found.contains("http_port 8050 is in use")));
    assert!(ports
        .iter()
        .any(|p| p.level == Level::Ok && p.found.contains("query_port 9030 is free")));
}

/// A stand-in JDK: `release` and `bin/java`, `bin/javac` unless a JRE.
fn jdk(dir: &Path, version: &str, jre: bool) {
    write(dir, "release", &format!("JAVA_VERSION=\"{version}\"\n"));
    for tool in if jre {
        &["java"][..]
    } else {
        &["java", "javac"][..]
    } {
        let p = dir.join("bin").join(tool);
        write(dir, &format!("bin/{tool}"), "#!/bin/sh\nexit 0\n");
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn the_jdk_is_judged_as_the_target_start_script_judges_it() {
    let d = tempfile::tempdir().unwrap();
    let (jre, jdk8, jdk11, jdk17) = (
        d.path().join("jre"),
        d.path().join("j8"),
        d.path().join("j11"),
        d.path().join("j17"),
    );
    jdk(&jre, "17.0.15", true);
    jdk(&jdk8, "1.8.0_412", false);
    jdk(&jdk11, "11.0.23", false);
    jdk(&jdk17, "17.0.15", false);
    let conf_for = |home: &Path, opts: &str| {
        ConfFile::parse(&format!(
            "JAVA_HOME = {}\nJAVA_OPTS=\"{opts}\"\n",
            home.display()
        ))
    };
    let judged = |home: &Path, opts: &str, to: &str| {
        let conf = conf_for(home, opts);
        let found = find(&conf, Role::Fe, v(to));
        judge(&found, &conf, Role::Fe, v(to))
    };
    let f = judged(&jre, "-Xmx1g", "3.3.5");
    assert_eq!(level_of(&f, "jdk.jre"), Some(Level::Error));
    let found = find(&conf_for(&jre, ""), Role::Fe, v("3.3.5"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.kind, found.major, found.source.as_str()),
        ("jre", 17, "JAVA_HOME in fe.conf")
    );
    assert_eq!(
        level_of(&judged(&jdk11, "", "3.5.0"), "jdk.version"),
        Some(Level::Error)
    );
    assert_eq!(
        level_of(&judged(&jdk8, "", "3.4.1"), "jdk.version"),
        Some(Level::Error)
    );
    assert_eq!(
        level_of(&judged(&jdk8, "", "3.3.1"), "jdk.version"),
        Some(Level::Ok)
    );
    // A JDK 8 GC option under JDK 17: the FE dies with `Unrecognized VM option`.
    let f = judged(
        &jdk17,
        "-Xmx8g -XX:+UseConcMarkSweepGC -XX:+PrintGCDateStamps -XX:+UseG1GC",
        "3.5.0",
    );
    assert_eq!(level_of(&f, "jdk.version"), Some(Level::Ok));
    let opts = f.iter().find(|x| x.id == "fe.java-opts.jvm").unwrap();
    assert_eq!(opts.level, Level::Error);
    assert!(
        opts.found
            .contains("-XX:+UseConcMarkSweepGC -XX:+PrintGCDateStamps"),
        "{}",
        opts.found
    );
    assert!(opts.doc.contains("release-3.5"));
    // JDK 11 keeps CMS but not the JDK 8 GC logging flags.
    assert_eq!(
        refused_options("-XX:+UseConcMarkSweepGC -XX:+PrintGCDateStamps", 11),
        vec!["-XX:+PrintGCDateStamps"]
    );
    assert!(refused_options("-XX:+UseConcMarkSweepGC -XX:+PrintGCDateStamps", 8).is_empty());
}

#[test]
fn options_are_those_start_fe_sh_picks_for_the_release_and_the_jdk() {
    let conf = ConfFile::parse(
        "JAVA_OPTS=\"-XX:+UseConcMarkSweepGC\"\nJAVA_OPTS_FOR_JDK_11=\"-XX:+UseG1GC\"\n",
    );
    assert_eq!(
        java::fe_options(&conf, v("3.3.5"), 17).0,
        "JAVA_OPTS_FOR_JDK_11"
    );
    assert_eq!(java::fe_options(&conf, v("3.3.5"), 8).0, "JAVA_OPTS");
    // 3.5's script takes JAVA_OPTS, but a leftover JAVA_OPTS_FOR_JDK_11 still wins.
    assert_eq!(
        java::fe_options(&conf, v("3.5.0"), 17).0,
        "JAVA_OPTS_FOR_JDK_11"
    );
    let plain = ConfFile::parse("JAVA_OPTS=\"-XX:+UseConcMarkSweepGC\"\n");
    assert_eq!(java::fe_options(&plain, v("3.5.0"), 17).0, "JAVA_OPTS");
    // 3.2/3.3 never hand JAVA_OPTS to a JDK above 8: without a _11/_9 line, their own G1 line.
    let (var, opts) = java::fe_options(&plain, v("3.3.5"), 17);
    assert_eq!(var, "start_fe.sh's built-in options");
    assert!(opts.contains("-XX:+UseG1GC") && opts.contains("-Xmx8192m"));
    assert_eq!(java::max_heap("-Xms1g -Xmx8192m"), Some(8192 << 20));
    assert_eq!(java::max_heap("-Xmx4g"), Some(4 << 30));
}

#[test]
fn a_run_counts_levels_and_exits_1_on_an_error() {
    let d = tempfile::tempdir().unwrap();
    good_host(d.path());
    write(d.path(), "proc/cpuinfo", "flags\t\t: fpu avx\n");
    let cfg = PrecheckConfig {
        role: Role::Be,
        to_version: "3.3".parse().unwrap(),
        from_version: None,
        home: None,
        package: None,
    };
    let o = run(&cfg, &Host::at(d.path().into())).unwrap();
    assert_eq!(o.exit_code, 1);
    assert!(
        o.errors >= 1 && level_of(&o.findings, "host.cpu-avx2") == Some(Level::Error),
        "{:#?}",
        o.findings
    );
    let text = render::human(&o);
    assert!(text.contains("[ error ] host.cpu-avx2"), "{text}");
    assert!(text.contains("see: https://docs.starrocks.io/"), "{text}");
    assert!(text.ends_with("(exit 1)\n"), "{text}");
    let missing = PrecheckConfig {
        home: Some(d.path().join("nope")),
        ..cfg
    };
    assert_eq!(
        run(&missing, &Host::at(d.path().into()))
            .unwrap_err()
            .exit_code(),
        2
    );
}
