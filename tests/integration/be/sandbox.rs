//! The sandbox canary: the new build started on a copy of the node's setup, on its own ports, while
//! the node runs on; it must catch what breaks the build on this host, leave the node and the
//! package as they were, and leave no process behind, interrupted or killed.

use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{sig_ids, Node, T};
use crate::util::*;

#[test]
fn sandbox_passes_and_touches_nothing() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    let before = (tree_digest(&n.home), tree_digest(&n.new_be));
    let (code, out, j) = n.sandbox(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        (tree_digest(&n.home), tree_digest(&n.new_be)),
        before,
        "node and package untouched"
    );
    assert!(j["target"]["detected_version"]
        .as_str()
        .unwrap()
        .starts_with("3.3.5"));
    let prod: Vec<u64> = j["ports"]["production"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .collect();
    for (k, p) in j["ports"]["sandbox"].as_object().unwrap() {
        assert!(
            !prod.contains(&p.as_u64().unwrap()),
            "{k} collides with production"
        );
    }
    assert!(n.workspaces().is_empty());
    assert!(procs_mentioning(n.dir.path()).is_empty(), "no process left");
}

#[test]
fn sandbox_catches_what_breaks_a_build_on_this_host() {
    for (version, fault, id) in [
        ("3.3.5", "no-avx2", "be.cpu.avx2"),
        ("2.5.22", "no-avx2", "be.cpu.avx2"),
        ("3.3.5", "missing-library", "be.lib.shared-library"),
        ("3.0.2", "lib-without-bin", "be.lib.bin-not-replaced"),
        ("3.3.5", "port-in-use", "be.port.http"),
        ("3.2.11", "tablet-load-failure", "be.storage.tablet-load"),
    ] {
        let n = Node::new("3.2.11", version, &["--fault", fault]);
        let (code, out, j) = n.sandbox(&["--keep", "never"]);
        assert_eq!(code, Some(1), "{version} {fault}: {out}");
        assert!(
            sig_ids(&j).contains(id),
            "{version} {fault}: {}",
            sig_ids(&j)
        );
        assert!(
            procs_mentioning(n.dir.path()).is_empty(),
            "{fault}: no process left"
        );
    }
}

#[test]
fn sandbox_slow_tablet_load_times_out_with_advice() {
    let n = Node::new(
        "3.2.11",
        "3.3.5",
        &["--fault", "slow-tablet-load", "--fault-secs", "30"],
    );
    let (code, out, j) = n.sandbox(&["--timeout", "2s"]);
    assert_eq!(code, Some(4), "{out}");
    assert!(
        j["summary"]
            .as_str()
            .unwrap()
            .contains("allow a longer --timeout"),
        "{out}"
    );
    assert!(procs_mentioning(n.dir.path()).is_empty());
}

#[test]
fn sandbox_plan_changes_nothing() {
    let n = Node::new("2.5.22", "3.3.5", &[]);
    let before = (tree_digest(&n.home), tree_digest(&n.new_be));
    let (code, out, _) = n.sandbox(&["--plan"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("plan (nothing below has been done)"));
    assert!(
        out.contains(&format!(
            "webserver_port = {}  ->  webserver_port = ",
            n.http
        )),
        "the 2.x key is moved: {out}"
    );
    assert!(out.contains("(added)  arrow_flight_port = -1"));
    assert_eq!((tree_digest(&n.home), tree_digest(&n.new_be)), before);
    assert!(n.workspaces().is_empty());
    assert!(!n.dir.path().join("report.json").exists());
}

#[test]
fn sandbox_interrupted_stops_everything() {
    let n = Node::new(
        "3.2.11",
        "3.3.5",
        &["--fault", "slow-tablet-load", "--fault-secs", "60"],
    );
    let mut child = n
        .cmd(&["--new-be", n.new_be.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The BE writes its pid before it loads tablets (whose INFO lines glog holds back).
    wait_for("the sandbox BE loading tablets", T, || {
        n.workspaces().first().and_then(|w| {
            read(&w.join("be/bin/be.pid"))
                .trim()
                .parse::<i32>()
                .ok()
                .filter(|p| alive(*p))
        })
    });
    kill(child.id() as i32, Signal::SIGTERM);
    let st = wait_exit(&mut child, T);
    assert_eq!(st.code(), Some(143), "SIGTERM is 128 + 15");
    let j: serde_json::Value =
        serde_json::from_str(&read(&n.dir.path().join("report.json"))).unwrap();
    assert_eq!(j["verdict"], "interrupted");
    wait_for("no process left", Duration::from_secs(5), || {
        procs_mentioning(n.dir.path()).is_empty().then_some(())
    });
}

#[test]
fn sandbox_bad_input() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    fs::rename(n.home.join("conf/be.conf"), n.home.join("conf/be.conf.bak")).unwrap();
    let (code, out, _) = n.sandbox(&[]);
    assert_eq!(code, Some(2));
    assert!(
        out.contains("conf/be.conf") && out.contains("--be-home"),
        "{out}"
    );
    fs::rename(n.home.join("conf/be.conf.bak"), n.home.join("conf/be.conf")).unwrap();

    let mut conf = read(&n.home.join("conf/be.conf"));
    conf.push_str("storage_root_path = relative/dir,medium:SSD\n");
    fs::write(n.home.join("conf/be.conf"), &conf).unwrap();
    let (code, out, _) = n.sandbox(&[]);
    assert_eq!(code, Some(2));
    assert!(
        out.contains("storage_root_path (line") && out.contains("must be absolute"),
        "{out}"
    );

    let n = Node::new("3.2.11", "3.3.5", &[]);
    fs::remove_file(n.new_be.join("lib/starrocks_be")).unwrap();
    let (code, out, _) = n.sandbox(&[]);
    assert_eq!(code, Some(2));
    assert!(out.contains("has no lib/starrocks_be"), "{out}");
    assert!(n.workspaces().is_empty());
}

/// On a terminal the storage copy shows a bar and the wait says what it waits for; on a pipe
/// (CI) stderr carries no progress bytes.
#[test]
fn sandbox_progress_on_a_terminal_only() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    let root = n.dir.path().join("node/storage");
    fs::create_dir_all(root.join("data/10005")).unwrap();
    fs::write(root.join("data/10005/0.dat"), b"tablet bytes").unwrap();
    let args = [
        "--new-be",
        n.new_be.to_str().unwrap(),
        "--storage-copy",
        root.to_str().unwrap(),
    ];
    let mut c = n.cmd(&args);
    c.env_remove("CI").env("TERM", "xterm");
    let (code, out, err) = stderr_on_a_terminal(c);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        err.contains("copy storage"),
        "the storage copy's bar: {err:?}"
    );
    assert!(
        err.contains("decide: waiting for the BE to answer /api/health"),
        "the wait says what for: {err:?}"
    );
    let o = n.cmd(&args).env_remove("CI").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains('\r') && !err.contains('\x1b') && !err.contains("copy storage"),
        "{err:?}"
    );
}

#[test]
fn sandbox_storage_copy_is_copied_not_used() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    let root = n.dir.path().join("node/storage");
    fs::create_dir_all(root.join("data/10005")).unwrap();
    fs::write(root.join("data/10005/0.dat"), b"tablet bytes").unwrap();
    let before = tree_digest(&root);
    let (code, out, j) = n.sandbox(&["--storage-copy", root.to_str().unwrap(), "--keep", "always"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        tree_digest(&root),
        before,
        "the node's storage root is only read"
    );
    let ws = &n.workspaces()[0];
    assert_eq!(
        read(&ws.join("be/storage/data/10005/0.dat")),
        "tablet bytes"
    );
    assert!(
        read(&ws.join("be/log/be.INFO")).contains("loaded tablet: 1,"),
        "the sandbox BE loaded the copy"
    );
    assert!(j["steps"].to_string().contains("copied"));
}

#[test]
fn clean_ends_a_killed_sandbox_canary() {
    let n = Node::new(
        "3.2.11",
        "3.3.5",
        &["--fault", "slow-tablet-load", "--fault-secs", "60"],
    );
    fs::create_dir_all(n.new_be.join("lib/jdbc_drivers")).unwrap();
    let package = tree_digest(&n.new_be);
    let mut child = n
        .cmd(&["--new-be", n.new_be.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (ws, pgid) = wait_for("run.json with a process group", T, || {
        let w = n.workspaces().into_iter().next()?;
        let st = sr_rehearse::workspace::read_run_state(&w)?;
        st.pgid.map(|g| (w, g))
    });
    kill(child.id() as i32, Signal::SIGKILL);
    wait_exit(&mut child, T);
    assert!(
        !group_members(pgid).is_empty(),
        "the sandbox BE outlives a SIGKILLed tool"
    );
    let out = Command::new(tool_bin())
        .args(["clean", "--workspace-root"])
        .arg(&n.root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ended processes"));
    assert!(group_members(pgid).is_empty());
    assert!(!ws.exists());
    assert_eq!(
        tree_digest(&n.new_be),
        package,
        "the sandbox never wrote into the package's lib/"
    );
}

/// A storage root whose data folder links to another disk, and one with a dangling link: the
/// first is copied (the sandbox BE writes only into its copy), the second refused with exit 2.
#[test]
fn sandbox_storage_copy_follows_the_symlink_rule() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    let disk = n.dir.path().join("other-disk/10005");
    fs::create_dir_all(&disk).unwrap();
    fs::write(disk.join("0.dat"), b"tablet bytes").unwrap();
    let root = n.dir.path().join("node/storage");
    fs::create_dir_all(root.join("data")).unwrap();
    std::os::unix::fs::symlink(&disk, root.join("data/10005")).unwrap();
    let before = tree_digest(&disk);
    let (code, out, j) = n.sandbox(&["--storage-copy", root.to_str().unwrap(), "--keep", "always"]);
    assert_eq!(code, Some(0), "{out}");
    // The storage copy reports what the copy met, as the FE's meta copy does.
    assert!(
        j["warnings"].to_string().contains(
            "symlink pointing out of the storage root copied as the content it points to"
        ),
        "{j}"
    );
    assert_eq!(j["source"]["file_count"], 1, "{j}");
    assert_eq!(tree_digest(&disk), before);
    let ws = &n.workspaces()[0];
    let copied = ws.join("be/storage/data/10005");
    assert!(!fs::symlink_metadata(&copied)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(read(&copied.join("0.dat")), "tablet bytes");
    std::os::unix::fs::symlink("/nonexistent/sr-rehearse", root.join("data/gone")).unwrap();
    let (code, out, j) = n.sandbox(&["--storage-copy", root.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(j["summary"].as_str().unwrap().contains("dangling"), "{j}");
    let failed: Vec<&str> = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "failed")
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["storage"], "a failed copy is a failed step: {j}");
}

#[test]
fn sandbox_plan_lists_the_steps_the_run_takes() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    let (code, plan, _) = n.sandbox(&["--plan"]);
    assert_eq!(code, Some(0), "{plan}");
    assert!(!plan.contains("OnFailure"), "{plan}");
    let (code, out, j) = n.sandbox(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        crate::fe_shape::planned_steps(&plan),
        crate::fe_shape::run_steps(&j),
        "{plan}"
    );
}

/// A port of the sandbox BE taken after the pick (by the test hook, before start_be.sh runs):
/// one relaunch on new ports, and exit 3 naming the holder when it happens again.
#[test]
fn sandbox_port_taken_before_the_bind_is_retried_once_then_the_environment() {
    let n = Node::new("3.2.11", "3.3.5", &[]);
    let run = |times: &str| {
        let _ = fs::remove_file(n.dir.path().join("report.json"));
        let mut c = n.cmd(&["--new-be", n.new_be.to_str().unwrap(), "--isolate", "none"]);
        let child = c
            .env("SR_REHEARSE_TEST_SQUAT", format!("be_http_port:{times}"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        let j: serde_json::Value =
            serde_json::from_str(&read(&n.dir.path().join("report.json"))).unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            j,
            pid,
        )
    };
    let (code, out, j, _) = run("1");
    assert_eq!(code, Some(0), "{out}");
    assert!(j["steps"].to_string().contains("port retry"), "{j}");
    assert!(j["warnings"].to_string().contains("be_http_port"), "{j}");
    let (code, out, j, pid) = run("2");
    assert_eq!(code, Some(3), "{out}");
    assert!(
        j["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("pid {pid} (sr-rehearse) holds it")),
        "{j}"
    );
    assert!(procs_mentioning(n.dir.path()).is_empty());
}
