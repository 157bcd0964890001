//! Isolation: the network fence keeps the sandbox from reaching the hosts recorded in the meta, and
//! a live source is copied safely. The fence tests need root (CI runs as root) and say so when they
//! skip; each also runs without the fence to show the simulator really does reach out, so a fence
//! test cannot pass by accident.

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use crate::util::*;

/// Whether this host can fence (root and network namespaces); says why not when it cannot, and
/// fails where every test must run.
fn can_fence(test: &str) -> bool {
    match sr_rehearse::fence::available() {
        Ok(()) => true,
        Err(why) => {
            skip(test, why);
            false
        }
    }
}

/// Counts connections `listener` accepted so far, without blocking.
fn drain(listener: &TcpListener) -> usize {
    listener.set_nonblocking(true).unwrap();
    let mut n = 0;
    while listener.accept().is_ok() {
        n += 1;
    }
    n
}

#[test]
#[ignore = "needs root"]
fn fence_blocks_backend_heartbeats_that_otherwise_arrive() {
    if !can_fence("fence_blocks_backend_heartbeats_that_otherwise_arrive") {
        return;
    }
    let backend = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = backend.local_addr().unwrap().port();
    let r = Rehearsal::new(
        "3.2.5",
        "3.3.2",
        &["--backend", &format!("127.0.0.1:{port}")],
        &[],
    );

    let o = r.run(&["--isolate", "netns"]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    assert_eq!(o.json["isolation"]["mode"], "netns");
    assert_eq!(
        drain(&backend),
        0,
        "with the fence no heartbeat reaches the recorded backend"
    );
    let attempts = o.json["isolation"]["reach_attempts"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        attempts
            .iter()
            .any(|a| a["target"] == format!("127.0.0.1:{port}") && a["blocked_by_fence"] == true),
        "the report lists the blocked heartbeat: {attempts:?}"
    );

    let o = r.run(&["--isolate", "none"]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    assert_eq!(o.json["isolation"]["mode"], "none");
    assert!(o.stdout.lines().nth(1).unwrap().contains("isolation: none"));
    assert!(
        drain(&backend) >= 1,
        "without the fence the simulated leader does heartbeat the backend"
    );
    r.assert_no_process_left();
}

#[test]
#[ignore = "needs root"]
fn fence_blocks_election_attempts_toward_recorded_frontends() {
    if !can_fence("fence_blocks_election_attempts_toward_recorded_frontends") {
        return;
    }
    let peer = TcpListener::bind("127.0.0.2:0").unwrap();
    let port = peer.local_addr().unwrap().port();
    let fe = format!("127.0.0.2:{port}");
    // A hung election keeps trying the recorded group, as an FE without a honoured reset flag does.
    let r = Rehearsal::new(
        "3.3.0",
        "3.3.0",
        &["--frontend", "127.0.0.1:9010", "--frontend", &fe],
        &["--fault", "hang"],
    );
    let o = r.run(&["--isolate", "netns", "--timeout", "3s"]);
    assert_eq!(o.code, Some(4));
    assert_eq!(
        drain(&peer),
        0,
        "with the fence the recorded frontend is never contacted"
    );
    let o = r.run(&["--isolate", "none", "--timeout", "3s"]);
    assert_eq!(o.code, Some(4));
    assert!(
        drain(&peer) >= 1,
        "without the fence the election reaches the recorded frontend"
    );
    r.assert_no_process_left();
}

#[test]
fn auto_reports_its_choice_in_the_first_lines() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &[], &[]);
    let o = r.run(&["--no-query"]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    let line = o.stdout.lines().nth(1).unwrap();
    if sr_rehearse::fence::available().is_ok() {
        assert!(line.starts_with("isolation: netns"), "{line}");
    } else {
        let why = if is_root() {
            "NO network fence: this host refuses"
        } else {
            "NO network fence: not running as root"
        };
        assert!(
            line.starts_with(&format!("isolation: none ({why}")),
            "{line}"
        );
        assert_eq!(o.json["isolation"]["mode"], "none");
    }
}

#[test]
fn live_source_is_copied_in_a_safe_order_and_rechecked() {
    let r = Rehearsal::new("3.2.5", "3.3.2", &["--size", "200000000"], &[]);
    // An FE is "running": je.lck held, and the newest journal file grows during the copy.
    let lck = std::fs::File::open(r.meta.join("bdb/je.lck")).unwrap();
    let _held = nix::fcntl::Flock::lock(lck, nix::fcntl::FlockArg::LockExclusive).unwrap();
    let mut jdbs: Vec<_> = std::fs::read_dir(r.meta.join("bdb"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jdb"))
        .collect();
    jdbs.sort();
    let newest = jdbs.last().unwrap().clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let newest = newest.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&newest)
                .unwrap();
            // Appends until the rehearsal ends (bounded, in case it never does).
            let until = std::time::Instant::now() + Duration::from_secs(120);
            while !stop.load(std::sync::atomic::Ordering::SeqCst)
                && std::time::Instant::now() < until
            {
                f.write_all(&[b'j'; 4096]).unwrap();
                f.flush().unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let o = r.run(&["--keep", "always"]);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    let src = &o.json["source"];
    assert_eq!(src["live"], true);
    assert!(
        src["live_reasons"].to_string().contains("je.lck is locked"),
        "{src}"
    );
    let rel = format!("bdb/{}", newest.file_name().unwrap().to_string_lossy());
    assert!(
        src["changed_during_copy"].to_string().contains(&rel),
        "{src}"
    );
    // The copy is consistent: its manifest hash is the hash of the copied bytes, which are a
    // prefix of what the writer left in the source.
    let ws = &r.workspaces()[0];
    let mut copied = std::fs::read(ws.join("fe/meta").join(&rel)).unwrap();
    // The sandbox FE appended its own journal entry to its copy; the rest came from the source.
    let own = copied
        .windows(11)
        .rposition(|w| w == b"journal id=")
        .expect("the sandbox FE wrote to its copy");
    copied.truncate(own);
    let source = std::fs::read(&newest).unwrap();
    assert!(source.starts_with(&copied));
    use sha2::Digest;
    let digest = format!("{:x}", sha2::Sha256::digest(&copied));
    assert!(read(&ws.join("manifest.sha256")).contains(&format!("{digest}  {rel}\n")));
}
