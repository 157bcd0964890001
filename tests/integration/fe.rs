//! `sr-rehearse fe` end to end against simulated releases, through their real scripts.

use std::fs;
use std::process::Stdio;
use std::time::Duration;

use predicates::prelude::*;
use predicates::str::contains;

use crate::util::*;

const T: Duration = Duration::from_secs(60);

#[test]
fn passing_rehearsal_touches_nothing_and_leaves_nothing() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &["--cluster-id", "777"], &[]);
    let before = (tree_digest(&r.meta), tree_digest(&r.pkg));
    let o = r.run(&[
        "--keep",
        "always",
        "--junit",
        r.dir.path().join("junit.xml").to_str().unwrap(),
    ]);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert_eq!(
        (tree_digest(&r.meta), tree_digest(&r.pkg)),
        before,
        "meta dir and package untouched"
    );
    r.assert_no_process_left();

    let j = &o.json;
    assert_eq!(j["schema"], 1);
    assert_eq!(j["verdict"], "pass");
    assert_eq!(j["exit_code"], 0);
    assert_eq!(j["source"]["cluster_id"], 777);
    assert!(j["target"]["detected_version"]
        .as_str()
        .unwrap()
        .starts_with("3.3.2-"));
    assert_eq!(j["probes"]["query"]["ok"], true);
    let steps: Vec<&str> = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "preflight",
            "workspace",
            "copy meta",
            "rewrite fe.conf",
            "patch VERSION",
            "launch",
            "decide",
            "stop"
        ]
    );
    assert!(o
        .stdout
        .lines()
        .last()
        .unwrap()
        .starts_with("verdict: PASS (exit 0)"));
    assert!(
        o.stdout.lines().nth(1).unwrap().starts_with("isolation: "),
        "isolation is stated in the first lines"
    );

    // Invariant 2: sandbox ports differ from production's and are free again.
    let sandbox = j["ports"]["sandbox"].as_object().unwrap();
    let prod: Vec<u64> = j["ports"]["production"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .collect();
    for (k, p) in sandbox {
        assert!(
            !prod.contains(&p.as_u64().unwrap()),
            "{k} {p} equals a production port"
        );
        assert!(
            std::net::TcpListener::bind(("0.0.0.0", p.as_u64().unwrap() as u16)).is_ok(),
            "{k} {p} free again"
        );
    }
    // Invariant 3: the sandbox cluster id (fe.conf and VERSION) differs from the source's.
    let ws = &r.workspaces()[0];
    let conf = read(&ws.join("fe/conf/fe.conf"));
    let version = read(&ws.join("fe/meta/image/VERSION"));
    assert!(conf.contains("cluster_id = 123456"));
    assert!(version.contains("clusterId=123456\n") && !version.contains("clusterId=777"));
    assert!(
        conf.contains("metadata_failure_recovery = true")
            && conf.contains("bdbje_reset_election_group = true")
    );
    assert!(conf.contains("arrow_flight_port = -1"));
    assert!(conf.contains("frontend_address = 127.0.0.1"));
    assert!(read(&ws.join("fe/log/fe.log")).contains("use configured address. 127.0.0.1"));
    assert!(
        !ws.join(sr_rehearse::workspace::RUN_FILE).exists(),
        "a finished run leaves no run.json"
    );
    // Invariant 6: the manifest is the hash of the source bytes.
    let manifest = read(&ws.join("manifest.sha256"));
    let line = manifest
        .lines()
        .find(|l| l.ends_with("  image/VERSION"))
        .unwrap();
    use sha2::Digest;
    let want = format!(
        "{:x}",
        sha2::Sha256::digest(fs::read(r.meta.join("image/VERSION")).unwrap())
    );
    assert!(line.starts_with(&want));
    assert_eq!(j["source"]["manifest_digest"].as_str().unwrap().len(), 64);

    let junit = read(&r.dir.path().join("junit.xml"));
    let class = "<testcase classname=\"sr-rehearse.fe 3.3.2-";
    assert!(
        junit.contains(class) && junit.contains("name=\"decide\""),
        "{junit}"
    );
    assert!(!junit.contains("<failure"));
    // The logs' last lines travel with the reports (the workspace may be gone).
    let tail = j["log_tail"].as_array().unwrap();
    assert!(tail[0]["file"].as_str().unwrap().ends_with("fe/log/fe.log"));
    assert!(tail[0]["lines"].as_array().unwrap().len() <= 40, "{tail:?}");
    assert!(junit.contains("<system-out>==&gt; ") && junit.contains("fe/log/fe.log &lt;=="));
}

#[test]
fn verbose_shows_each_conf_change_and_quiet_only_the_verdict() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let o = r.run(&["-v"]);
    assert_eq!(o.code, Some(0));
    assert!(
        o.stdout.contains(": http_port = 8030  ->  http_port = "),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("(added)  cluster_id = 123456"));
    assert!(o.stdout.contains("seen fe.ready.started at fe.log:"));
    let o = r.run(&["-q"]);
    assert_eq!(o.code, Some(0));
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
    assert!(
        o.stdout
            .starts_with("verdict: PASS (exit 0): StarRocks 3.3.2-"),
        "-q keeps the verdict word: {}",
        o.stdout
    );
}

#[test]
fn rejected_metadata_fails_with_its_signature() {
    let r = Rehearsal::new("3.0.9", "3.3.2", &[], &[]);
    let o = r.run(&["--from-version", "3.0.9", "--to-version", "3.3.2"]);
    assert_eq!(o.code, Some(1), "{}", o.stdout);
    assert_eq!(o.json["verdict"], "fail");
    let sigs: Vec<&str> = o.json["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(sigs.contains(&"fe.meta.incompatible-version"), "{sigs:?}");
    assert!(o.json["warnings"]
        .to_string()
        .contains("skips minor versions"));
    assert_eq!(
        o.json["workspace"]["kept"], true,
        "kept on failure by default"
    );
    assert_eq!(r.workspaces().len(), 1);
    r.assert_no_process_left();
}

#[test]
fn downgrade_fails_on_unknown_operation_type() {
    let r = Rehearsal::new("3.5.0", "3.3.2", &[], &[]);
    // The Markdown summary, in a file and appended to GitHub Actions' step summary.
    let md = r.dir.path().join("summary.md");
    let step = r.dir.path().join("step-summary.md");
    std::fs::write(&step, "earlier step\n").unwrap();
    let out = r
        .command(&["--keep", "never", "--summary-md", md.to_str().unwrap()])
        .env("GITHUB_STEP_SUMMARY", &step)
        .output()
        .unwrap();
    let o = r.outcome(out);
    let summary = read(&md);
    assert!(
        summary.starts_with("### sr-rehearse fe: FAIL (exit 1)\n"),
        "{summary}"
    );
    assert!(
        summary.contains("fe.meta.unknown-operation-type at fe.log:"),
        "{summary}"
    );
    assert!(
        summary.contains("<details><summary>Last lines of "),
        "{summary}"
    );
    assert_eq!(read(&step), format!("earlier step\n{summary}"));
    assert_eq!(o.code, Some(1));
    assert!(o.json["summary"]
        .as_str()
        .unwrap()
        .starts_with("fe.meta.unknown-operation-type"));
    assert!(
        r.workspaces().is_empty(),
        "--keep never removes the workspace"
    );
    r.assert_no_process_left();
}

#[test]
fn jvm_failure_is_read_from_fe_out() {
    let r = Rehearsal::new("3.4.0", "3.5.0", &[], &["--fault", "jvm-option"]);
    let o = r.run(&[]);
    assert_eq!(o.code, Some(1));
    let sigs = o.json["signatures"].to_string();
    assert!(
        sigs.contains("fe.jvm.unrecognized-option") && sigs.contains("fe.out"),
        "{sigs}"
    );
    r.assert_no_process_left();
}

#[test]
fn timeout_stops_everything() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &["--fault", "hang"]);
    let o = r.run(&["--timeout", "3s"]);
    assert_eq!(o.code, Some(4), "{}", o.stdout);
    assert_eq!(o.json["verdict"], "timeout");
    assert!(
        o.json["summary"]
            .as_str()
            .unwrap()
            .contains("Last warning: fe.election."),
        "{}",
        o.json["summary"]
    );
    r.assert_no_process_left();
}

#[test]
fn fe_ignoring_sigterm_is_killed() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &["--fault", "ignore-sigterm"]);
    let o = r.run(&["--stop-grace", "1s"]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    let stop = o.json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "stop")
        .unwrap()
        .clone();
    assert!(
        stop["detail"].as_str().unwrap().starts_with("SIGKILL"),
        "{stop}"
    );
    r.assert_no_process_left();
}

#[test]
fn grandchild_of_the_fe_is_ended() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &["--fault", "grandchild"]);
    let o = r.run(&[]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    r.assert_no_process_left();
}

#[test]
fn fe_crash_leaves_no_process() {
    let r = Rehearsal::new(
        "3.3.0",
        "3.3.0",
        &[],
        &["--fault", "crash-after-ready", "--fault-secs", "0"],
    );
    let o = r.run(&[]);
    assert!(matches!(o.code, Some(0) | Some(1)), "{}", o.stdout);
    r.assert_no_process_left();
}

fn interrupt_mid_run(sig: Signal) {
    let r = Rehearsal::new(
        "3.3.0",
        "3.3.0",
        &[],
        &["--fault", "slow-start", "--fault-secs", "30"],
    );
    let mut child = r.command(&[]).stdout(Stdio::piped()).spawn().unwrap();
    wait_for("the FE replaying", T, || {
        r.workspaces().first().and_then(|w| {
            read(&w.join("fe/log/fe.log"))
                .contains("start to replay journal")
                .then_some(())
        })
    });
    kill(child.id() as i32, sig);
    let st = wait_exit(&mut child, T);
    let o = r.outcome(std::process::Output {
        status: st,
        stdout: Vec::new(),
        stderr: Vec::new(),
    });
    // The shell's convention, 128 + the signal: 130 for SIGINT, 143 for SIGTERM.
    assert_eq!(o.code, Some(128 + sig as i32));
    assert_eq!(o.json["verdict"], "interrupted");
    r.assert_no_process_left();
}

#[test]
fn sigint_stops_the_sandbox() {
    interrupt_mid_run(Signal::SIGINT);
}

#[test]
fn sigterm_stops_the_sandbox() {
    interrupt_mid_run(Signal::SIGTERM);
}

#[test]
fn clean_ends_the_orphans_of_a_killed_run() {
    let r = Rehearsal::new(
        "3.3.0",
        "3.3.0",
        &[],
        &["--fault", "slow-start", "--fault-secs", "60"],
    );
    let mut child = r.command(&[]).stdout(Stdio::null()).spawn().unwrap();
    let ws = wait_for("run.json with a process group", T, || {
        let w = r.workspaces().into_iter().next()?;
        let st = sr_rehearse::workspace::read_run_state(&w)?;
        st.pgid.map(|g| (w, g))
    });
    kill(child.id() as i32, Signal::SIGKILL);
    wait_exit(&mut child, T);
    assert!(
        !group_members(ws.1).is_empty(),
        "the sandbox FE outlives a SIGKILLed tool"
    );
    assert_cmd::Command::new(tool_bin())
        .args(["clean", "--workspace-root"])
        .arg(&r.root)
        .assert()
        .code(0)
        .stdout(contains("ended processes").and(contains("removed")));
    assert!(group_members(ws.1).is_empty());
    assert!(!ws.0.exists());
    r.assert_no_process_left();
}

#[test]
fn plan_changes_nothing() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let before = (tree_digest(&r.meta), tree_digest(&r.pkg));
    let o = r.run(&["--plan"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout.contains("plan (nothing below has been done)"));
    assert!(o.stdout.contains("line") && o.stdout.contains("http_port = 8030  ->  http_port = "));
    assert!(o.stdout.contains("clusterId="));
    assert!(r.workspaces().is_empty());
    assert!(
        !r.dir.path().join("report.json").exists(),
        "--plan writes no report file"
    );
    assert_eq!((tree_digest(&r.meta), tree_digest(&r.pkg)), before);
}

#[test]
fn production_conf_is_carried_and_its_ports_avoided() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let prod = r.dir.path().join("prod/fe.conf");
    fs::write(
        &prod,
        "# production\nLOG_DIR = /var/log/starrocks\nJAVA_OPTS=\"-Xmx4g -XX:+UseG1GC -Xlog:gc*:${LOG_DIR}/gc.log:time\"\nhttp_port = 8030\nhttp_port = 28030\nrpc_port = 29020\nquery_port = 29030\nedit_log_port = 29010\nmeta_dir = /data/starrocks/meta\ndump_log_dir = /var/log/starrocks/dump\n",
    )
    .unwrap();
    let before = tree_digest(prod.parent().unwrap());
    let o = r.run(&["--prod-conf", prod.to_str().unwrap(), "--keep", "always"]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    assert_eq!(tree_digest(prod.parent().unwrap()), before);
    assert_eq!(
        o.json["ports"]["production"]["http_port"], 28030,
        "the effective (later) line counts"
    );
    let conf = read(&r.workspaces()[0].join("fe/conf/fe.conf"));
    assert!(conf.starts_with("# production\n"));
    assert!(
        conf.contains("http_port = 8030\n"),
        "the ineffective duplicate stays as written"
    );
    assert!(conf.contains("JAVA_OPTS=\"-Xmx4g"));
    assert!(
        !conf.contains("/var/log/starrocks") && !conf.contains("/data/starrocks"),
        "no production path is left:\n{conf}"
    );
}

/// A link out of the meta dir is copied as the file it points to (the sandbox could otherwise
/// write through it), hashed in the manifest and listed in the report.
#[test]
fn outside_symlink_is_copied_as_content() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let notes = r.dir.path().join("notes.txt");
    fs::write(&notes, "kept elsewhere\n").unwrap();
    std::os::unix::fs::symlink(&notes, r.meta.join("image/notes")).unwrap();
    let o = r.run(&["--keep", "always"]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    let ws = &r.workspaces()[0];
    let copy = ws.join("fe/meta/image/notes");
    assert!(!fs::symlink_metadata(&copy)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(read(&copy), "kept elsewhere\n");
    assert!(read(&ws.join("manifest.sha256")).contains("  image/notes\n"));
    assert!(o.json["warnings"]
        .to_string()
        .contains("copied as the content it points to"));
}

/// Prepares one bad input and returns the extra arguments that carry it.
type Setup = Box<dyn Fn(&Rehearsal) -> Vec<String>>;

/// Every bad input: exit 2, one line naming the problem, nothing left in the workspace root.
#[test]
fn bad_input_is_refused_cleanly() {
    let cases: Vec<(&str, Setup, &str)> = vec![
        (
            "missing meta",
            Box::new(|r| {
                fs::remove_dir_all(&r.meta).unwrap();
                vec![]
            }),
            "failed to read meta dir",
        ),
        (
            "no VERSION",
            Box::new(|r| {
                fs::remove_file(r.meta.join("image/VERSION")).unwrap();
                vec![]
            }),
            "image/VERSION is missing although image/ROLE exists",
        ),
        (
            "bad clusterId",
            Box::new(|r| {
                fs::write(r.meta.join("image/VERSION"), "#d\nclusterId=abc\ntoken=x\n").unwrap();
                vec![]
            }),
            "clusterId `abc`, which is not an integer",
        ),
        (
            "same cluster id",
            Box::new(|r| {
                let v = read(&r.meta.join("image/VERSION"));
                let id = v
                    .lines()
                    .find_map(|l| l.strip_prefix("clusterId="))
                    .unwrap()
                    .to_string();
                vec!["--cluster-id".into(), id]
            }),
            "is the source's own cluster id",
        ),
        (
            "no start_fe.sh",
            Box::new(|r| {
                fs::remove_file(r.pkg.join("bin/start_fe.sh")).unwrap();
                vec![]
            }),
            "has no bin/start_fe.sh",
        ),
        (
            "bad prod port",
            Box::new(|r| {
                let p = r.dir.path().join("bad.conf");
                fs::write(&p, "http_port = eighty\n").unwrap();
                vec!["--prod-conf".into(), p.display().to_string()]
            }),
            "http_port = `eighty` (line 1) is not a port number",
        ),
        (
            "unparsable prod conf",
            Box::new(|r| {
                let p = r.dir.path().join("bin.conf");
                fs::write(&p, b"\0\x01\x02").unwrap();
                vec!["--prod-conf".into(), p.display().to_string()]
            }),
            "is not a text file",
        ),
        (
            "root inside meta",
            Box::new(|r| {
                vec![
                    "--workspace-root".into(),
                    r.meta.join("image").display().to_string(),
                ]
            }),
            "is inside the meta dir",
        ),
        (
            "zero timeout",
            Box::new(|_| vec!["--timeout".into(), "0s".into()]),
            "--timeout 0 leaves no time",
        ),
    ];
    for (name, setup, message) in cases {
        let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
        let extra = setup(&r);
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let o = r.run(&extra);
        assert_eq!(o.code, Some(2), "{name}: {}", o.stdout);
        let verdict = o.stdout.lines().last().unwrap_or("");
        assert!(
            verdict.starts_with("verdict: ERROR (exit 2)") && verdict.contains(message),
            "{name}: {verdict}"
        );
        assert!(r.workspaces().is_empty(), "{name}: nothing left behind");
    }
}

#[test]
fn netns_where_unavailable_is_an_environment_error() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let mut cmd = r.command(&["--isolate", "netns"]);
    if sr_rehearse::fence::available().is_ok() {
        // This host can fence (root, as in CI): run the tool as an unprivileged user, which
        // cannot, so the test runs everywhere instead of skipping where the fence works.
        use std::os::unix::process::CommandExt;
        const NOBODY: u32 = 65534;
        let st = std::process::Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(r.dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "chown the setup to nobody");
        cmd.uid(NOBODY).gid(NOBODY);
    }
    let o = r.outcome(cmd.output().unwrap());
    assert_eq!(o.code, Some(3));
    assert!(o.stdout.contains("network fence"));
    assert!(r.workspaces().is_empty());
}

#[test]
#[ignore = "needs root"]
fn not_enough_space_is_an_environment_error() {
    const TEST: &str = "not_enough_space_is_an_environment_error";
    // A small tmpfs is the honest way to make a disk too small; it needs root.
    if !is_root() {
        return skip(TEST, "needs root to mount a tmpfs");
    }
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let small = r.dir.path().join("small");
    fs::create_dir_all(&small).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&small)
        .status()
        .is_ok_and(|st| st.success());
    if !mounted {
        return skip(TEST, "this host refuses to mount a tmpfs");
    }
    let o = r.run(&["--workspace-root", small.to_str().unwrap()]);
    let _ = std::process::Command::new("umount").arg(&small).status();
    assert_eq!(o.code, Some(3), "{}", o.stdout);
    assert!(o.stdout.contains("not enough free space"));
}
