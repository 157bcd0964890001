//! The command line as users and CI meet it: parse errors, help, `--version`, completions, the man
//! page, colour, progress on a terminal only, the run log and the exit code of a SIGTERM.

use std::fs;
use std::process::{Command, Stdio};

use clap::CommandFactory;
use sr_rehearse::cli::Cli;

use crate::util::*;

const SUBCOMMANDS: &[&str] = &[
    "fe",
    "be",
    "scan",
    "demo",
    "check",
    "upgrade-plan",
    "clean",
    "completions",
    "man",
];

fn tool(args: &[&str]) -> std::process::Output {
    Command::new(tool_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Options that make no sense together (or outside their mode) are refused by clap with exit 2
/// and its message, before anything runs: nothing appears in the workspace root.
#[test]
fn mode_flags_that_do_not_apply_are_parse_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    fs::create_dir(&root).unwrap();
    let root_s = root.to_str().unwrap();
    let be = |extra: &[&str]| {
        let mut a = vec!["be", "--be-home", "/nonexistent/be"];
        // A sandbox run that got past the parser would create its folder here, not in /tmp; the
        // in-place modes have no workspace, and naming one is itself an error.
        if !extra.contains(&"--in-place") && !extra.contains(&"--rollback") {
            a.extend(["--workspace-root", root_s]);
        }
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (be(&["--new-be", "/x", "--soak", "5s"]), "--in-place"),
        (be(&["--new-be", "/x", "--fe", "h:9030"]), "--in-place"),
        (
            be(&["--new-be", "/x", "--in-place", "--be-host", "h"]),
            "--fe",
        ),
        (be(&["--new-be", "/x", "--in-place", "--user", "u"]), "--fe"),
        (be(&["--new-be", "/x", "--password-env", "P"]), "--fe"),
        (
            be(&["--new-be", "/x", "--in-place", "--storage-copy", "/s"]),
            "--storage-copy",
        ),
        (
            be(&["--new-be", "/x", "--in-place", "--keep", "always"]),
            "--keep",
        ),
        (
            be(&["--new-be", "/x", "--in-place", "--rollback"]),
            "--rollback",
        ),
        (be(&["--rollback", "--new-be", "/x"]), "--new-be"),
        (be(&["--rollback", "--plan"]), "--plan"),
        (be(&["--rollback", "--soak", "1s"]), "--soak"),
        (be(&["--rollback", "--fe", "h:9030"]), "--fe"),
        (
            be(&["--new-be", "/x", "--in-place", "--workspace-root", "/w"]),
            "--workspace-root",
        ),
        (
            be(&["--new-be", "/x", "--in-place", "--isolate", "none"]),
            "--isolate",
        ),
        (be(&["--rollback", "--isolate", "netns"]), "--isolate"),
        (
            be(&["--rollback", "--workspace-root", "/w"]),
            "--workspace-root",
        ),
        (
            [
                "fe",
                "--meta",
                "/m",
                "--new-fe",
                "/p",
                "--no-query",
                "--user",
                "u",
            ]
            .map(String::from)
            .to_vec(),
            "--no-query",
        ),
        (
            ["fe", "--meta", "/m", "--new-fe", "/p", "-q", "-v"]
                .map(String::from)
                .to_vec(),
            "--quiet",
        ),
        (["fe", "--bogus"].map(String::from).to_vec(), "--bogus"),
        (
            ["scan", "--list", "fe.log"].map(String::from).to_vec(),
            "--list",
        ),
        (
            [
                "upgrade-plan",
                "--fe",
                "h:8030",
                "--new-fe",
                "/f",
                "--new-be",
                "/b",
                "--wait",
                "5m",
            ]
            .map(String::from)
            .to_vec(),
            "--wait",
        ),
        (
            [
                "upgrade-plan",
                "--fe",
                "h:8030",
                "--new-fe",
                "/f",
                "--new-be",
                "/b",
                "-q",
            ]
            .map(String::from)
            .to_vec(),
            "-q",
        ),
    ];
    for (args, names) in cases {
        let o = Command::new(tool_bin()).args(&args).output().unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("error: "),
            "{args:?}: clap's message: {err}"
        );
        assert!(err.contains(names), "{args:?} names {names}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(
        fs::read_dir(&root).unwrap().count(),
        0,
        "nothing was created"
    );
}

/// The same flags in their own mode still parse: the refusals above are about the mode.
#[test]
fn in_place_flags_parse_in_place() {
    use clap::Parser;
    let ok = Cli::try_parse_from([
        "sr-rehearse",
        "be",
        "--be-home",
        "/b",
        "--new-be",
        "/n",
        "--in-place",
        "--fe",
        "h:9030",
        "--be-host",
        "h",
        "--user",
        "u",
        "--password-env",
        "P",
        "--soak",
        "5s",
    ]);
    assert!(ok.is_ok(), "{:?}", ok.err());
    let ok = Cli::try_parse_from([
        "sr-rehearse",
        "be",
        "--be-home",
        "/b",
        "--new-be",
        "/n",
        "--storage-copy",
        "/s",
        "--keep",
        "always",
        "--dry-run",
    ]);
    assert!(ok.is_ok(), "{:?}", ok.err());
}

/// Every option of every command says what it does, names its value, and (for the two run
/// commands, which have many) sits under a heading.
#[test]
fn every_option_has_help_and_a_value_name() {
    let cli = Cli::command();
    for sub in cli.get_subcommands() {
        assert!(
            sub.get_about().is_some(),
            "{} has a description",
            sub.get_name()
        );
        for arg in sub.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" {
                continue;
            }
            let what = format!("{} --{}", sub.get_name(), id);
            assert!(
                arg.get_help()
                    .is_some_and(|h| !h.to_string().trim().is_empty()),
                "{what} has help"
            );
            if arg.get_action().takes_values() {
                assert!(arg.get_value_names().is_some(), "{what} names its value");
            }
            if matches!(sub.get_name(), "fe" | "be") {
                assert!(arg.get_help_heading().is_some(), "{what} has a heading");
            }
        }
    }
}

/// `--dry-run` is `--plan`: the preflight runs, nothing is written or started.
#[test]
fn dry_run_is_the_plan() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let o = r.run(&["--dry-run"]);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("plan only: nothing was written"),
        "{}",
        o.stdout
    );
    assert!(r.workspaces().is_empty(), "no run folder");
}

/// `--version` names the commit the binary was built from ("unknown" without git).
#[test]
fn version_names_the_commit() {
    let o = tool(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    let git = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| text(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(
        text(&o.stdout).trim(),
        format!("sr-rehearse {} (commit {git})", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_cover_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = tool(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let s = text(&o.stdout);
        assert!(s.len() > 500, "{shell}: a real script");
        for sub in SUBCOMMANDS {
            assert!(s.contains(sub), "{shell} completes {sub}");
        }
        assert!(s.contains("storage-copy"), "{shell} completes options too");
    }
    let o = tool(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}

/// zsh's `_arguments` reads an option's spec as `--opt=[help]:message:action`, so a colon in a
/// value name (`HOST:PORT`) ends the message early and zsh runs the rest (`PORT`) as the action:
/// `_arguments:465: command not found: PORT` on every `--fe<TAB>`. Each spec of the generated
/// script must have exactly one message and one action.
#[test]
fn zsh_completion_specs_have_one_message_and_one_action() {
    let o = tool(&["completions", "zsh"]);
    assert_eq!(o.status.code(), Some(0));
    let script = text(&o.stdout);
    let mut specs = 0;
    for line in script.lines() {
        let line = line.trim();
        // '--fe=[help]:message:action' \  (repeatable options start with '*')
        let Some(rest) = line.strip_prefix("'").map(|l| l.trim_start_matches('*')) else {
            continue;
        };
        if !rest.starts_with('-') || !rest.contains("=[") {
            continue;
        }
        specs += 1;
        // The end of the [help] part: the first ']' that no backslash escapes.
        let bytes = rest.as_bytes();
        let close = (0..bytes.len())
            .find(|&i| bytes[i] == b']' && (i == 0 || bytes[i - 1] != b'\\'))
            .unwrap_or_else(|| panic!("no end of help in {line}"));
        let tail = rest[close + 1..]
            .trim_end_matches(" \\")
            .trim_end_matches('\'');
        let fields: Vec<&str> = split_unescaped_colons(tail);
        assert_eq!(
            fields.len(),
            3,
            "zsh spec with a stray colon (message and action must be one field each): {line}"
        );
    }
    assert!(specs > 20, "the script's option specs were found ({specs})");
    if which("zsh") {
        // install-deps installs zsh; without it the structural check above still runs.
        let f = tempfile::NamedTempFile::new().unwrap();
        fs::write(f.path(), &script).unwrap();
        let o = Command::new("zsh")
            .arg("-n")
            .arg(f.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "zsh -n: {}", text(&o.stderr));
    }
}

fn split_unescaped_colons(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = s.as_bytes();
    for i in 0..b.len() {
        if b[i] == b':' && (i == 0 || b[i - 1] != b'\\') {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

fn which(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn man_page_lists_every_subcommand() {
    let o = tool(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    let s = text(&o.stdout);
    assert!(
        s.starts_with(".ie") || s.contains(".TH sr-rehearse"),
        "roff: {s}"
    );
    for sub in SUBCOMMANDS {
        let entry = format!("sr\\-rehearse\\-{}(1)", sub.replace('-', "\\-"));
        assert!(s.contains(&entry), "the page lists {entry}");
    }
    assert!(s.contains("143"), "the exit codes are in the page");

    let dir = tempfile::tempdir().unwrap();
    let o = tool(&["man", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let fe = read(&dir.path().join("sr-rehearse-fe.1"));
    assert!(fe.contains("\\-\\-new\\-fe"), "{fe}");
    for sub in SUBCOMMANDS {
        assert!(
            dir.path().join(format!("sr-rehearse-{sub}.1")).is_file(),
            "{sub}"
        );
    }
    // A link planted where a page goes is replaced, never written through.
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    let page = dir.path().join("sr-rehearse-check.1");
    std::fs::remove_file(&page).unwrap();
    std::os::unix::fs::symlink(&victim, &page).unwrap();
    let o = tool(&["man", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(read(&victim), "keep me");
    assert!(!page.is_symlink() && read(&page).contains("\\-\\-wait"));
    let o = tool(&["man", "--out", "/nonexistent/man"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("--out /nonexistent/man is not a folder"));
}

/// Colour on stdout only when asked for (a terminal, or CLICOLOR_FORCE), never with NO_COLOR, and
/// never in the reports.
#[test]
fn colour_only_where_wanted_and_never_in_reports() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let junit = r.dir.path().join("junit.xml");
    let junit_s = junit.to_str().unwrap().to_string();
    let run = |env: &[(&str, &str)]| {
        let mut c = r.command(&["--junit", &junit_s]);
        c.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
        for (k, v) in env {
            c.env(k, v);
        }
        r.outcome(c.output().unwrap())
    };
    let o = run(&[]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    assert!(
        !o.stdout.contains('\x1b'),
        "a pipe gets plain text: {:?}",
        o.stdout
    );

    let o = run(&[("CLICOLOR_FORCE", "1")]);
    assert_eq!(o.code, Some(0));
    assert!(o.stdout.contains("\x1b["), "forced colour: {:?}", o.stdout);
    assert!(o.stdout.contains("PASS\x1b["), "the verdict is coloured");
    let json = read(&r.dir.path().join("report.json"));
    assert!(
        !json.contains('\x1b') && !json.contains("\\u001b"),
        "JSON is plain"
    );
    assert!(!read(&junit).contains('\x1b'), "JUnit is plain");

    let o = run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!o.stdout.contains('\x1b'), "NO_COLOR wins: {:?}", o.stdout);
}

/// `--color` is one option for every command, and `scan` colours by the same rule as `fe`.
#[test]
fn color_option_decides_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("be.WARNING");
    std::fs::write(
        &log,
        "E0227 08:39:28.849490   190 storage_engine.cpp:415] File descriptor number is less than 60000. Please use (ulimit -n) to set a value equal or greater than 60000\n",
    )
    .unwrap();
    let scan = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = std::process::Command::new(tool_bin());
        c.arg("scan").arg(&log).args(args);
        c.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
        for (k, v) in env {
            c.env(k, v);
        }
        text(&c.output().unwrap().stdout)
    };
    assert!(!scan(&[], &[]).contains('\x1b'), "a pipe gets plain text");
    let s = scan(&["--color", "always"], &[]);
    assert!(s.contains("failed: be.host.open-files\x1b["), "{s:?}");
    assert!(s.contains("fatal\x1b["), "{s:?}");
    assert!(scan(&[], &[("CLICOLOR_FORCE", "1")]).contains('\x1b'));
    assert!(!scan(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]).contains('\x1b'));
    // `check` by the same rule: its verdict and marks, coloured only when asked.
    let lease = free_ports(2);
    let p = lease.ports();
    let check = |args: &[&str]| {
        let o = std::process::Command::new(tool_bin())
            .args(["check", "--fe", &format!("127.0.0.1:{}", p[0])])
            .args(["--query-port", &p[1].to_string(), "--wait", "1s"])
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .output()
            .unwrap();
        text(&o.stdout)
    };
    assert!(!check(&[]).contains('\x1b'));
    let c = check(&["--color", "always"]);
    assert!(c.contains("timed out\x1b["), "{c:?}");
    // A global option: accepted before the command too.
    let o = std::process::Command::new(tool_bin())
        .args(["--color", "never", "scan"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
}

/// Progress is drawn on a terminal (the copy and the decide wait, saying what it waits for), and
/// never with `-q`, in CI, or on a pipe.
#[test]
fn progress_only_on_a_terminal() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let mut c = r.command(&[]);
    c.env_remove("CI").env("TERM", "xterm");
    let (code, out, err) = stderr_on_a_terminal(c);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(err.contains("copy meta"), "the copy's bar: {err:?}");
    assert!(
        err.contains("decide: waiting for"),
        "the wait says what for: {err:?}"
    );
    assert!(
        !out.contains('\x1b') && !out.contains('\r'),
        "stdout is a pipe: {out:?}"
    );

    for (args, env) in [(vec!["-q"], None), (vec![], Some(("CI", "true")))] {
        let mut c = r.command(&args);
        c.env_remove("CI").env("TERM", "xterm");
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        let (code, _, err) = stderr_on_a_terminal(c);
        assert_eq!(code, Some(0));
        assert!(
            !err.contains("copy meta") && !err.contains('\x1b'),
            "{args:?} {env:?}: {err:?}"
        );
    }

    let mut c = r.command(&["-v"]);
    c.env_remove("CI").env("TERM", "xterm");
    let o = r.outcome(c.output().unwrap());
    assert_eq!(o.code, Some(0));
    assert!(
        !o.stderr.contains('\r') && !o.stderr.contains('\x1b') && !o.stderr.contains("copy meta ["),
        "no progress bytes on a pipe: {:?}",
        o.stderr
    );
}

/// Under `CI` the wait is never silent: a plain line per startup phase the FE's own log reaches,
/// and one at a steady interval while it waits (a slow replay here), without a control character.
#[test]
fn ci_logs_get_the_phase_and_a_steady_progress_line() {
    let r = Rehearsal::new(
        "3.3.0",
        "3.3.0",
        &[],
        &["--fault", "slow-start", "--fault-secs", "4"],
    );
    let mut c = r.command(&[]);
    c.env("CI", "true").env("SR_REHEARSE_PROGRESS_EVERY", "1s");
    let o = r.outcome(c.output().unwrap());
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains("decide: loading the image image."),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("decide: still waiting"), "{}", o.stderr);
    assert!(
        !o.stderr.contains('\x1b') && !o.stderr.contains('\r'),
        "{:?}",
        o.stderr
    );
    // Not under CI, and not with -q.
    for (ci, args) in [(false, vec![]), (true, vec!["-q"])] {
        let mut c = r.command(&args);
        c.env_remove("CI").env("SR_REHEARSE_PROGRESS_EVERY", "1s");
        if ci {
            c.env("CI", "true");
        }
        let o = r.outcome(c.output().unwrap());
        assert!(!o.stderr.contains("decide:"), "{ci} {args:?}: {}", o.stderr);
    }
}

/// Every run writes its debug log into its run folder, kept with it; `-v` shows the steps on
/// stderr, the default shows none, and a closed stderr does not fail the run.
#[test]
fn run_log_in_the_run_folder_and_verbosity_on_stderr() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let o = r.run(&["--keep", "always"]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    assert!(
        !o.stderr.contains("step="),
        "no step events by default: {}",
        o.stderr
    );
    let ws = r.workspaces();
    assert_eq!(ws.len(), 1);
    let log = read(&ws[0].join("sr-rehearse.log"));
    for want in [
        "sr-rehearse started",
        "step=preflight",
        "step=copy meta",
        "probe /api/bootstrap",
        "stopping the sandbox",
        "run ended",
    ] {
        assert!(log.contains(want), "the run log has {want:?}:\n{log}");
    }
    assert!(log.contains("DEBUG"), "debug level");
    assert!(!log.contains('\x1b'));
    assert_eq!(
        fs::read_dir(&r.root).unwrap().count(),
        1,
        "the log is inside the run folder, nothing beside it"
    );
    fs::remove_dir_all(&ws[0]).unwrap();

    let o = r.run(&["-v", "--keep", "never"]);
    assert_eq!(o.code, Some(0));
    assert!(o.stderr.contains("step=decide"), "-v: {}", o.stderr);
    assert!(!o.stderr.contains("DEBUG"), "-v is info: {}", o.stderr);
    assert!(
        r.workspaces().is_empty(),
        "--keep never removes the log too"
    );

    let mut c = r.command(&["--keep", "never"]);
    c.env("RUST_LOG", "sr_rehearse=debug");
    let o = r.outcome(c.output().unwrap());
    assert!(
        o.stderr.contains("probe /api/bootstrap"),
        "RUST_LOG: {}",
        o.stderr
    );

    // Closed stderr, most verbose: the run still passes.
    let mut c = r.command(&["-vv", "--keep", "never"]);
    use std::os::unix::process::CommandExt;
    // SAFETY: close(2) is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            nix::libc::close(2);
            Ok(())
        });
    }
    let o = r.outcome(c.output().unwrap());
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    r.assert_no_process_left();
}
