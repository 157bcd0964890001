//! Who holds a TCP port: the listening sockets of `/proc/net/tcp` and `tcp6` and the processes
//! whose open files are those sockets, so a node that never came up is reported with the port it
//! waited on and the process that had it instead of as a health check that never passed.

use std::fs;

/// The inodes of the sockets listening on `port` (any address, IPv4 or IPv6).
pub fn listening_inodes(port: u16) -> Vec<u64> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        out.extend(parse_listeners(&text, port));
    }
    out
}

/// The inodes of the lines of a `/proc/net/tcp` table in state LISTEN (0A) on `port`. A line is
/// `sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...`, the address
/// as `HEXADDR:HEXPORT`.
pub fn parse_listeners(text: &str, port: u16) -> Vec<u64> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local_port = u16::from_str_radix(f.get(1)?.rsplit_once(':')?.1, 16).ok()?;
            (local_port == port && *f.get(3)? == "0A").then(|| f.get(9)?.parse().ok())?
        })
        .collect()
}

/// The inodes of the sockets `pid` has open (empty for a process that is gone or not ours).
pub fn socket_inodes(pid: i32) -> Vec<u64> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|fd| socket_inode(&fs::read_link(fd.path()).ok()?.to_string_lossy()))
        .collect()
}

/// `socket:[123]` -> 123.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Whether something listens on `port`.
pub fn listening(port: u16) -> bool {
    !listening_inodes(port).is_empty()
}

/// The processes with a listening socket on `port`, as `pid (command line)`; a socket of a
/// process this test may not read (another user's) shows as its inode alone.
pub fn holders(port: u16) -> Vec<String> {
    let inodes = listening_inodes(port);
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for pid in sr_rehearse::procfs::pids() {
        if let Some(inode) = socket_inodes(pid).into_iter().find(|i| inodes.contains(i)) {
            let cmd = sr_rehearse::procfs::cmdline(pid).unwrap_or_default();
            out.push(format!("pid {pid} ({cmd})"));
            seen.push(inode);
        }
    }
    for i in inodes.iter().filter(|i| !seen.contains(i)) {
        out.push(format!(
            "socket inode {i} of a process this test cannot see"
        ));
    }
    out
}

#[test]
fn a_listener_is_found_with_its_process() {
    let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port();
    assert!(listening(port));
    let me = format!("pid {} (", std::process::id());
    assert!(
        holders(port).iter().any(|h| h.starts_with(&me)),
        "{:?}",
        holders(port)
    );
    drop(l);
    assert!(!listening(port));
}

#[test]
fn the_table_is_read_by_port_and_state() {
    let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:5DC0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0\n   1: 0100007F:5DC0 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0 100 0 0 10 0\n";
    assert_eq!(parse_listeners(text, 0x5DC0), vec![4242]);
    assert!(parse_listeners(text, 0x5DC1).is_empty());
}
