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
    assert!(o.stdout.contains(
        "JAVA_OPTS: -XX:HeapDumpPath=/data/dumps (heap dump) -> -XX:HeapDumpPath=<sandbox>/fe/log"
    ));
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
    // A package that is not the release asked for is bad input, found before the copy (#20).
    let o = r.run(&["--to-version", "3.3.1"]);
    assert_eq!(o.code, Some(2), "{}", o.stdout);
    assert!(
        o.stdout.contains("not the --to-version 3.3.1"),
        "{}",
        o.stdout
    );
    assert!(r.workspaces().is_empty(), "refused before the workspace");
}

// ---------------------------------------------------------------- fe.conf read with Java's lines

/// Production's fe.conf with the probe's line: `qe_max_connection = 1024<CR>meta_dir = <prod
/// meta><CR>query_port = 9030`, one line to an editor splitting at LF, three to the FE.
fn conf_with_bare_crs(r: &Rehearsal) -> PathBuf {
    let conf = r.dir.path().join("prod/fe.conf");
    let mut text = read(&r.pkg.join("conf/fe.conf"));
    text.push_str("meta_dir = /opt/starrocks/fe/meta\n");
    text.push_str(&format!(
        "qe_max_connection = 1024\rmeta_dir = {}\rquery_port = 9030\n",
        r.meta.display()
    ));
    fs::write(&conf, text).unwrap();
    conf
}

/// The probe's finding 3: the sandbox conf, read as the FE reads it (`props`, pinned to
/// `java.util.Properties` by its unit tests), names the sandbox's meta dir and query port, and the
/// lines only Java ended are said.
#[test]
fn a_bare_cr_never_gives_the_sandbox_production_meta_dir_or_query_port() {
    let r = Rehearsal::new("3.3.2", "3.3.2", &[], &[]);
    let conf = conf_with_bare_crs(&r);
    let o = r.run(&["--prod-conf", conf.to_str().unwrap(), "--keep", "always"]);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("end with a bare carriage return (CR)"),
        "{}",
        o.stdout
    );
    let ws = &r.workspaces()[0];
    let text = read(&ws.join("fe/conf/fe.conf"));
    assert!(!text.contains('\r'), "the sandbox ends those lines with LF");
    let java = sr_rehearse::props::parse_map(&text);
    let prod_meta = r.meta.display().to_string();
    assert_eq!(java["meta_dir"], format!("{}/fe/meta", ws.display()));
    assert_ne!(java["query_port"], "9030");
    assert_eq!(java["qe_max_connection"], "1024");
    assert!(!text.contains(&prod_meta), "{text}");
    assert_eq!(
        o.json["ports"]["sandbox"]["query_port"].to_string(),
        java["query_port"]
    );
    r.assert_no_process_left();
}

/// The same sandbox conf read by `java.util.Properties` itself (StarRocks' `ConfigBase` loads
/// fe.conf with it), where a JDK is installed: every key the tool reads is the one Java reads.
#[test]
fn the_sandbox_conf_reads_the_same_to_java() {
    let Some(java) = ["java"].iter().find(|j| {
        std::process::Command::new(j)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        return skip(
            "fe_conf::the_sandbox_conf_reads_the_same_to_java",
            "no `java` on PATH",
        );
    };
    let r = Rehearsal::new("3.3.2", "3.3.2", &[], &[]);
    let conf = conf_with_bare_crs(&r);
    let mut text = read(&conf);
    text.push_str("sys_log_dir = /var/log/\\\r\n  starrocks\nJAVA_OPTS = \"-Xmx1g \\\r   -Xloggc:$HOME/gc.log\"\n! frontend_address = 10.0.0.1\n");
    fs::write(&conf, text).unwrap();
    let o = r.run(&["--prod-conf", conf.to_str().unwrap(), "--keep", "always"]);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    let sandbox = r.workspaces()[0].join("fe/conf/fe.conf");
    let src = r.dir.path().join("Dump.java");
    fs::write(
        &src,
        "import java.io.*; import java.util.*;\n\
         public class Dump { public static void main(String[] a) throws Exception {\n\
           Properties p = new Properties(); try (FileReader r = new FileReader(a[0])) { p.load(r); }\n\
           for (String k : new TreeSet<>(p.stringPropertyNames())) System.out.println(k + \"\\t\" + p.getProperty(k)); } }\n",
    )
    .unwrap();
    let out = std::process::Command::new(java)
        .arg(&src)
        .arg(&sandbox)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    let mut ours: Vec<(String, String)> = sr_rehearse::props::parse_map(&read(&sandbox))
        .into_iter()
        .collect();
    ours.sort();
    let ours: Vec<String> = ours.iter().map(|(k, v)| format!("{k}\t{v}")).collect();
    assert_eq!(ours, theirs);
    assert!(!ours
        .iter()
        .any(|l| l.contains(&r.meta.display().to_string())));
}

/// The probe's finding 12, through `--plan`: every JAVA_OPTS output moves into the sandbox's log
/// folder (`$HOME` and `${HOME}` expanded as start_fe.sh's `eval` does, an option the shell finds
/// after a continuation too), the JMX, JDWP and agent ports are dropped, and each is named.
#[test]
fn java_opts_outputs_and_ports_are_moved_or_dropped() {
    let r = Rehearsal::new("3.3.2", "3.3.2", &[], &[]);
    let conf = r.dir.path().join("prod/fe.conf");
    let mut text = read(&r.pkg.join("conf/fe.conf"));
    text.push_str(
        "JAVA_OPTS = \"-Xmx4g -Xloggc:$HOME/fe.gc.log -XX:ErrorFile=${HOME}/hs_err_%p.log -XX:HeapDumpPath=$HOME/dumps -XX:+LogVMOutput -XX:LogFile=/var/log/starrocks/vm.log -XX:StartFlightRecording=filename=/var/log/starrocks/fe.jfr -XX:FlightRecorderOptions=repository=/data/jfr -Djava.io.tmpdir=/data/prod-tmp -Dcom.sun.management.jmxremote.port=9999 -Dcom.sun.management.jmxremote.rmi.port=9998 -javaagent:/opt/jmx_prometheus_javaagent.jar=9404:/opt/jmx.yaml -agentlib:jdwp=transport=dt_socket,server=y,suspend=n,address=*:5005 -Xlog:safepoint:/var/log/starrocks/safepoint.log -Dfoo=1\\\n    -Xloggc:/var/log/starrocks/gc2.log\"\n",
    );
    fs::write(&conf, text).unwrap();
    let o = r.run(&["--prod-conf", conf.to_str().unwrap(), "--plan"]);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    // The change spans the two physical lines: `before` (two lines)  ->  `after` (two lines).
    let after: String = o
        .stdout
        .lines()
        .skip_while(|l| !l.contains("  ->  JAVA_OPTS = \"-Xmx4g"))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    let after = after
        .split("  ->  ")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", o.stdout));
    for gone in [
        "HOME", "/var/log", "/data", "9999", "9998", "9404", "5005", "jdwp",
    ] {
        assert!(!after.contains(gone), "{gone} left in: {after}");
    }
    let log = "sr-rehearse-<UTC timestamp>-<random>/fe/log";
    for moved in [
        format!("-Xloggc:{}/{log}/fe.gc.log", r.root.display()),
        format!("{log}/hs_err_%p.log"),
        format!("-XX:HeapDumpPath={}/{log} ", r.root.display()),
        format!("-XX:LogFile={}/{log}/vm.log", r.root.display()),
        format!("filename={}/{log}/fe.jfr", r.root.display()),
        format!("repository={}/{log} ", r.root.display()),
        "fe/tmp -Xlog".into(),
        format!("-Xlog:safepoint:{}/{log}/safepoint.log", r.root.display()),
        format!("-Xloggc:{}/{log}/gc2.log", r.root.display()),
    ] {
        assert!(after.contains(&moved), "{moved} not in: {after}");
    }
    // Said in one warning, and in the plan as one change line each.
    let warning = o
        .stdout
        .lines()
        .find(|l| l.starts_with("warning: ") && l.contains(": JAVA_OPTS: "))
        .unwrap_or_else(|| panic!("{}", o.stdout));
    for named in [
        "JAVA_OPTS: -Xloggc:$HOME/fe.gc.log (GC log, truncated at start) -> -Xloggc:<sandbox>/fe/log/fe.gc.log; ",
        "; -Dcom.sun.management.jmxremote.port=9999 (JMX remote port and its settings) -> dropped; ",
        "; -javaagent:/opt/jmx_prometheus_javaagent.jar=9404:/opt/jmx.yaml (Java agent listening on a port) -> dropped; ",
        "; -agentlib:jdwp=transport=dt_socket,server=y,suspend=n,address=*:5005 (debugger port) -> dropped; ",
        "; -Xloggc:/var/log/starrocks/gc2.log (GC log, truncated at start) -> ",
    ] {
        assert!(warning.contains(named), "{named} not said:\n{warning}");
    }
    for line in [
        format!(": -Xloggc:$HOME/fe.gc.log  ->  -Xloggc:{}/{log}/fe.gc.log", r.root.display()),
        ": -Dcom.sun.management.jmxremote.rmi.port=9998  ->  (dropped: JMX remote port and its settings)".into(),
        ": -Djava.io.tmpdir=/data/prod-tmp  ->  ".into(),
    ] {
        assert!(o.stdout.contains(&line), "{line} not in the plan:\n{}", o.stdout);
    }
    assert!(r.workspaces().is_empty());
}

/// A key line the start scripts read otherwise than Java: `read` turns `PID_DIR\ =` into an
/// export of PID_DIR, Java into the key `PID_DIR `, so a rewrite following Java would leave the
/// sandbox's stop script production's pid folder. Refused, naming the file and the line.
#[test]
fn a_key_line_the_start_scripts_read_otherwise_is_refused() {
    let r = Rehearsal::new("3.3.2", "3.3.2", &[], &[]);
    let conf = r.dir.path().join("prod/fe.conf");
    let mut text = read(&r.pkg.join("conf/fe.conf"));
    let n = text.lines().count() + 1;
    text.push_str("PID_DIR\\ = /opt/starrocks/fe/bin\n");
    fs::write(&conf, text).unwrap();
    let o = r.run(&["--prod-conf", conf.to_str().unwrap(), "--plan"]);
    assert_eq!(o.code, Some(2), "{}\n{}", o.stdout, o.stderr);
    let said = format!("{o:?}", o = (&o.stdout, &o.stderr));
    assert!(
        said.contains(&format!("{}: line {n}: PID_DIR", conf.display())),
        "{said}"
    );
    fs::write(&conf, "k = \\u00zz\n").unwrap();
    let o = r.run(&["--prod-conf", conf.to_str().unwrap(), "--plan"]);
    assert_eq!(o.code, Some(2), "{}\n{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("malformed \\uxxxx") || o.stdout.contains("malformed \\uxxxx"));
}

/// `ConfigBase.replacedByEnv` expands `${VAR}` in every value it loaded, the shell's uppercase
/// keys too: a `${VAR}` the FE's environment lacks fails the start even in `JAVA_OPTS`.
#[test]
fn an_unset_variable_in_an_uppercase_key_fails_the_fe() {
    let mut b = FeBuild::new("3.3.2", "3.3.2");
    b.conf = vec!["JAVA_OPTS_FOR_JDK_9 = \"-Dx=${SR_REHEARSE_TEST_UNSET}\"".into()];
    let mut n = b.build();
    n.start_daemon();
    // A deadline, not a wait for the exit: an FE that wrongly starts would never exit.
    wait_for(
        "fe.out to name the unset variable",
        std::time::Duration::from_secs(30),
        || {
            n.out()
                .contains("no such env variable: SR_REHEARSE_TEST_UNSET")
                .then_some(())
        },
    );
    wait_for("the FE to exit", std::time::Duration::from_secs(30), || {
        n.pid().is_none_or(|p| !alive(p)).then_some(())
    });
}
