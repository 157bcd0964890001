//! The sandbox fe.conf against what the release's scripts and FE do with it: `PID_DIR`, `LOG_DIR`
//! and other uppercase keys exported by `export_env_from_conf` after the script's own values,
//! `sys_log_level`, workspace paths the scripts' `eval` and unquoted expansions would change, and the
//! JDK the script will really run.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::util::*;

fn files_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_name() == name)
        .map(|e| e.path().to_path_buf())
        .collect()
}

// ---------------------------------------------------------------- the simulated scripts and FE

#[test]
fn start_and_stop_scripts_take_pid_dir_and_log_dir_from_fe_conf() {
    let elsewhere = tempfile::tempdir().unwrap();
    let pids = elsewhere.path().join("pids");
    let logs = elsewhere.path().join("logs");
    fs::create_dir_all(&pids).unwrap();
    let mut b = FeBuild::new("3.3.2", "3.3.2");
    b.conf = vec![
        format!("PID_DIR = {}", pids.display()),
        format!("LOG_DIR = \"{}\"", logs.display()),
    ];
    let mut n = b.build();
    let out = n.start_daemon();
    assert!(out.status.success(), "{out:?}");
    n.wait_ready();
    let pid: i32 = read(&pids.join("fe.pid")).trim().parse().unwrap();
    assert!(alive(pid));
    assert!(
        !n.home.join("bin/fe.pid").exists(),
        "fe.conf's PID_DIR wins over the script's bin/"
    );
    assert!(read(&logs.join("fe.out")).contains("using java version"));
    assert!(!n.home.join("log/fe.out").exists());
    // stop_fe.sh reads the same line, so it signals the FE that PID_DIR names.
    let stop = n.stop(&[]);
    assert!(stop.status.success(), "{stop:?}");
    wait_for("the FE to exit", std::time::Duration::from_secs(20), || {
        (!alive(pid)).then_some(())
    });
}

#[test]
fn sys_log_level_warn_drops_every_info_line() {
    let mut b = FeBuild::new("3.3.2", "3.3.2");
    b.conf = vec!["sys_log_level = warn".into()];
    let mut n = b.build();
    n.start_daemon();
    n.wait_ready();
    let log = n.log();
    assert!(
        !log.contains(" INFO ("),
        "no INFO record under sys_log_level = WARN:\n{log}"
    );
    assert!(!log.contains("StarRocks FE starting"));
    assert!(n.out().contains("<Root level=\"warn\""));
    n.stop(&[]);
}

#[test]
fn start_fe_sh_of_3_0_and_later_refuses_a_jre() {
    for (version, refused) in [
        ("2.5.22", None),
        ("3.0.9", Some("Error: JAVA_HOME can not be jre")),
        ("3.4.3", Some("pointing to a non-JDK path")),
    ] {
        let mut b = FeBuild::new(version, version);
        b.jdk = 8;
        if version == "3.4.3" {
            b.jdk = 11;
        }
        let major = b.jdk;
        let mut n = b.build();
        let jre = n.home.parent().unwrap().join("jre");
        run_sim(&[
            "make-jdk",
            "--major",
            &major.to_string(),
            "--out",
            jre.to_str().unwrap(),
            "--jre",
        ]);
        n.jdk = jre;
        let out = n.start_daemon();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), n.out());
        assert_eq!(
            text.contains("can not be jre") || text.contains("non-JDK path"),
            refused.is_some(),
            "{version}: {text}"
        );
        if let Some(message) = refused {
            assert!(text.contains(message), "{version}: {text}");
            assert!(!out.status.success());
            assert!(n.pid().is_none());
        } else {
            n.wait_ready();
            n.stop(&[]);
        }
    }
}

#[test]
fn jdk_named_in_fe_conf_is_the_one_start_fe_sh_runs() {
    let other = tempfile::tempdir().unwrap();
    let jdk11 = other.path().join("jdk11");
    run_sim(&[
        "make-jdk",
        "--major",
        "11",
        "--out",
        jdk11.to_str().unwrap(),
    ]);
    let mut b = FeBuild::new("3.5.1", "3.5.1");
    b.conf = vec![format!("JAVA_HOME = {}", jdk11.display())];
    let mut n = b.build();
    // The environment names JDK 17, which 3.5 accepts; fe.conf's JDK 11 is exported over it.
    let out = n.start_daemon();
    assert!(!out.status.success());
    let text = n.out();
    assert!(
        text.contains("JDK 11 is not supported, please use JDK version 17 or higher"),
        "{text}"
    );
    assert!(n.pid().is_none());
}

// ---------------------------------------------------------------- the tool

#[test]
fn plan_points_pid_dir_and_path_keys_into_the_workspace() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let prod = r.dir.path().join("prod/fe.conf");
    fs::write(
        &prod,
        "PID_DIR = /opt/starrocks/fe/bin\nSTARROCKS_HOME=/opt/starrocks/fe\nUDF_RUNTIME_DIR = \"/data/udf\"\nJAVA_HOME = ${JAVA_HOME}\nsys_log_level = ERROR\nJAVA_OPTS=\"-Xmx4g -XX:HeapDumpPath=/data/dumps\"\n",
    )
    .unwrap();
    let o = r.run(&["--prod-conf", prod.to_str().unwrap(), "--plan"]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    let ws = r.root.display().to_string();
    for (key, tail) in [
        ("PID_DIR", "/fe/bin"),
        ("STARROCKS_HOME", "/fe"),
        ("UDF_RUNTIME_DIR", "/fe/udf_runtime_dir\""),
    ] {
        let line = o
            .stdout
            .lines()
            .find(|l| l.contains(&format!("-> {key}")) || l.contains(&format!("->  {key}")))
            .unwrap_or_else(|| panic!("no change of {key}:\n{}", o.stdout));
        assert!(line.contains(&ws) && line.ends_with(tail), "{key}: {line}");
    }
    assert!(o
        .stdout
        .contains("sys_log_level = ERROR  ->  sys_log_level = INFO"));
    assert!(!o.stdout.contains("->  JAVA_HOME"), "JAVA_HOME stays");
    assert!(o
        .stdout
        .contains("JAVA_OPTS writes outside ${LOG_DIR} (-XX:HeapDumpPath=/data/dumps)"));
    let heap = o
        .stdout
        .lines()
        .find(|l| l.contains("->  JAVA_OPTS="))
        .unwrap_or_else(|| panic!("JAVA_OPTS is not rewritten:\n{}", o.stdout));
    assert!(
        heap.ends_with(&format!(
            "-XX:HeapDumpPath={ws}/sr-rehearse-<UTC timestamp>-<random>/fe/log\""
        )),
        "{heap}"
    );

    // A root the scripts would split: the plan names the link and writes only its paths.
    let mut r = r;
    r.root = r.dir.path().join("my root");
    fs::create_dir_all(&r.root).unwrap();
    let o = r.run(&["--prod-conf", prod.to_str().unwrap(), "--plan"]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    assert!(o.stdout.contains("and the link "), "{}", o.stdout);
    let pid_line = o
        .stdout
        .lines()
        .find(|l| l.contains("->  PID_DIR"))
        .unwrap();
    assert!(
        pid_line.ends_with("-fe/bin") && !pid_line.contains("my root"),
        "{pid_line}"
    );
    assert!(r.workspaces().is_empty(), "--plan creates nothing");
}

/// The "done when": production's fe.conf names production's PID_DIR and LOG_DIR and logs at
/// WARN, the workspace root has a blank in its name, and production's FE runs on: the rehearsal
/// passes and production's FE and its pid file are untouched.
#[test]
fn production_pid_dir_warn_level_and_a_blank_in_the_root() {
    let mut prod = FeBuild::new("3.3.2", "3.3.2").build();
    let started = prod.start_daemon();
    assert!(started.status.success(), "{started:?}");
    prod.wait_ready();
    let pid_file = prod.home.join("bin/fe.pid");
    let pid_text = read(&pid_file);
    let pid_meta = fs::metadata(&pid_file).unwrap();
    let pid: i32 = pid_text.trim().parse().unwrap();
    let prod_out_starts = prod.out().matches("using java version").count();

    let mut r = Rehearsal::new("3.3.2", "3.4.3", &[], &[]);
    r.root = r.dir.path().join("rehearsal root");
    fs::create_dir_all(&r.root).unwrap();
    let conf = r.dir.path().join("prod-fe.conf");
    let mut text = read(&prod.home.join("conf/fe.conf"));
    text.push_str(&format!(
        "PID_DIR = {}\nLOG_DIR = {}\nsys_log_level = WARN\n",
        prod.home.join("bin").display(),
        prod.home.join("log").display()
    ));
    fs::write(&conf, text).unwrap();

    let o = r.run(&[
        "--prod-conf",
        conf.to_str().unwrap(),
        "--to-version",
        "3.4",
        "--keep",
        "always",
    ]);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(alive(pid), "production's FE still runs");
    let after = fs::metadata(&pid_file).unwrap();
    assert_eq!(read(&pid_file), pid_text);
    assert_eq!(
        (after.ino(), after.mtime(), after.mtime_nsec()),
        (pid_meta.ino(), pid_meta.mtime(), pid_meta.mtime_nsec()),
        "production's fe.pid is untouched"
    );
    assert_eq!(
        prod.out().matches("using java version").count(),
        prod_out_starts,
        "the sandbox wrote nothing to production's fe.out"
    );
    let ws = &r.workspaces()[0];
    assert!(read(&ws.join("fe/log/fe.out")).contains("using java version"));
    assert!(read(&ws.join("fe/log/fe.log")).contains(" INFO ("));
    assert!(
        !r.dir.path().join("rehearsal").exists() && !Path::new("root").exists(),
        "the blank split no path out of the workspace"
    );
    let link = format!("{}-fe", ws.file_name().unwrap().to_string_lossy());
    assert!(
        !std::env::temp_dir().join(&link).exists() && !Path::new("/tmp").join(&link).exists(),
        "the link to the home is gone with the FE"
    );
    r.assert_no_process_left();
    prod.stop(&[]);
}

#[test]
fn command_substitution_in_the_root_runs_nothing() {
    let mut r = Rehearsal::new("3.3.2", "3.3.2", &[], &[]);
    r.root = r.dir.path().join("ws$(touch${IFS}marker)");
    fs::create_dir_all(&r.root).unwrap();
    let o = r.run(&["--keep", "always"]);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(
        files_named(r.dir.path(), "marker").is_empty() && !Path::new("marker").exists(),
        "no command from the workspace path ran"
    );
    let ws = &r.workspaces()[0];
    assert!(read(&ws.join("fe/log/fe.out")).contains("using java version"));
    r.assert_no_process_left();
}

#[test]
fn a_jre_is_refused_at_preflight() {
    let r = Rehearsal::new("3.3.2", "3.3.2", &[], &[]);
    let jre = r.dir.path().join("jre");
    run_sim(&[
        "make-jdk",
        "--major",
        "17",
        "--out",
        jre.to_str().unwrap(),
        "--jre",
    ]);
    let o = r
        .command(&["--to-version", "3.3"])
        .env("JAVA_HOME", &jre)
        .output()
        .unwrap();
    let o = r.outcome(o);
    assert_eq!(o.code, Some(3), "{}", o.stdout);
    assert!(o.stdout.contains("is a JRE (no bin/javac)"), "{}", o.stdout);
    assert!(r.workspaces().is_empty(), "nothing is left behind");
}

#[test]
fn java_home_in_fe_conf_is_the_jdk_checked() {
    let r = Rehearsal::new("3.4.3", "3.5.1", &[], &[]);
    let jdk11 = r.dir.path().join("jdk11");
    run_sim(&[
        "make-jdk",
        "--major",
        "11",
        "--out",
        jdk11.to_str().unwrap(),
    ]);
    let conf = r.dir.path().join("prod-fe.conf");
    fs::write(&conf, format!("JAVA_HOME = {}\n", jdk11.display())).unwrap();
    // The environment's JDK 17 would do; start_fe.sh would export fe.conf's JDK 11 over it.
    let o = r.run(&["--prod-conf", conf.to_str().unwrap(), "--to-version", "3.5"]);
    assert_eq!(o.code, Some(3), "{}", o.stdout);
    assert!(
        o.stdout
            .contains(&format!("JDK 11 at JAVA_HOME={}", jdk11.display())),
        "{}",
        o.stdout
    );
    assert!(r.workspaces().is_empty());
}

#[test]
fn to_version_of_a_line_takes_any_patch_and_a_patch_is_exact() {
    let r = Rehearsal::new("3.3.2", "3.3.10", &[], &[]);
    let o = r.run(&["--to-version", "3.3"]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    let o = r.run(&["--to-version", "3.3.1"]);
    assert_eq!(o.code, Some(1), "{}", o.stdout);
    assert!(
        o.stdout.contains("not the --to-version 3.3.1"),
        "{}",
        o.stdout
    );
}
