//! `sr-rehearse precheck` and the preflights that run its checks, on fixture hosts: the host is
//! read under `SR_REHEARSE_HOST_ROOT`, so a low open-files limit, a CPU without AVX2 or THP
//! `always` are made by writing files, whatever machine runs the test.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// A fixture host the environment page is happy with; `bad` makes it one a BE cannot run on
/// (1024 open files under a 4096 hard limit, not root, no AVX2) with THP `always`.
fn host(dir: &Path, bad: bool) -> PathBuf {
    let root = dir.join(if bad { "bad-host" } else { "good-host" });
    let (soft, hard, flags, thp) = if bad {
        ("1024", "4096", "fpu sse4_2 avx", "[always] madvise never")
    } else {
        (
            "655350",
            "655350",
            "fpu sse4_2 avx avx2",
            "always [madvise] never",
        )
    };
    write(&root, "proc/self/limits", &format!("Limit                     Soft Limit           Hard Limit           Units\nMax open files            {soft}                 {hard}                 files\n"));
    write(
        &root,
        "proc/self/status",
        "Name:\tsr-rehearse\nUid:\t1000\t1000\t1000\t1000\n",
    );
    write(
        &root,
        "proc/cpuinfo",
        &format!("processor\t: 0\nflags\t\t: {flags}\n"),
    );
    write(
        &root,
        "proc/meminfo",
        "MemTotal:       67108864 kB\nMemAvailable:   60000000 kB\nSwapTotal:             0 kB\n",
    );
    write(&root, "proc/sys/vm/swappiness", "0\n");
    write(&root, "proc/sys/vm/overcommit_memory", "1\n");
    write(&root, "proc/sys/vm/max_map_count", "262144\n");
    write(
        &root,
        "sys/kernel/mm/transparent_hugepage/enabled",
        &format!("{thp}\n"),
    );
    write(&root, "proc/net/tcp", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
    write(
        &root,
        "sr-rehearse-disk-free",
        &format!("{}\n", 200u64 << 30),
    );
    root
}

fn jdk(dir: &Path, major: &str, jre: bool) -> PathBuf {
    let out = dir.join(format!("{}{major}", if jre { "jre" } else { "jdk" }));
    let mut a = vec!["make-jdk", "--major", major, "--out", out.to_str().unwrap()];
    if jre {
        a.push("--jre");
    }
    run_sim(&a);
    out
}

fn package(dir: &Path, role: &str, version: &str) -> PathBuf {
    let out = dir.join(format!("{role}-{version}"));
    run_sim(&[
        "make-package",
        "--role",
        role,
        "--version",
        version,
        "--out",
        out.to_str().unwrap(),
    ]);
    out
}

fn precheck(root: &Path, java_home: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(tool_bin())
        .arg("precheck")
        .args(args)
        .env("SR_REHEARSE_HOST_ROOT", root)
        .env("JAVA_HOME", java_home)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn finding<'a>(j: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {j:#}"))
}

#[test]
fn a_good_host_passes_and_a_bad_one_is_named_check_by_check() {
    let d = tempfile::tempdir().unwrap();
    let j17 = jdk(d.path(), "17", false);
    let pkg = package(d.path(), "be", "3.3.5");
    let good = host(d.path(), false);
    let (code, out, err) = precheck(
        &good,
        &j17,
        &[
            "--role",
            "be",
            "--to-version",
            "3.3",
            "--new-be",
            pkg.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("[  ok   ] host.open-files"), "{out}");
    assert!(out.contains("the package is StarRocks 3.3.5"), "{out}");
    assert!(
        out.ends_with("precheck: 0 error(s), 0 warning(s), 0 notice(s) (exit 0)\n"),
        "{out}"
    );

    let bad = host(d.path(), true);
    let report = d.path().join("precheck.json");
    let (code, out, _) = precheck(
        &bad,
        &j17,
        &[
            "--role",
            "be",
            "--to-version",
            "3.3",
            "--json",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    // One aligned line per check, the fix and the page under each problem.
    let line = out.lines().find(|l| l.contains("host.open-files")).unwrap();
    assert!(line.starts_with("[ error ] host.open-files"), "{out}");
    assert!(line.contains("ulimit -n is 1024 (hard 4096)"), "{out}");
    assert!(out.contains("fix: raise nofile"), "{out}");
    assert!(
        out.contains("see: https://docs.starrocks.io/docs/deployment/environment_configurations/"),
        "{out}"
    );
    assert!(out.contains("[ error ] host.cpu-avx2"), "{out}");
    assert!(
        out.contains("[warning] host.transparent-huge-pages"),
        "{out}"
    );
    let j: serde_json::Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(
        (
            j["command"].as_str(),
            j["exit_code"].as_i64(),
            j["errors"].as_u64()
        ),
        (Some("precheck"), Some(1), Some(2))
    );
    for (id, level) in [
        ("host.open-files", "error"),
        ("host.cpu-avx2", "error"),
        ("host.transparent-huge-pages", "warning"),
    ] {
        let f = finding(&j, id);
        assert_eq!(f["level"], level, "{f:#}");
        assert!(
            f["doc"]
                .as_str()
                .unwrap()
                .starts_with("https://docs.starrocks.io/"),
            "{f:#}"
        );
        assert!(!f["fix"].as_str().unwrap().is_empty(), "{f:#}");
    }
    // --format json prints what --json writes.
    let (code, out, _) = precheck(
        &bad,
        &j17,
        &["--role", "be", "--to-version", "3.3", "--format", "json"],
    );
    assert_eq!(code, Some(1));
    let printed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed["findings"], j["findings"]);
}

#[test]
fn bad_input_is_2_and_a_host_that_cannot_be_read_is_3() {
    let d = tempfile::tempdir().unwrap();
    let j17 = jdk(d.path(), "17", false);
    let good = host(d.path(), false);
    let (code, _, err) = precheck(&good, &j17, &["--role", "fe", "--to-version", "3.x"]);
    assert_eq!(code, Some(2), "{err}");
    let missing = d.path().join("no-such-home");
    let (code, _, err) = precheck(
        &good,
        &j17,
        &[
            "--role",
            "fe",
            "--to-version",
            "3.5",
            "--home",
            missing.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is not a folder"), "{err}");
    let args = [
        "--role",
        "fe",
        "--to-version",
        "3.5",
        "--new-be",
        good.to_str().unwrap(),
    ];
    let (code, _, err) = precheck(&good, &j17, &args);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--new-be with --role fe"), "{err}");
    // The JSON follows the report rules: never written into the node's home.
    let into_home = good.join("precheck.json");
    let args = [
        "--role",
        "fe",
        "--to-version",
        "3.5",
        "--home",
        good.to_str().unwrap(),
        "--json",
        into_home.to_str().unwrap(),
    ];
    let (code, _, err) = precheck(&good, &j17, &args);
    assert_eq!(code, Some(2), "{err}");
    assert!(!into_home.exists(), "{err}");
    let (code, _, err) = precheck(
        &d.path().join("nothing"),
        &j17,
        &["--role", "fe", "--to-version", "3.5"],
    );
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("cannot be checked"), "{err}");
}

#[test]
fn a_34_to_35_fe_precheck_names_the_jdk_17_and_java_opts_prerequisites() {
    let d = tempfile::tempdir().unwrap();
    let j11 = jdk(d.path(), "11", false);
    let good = host(d.path(), false);
    // A 3.4 FE home whose fe.conf still carries the JDK 8 era options.
    let home = package(d.path(), "fe", "3.4.3");
    let conf = home.join("conf/fe.conf");
    let text = fs::read_to_string(&conf).unwrap();
    let text: String = text
        .lines()
        .map(|l| if l.starts_with("JAVA_OPTS=") { "JAVA_OPTS=\"-Xmx8192m -XX:+UseConcMarkSweepGC -XX:+PrintGCDateStamps -XX:+UseMembar\"".to_string() } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(&conf, text).unwrap();
    let new_fe = package(d.path(), "fe", "3.5.1");
    let (code, out, err) = precheck(
        &good,
        &j11,
        &[
            "--role",
            "fe",
            "--from-version",
            "3.4.3",
            "--to-version",
            "3.5",
            "--home",
            home.to_str().unwrap(),
            "--new-fe",
            new_fe.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(code, Some(1), "{out}{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["jdk"]["major"], 11);
    assert_eq!(j["jdk"]["kind"], "jdk");
    let jdk17 = finding(&j, "release-3.5.jdk-17");
    assert_eq!(jdk17["level"], "error");
    assert!(
        jdk17["found"]
            .as_str()
            .unwrap()
            .contains("JDK 17 or later is required from StarRocks v3.5.0 onwards."),
        "{jdk17:#}"
    );
    assert_eq!(
        jdk17["doc"],
        "https://docs.starrocks.io/releasenotes/release-3.5/"
    );
    let opts = finding(&j, "release-3.5.fe-java-opts");
    assert_eq!(opts["level"], "error");
    let found = opts["found"].as_str().unwrap();
    assert!(
        found.contains("-XX:+UseConcMarkSweepGC")
            && found.contains("-XX:+PrintGCDateStamps")
            && found.contains("-XX:+UseMembar"),
        "{found}"
    );
    assert_eq!(
        finding(&j, "release-3.5.low-cardinality")["level"],
        "warning"
    );
    assert_eq!(finding(&j, "jdk.version")["level"], "error");
    // JDK 11 itself refuses the GC logging flag and UseMembar, not CMS.
    let jvm = finding(&j, "fe.java-opts.jvm")["found"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        jvm.contains("-XX:+PrintGCDateStamps") && !jvm.contains("UseConcMarkSweepGC"),
        "{jvm}"
    );
    assert_eq!(
        j["package_version"]
            .as_str()
            .map(|v| v.starts_with("3.5.1")),
        Some(true)
    );
}

#[test]
fn fe_with_a_jre_is_exit_3_before_any_copy_without_to_version() {
    let r = Rehearsal::new("3.3.2", "3.3.5", &[], &[]);
    let jre = jdk(r.dir.path(), "17", true);
    let o = r.command(&[]).env("JAVA_HOME", &jre).output().unwrap();
    let o = r.outcome(o);
    assert_eq!(o.code, Some(3), "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("is a JRE (no bin/javac)"), "{}", o.stdout);
    assert!(
        r.workspaces().is_empty(),
        "nothing copied, no workspace left"
    );
    r.assert_no_process_left();
}

#[test]
fn fe_to_version_against_another_package_is_exit_2_before_the_copy() {
    let r = Rehearsal::new("3.3.2", "3.3.5", &[], &[]);
    let o = r.run(&["--to-version", "3.4"]);
    assert_eq!(o.code, Some(2), "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("is StarRocks 3.3.5"), "{}", o.stdout);
    assert!(
        o.stdout.contains("not the --to-version 3.4.x"),
        "{}",
        o.stdout
    );
    assert!(r.workspaces().is_empty(), "refused before the workspace");
    assert_eq!(o.json["exit_code"], 2);
    r.assert_no_process_left();
}

#[test]
fn the_fe_report_records_the_jdk_and_the_precheck() {
    let r = Rehearsal::new("3.4.3", "3.5.1", &[], &["--fault", "jvm-option"]);
    let o = r.run(&["--from-version", "3.4.3"]);
    assert_eq!(o.code, Some(1), "{}", o.stdout);
    let jdk = &o.json["target"]["jdk"];
    assert_eq!(
        (jdk["major"].as_u64(), jdk["kind"].as_str()),
        (Some(17), Some("jdk")),
        "{jdk:#}"
    );
    assert_eq!(jdk["path"].as_str(), r.jdk.to_str());
    let pre = o.json["precheck"].as_array().unwrap();
    let opts = pre.iter().find(|f| f["id"] == "fe.java-opts.jvm").unwrap();
    assert_eq!(opts["level"], "error");
    assert!(
        opts["found"]
            .as_str()
            .unwrap()
            .contains("-XX:+UseConcMarkSweepGC"),
        "{opts:#}"
    );
    assert!(
        o.stdout.contains("precheck fe.java-opts.jvm"),
        "{}",
        o.stdout
    );
}

#[test]
fn be_sandbox_on_a_host_without_avx2_is_exit_3_before_anything() {
    let d = tempfile::tempdir().unwrap();
    let bad = host(d.path(), true);
    let home = package(d.path(), "be", "3.2.11");
    let new_be = package(d.path(), "be", "3.3.5");
    let ws = d.path().join("ws");
    fs::create_dir_all(&ws).unwrap();
    let report = d.path().join("be.json");
    let before = tree_digest(&home);
    let o = Command::new(tool_bin())
        .args([
            "be",
            "--be-home",
            home.to_str().unwrap(),
            "--new-be",
            new_be.to_str().unwrap(),
            "--workspace-root",
            ws.to_str().unwrap(),
            "--json",
            report.to_str().unwrap(),
        ])
        .env("SR_REHEARSE_HOST_ROOT", &bad)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(out.contains("this host cannot run the new BE"), "{out}");
    assert!(
        out.contains("host.cpu-avx2") && out.contains("host.open-files"),
        "{out}"
    );
    assert_eq!(fs::read_dir(&ws).unwrap().count(), 0, "no workspace");
    assert_eq!(tree_digest(&home), before, "the node is untouched");
    let j: serde_json::Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    let ids: Vec<&str> = j["precheck"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == "error")
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"host.cpu-avx2") && ids.contains(&"host.open-files"),
        "{ids:?}"
    );
}

#[test]
fn be_in_place_on_a_host_without_avx2_is_exit_3_and_moves_nothing() {
    let d = tempfile::tempdir().unwrap();
    let bad = host(d.path(), true);
    let node = BeNode::build("3.2.11", &[], &[]);
    let new_be = package(d.path(), "be", "3.3.5");
    let before = tree_digest(&node.home);
    let o = Command::new(tool_bin())
        .args([
            "be",
            "--in-place",
            "--be-home",
            node.home.to_str().unwrap(),
            "--new-be",
            new_be.to_str().unwrap(),
        ])
        .env("SR_REHEARSE_HOST_ROOT", &bad)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(
        out.contains("this host cannot run the new BE, nothing was changed"),
        "{out}"
    );
    assert_eq!(
        tree_digest(&node.home),
        before,
        "no lock, no journal, no backup"
    );
}

#[test]
fn the_fe_preflight_line_names_the_jdk() {
    let r = Rehearsal::new("3.3.2", "3.3.5", &[], &[]);
    let o = r.run(&["--plan"]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    let line = o.stdout.lines().find(|l| l.contains("preflight")).unwrap();
    assert!(
        line.contains(&format!("JDK 17 at {}", r.jdk.display())),
        "{}",
        o.stdout
    );
}
