//! Report paths under hostile use (probe round 2, issue 18): a report path that is a symlink
//! (into the meta, the package, be.conf, dangling, or elsewhere), that lies in a BE storage root,
//! that is a FIFO, or a link planted in `upgrade-plan --out` is refused before the run, and what it
//! pointed at keeps its bytes.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::*;

fn symlink(to: impl AsRef<Path>, at: impl AsRef<Path>) {
    std::os::unix::fs::symlink(to, at).unwrap();
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
