//! `sr-rehearse scan` over logs users really pasted (fixtures/logs/real, sources in
//! fixtures/logs/SOURCES.md): each gets the verdict its thread established, whatever collector
//! prefix its lines carry, and repeated records are counted rather than listed again.

use std::path::PathBuf;

use sr_rehearse::scan::{scan, FileVerdict};
use sr_rehearse::watch::catalog::Role;

use crate::util::*;

fn real(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/logs/real")
        .join(name)
}

fn scan_json(path: &std::path::Path) -> serde_json::Value {
    let out = std::process::Command::new(tool_bin())
        .args(["scan", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn real_logs_get_the_verdict_their_threads_established() {
    let index = read(&real("expected.tsv"));
    let sources = read(&real("../SOURCES.md"));
    let mut wrong = Vec::new();
    let mut n = 0;
    for line in index
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (file, want) = line.split_once('\t').unwrap();
        assert!(
            sources.contains(&format!("`real/{file}`")),
            "{file} has no source in SOURCES.md"
        );
        let r = scan(&[real(file)], None).unwrap();
        if r.verdict != want {
            wrong.push(format!("{file}: got `{}`, want `{want}`", r.verdict));
        }
        n += 1;
    }
    assert!(n >= 10, "the real corpus is there");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The README's score is the corpus as it is, every file's cause named.
    let readme = read(&real("../../../README.md")).replace('\n', " ");
    assert!(
        readme.contains(&format!("(today {n} files, {n} causes named")),
        "README.md must say: today {n} files, {n} causes named"
    );
}

#[test]
fn records_behind_a_ci_timestamp_or_glued_to_a_line_are_records() {
    // Every line of a CI log (as of `kubectl logs --timestamps`) starts with an RFC 3339 time.
    let r = scan(&[real("flink-cdc-3508.ci-timestamps.txt")], None).unwrap();
    assert_eq!(r.files[0].role, Role::Fe);
    assert_eq!(r.files[0].starrocks_lines, 2, "both FE records are records");
    let failed = r
        .matches
        .iter()
        .find(|m| m.id == "fe.start.failed")
        .unwrap();
    assert_eq!(failed.line, 5);
    // A glog record after a be.conf line printed without its newline.
    let r = scan(&[real("operator-459.glued-ulimit.txt")], None).unwrap();
    assert_eq!(r.files[0].role, Role::Be);
    assert_eq!(r.files[0].role_from, "content");
    assert_eq!(r.files[0].starrocks_lines, 1);
    assert_eq!(r.verdict, "failed: be.host.open-files");
}

/// The real lines of StarRocks #53044, as a CRI file (with a partial line), as Docker's
/// json-file log and as journald's short format would hold them.
#[test]
fn cri_docker_json_and_journald_files_are_unwrapped() {
    let text = read(&real("starrocks-53044.journal-eof.fe.log"));
    let lines: Vec<&str> = text.lines().collect();
    let time = "2024-11-20T06:28:03.900123456Z";
    let (a, b) = lines[0].split_at(40);
    let mut cri = format!("{time} stdout P {a}\n{time} stdout F {b}\n");
    let mut docker = String::new();
    let mut journal = String::new();
    for l in &lines {
        if !std::ptr::eq(l, &lines[0]) {
            cri.push_str(&format!("{time} stdout F {l}\n"));
        }
        let log = serde_json::to_string(&format!("{l}\n")).unwrap();
        docker.push_str(&format!(
            "{{\"log\":{log},\"stream\":\"stdout\",\"time\":\"{time}\"}}\n"
        ));
        journal.push_str(&format!("Nov 20 14:28:03 fe-1 start_fe.sh[4242]: {l}\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("cri.log", cri),
        ("docker-json.log", docker),
        ("journal.txt", journal),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let r = scan(&[p], None).unwrap();
        assert_eq!(r.verdict, "failed: fe.meta.journal-eof", "{name}");
        assert_eq!(r.files[0].role, Role::Fe, "{name}");
        assert_eq!(r.files[0].starrocks_lines, 1, "{name}");
    }
}

#[test]
fn an_unreadable_journal_entry_is_named_by_its_cause() {
    for (file, id) in [
        ("starrocks-53044.journal-eof.fe.log", "fe.meta.journal-eof"),
        (
            "starrocks-29368.journal-json.fe.log",
            "fe.meta.journal-json",
        ),
        (
            "starrocks-56167.journal-replayer.fe.log",
            "fe.meta.read-journal-failed",
        ),
    ] {
        let j = scan_json(&real(file));
        assert_eq!(j["verdict"], "failed", "{file}");
        assert_eq!(j["root_cause"], id, "{file}");
    }
}

#[test]
fn a_node_that_never_joins_waits_forever() {
    for (file, id) in [
        ("starrocks-60847.not-added.fe.log", "fe.join.not-added"),
        (
            "starrocks-19152.foreign-storage.be.WARNING",
            "be.cluster.foreign-storage",
        ),
    ] {
        let j = scan_json(&real(file));
        assert_eq!(j["verdict"], "waiting_forever", "{file}");
        assert_eq!(j["root_cause"], id, "{file}");
        assert_eq!(j["exit_code"], 1, "{file}");
        assert_eq!(j["files"][0]["verdict"], "waiting_forever", "{file}");
        let r = scan(&[real(file)], None).unwrap();
        assert_eq!(r.files[0].verdict, FileVerdict::WaitingForever);
        assert!(r.matches[0].explanation.starts_with("waiting forever"));
    }
    // The BE refused only a rehearsal FE's heartbeat (the production FE's address is cached):
    // expected during a rehearsal, still a warning, never a wait.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("prod.be.WARNING");
    std::fs::write(&p, "W0303 11:31:23.762603  1705 heartbeat_server.cpp:74] Fail to handle heartbeat: Internal error: Unmatched cluster id cached master info: TMasterInfo(network_address=TNetworkAddress(hostname=fe-0, port=9020), cluster_id=417525268, epoch=1) received master info: TMasterInfo(network_address=TNetworkAddress(hostname=sandbox, port=39020), cluster_id=958778724, epoch=1)\n").unwrap();
    let r = scan(&[p], None).unwrap();
    assert_eq!(r.verdict, "still starting");
    assert_eq!(r.matches[0].id, "be.cluster.unmatched-id");
}

#[test]
fn the_catch_all_quotes_the_fes_own_message() {
    let j = scan_json(&real("starrocks-1464.meta-missing.fe.log"));
    assert_eq!(j["root_cause"], "fe.start.will-exit");
    let why = j["matches"][0]["explanation"].as_str().unwrap();
    assert_eq!(
        why,
        "the FE exits because \"/home/ubuntu/StarRocks-1.19.1/fe/meta does not exist\""
    );
}

#[test]
fn host_prerequisites_are_named() {
    let j = scan_json(&real("operator-459.glued-ulimit.txt"));
    assert_eq!(j["root_cause"], "be.host.open-files");
    assert!(j["matches"][0]["hint"]
        .as_str()
        .unwrap()
        .contains("ulimit -n"));
    let j = scan_json(&real("starrocks-48388.jdk17-options.fe.out"));
    assert_eq!(j["root_cause"], "fe.jvm.unrecognized-option");
    assert!(j["matches"][0]["explanation"]
        .as_str()
        .unwrap()
        .contains("PrintGCDateStamps"));
    // The container runtime's exit status of a SIGILL is named too, not only the shell's line.
    let r = scan(&[real("starrocks-demo-81.compose.txt")], None).unwrap();
    assert_eq!(r.verdict, "failed: be.cpu.avx2");
    assert!(r
        .matches
        .iter()
        .any(|m| m.id == "be.cpu.avx2" && m.text.contains("exited with code 132")));
    assert!(
        r.matches
            .iter()
            .any(|m| m.text.starts_with("/opt/starrocks/be_entrypoint.sh")),
        "the compose prefix is off"
    );
}

#[test]
fn identical_repeated_records_are_one_match_with_a_count() {
    let j = scan_json(&real("starrocks-60847.not-added.fe.log"));
    let m = j["matches"].as_array().unwrap();
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0]["count"], 3);
    assert_eq!(m[0]["line"], 1);
    assert_eq!(m[0]["last_line"], 5);
    assert_eq!(j["counts"]["fe.join.not-added"], 3);
    let out = std::process::Command::new(tool_bin())
        .arg("scan")
        .arg(real("starrocks-60847.not-added.fe.log"))
        .output()
        .unwrap();
    let human = String::from_utf8(out.stdout).unwrap();
    assert!(human.contains("repeated 3 times, lines 1 to 5"), "{human}");
    assert!(!human.contains("first 1 matches shown"), "{human}");
}
