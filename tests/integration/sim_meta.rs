//! `make-meta` writes VERSION and ROLE exactly as a JDK 11–17 StarRocks FE does.

use crate::util::*;
use sr_rehearse::props;

fn make(version: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join("meta");
    run_sim(&[
        "make-meta",
        "--version",
        version,
        "--out",
        meta.to_str().unwrap(),
        "--cluster-id",
        "1234567890",
        "--token",
        "0b7e0a2c-1111-4222-8333-444455556666",
        "--frontend",
        "172.26.92.154:9312",
    ]);
    (dir, meta)
}

/// Drops the `#<date>` line after checking it has `Date.toString()`'s shape.
fn without_date(text: &str) -> String {
    let first = text.lines().next().unwrap();
    let re_ok = first.starts_with('#')
        && first.split(' ').count() == 6
        && first.ends_with(|c: char| c.is_ascii_digit())
        && first.contains(" UTC ");
    assert!(re_ok, "date line has the wrong shape: {first}");
    text.split_once('\n').unwrap().1.to_string()
}

#[test]
fn version_and_role_match_the_jvm_format_per_version() {
    for (version, expected_version) in [
        ("2.5.22", "clusterId=1234567890\ntoken=0b7e0a2c-1111-4222-8333-444455556666\n"),
        ("3.2.5", "clusterId=1234567890\nrunMode=shared_nothing\ntoken=0b7e0a2c-1111-4222-8333-444455556666\n"),
        ("3.3.2", "clusterId=1234567890\nrunMode=shared_nothing\ntoken=0b7e0a2c-1111-4222-8333-444455556666\n"),
        ("3.5.0", "clusterId=1234567890\nrunMode=shared_nothing\ntoken=0b7e0a2c-1111-4222-8333-444455556666\n"),
    ] {
        let (_d, meta) = make(version);
        let v = read(&meta.join("image/VERSION"));
        assert_eq!(without_date(&v), expected_version, "VERSION of {version}");
        let map = props::parse_map(&v);
        assert_eq!(map["clusterId"], "1234567890");

        let r = read(&meta.join("image/ROLE"));
        let body = without_date(&r);
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines[0], "role=FOLLOWER", "ROLE of {version}");
        assert_eq!(lines[1], "hostType=IP");
        let name = lines[2].strip_prefix("name=172.26.92.154_9312_").expect("name is host_port_millis");
        assert!(name.len() == 13 && name.chars().all(|c| c.is_ascii_digit()), "millis suffix: {name}");
        assert!(r.ends_with('\n') && !r.contains('\r'));
    }
}

#[test]
fn layout_follows_the_version() {
    let (_d, meta) = make("3.3.2");
    assert!(meta.join("image/image.118000").is_file());
    assert!(meta.join("bdb/00000000.jdb").is_file());
    assert!(meta.join("bdb/je.lck").is_file());
    assert!(meta.join("bdb/je.info.0").is_file());
    assert!(!meta.join("image/v2").exists());

    let (_d2, meta) = make("3.5.0");
    let ck = read(&meta.join("image/v2/checksum.118000"));
    assert!(
        !ck.is_empty() && ck.chars().all(|c| c.is_ascii_digit()),
        "decimal CRC32 without newline: {ck:?}"
    );
    let crc = starrocks_sim::image::crc32_file(&meta.join("image/v2/image.118000")).unwrap();
    assert_eq!(ck, crc.to_string());
}

#[test]
fn size_is_honoured_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join("m");
    run_sim(&[
        "make-meta",
        "--version",
        "3.2.0",
        "--out",
        meta.to_str().unwrap(),
        "--size",
        "8000000",
    ]);
    let total: u64 = walk_size(&meta);
    assert!((8_000_000..8_200_000).contains(&total), "total {total}");
    let out = std::process::Command::new(sim_bin())
        .args([
            "make-meta",
            "--version",
            "3.2.0",
            "--out",
            meta.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds a meta dir"));
}

fn walk_size(p: &std::path::Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(p).unwrap().flatten() {
        let m = e.metadata().unwrap();
        n += if m.is_dir() {
            walk_size(&e.path())
        } else {
            m.len()
        };
    }
    n
}

#[test]
fn made_metas_record_production_hosts_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let meta = dir.path().join("meta");
    run_sim(&[
        "make-meta",
        "--version",
        "3.3.2",
        "--out",
        meta.to_str().unwrap(),
        "--fes",
        "3",
        "--backends",
        "3",
    ]);
    let image = std::fs::read_dir(meta.join("image"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("image."))
        .unwrap()
        .path();
    let head: String = String::from_utf8_lossy(&std::fs::read(image).unwrap()[..2048]).into();
    let hosts: Vec<&str> = head
        .lines()
        .filter(|l| l.starts_with("frontend=") || l.starts_with("backend="))
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(hosts.len(), 6, "{head}");
    for h in hosts {
        let ip: std::net::IpAddr = h.parse().unwrap();
        assert!(!ip.is_loopback(), "{h} is loopback");
    }
    let role = read(&meta.join("image/ROLE"));
    assert!(role.contains("name=192.0.2.11_9010_"), "{role}");
}
