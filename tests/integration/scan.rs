//! `sr-rehearse scan` over the fixture corpus: every file's verdict, every signature covered.

use predicates::prelude::*;
use predicates::str::{contains, ends_with};
use sr_rehearse::watch::catalog::{Role, CATALOG};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::*;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs")
}

fn expected() -> Vec<(String, String)> {
    read(&corpus().join("expected.tsv"))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (f, v) = l.split_once('\t').unwrap();
            (f.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn every_fixture_gets_its_expected_verdict() {
    let cases = expected();
    assert!(cases.len() > 100, "the corpus is there");
    let mut wrong = Vec::new();
    for (file, want) in &cases {
        let r = sr_rehearse::scan::scan(&[corpus().join(file)], None).unwrap();
        if &r.verdict != want {
            wrong.push(format!("{file}: got `{}`, want `{want}`", r.verdict));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_signature_is_covered_in_each_era() {
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for (file, _) in expected() {
        let r = sr_rehearse::scan::scan(&[corpus().join(&file)], None).unwrap();
        let era = if file.contains(".3.2.") || file.contains(".2.5.") {
            "old"
        } else if file.contains(".3.3.") {
            "new"
        } else {
            "any"
        };
        for m in r.matches {
            seen.insert((m.id.to_string(), era.to_string()));
            seen.insert((m.id.to_string(), "any".to_string()));
        }
    }
    for sig in CATALOG {
        assert!(
            seen.contains(&(sig.id.to_string(), "any".to_string())),
            "{} has no fixture",
            sig.id
        );
    }
    // Lines inside log files must be recognised with both timestamp / glog prefixes.
    for id in [
        "fe.meta.incompatible-version",
        "fe.meta.unknown-operation-type",
        "fe.election.wait",
        "be.port.http",
        "be.storage.bad-path",
        "be.ready.started",
    ] {
        for era in ["old", "new"] {
            assert!(
                seen.contains(&(id.to_string(), era.to_string())),
                "{id} not seen in the {era} format"
            );
        }
    }
}

#[test]
fn stack_traces_attach_to_the_line_that_started_them() {
    let r = sr_rehearse::scan::scan(
        &[corpus().join("fe.meta.unknown-operation-type.3.3.fe.log")],
        None,
    )
    .unwrap();
    let m = r
        .matches
        .iter()
        .find(|m| m.id == "fe.meta.unknown-operation-type")
        .unwrap();
    assert_eq!(
        m.line, 4,
        "reported at the ERROR line the exception belongs to"
    );
    assert!(m.text.contains("fail to read journal entity key=21460997"));
}

#[test]
fn gzip_and_rotated_names_and_several_files() {
    let files = [
        corpus().join("rotated-compressed.fe.log.20240102-1.gz"),
        corpus().join("fe.log.20240101-1"),
    ];
    let r = sr_rehearse::scan::scan(&files, None).unwrap();
    assert_eq!(r.verdict, "started");
    assert_eq!(r.files.len(), 2);
    let lines = read(&files[1]).lines().count();
    assert!(
        r.files
            .iter()
            .all(|f| f.role == Role::Fe && f.lines == lines),
        "the .gz file decompresses to the same {lines} lines"
    );
    let both = sr_rehearse::scan::scan(
        &[
            corpus().join("fe.log.20240101-1"),
            corpus().join("fe.jvm.unrecognized-option.fe.out"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(both.verdict, "failed: fe.jvm.unrecognized-option");
}

#[test]
fn cli_verdicts_formats_and_errors() {
    let scan = || {
        let mut c = assert_cmd::Command::new(tool_bin());
        c.arg("scan");
        c
    };
    let c = corpus();
    scan()
        .arg(c.join("fe.meta.incompatible-version.3.3.fe.log"))
        .assert()
        .code(1)
        .stdout(
            contains(
                "fe.meta.incompatible-version.3.3.fe.log:4 [fatal] fe.meta.incompatible-version",
            )
            .and(contains(
                "what to do: upgrade through the intermediate minor versions",
            ))
            .and(ends_with("verdict: failed: fe.meta.incompatible-version").trim()),
        );

    let o = scan()
        .args(["--format", "json"])
        .arg(c.join("clean-start-be-3.3.5.be.INFO"))
        .assert()
        .code(0);
    let j: serde_json::Value = serde_json::from_slice(&o.get_output().stdout).unwrap();
    assert_eq!(j["verdict"], "started");
    assert_eq!(j["files"][0]["role"], "be");

    let o = scan().arg("--list").assert().code(0);
    assert_eq!(
        String::from_utf8_lossy(&o.get_output().stdout)
            .lines()
            .filter(|l| !l.starts_with(' '))
            .count(),
        CATALOG.len()
    );

    scan()
        .arg("/nonexistent/fe.log")
        .assert()
        .code(2)
        .stderr(contains("failed to open /nonexistent/fe.log"));
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("server.txt");
    std::fs::write(&odd, "x\n").unwrap();
    scan()
        .arg(&odd)
        .assert()
        .code(2)
        .stderr(contains("pass --role fe or --role be"));
    scan()
        .args(["--role", "fe"])
        .arg(&odd)
        .assert()
        .code(0)
        .stdout(contains("verdict: no StarRocks lines found"));
}

/// The id a failed rehearsal's summary names, and the verdict `scan` gives on the logs it left.
fn live_and_scan(r: &Rehearsal, extra: &[&str]) -> (String, String) {
    let o = r.run(extra);
    assert_eq!(o.code, Some(1), "{}\n{}", o.stdout, o.stderr);
    let live = o.json["summary"]
        .as_str()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let ws = r.workspaces();
    assert_eq!(ws.len(), 1, "a failed run keeps its workspace");
    let log = ws[0].join("fe/log");
    let scanned =
        sr_rehearse::scan::scan(&[log.join("fe.log"), log.join("fe.warn.log")], None).unwrap();
    r.assert_no_process_left();
    (live, scanned.verdict)
}

#[test]
fn a_downgrade_names_the_unknown_operation_type_live_and_in_scan() {
    let r = Rehearsal::new("3.5.0", "3.3.2", &[], &[]);
    let (live, scanned) = live_and_scan(&r, &[]);
    assert_eq!(live, "fe.meta.unknown-operation-type");
    assert_eq!(scanned, format!("failed: {live}"));
}

#[test]
fn an_incompatible_image_is_named_live_and_in_scan() {
    let r = Rehearsal::new("3.0.9", "3.3.2", &[], &[]);
    let (live, scanned) = live_and_scan(&r, &["--from-version", "3.0.9", "--to-version", "3.3.2"]);
    assert_eq!(live, "fe.meta.incompatible-version");
    assert_eq!(scanned, format!("failed: {live}"));
}

#[test]
fn the_exception_after_start_failed_names_the_failure_live_and_in_scan() {
    // ImageLoader.checkCheckSum throws; StarRocksFE logs `StarRocksFE start failed` with the
    // exception on the following lines. The cause, not the generic first line, is the verdict.
    let r = Rehearsal::new("3.4.2", "3.5.0", &[], &[]);
    let v2 = r.meta.join("image/v2");
    let ck = std::fs::read_dir(&v2)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("checksum.")
        })
        .expect("a 3.4 meta has a v2 checksum");
    let wrong: u64 = read(&ck).trim().parse::<u64>().unwrap() ^ 1;
    std::fs::write(&ck, wrong.to_string()).unwrap();
    let (live, scanned) = live_and_scan(&r, &[]);
    assert_eq!(live, "fe.meta.image-checksum");
    assert_eq!(scanned, format!("failed: {live}"));
}

fn scan_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(tool_bin());
    c.arg("scan").args(args);
    c
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn the_role_comes_from_the_content_when_the_name_does_not_say() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("fe.meta.unknown-operation-type.3.3.fe.log", Role::Fe),
        ("be.storage.disk.2.5.be.INFO", Role::Be),
        ("fe.jvm.unrecognized-option.fe.out", Role::Fe),
        ("be.lib.glibc.be.out", Role::Be),
    ];
    for (i, (fixture, role)) in cases.iter().enumerate() {
        let odd = dir.path().join(format!("node{i}.txt"));
        std::fs::copy(corpus().join(fixture), &odd).unwrap();
        let named = sr_rehearse::scan::scan(&[corpus().join(fixture)], None).unwrap();
        let r = sr_rehearse::scan::scan(std::slice::from_ref(&odd), None).unwrap();
        assert_eq!(r.files[0].role, *role, "{fixture}");
        assert_eq!(r.files[0].role_from, "content");
        assert_eq!(
            r.verdict, named.verdict,
            "{fixture}: same verdict as under its own name"
        );
    }
    // --role only overrides.
    let odd = dir.path().join("node0.txt");
    let r = sr_rehearse::scan::scan(&[odd], Some(Role::Be)).unwrap();
    assert_eq!(
        (r.files[0].role, r.files[0].role_from),
        (Role::Be, "--role")
    );
}

#[test]
fn standard_input_is_read_whole_plain_or_gzip() {
    let fixture = corpus().join("fe.meta.unknown-operation-type.3.3.fe.log");
    let plain = std::fs::read(&fixture).unwrap();
    let lines = plain.iter().filter(|&&b| b == b'\n').count();
    for (arg, bytes) in [
        ("-", plain.clone()),
        ("-", gzip(&plain)),
        ("/dev/stdin", gzip(&plain)),
    ] {
        let mut child = scan_cmd(&["--format", "json", arg])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            stdin.write_all(&bytes).unwrap();
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(1), "{arg}");
        assert_eq!(j["files"][0]["lines"], lines, "{arg}: no byte lost");
        assert_eq!(j["files"][0]["role_from"], "content");
        assert_eq!(j["verdict"], "failed");
        assert_eq!(j["root_cause"], "fe.meta.unknown-operation-type");
        assert_eq!(j["summary"], "failed: fe.meta.unknown-operation-type");
        assert_eq!(
            (j["schema"].as_u64(), j["command"].as_str()),
            (Some(1), Some("scan"))
        );
        assert_eq!(j["exit_code"], 1);
    }
}

#[test]
fn a_fifo_is_read_and_a_signal_ends_a_waiting_scan_with_128_plus_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fe.log");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let fixture = corpus().join("fe.meta.unknown-operation-type.3.3.fe.log");
    let child = scan_cmd(&[fifo.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Opening for writing returns once the scan has opened the FIFO for reading.
    std::fs::write(&fifo, std::fs::read(&fixture).unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout)
        .ends_with("verdict: failed: fe.meta.unknown-operation-type\n"));

    for (sig, code) in [(Signal::SIGINT, 130), (Signal::SIGTERM, 143)] {
        let mut child = scan_cmd(&[fifo.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A writer that never writes: the scan waits for data.
        let held = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        kill(child.id() as i32, sig);
        let st = wait_exit(&mut child, Duration::from_secs(20));
        drop(held);
        assert_eq!(st.code(), Some(code), "{sig:?}");
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert!(err.contains("interrupted by signal"), "{err}");
    }
}

#[test]
fn a_line_without_newline_is_cut_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("fe.log");
    let mut bytes = vec![b'x'; 5 << 20];
    bytes.extend_from_slice(b"\n2024-01-01 00:00:00,000 ERROR (main|1) [GlobalStateMgr.loadHeader():1301] Not compatible with meta version 3, current version is 4\n");
    std::fs::write(&p, &bytes).unwrap();
    let r = sr_rehearse::scan::scan(std::slice::from_ref(&p), None).unwrap();
    assert_eq!(r.files[0].lines, 2);
    assert_eq!(r.files[0].cut, 1, "the 5 MiB line was cut");
    assert_eq!(r.verdict, "failed: fe.meta.incompatible-version");
    assert!(sr_rehearse::scan::render_human(&r).contains("1 over-long line(s) or record(s) cut"));
}

#[test]
fn bad_files_are_named_and_the_others_still_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let bad_gz = dir.path().join("fe.log.1.gz");
    std::fs::write(
        &bad_gz,
        [0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3],
    )
    .unwrap();
    let odd = dir.path().join("notes.txt");
    std::fs::write(&odd, "nothing to see\n").unwrap();
    let sub = dir.path().join("logs");
    std::fs::create_dir(&sub).unwrap();
    let good = corpus().join("clean-start-fe-3.3.5.fe.log");
    let arg = |p: &Path| p.to_str().unwrap().to_string();
    let out = scan_cmd(&[&arg(&sub), &arg(&bad_gz), &arg(&odd), &arg(&good)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(err.lines().count(), 3, "{err}");
    assert!(
        err.contains(&format!("failed to scan {}: it is a directory", arg(&sub))),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "failed to decompress {}: not a valid gzip file",
            arg(&bad_gz)
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "cannot tell whether {} is an FE or a BE log",
            arg(&odd)
        )),
        "{err}"
    );
    assert!(
        stdout.contains("clean-start-fe-3.3.5.fe.log: Fe log"),
        "{stdout}"
    );
    assert!(stdout.ends_with("verdict: started\n"), "{stdout}");
    for alone in [&sub, &bad_gz] {
        let o = scan_cmd(&[&arg(alone)]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", alone.display());
    }
}

#[test]
fn reach_attempts_come_from_the_lines_heartbeat_manager_writes() {
    // A production-like backend address the sandbox must not reach, and one that answers.
    let answering = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = answering.local_addr().unwrap().port();
    // Answers every heartbeat for as long as the test process lives.
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        for s in answering.incoming().flatten() {
            let mut line = String::new();
            let _ = BufReader::new(&s).read_line(&mut line);
            let _ = (&s).write_all(b"OK version=3.3.2\n");
        }
    });
    let here = format!("127.0.0.1:{port}");
    let r = Rehearsal::new(
        "3.2.5",
        "3.3.2",
        &["--backend", "10.20.30.40:9050", "--backend", &here],
        &[],
    );
    let o = r.run(&["--isolate", "none", "--no-query", "--keep", "always"]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    let fe_log = read(&r.workspaces()[0].join("fe/log/fe.log"));
    assert!(
        fe_log.contains("backend heartbeat got exception, addr: 10.20.30.40:9050\norg.apache.thrift.transport.TTransportException: java.net.SocketTimeoutException: connect timed out\n\tat "),
        "the simulator writes HeartbeatMgr's line with the exception on the next lines"
    );
    let attempts = o.json["isolation"]["reach_attempts"]
        .as_array()
        .unwrap()
        .clone();
    let find = |t: &str| attempts.iter().find(|a| a["target"] == t).cloned();
    let far = find("10.20.30.40:9050").expect("the unreachable backend is listed");
    assert_eq!(far["kind"], "backend heartbeat");
    assert!(
        far["result"]
            .as_str()
            .unwrap()
            .contains("connect timed out"),
        "{far}"
    );
    let near = find(&here).expect("the answering backend is listed");
    assert_eq!(near["result"], "reached");
    r.assert_no_process_left();
}

#[test]
fn a_locked_journal_is_logged_with_its_exception_and_named_by_scan() {
    let mut fe = FeBuild::new("3.3.2", "3.3.2").build();
    std::fs::create_dir_all(fe.meta.join("bdb")).unwrap();
    let lck = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(fe.meta.join("bdb/je.lck"))
        .unwrap();
    let _held = nix::fcntl::Flock::lock(lck, nix::fcntl::FlockArg::LockExclusive).unwrap();
    let mut child = fe.start_foreground();
    fe.wait_log(
        "failed to setup environment after retried 1 times",
        Duration::from_secs(30),
    );
    let log = fe.log();
    assert!(
        log.contains("failed to setup environment after retried 1 times\ncom.sleepycat.je.EnvironmentLockedException: (JE 18.3.16) "),
        "BDBEnvironment's LOG.error(msg, e): the exception follows the message"
    );
    let r = sr_rehearse::scan::scan(&[fe.home.join("log/fe.log")], None).unwrap();
    assert_eq!(r.verdict, "failed: fe.election.bdb-setup-failed");
    // The FE is the child itself (the script execs it): end it directly, then reap it.
    kill(child.id() as i32, Signal::SIGTERM);
    wait_exit(&mut child, Duration::from_secs(30));
}

/// Waits for `child` and returns its exit code and its own peak resident memory in KiB (from
/// `wait4`, which reports the rusage of that one process).
fn wait_with_peak_rss(child: std::process::Child) -> (Option<i32>, i64) {
    let mut status = 0;
    let mut usage: nix::libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as i32;
    let got = unsafe { nix::libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4 failed");
    let code = nix::libc::WIFEXITED(status).then(|| nix::libc::WEXITSTATUS(status));
    (code, usage.ru_maxrss)
}

/// A 36 MB fe.log of 600 records, each a 60 KB message matching the catalog; `distinct` gives
/// every record its own message, else they all repeat one.
fn long_messages_log(path: &Path, distinct: bool) {
    use std::io::Write;
    let filler = "x".repeat(60_000);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..600 {
        writeln!(
            f,
            "2024-01-02 03:04:05,678 ERROR (main|1) [StarRocksFE.start():129] java.io.IOException: pid file is already locked. {} {filler}",
            if distinct { i } else { 0 }
        )
        .unwrap();
    }
    f.flush().unwrap();
}

fn scan_peak_rss(log: &Path) -> i64 {
    let child = Command::new(tool_bin())
        .args(["scan", "--format", "json"])
        .arg(log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (code, peak_kib) = wait_with_peak_rss(child);
    assert_eq!(
        code,
        Some(1),
        "the fatal signature is found in {}",
        log.display()
    );
    peak_kib
}

#[test]
fn distinct_long_messages_keep_the_scan_small() {
    // A scan that remembered every classified message would hold the whole file when no message
    // repeats. Compared with the same scan of a log repeating one message, measured the same way
    // (the peak includes what the test process held when it started the child), the difference
    // stays within the cache's bound.
    let dir = tempfile::tempdir().unwrap();
    let (same, distinct) = (dir.path().join("same-fe.log"), dir.path().join("fe.log"));
    long_messages_log(&same, false);
    long_messages_log(&distinct, true);
    let baseline = scan_peak_rss(&same);
    let peak = scan_peak_rss(&distinct);
    assert!(
        peak < baseline + 12 * 1024,
        "peak RSS {peak} KiB with 600 distinct 60 KB messages, {baseline} KiB with one repeated"
    );
}
