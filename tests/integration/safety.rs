//! The safety invariants under hostile use (issue 11): production is never written through a
//! symlink, report paths are checked before anything runs, a panic or a closed stdout still stops
//! the sandbox, input never panics the tool, `clean` never signals another user's or an unrelated
//! process group, report failures never hide the verdict, and the stop ladder does not linger.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::*;

const T: Duration = Duration::from_secs(60);

fn symlink(to: impl AsRef<Path>, at: impl AsRef<Path>) {
    std::os::unix::fs::symlink(to, at).unwrap();
}

fn warnings(o: &Outcome) -> String {
    o.json["warnings"].to_string()
}

/// `image/VERSION` and `bdb/` on another disk, as symlinks: the tool's VERSION patch and the
/// sandbox's journal writes must land in the copy, never on that disk.
#[test]
fn meta_symlinked_to_another_disk_is_copied_not_written_through() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    let disk = r.dir.path().join("other-disk");
    fs::create_dir_all(&disk).unwrap();
    fs::rename(r.meta.join("image/VERSION"), disk.join("VERSION")).unwrap();
    symlink(disk.join("VERSION"), r.meta.join("image/VERSION"));
    fs::rename(r.meta.join("bdb"), disk.join("bdb")).unwrap();
    symlink("../../other-disk/bdb", r.meta.join("bdb"));
    let before = (tree_digest(&disk), tree_digest(&r.meta));
    let o = r.run(&[]);
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    assert_eq!((tree_digest(&disk), tree_digest(&r.meta)), before);
    let w = warnings(&o);
    assert!(
        w.contains("image/VERSION ->") && w.contains("bdb ->") && w.contains("content"),
        "{w}"
    );
    r.assert_no_process_left();
}

#[test]
fn dangling_link_in_meta_is_refused_and_nothing_is_left() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    symlink("/nonexistent/sr-rehearse-test", r.meta.join("bdb/dangling"));
    let o = r.run(&[]);
    assert_eq!(o.code, Some(2), "{}{}", o.stdout, o.stderr);
    assert!(
        o.json["summary"].as_str().unwrap().contains("dangling"),
        "{}",
        o.json
    );
    assert!(r.workspaces().is_empty(), "{:?}", r.workspaces());
    r.assert_no_process_left();
}

#[test]
fn symlinked_meta_root_works() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    let link = r.dir.path().join("meta-link");
    symlink(&r.meta, &link);
    let before = tree_digest(&r.meta);
    let mut c = r.command(&[]);
    c.arg("--meta").arg(&link);
    let o = r.outcome(c.output().unwrap());
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    assert_eq!(tree_digest(&r.meta), before);
    r.assert_no_process_left();
}

/// A conf/ link out of the package (a common way to share one fe.conf) is copied, so the
/// sandbox's writes to its conf never reach the shared file.
#[test]
fn package_conf_linked_elsewhere_is_copied() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    let shared = r.dir.path().join("shared-conf");
    fs::rename(r.pkg.join("conf"), &shared).unwrap();
    symlink(&shared, r.pkg.join("conf"));
    let before = tree_digest(&shared);
    let o = r.run(&[]);
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    assert_eq!(tree_digest(&shared), before);
    r.assert_no_process_left();
}

#[test]
fn report_paths_are_checked_before_anything_runs() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    let same = r.dir.path().join("same.xml");
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (
            vec!["--json".into(), r.meta.join("r.json").into()],
            "meta dir",
        ),
        (
            vec!["--junit".into(), r.pkg.join("r.xml").into()],
            "package",
        ),
        (
            vec![
                "--json".into(),
                same.clone().into(),
                "--junit".into(),
                same.into(),
            ],
            "both name",
        ),
        (
            vec![
                "--junit".into(),
                r.dir.path().join("no/such/dir/r.xml").into(),
            ],
            "does not exist",
        ),
        (vec!["--junit".into(), r.dir.path().into()], "is a folder"),
        (
            vec!["--json".into(), "/dev/full".into()],
            "is a character device",
        ),
    ];
    for (args, want) in cases {
        let before = tree_digest(&r.meta);
        let out = r.command(&[]).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(want) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(r.workspaces().is_empty());
        assert_eq!(tree_digest(&r.meta), before);
    }
}

/// A report that cannot be written is printed, the other is still written, and the exit code is
/// the verdict's (here 1, a failed rehearsal), not the error's. The JSON report's folder is a
/// tmpfs with no inode left, mounted in a mount namespace of the tool's own: it passes the check
/// before the run (it exists and can be written) and the write at the end fails.
#[test]
fn a_failed_report_write_keeps_the_verdict() {
    if !is_root() {
        return skip(
            "a_failed_report_write_keeps_the_verdict",
            "mounting a tmpfs needs root",
        );
    }
    let r = Rehearsal::new("3.0.9", "3.3.2", &[], &[]);
    let full = r.dir.path().join("full");
    fs::create_dir(&full).unwrap();
    let junit = r.dir.path().join("r.xml");
    let tool = r.command(&["--json"]);
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o nr_inodes=1,size=64k none "$0" && exec "$@""#)
        .arg(&full)
        .arg(tool.get_program())
        .args(tool.get_args())
        .arg(full.join("r.json"))
        .arg("--junit")
        .arg(&junit)
        .envs(tool.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdin(Stdio::null());
    let out = match c.output() {
        Ok(o) => o,
        Err(e) => {
            return skip(
                "a_failed_report_write_keeps_the_verdict",
                format!("unshare: {e}"),
            )
        }
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "failed to write the JSON report to {}",
            full.join("r.json").display()
        )) && err.contains("No space left on device")
            && err.contains("the verdict stands (exit 1)"),
        "{err}"
    );
    let xml = fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert!(
        doc.descendants().any(|n| n.has_tag_name("failure")),
        "{xml}"
    );
    assert_eq!(
        fs::read_dir(&full).unwrap().count(),
        0,
        "the mount was the tool's own"
    );
    r.assert_no_process_left();
}

fn panic_at(point: &str, keep: &str) -> (Rehearsal, Outcome) {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    let out = r
        .command(&["--keep", keep])
        .env("SR_REHEARSE_TEST_PANIC_AT", point)
        .output()
        .unwrap();
    let o = r.outcome(out);
    assert_eq!(o.code, Some(101), "{}{}", o.stdout, o.stderr);
    let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines[0].contains("internal error")
            && lines[0].contains("report")
            && lines[0].contains("the sandbox of this run is being stopped"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("panicked at"), "{}", o.stderr);
    r.assert_no_process_left();
    (r, o)
}

#[test]
fn a_panic_after_launch_stops_the_sandbox_and_keeps_the_workspace() {
    let (r, _) = panic_at("launch", "on-failure");
    let ws = r.workspaces();
    assert_eq!(ws.len(), 1);
    assert!(
        !ws[0].join("run.json").exists(),
        "a kept workspace is not a killed run"
    );
}

#[test]
fn a_panic_with_keep_never_removes_the_workspace() {
    let (r, _) = panic_at("launch", "never");
    assert!(r.workspaces().is_empty(), "{:?}", r.workspaces());
}

#[test]
fn a_panicking_probe_stops_the_sandbox() {
    panic_at("probe", "on-failure");
}

/// `sr-rehearse demo | head`: the reader goes away, the tool keeps going, stops every sandbox
/// and ends as it would have.
#[test]
fn demo_into_a_closed_pipe_neither_panics_nor_leaves_a_server() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(tool_bin())
        .arg("demo")
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    use std::io::Read;
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is closed here: every later write of the tool meets EPIPE.
    let st = wait_exit(&mut child, Duration::from_secs(300));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(st.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let left = procs_mentioning(tmp.path());
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

#[test]
fn huge_durations_are_capped_not_a_panic() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    let o = r.run(&[
        "--timeout",
        "100000000years",
        "--stop-grace",
        "100000000years",
    ]);
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains("--timeout") && o.stderr.contains("--stop-grace"),
        "{}",
        o.stderr
    );
    r.assert_no_process_left();
}

/// File names and arguments are bytes on Unix, not UTF-8.
#[test]
fn non_utf8_paths_work() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    let odd = r
        .dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"prod-\xff\xfe"));
    fs::rename(r.meta.parent().unwrap(), &odd).unwrap();
    let meta = odd.join("meta");
    fs::write(
        meta.join(std::ffi::OsStr::from_bytes(b"note-\xff.txt")),
        "x",
    )
    .unwrap();
    let mut c = r.command(&[]);
    c.arg("--meta").arg(&meta);
    let o = r.outcome(c.output().unwrap());
    assert_eq!(o.code, Some(0), "{}{}", o.stdout, o.stderr);
    r.assert_no_process_left();
}

fn start_ticks(pid: u32) -> u64 {
    sr_rehearse::workspace::process_start_ticks(pid).unwrap()
}

/// Forged run folders naming an unrelated process group: `clean` reports them and touches
/// nothing, whether the forger got the leader's start time right or not, and whoever owns the
/// folder.
#[test]
fn clean_never_signals_a_group_it_cannot_prove_is_a_sandbox() {
    let root = tempfile::tempdir().unwrap();
    let mut victim = Command::new("sleep")
        .arg("600")
        .process_group(0)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut _reaper = Reaper::default();
    _reaper.push(victim.id() as i32);
    let pgid = victim.id() as i32;
    let forge = |name: &str, ticks: Option<u64>| {
        let dir = root
            .path()
            .join(format!("sr-rehearse-20260101-000000-{name}"));
        fs::create_dir(&dir).unwrap();
        let st = sr_rehearse::workspace::RunState {
            tool_pid: 999_999,
            tool_start_ticks: 1,
            phase: "running".into(),
            pgid: Some(pgid),
            pgid_start_ticks: ticks,
            pids: vec![pgid],
            ..Default::default()
        };
        sr_rehearse::workspace::write_run_state(&dir, &st).unwrap();
        dir
    };
    let exact = forge("exact", Some(start_ticks(victim.id())));
    let none = forge("none", None);
    let wrong = forge("wrong", Some(1));
    let foreign = forge("foreign", Some(start_ticks(victim.id())));
    std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::chown(foreign.join("run.json"), Some(65534), Some(65534)).unwrap();
    let out = Command::new(tool_bin())
        .args(["clean", "--workspace-root"])
        .arg(root.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        alive(victim.id() as i32),
        "clean killed an unrelated group: {text}"
    );
    assert!(victim.try_wait().unwrap().is_none());
    for d in [&exact, &none, &wrong, &foreign] {
        assert!(
            d.join("run.json").exists(),
            "{} was touched: {text}",
            d.display()
        );
        assert!(
            text.contains(&format!("{}: not cleaned", d.display())),
            "{text}"
        );
    }
    assert!(text.contains("not from the run folder"), "{text}");
    assert!(text.contains("uid 65534"), "{text}");
}

/// A stop script that exits without stopping the server: SIGTERM follows at once, not after the
/// grace (an hour here, longer than the test waits).
#[test]
fn a_stop_script_that_does_not_stop_leads_to_sigterm_at_once() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    fs::write(
        r.pkg.join("bin/stop_fe.sh"),
        "#!/usr/bin/env bash\nexit 0\n",
    )
    .unwrap();
    let mut child = r
        .command(&["--stop-grace", "1h"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let st = wait_exit(&mut child, T);
    let o = r.outcome(std::process::Output {
        status: st,
        stdout: Vec::new(),
        stderr: Vec::new(),
    });
    assert_eq!(o.code, Some(0));
    let stop = o.json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "stop")
        .unwrap()
        .clone();
    assert!(
        stop["detail"].as_str().unwrap().starts_with("SIGTERM"),
        "{stop}"
    );
    r.assert_no_process_left();
}

/// SIGINT while the sandbox is being stopped: the run still ends as interrupted (130), and the
/// JUnit report says so to CI.
#[test]
fn a_signal_during_the_stop_ends_with_130() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    // A stop script that hangs, so the stop lasts until the grace is over.
    fs::write(
        r.pkg.join("bin/stop_fe.sh"),
        "#!/usr/bin/env bash\nsleep 30\n",
    )
    .unwrap();
    let junit = r.dir.path().join("r.xml");
    let mut child = r
        .command(&["--stop-grace", "5s", "--junit"])
        .arg(&junit)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the stop to begin", T, || {
        let w = r.workspaces().into_iter().next()?;
        let st = sr_rehearse::workspace::read_run_state(&w)?;
        (st.phase == "stopping").then_some(())
    });
    kill(child.id() as i32, Signal::SIGINT);
    let st = wait_exit(&mut child, T);
    let o = r.outcome(std::process::Output {
        status: st,
        stdout: Vec::new(),
        stderr: Vec::new(),
    });
    assert_eq!(o.code, Some(130), "{}", o.json);
    assert_eq!(o.json["verdict"], "interrupted");
    let xml = fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert!(doc.descendants().any(|n| n.has_tag_name("error")), "{xml}");
    r.assert_no_process_left();
}
