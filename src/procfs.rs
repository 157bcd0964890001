//! The one reader of `/proc` for the tool: which processes exist, their state, parent, group and
//! start time, their name, environment and working folder, and who listens on a TCP port.
//!
//! Supervision, `clean`, the BE canary and the live-source check all ask the kernel these
//! questions; answering them in one place keeps the parsing of `/proc/<pid>/stat` (whose command
//! name may hold spaces and parentheses) in one tested function.

use std::fs;
use std::path::PathBuf;

/// The fields of `/proc/<pid>/stat` the tool uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// `R`, `S`, `D`, `Z`, …
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    /// Start time in clock ticks since boot: with the pid, it names one process for good.
    pub start_ticks: u64,
}

impl Stat {
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// Parses the text of `/proc/<pid>/stat`. The command name sits in parentheses and may hold
/// anything, so the fields are read after the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = text.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state (3), ppid (4), pgrp (5), … starttime (22).
    Some(Stat {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        start_ticks: f.get(19)?.parse().ok()?,
    })
}

/// `/proc/<pid>/stat`, if the process exists.
pub fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every pid in `/proc` now.
pub fn pids() -> Vec<i32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

/// Whether a process with this pid exists (a zombie included).
pub fn exists(pid: i32) -> bool {
    fs::metadata(format!("/proc/{pid}")).is_ok()
}

/// The process's name (`/proc/<pid>/comm`, at most 15 bytes).
pub fn comm(pid: i32) -> Option<String> {
    Some(
        fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()?
            .trim_end()
            .to_string(),
    )
}

/// The value of `key` in the process's environment as it was started.
pub fn env_var(pid: i32, key: &str) -> Option<Vec<u8>> {
    let env = fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{key}=");
    env.split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(prefix.as_bytes()))
        .map(<[u8]>::to_vec)
}

/// The process's command line, its arguments joined by spaces.
pub fn cmdline(pid: i32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

/// The program the process runs (`/proc/<pid>/exe`).
pub fn exe(pid: i32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// The network namespace of `pid`, to join with `setns`.
pub fn net_namespace(pid: u32) -> std::io::Result<fs::File> {
    fs::File::open(format!("/proc/{pid}/ns/net"))
}

/// The process's working folder.
pub fn cwd(pid: i32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

/// The socket inodes listening on TCP `port` (IPv4 and IPv6), from `/proc/net/tcp` and `tcp6`.
pub fn listening_inodes(port: u16) -> Vec<u64> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        out.extend(listening_in(&text, port));
    }
    out
}

/// The inodes of the sockets in state LISTEN (`0A`) on `port` in one `/proc/net/tcp*` table:
/// `sl local_address rem_address st ... uid timeout inode`, the address as `HEX:PORT`.
pub fn listening_in(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local_port = u16::from_str_radix(f.get(1)?.rsplit_once(':')?.1, 16).ok()?;
            (local_port == port && *f.get(3)? == "0A").then_some(())?;
            f.get(9)?.parse().ok()
        })
        .collect()
}

/// The processes (pid and name) holding a socket that listens on TCP `port`: the socket's inode
/// from `/proc/net/tcp*`, then each process's `fd/` links to `socket:[inode]`. Processes whose
/// `fd/` this user may not read are not found.
pub fn port_holders(port: u16) -> Vec<(i32, String)> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let mut out = Vec::new();
    for pid in pids() {
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            fs::read_link(fd.path())
                .is_ok_and(|t| wanted.iter().any(|w| t.as_os_str() == w.as_str()))
        });
        if holds {
            out.push((pid, comm(pid).unwrap_or_else(|| "?".into())));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parentheses_is_skipped() {
        let text =
            "4242 (java (x) y) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 2 0 987654 1 2 3";
        let s = parse_stat(text).unwrap();
        assert_eq!(
            (s.state, s.ppid, s.pgrp, s.start_ticks),
            ('S', 1, 4242, 987654)
        );
        assert!(parse_stat("12 (short) R 1").is_none());
    }

    #[test]
    fn a_listener_is_found_by_its_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:5DC0 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:5DC0 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 654321 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(listening_in(table, 0x5DC0), [123456], "only the LISTEN row");
        assert!(listening_in(table, 8030).is_empty());
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let me = std::process::id() as i32;
        assert!(
            port_holders(port).iter().any(|(pid, _)| *pid == me),
            "{:?}",
            port_holders(port)
        );
    }

    #[test]
    fn this_process_reads_back() {
        let me = std::process::id() as i32;
        let s = stat(me).unwrap();
        assert!(!s.is_zombie());
        assert_eq!(s.pgrp, nix::unistd::getpgrp().as_raw());
        assert!(pids().contains(&me));
        assert!(exists(me));
        assert!(comm(me).is_some_and(|c| !c.is_empty()));
        assert!(cwd(me).is_some());
        assert!(cmdline(me).is_some_and(|c| !c.is_empty()));
        assert!(env_var(me, "PATH").is_some() || std::env::var_os("PATH").is_none());
    }
}
