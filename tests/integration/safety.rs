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

/// Runs `cmd` and gives its output, or fails the test (killing the tool) if it has not ended
/// after `limit`: a report path that holds the tool must fail, not hang the suite.
fn output_within(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let wchan =
                fs::read_to_string(format!("/proc/{}/wchan", child.id())).unwrap_or_default();
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still ran after {limit:?} (in {wchan})");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Exit 2 before the run, with one line naming the option and the path.
fn assert_refused(out: &std::process::Output, flag: &str, path: &Path, want: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{flag} {}: {err}",
        path.display()
    );
    assert!(
        err.lines().count() == 1
            && err.contains(&format!("{flag} {}", path.display()))
            && err.contains(want),
        "{flag} {}: want {want:?} in {err}",
        path.display()
    );
}

/// A report path that is a link is refused, whatever it leads to: into the source meta's
/// image/VERSION, the package's start script, a file the run would create inside the meta (a
/// dangling link), or a file elsewhere. Nothing runs and the link's target keeps its bytes.
#[test]
fn report_paths_that_are_links_are_refused_and_nothing_is_written_through_them() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    let d = r.dir.path();
    symlink(r.meta.join("image/VERSION"), d.join("into-meta.json"));
    symlink(r.pkg.join("bin/start_fe.sh"), d.join("into-package.xml"));
    symlink(r.meta.join("image/planted.json"), d.join("dangling.json"));
    symlink(d.join("elsewhere.json"), d.join("elsewhere-link.json"));
    let cases = [
        ("--json", "into-meta.json", "inside the meta dir"),
        ("--junit", "into-package.xml", "inside the new FE package"),
        ("--json", "dangling.json", "inside the meta dir"),
        ("--json", "elsewhere-link.json", "give the real path"),
    ];
    let version = fs::read(r.meta.join("image/VERSION")).unwrap();
    let before = (tree_digest(&r.meta), tree_digest(&r.pkg));
    for (flag, name, want) in cases {
        let link = d.join(name);
        let out = output_within(r.command(&[flag]).arg(&link), Duration::from_secs(120));
        assert_refused(&out, flag, &link, want);
        assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
        assert_eq!(fs::read(r.meta.join("image/VERSION")).unwrap(), version);
        assert_eq!(
            (tree_digest(&r.meta), tree_digest(&r.pkg)),
            before,
            "{name}"
        );
        assert!(!r.meta.join("image/planted.json").exists());
        assert!(!d.join("elsewhere.json").exists());
        assert!(r.workspaces().is_empty(), "{name}: nothing ran");
    }
    r.assert_no_process_left();
}

/// The BE canary's reports: a link to the node's be.conf, and a path inside a storage root that
/// be.conf names, are refused before the run.
#[test]
fn be_report_paths_into_the_node_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("node/be");
    let storage = d.path().join("node/storage");
    let new_be = d.path().join("release/be");
    fs::create_dir_all(&storage).unwrap();
    for (v, out) in [("3.2.11", &home), ("3.3.5", &new_be)] {
        run_sim(&[
            "make-package",
            "--role",
            "be",
            "--version",
            v,
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    let conf = home.join("conf/be.conf");
    let mut text = read(&conf);
    text.push_str(&format!("\nstorage_root_path = {}\n", storage.display()));
    fs::write(&conf, text).unwrap();
    symlink(&conf, d.path().join("be.json"));
    let before = (tree_digest(&home), tree_digest(&storage));
    let cases = [
        (d.path().join("be.json"), "inside the BE home"),
        (storage.join("r.json"), "inside the storage root"),
    ];
    for (report, want) in cases {
        let mut c = Command::new(tool_bin());
        c.args(["be", "--be-home"])
            .arg(&home)
            .arg("--new-be")
            .arg(&new_be)
            .arg("--workspace-root")
            .arg(d.path())
            .args(["--timeout", "60s", "--json"])
            .arg(&report)
            .stdin(Stdio::null());
        let out = output_within(&mut c, Duration::from_secs(120));
        assert_refused(&out, "--json", &report, want);
        assert_eq!((tree_digest(&home), tree_digest(&storage)), before);
    }
    kill_all_mentioning(d.path());
}

/// A FIFO as a report path would hold the tool in open() at the end of the run (a FIFO nobody
/// reads), where no signal ends it: refused before the run, for `fe` and for `check`.
#[test]
fn a_fifo_as_report_path_is_refused_before_the_run() {
    let r = Rehearsal::new("3.3.0", "3.3.0", &[], &[]);
    let fifo = r.dir.path().join("report.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let out = output_within(r.command(&["--junit"]).arg(&fifo), Duration::from_secs(120));
    assert_refused(&out, "--junit", &fifo, "is a FIFO, not a regular file");
    assert!(r.workspaces().is_empty());
    let mut c = Command::new(tool_bin());
    c.args(["check", "--fe", "127.0.0.1:1", "--json"])
        .arg(&fifo)
        .stdin(Stdio::null());
    let out = output_within(&mut c, Duration::from_secs(60));
    assert_refused(&out, "--json", &fifo, "is a FIFO");
    let mut c = Command::new(tool_bin());
    let link = r.dir.path().join("check-link.xml");
    symlink(r.dir.path().join("check.xml"), &link);
    c.args(["check", "--fe", "127.0.0.1:1", "--junit"])
        .arg(&link)
        .stdin(Stdio::null());
    assert_refused(
        &output_within(&mut c, Duration::from_secs(60)),
        "--junit",
        &link,
        "symbolic link",
    );
    r.assert_no_process_left();
}

/// `upgrade-plan --format ansible --out DIR`: a link planted in DIR under a file name the plan
/// writes is refused before the cluster is asked, and its target keeps its bytes; without it
/// the files are written new; a DIR inside the new package is refused.
#[test]
fn upgrade_plan_out_refuses_a_planted_link_and_writes_new_files() {
    let c = SimCluster::build("3.2.11", &[]);
    let (new_fe, new_be) = c.new_release("3.3.5");
    c.start_all();
    c.wait_healthy();
    let mut args: Vec<String> = Vec::new();
    for (flag, command) in [
        ("--rehearsal-report", "fe"),
        ("--canary-report", "be --in-place"),
    ] {
        let p = c.dir.join(format!("{}.json", &flag[2..]));
        let v = serde_json::json!({"schema": 1, "command": command, "verdict": "pass",
            "summary": "written by the test", "target": {"detected_version": "3.3.5-553732d"}});
        fs::write(&p, v.to_string()).unwrap();
        args.extend([flag.to_string(), p.display().to_string()]);
    }
    let out_dir = c.dir.join("playbook");
    fs::create_dir_all(&out_dir).unwrap();
    let victim = c.dir.join("victim.txt");
    fs::write(&victim, "keep").unwrap();
    let planted = out_dir.join("playbook.yml");
    symlink(&victim, &planted);
    let plan = |dir: &Path| {
        let mut a = args.clone();
        a.extend([
            "--format".into(),
            "ansible".into(),
            "--out".into(),
            dir.display().to_string(),
        ]);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        c.plan(&new_fe, &new_be, &a)
    };
    let out = plan(&out_dir);
    assert_refused(&out, "--out", &planted, "symbolic link");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
    assert!(!out_dir.join("inventory.yml").exists());

    fs::remove_file(&planted).unwrap();
    let out = plan(&out_dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["inventory.yml", "playbook.yml", "fe-node.yml"] {
        assert!(
            fs::symlink_metadata(out_dir.join(f)).unwrap().is_file(),
            "{f}"
        );
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");

    let inside = new_fe.join("playbook");
    let out = plan(&inside);
    assert_refused(&out, "--out", &inside, "inside the new FE package");
    assert!(!inside.exists());
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
        lines[0].contains("internal error") && lines[0].contains("report"),
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
    let _reaper = Reaper {
        groups: vec![victim.id() as i32],
    };
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
