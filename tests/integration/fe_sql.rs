//! The FE rehearsal's decision as real releases allow it: `/api/bootstrap`, the start line and
//! FE-only SQL, on metas whose recorded nodes are production hosts the sandbox never reaches.

use sr_rehearse::version::Version;

use crate::util::*;

/// Every consecutive minor upgrade the tool must pass on a healthy meta.
const UPGRADES: &[(&str, &str)] = &[
    ("2.5.22", "3.0.9"),
    ("3.0.9", "3.1.11"),
    ("3.1.11", "3.2.11"),
    ("3.2.11", "3.3.2"),
    ("3.3.2", "3.4.1"),
    ("3.4.1", "3.5.0"),
];

/// Recorded nodes of a production cluster: three frontends, three backends, none on this host.
const PRODUCTION_NODES: &[&str] = &[
    "--frontend",
    "192.0.2.11:9010",
    "--frontend",
    "192.0.2.12:9010",
    "--frontend",
    "192.0.2.13:9010",
    "--backend",
    "192.0.2.101:9050",
    "--backend",
    "192.0.2.102:9050",
    "--backend",
    "192.0.2.103:9050",
    "--table",
    "sales.orders:3",
    "--table",
    "sales.items:3",
    "--table",
    "ops.audit:1",
];

/// One rehearsal of `from` -> `to` on a production-like meta; the extra arguments go to
/// `make-meta` and to `sr-rehearse fe`, so a case can add its own production quirks.
fn rehearse_upgrade(from: &str, to: &str, meta_args: &[&str], tool_args: &[&str]) -> Outcome {
    rehearse_upgrade_env(from, to, meta_args, tool_args, &[])
}

fn rehearse_upgrade_env(
    from: &str,
    to: &str,
    meta_args: &[&str],
    tool_args: &[&str],
    env: &[(&str, &str)],
) -> Outcome {
    let mut args = PRODUCTION_NODES.to_vec();
    args.extend_from_slice(meta_args);
    let r = Rehearsal::new(from, to, &args, &[]);
    // 3.0 and 3.1 ship CMS options a JDK 17 refuses; their operators run JDK 11.
    let jdk = r.dir.path().join("jdk11");
    run_sim(&["make-jdk", "--major", "11", "--out", jdk.to_str().unwrap()]);
    let mut tool = vec!["--from-version", from, "--to-version", to];
    tool.extend_from_slice(tool_args);
    let mut cmd = r.command(&tool);
    if to.parse::<Version>().unwrap() < Version::new(3, 2, 0) {
        cmd.env("JAVA_HOME", &jdk);
    }
    cmd.envs(env.iter().copied());
    let o = r.outcome(cmd.output().unwrap());
    r.assert_no_process_left();
    o
}

#[test]
fn every_minor_upgrade_passes_on_production_hosts() {
    for (from, to) in UPGRADES {
        let o = rehearse_upgrade(from, to, &[], &[]);
        let case = format!("{from} -> {to}");
        assert_eq!(o.code, Some(0), "{case}\n{}\n{}", o.stdout, o.stderr);
        let j = &o.json;
        assert!(
            j["target"]["detected_version"]
                .as_str()
                .unwrap()
                .starts_with(to),
            "{case}"
        );

        // The catalog, as information.
        let c = &j["catalog"];
        let dbs: Vec<&str> = c["databases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        assert_eq!(dbs, ["information_schema", "ops", "sales"], "{case}");
        let per_db: Vec<(&str, u64)> = c["per_database"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["db_name"].as_str().unwrap(),
                    d["tables"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(per_db, [("ops", 1), ("sales", 2)], "{case}");
        assert_eq!(c["total"]["tables"], 3, "{case}");
        assert_eq!(c["total"]["replicas"], 7, "{case}");

        // SHOW FRONTENDS is reported, not required: up to 3.3 it lists production's frontends
        // and none of them is the sandbox; from 3.4 the reset leaves the sandbox alone.
        let fes = c["frontends"].as_array().unwrap();
        let hosts: Vec<&str> = fes.iter().map(|f| f["IP"].as_str().unwrap()).collect();
        let leaders = fes.iter().filter(|f| f["Role"] == "LEADER").count();
        if to.parse::<Version>().unwrap() < Version::new(3, 4, 0) {
            assert_eq!(hosts, ["192.0.2.11", "192.0.2.12", "192.0.2.13"], "{case}");
            assert_eq!(leaders, 0, "{case}");
            assert!(fes.iter().all(|f| f["Alive"] == "false"), "{case}");
        } else {
            assert_eq!(hosts, ["127.0.0.1"], "{case}");
            assert_eq!(leaders, 1, "{case}");
        }
        assert!(
            o.stdout.contains("catalog: 2 database(s), 3 table(s)"),
            "{case}: {}",
            o.stdout
        );
    }
}

#[test]
fn a_source_without_token_passes_with_the_token_the_fe_wrote() {
    for (from, to) in [("3.1.11", "3.2.11"), ("3.3.2", "3.4.1")] {
        let o = rehearse_upgrade(from, to, &["--token", ""], &["--timeout", "30s"]);
        assert_eq!(o.code, Some(0), "{from} -> {to}\n{}", o.stdout);
        let boot = o.json["probes"]["bootstrap"]["detail"].as_str().unwrap();
        assert!(boot.contains("\"feVersion\":\""), "{boot}");
    }
}

#[test]
fn a_wrong_password_is_bad_input_by_its_error_number() {
    let r = Rehearsal::new("3.2.11", "3.3.2", &["--root-password", "prod-secret"], &[]);
    let o = r
        .command(&["--password-env", "SR_TEST_PW"])
        .env("SR_TEST_PW", "not-it")
        .output()
        .unwrap();
    let o = r.outcome(o);
    assert_eq!(o.code, Some(2), "{}", o.stdout);
    let summary = o.json["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("the SQL check could not log in as 'root' (MySQL error 1045 (28000)"),
        "{summary}"
    );
    assert!(summary.contains("--password-env"), "{summary}");
    r.assert_no_process_left();

    let o = r
        .command(&["--password-env", "SR_TEST_PW"])
        .env("SR_TEST_PW", "prod-secret")
        .output()
        .unwrap();
    assert_eq!(r.outcome(o).code, Some(0));
}

#[test]
fn an_extra_query_that_needs_a_backend_is_refused_as_bad_input() {
    let r = Rehearsal::new("3.1.11", "3.2.11", &[], &[]);
    let o = r.run(&["--query", "SELECT 1"]);
    assert_eq!(o.code, Some(2), "{}", o.stdout);
    let summary = o.json["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("StarRocks 3.2.11-") && summary.contains("MySQL error 1064 (HY000)"),
        "{summary}"
    );
    // From 3.3 the FE answers it alone.
    let r = Rehearsal::new("3.2.11", "3.3.2", &[], &[]);
    let o = r.run(&["--query", "SELECT 1"]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    assert!(o.json["probes"]["query"]["detail"]
        .as_str()
        .unwrap()
        .ends_with("; SELECT 1: 1 row(s)"));
}

#[test]
fn a_user_without_privileges_gets_its_own_advice() {
    // 3.1 reports the missing privilege as 1227, 3.3 as 5203; the advice is the same.
    for (from, to, code) in [("3.0.9", "3.1.11", "1227"), ("3.2.11", "3.3.2", "5203")] {
        let o = rehearse_upgrade_env(
            from,
            to,
            &["--user", "etl:etl-pw"],
            &["--user", "etl", "--password-env", "SR_TEST_ETL_PW"],
            &[("SR_TEST_ETL_PW", "etl-pw")],
        );
        assert_eq!(o.code, Some(2), "{from} -> {to}\n{}", o.stdout);
        let summary = o.json["summary"].as_str().unwrap();
        assert!(
            summary.starts_with(&format!(
                "user 'etl' logged in but may not run `SHOW PROC '/statistic'` (MySQL error {code} (42000)"
            )),
            "{summary}"
        );
        assert!(summary.contains("--user root"), "{summary}");
    }
}

/// Issue 9's whole "done when" at once: every minor upgrade passes on a meta recording production
/// hosts, with a production fe.conf that names production's PID_DIR and LOG_DIR and logs at WARN,
/// from a workspace root with a blank in its name, while a production FE holds its fe.pid; that FE
/// runs on and its pid file is unchanged after all six.
#[test]
fn every_minor_upgrade_passes_beside_a_running_production_fe() {
    use std::os::unix::fs::MetadataExt;
    let mut prod = FeBuild::new("3.3.2", "3.3.2").build();
    let started = prod.start_daemon();
    assert!(started.status.success(), "{started:?}");
    prod.wait_ready();
    let pid_file = prod.home.join("bin/fe.pid");
    let pid_text = read(&pid_file);
    let pid_meta = std::fs::metadata(&pid_file).unwrap();
    let pid: i32 = pid_text.trim().parse().unwrap();

    for (from, to) in UPGRADES {
        let case = format!("{from} -> {to}");
        let mut r = Rehearsal::new(from, to, PRODUCTION_NODES, &[]);
        r.root = r.dir.path().join("rehearsal root");
        std::fs::create_dir_all(&r.root).unwrap();
        // Production's fe.conf as prepared for the new release (its JAVA_OPTS suit the JDK the
        // new release needs), plus what this production adds.
        let mut conf = read(&r.pkg.join("conf/fe.conf"));
        conf.push_str(&format!(
            "PID_DIR = {}\nLOG_DIR = {}\nsys_log_level = WARN\n",
            prod.home.join("bin").display(),
            prod.home.join("log").display()
        ));
        let conf_path = r.dir.path().join("prod-fe.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let jdk11 = r.dir.path().join("jdk11");
        run_sim(&[
            "make-jdk",
            "--major",
            "11",
            "--out",
            jdk11.to_str().unwrap(),
        ]);
        let mut cmd = r.command(&[
            "--prod-conf",
            conf_path.to_str().unwrap(),
            "--from-version",
            from,
            "--to-version",
            to,
        ]);
        // 3.0 and 3.1 ship CMS options a JDK 17 refuses; their operators run JDK 11.
        if to.parse::<Version>().unwrap() < Version::new(3, 2, 0) {
            cmd.env("JAVA_HOME", &jdk11);
        }
        let o = r.outcome(cmd.output().unwrap());
        assert_eq!(o.code, Some(0), "{case}\n{}\n{}", o.stdout, o.stderr);
        assert!(
            o.json["target"]["detected_version"]
                .as_str()
                .is_some_and(|v| v.starts_with(&format!("{to}-"))),
            "{case}: {}",
            o.json["target"]
        );
        r.assert_no_process_left();
        assert!(alive(pid), "{case}: production's FE still runs");
        let now = std::fs::metadata(&pid_file).unwrap();
        assert_eq!(read(&pid_file), pid_text, "{case}");
        assert_eq!(
            (now.ino(), now.mtime(), now.mtime_nsec()),
            (pid_meta.ino(), pid_meta.mtime(), pid_meta.mtime_nsec()),
            "{case}: production's fe.pid is untouched"
        );
    }
    prod.stop(&[]);
}
