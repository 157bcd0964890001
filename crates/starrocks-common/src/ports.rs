//! Choosing ports for sandboxes, simulated clusters and tests: free, never equal to a production
//! port, and leased, so no other process of this user is handed the same port until it is let go.
//!
//! A probe (bind, then close) only says a port is free *now*: a server started later binds it
//! seconds after the pick, and another pick in between (a second rehearsal on the host, a parallel
//! test, a cluster whose node restarts on its ports) sees it free too. So a port is taken by an
//! exclusive `flock` on `<lease dir>/<port>` first and only then checked bindable, and every
//! picker skips a port whose file someone else has locked. The lock lives as long as the
//! [`Lease`]; the kernel drops it when its holder exits however it ends, so a lease never goes
//! stale and nothing needs cleaning. The files are opened close-on-exec: a server started by the
//! holder never inherits the lock and never keeps it after the holder is gone.
//!
//! The lease folder is `$XDG_RUNTIME_DIR/sr-rehearse-ports` where that runtime folder is the
//! caller's own, else `/tmp/sr-rehearse-ports-<euid>`. It must be a real folder owned by the
//! caller that nobody else can write to, inside a parent others cannot write to (or a sticky one,
//! like `/tmp`), so another user can neither forge nor remove a lease; a folder that fails this
//! (a symlink, another owner, loose modes: perhaps planted) is never used, and the pick says why.

use std::collections::BTreeSet;
use std::fs::{DirBuilder, File, OpenOptions};
use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// Whether nothing listens on `port` on any address. StarRocks binds 0.0.0.0; a simulated node of
/// a simulated host binds its own loopback address (127.0.0.11) and 127.0.0.1. A bind of 0.0.0.0
/// fails while any address holds the port, so one check covers both, and a lease (a lock file
/// per port *number*) keeps every address's node off a port another holder leased.
pub fn is_free(port: u16) -> bool {
    port != 0 && TcpListener::bind(("0.0.0.0", port)).is_ok()
}

/// The kernel's range for the local ports of outgoing connections. A port picked there can be
/// taken by any connection this host opens (a probe, a heartbeat) between the pick and the bind,
/// and the server then fails with "address in use"; so picks stay out of it.
fn ephemeral() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| {
            let mut it = t.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// The ports a pick draws from, ascending: 20000-65535 outside the ephemeral range (all of
/// 20000-65535 if the ephemeral range leaves too few).
pub fn candidates() -> Vec<u16> {
    let (lo, hi) = ephemeral();
    let out: Vec<u16> = (20000..=65535u16).filter(|p| *p < lo || *p > hi).collect();
    if out.len() < 1000 {
        return (20000..=65535u16).collect();
    }
    out
}

/// Why no lease could be taken.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("no usable folder for port leases: {0}")]
    Folder(String),
    #[error("failed to lock the port lease file {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to find {count} free ports that no other process holds")]
    Exhausted { count: usize },
    #[error("port {0} is leased by another process")]
    Leased(u16),
}

/// Ports held for their holder: no other pick of this user hands them out until it is dropped.
#[derive(Debug, Default)]
pub struct Lease {
    held: Vec<(u16, Flock<File>)>,
}

impl Lease {
    /// The ports held, in the order they were taken.
    pub fn ports(&self) -> Vec<u16> {
        self.held.iter().map(|(p, _)| *p).collect()
    }

    /// Leases exactly `ports`, whether something listens on them or not (the caller knows them:
    /// a test asking whether another process holds them). Fails on the first one held elsewhere.
    pub fn take(ports: &[u16]) -> Result<Lease, PortError> {
        let dir = lease_dir()?;
        let mut lease = Lease::default();
        for &p in ports {
            match lock(&dir, p)? {
                Some(f) => lease.held.push((p, f)),
                None => return Err(PortError::Leased(p)),
            }
        }
        Ok(lease)
    }

    /// Lets `ports` go (the others stay held); returns how many of them were held.
    pub fn release(&mut self, ports: &[u16]) -> usize {
        let before = self.held.len();
        self.held.retain(|(p, _)| !ports.contains(p));
        before - self.held.len()
    }

    /// Adds the ports of `other` to this lease.
    pub fn extend(&mut self, other: Lease) {
        self.held.extend(other.held);
    }
}

/// Leases `count` distinct free ports, none in `avoid`, from [`candidates`], starting at a random
/// one and walking forward.
pub fn pick(count: usize, avoid: &BTreeSet<u16>) -> Result<Lease, PortError> {
    pick_from(&candidates(), count, avoid)
}

/// [`pick`] from the given candidates (a test narrows them to a window it controls).
pub fn pick_from(
    candidates: &[u16],
    count: usize,
    avoid: &BTreeSet<u16>,
) -> Result<Lease, PortError> {
    let dir = lease_dir()?;
    let mut lease = Lease::default();
    if count == 0 {
        return Ok(lease);
    }
    if candidates.is_empty() {
        return Err(PortError::Exhausted { count });
    }
    let start = (crate::rand::random_u64() % candidates.len() as u64) as usize;
    for i in 0..candidates.len() {
        let p = candidates[(start + i) % candidates.len()];
        if p == 0 || avoid.contains(&p) || lease.held.iter().any(|(q, _)| *q == p) {
            continue;
        }
        // The lock first: once it is ours, nobody else's pick can take the port, so the bind
        // check that follows cannot be overtaken by another picker.
        let Some(f) = lock(&dir, p)? else {
            continue;
        };
        if !is_free(p) {
            continue;
        }
        lease.held.push((p, f));
        if lease.held.len() == count {
            return Ok(lease);
        }
    }
    Err(PortError::Exhausted { count })
}

/// `Some(lock)` if `port`'s lease file is now locked by us, `None` if someone else holds it.
fn lock(dir: &Path, port: u16) -> Result<Option<Flock<File>>, PortError> {
    let path = dir.join(port.to_string());
    let err = |source| PortError::Lock {
        path: path.clone(),
        source,
    };
    // Never through a link; close-on-exec is std's default, so no child inherits the lock.
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path)
        .map_err(err)?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Some(l)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(err(e.into())),
    }
}

/// The lease folder of this user, made (or checked) safe; see the module's text for the rule.
pub fn lease_dir() -> Result<PathBuf, PortError> {
    let uid = nix::unistd::geteuid().as_raw();
    let mut why = Vec::new();
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let choices = runtime
        .map(|r| r.join("sr-rehearse-ports"))
        .into_iter()
        .chain([PathBuf::from(format!("/tmp/sr-rehearse-ports-{uid}"))]);
    for dir in choices {
        match ensure_private_dir(&dir, uid) {
            Ok(()) => return Ok(dir),
            Err(e) => why.push(format!("{}: {e}", dir.display())),
        }
    }
    Err(PortError::Folder(format!(
        "{}; remove the folder or set XDG_RUNTIME_DIR to a folder of your own",
        why.join("; ")
    )))
}

/// Why a lease folder was not used.
#[derive(Debug, thiserror::Error)]
enum FolderProblem {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a folder", .0.display())]
    ParentNotAFolder(PathBuf),
    #[error("{} belongs to uid {uid}, not to us or root", path.display())]
    ParentOwner { path: PathBuf, uid: u32 },
    #[error("{} is writable by other users and not sticky", .0.display())]
    ParentOpen(PathBuf),
    #[error("it exists and is not a folder (a link?)")]
    NotAFolder,
    #[error("it belongs to uid {owner}, not to us ({us})")]
    Owner { owner: u32, us: u32 },
    #[error("others can write to it (mode {0:o})")]
    Writable(u32),
}

/// Makes `dir` (mode 0700) if it is missing, then accepts it only if it is a real folder owned by
/// `uid` that nobody else can write to, in a parent owned by `uid` or root that others cannot
/// write to unless it is sticky (else our folder could be renamed away and replaced).
fn ensure_private_dir(dir: &Path, uid: u32) -> Result<(), FolderProblem> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FolderProblem::Io { path, source }
    };
    let parent = dir.parent().unwrap_or(Path::new("/"));
    let pm = std::fs::metadata(parent).map_err(io(parent))?;
    if !pm.is_dir() {
        return Err(FolderProblem::ParentNotAFolder(parent.into()));
    }
    if pm.uid() != uid && pm.uid() != 0 {
        return Err(FolderProblem::ParentOwner {
            path: parent.into(),
            uid: pm.uid(),
        });
    }
    if pm.mode() & 0o022 != 0 && pm.mode() & 0o1000 == 0 {
        return Err(FolderProblem::ParentOpen(parent.into()));
    }
    match DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(io(dir)(e)),
        _ => {}
    }
    let m = std::fs::symlink_metadata(dir).map_err(io(dir))?;
    if !m.file_type().is_dir() {
        return Err(FolderProblem::NotAFolder);
    }
    if m.uid() != uid {
        return Err(FolderProblem::Owner {
            owner: m.uid(),
            us: uid,
        });
    }
    if m.mode() & 0o022 != 0 {
        return Err(FolderProblem::Writable(m.mode() & 0o777));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A port a node holds on a loopback address of its own is not free, though 127.0.0.1 is.
    #[test]
    fn a_port_held_on_another_loopback_address_is_not_free() {
        let held = TcpListener::bind(("127.0.0.11", 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
        assert!(!is_free(port));
        drop(held);
        assert!(is_free(port));
    }

    #[test]
    fn picks_are_free_distinct_and_outside_the_ephemeral_range() {
        let (lo, hi) = ephemeral();
        let avoid: BTreeSet<u16> = [20000, 20001].into_iter().collect();
        let got = pick(50, &avoid).unwrap().ports();
        let distinct: BTreeSet<u16> = got.iter().copied().collect();
        assert_eq!(distinct.len(), 50);
        for p in got {
            assert!(!avoid.contains(&p));
            assert!(p >= 20000 && (p < lo || p > hi), "{p} in {lo}-{hi}");
        }
    }

    /// A window of candidates where this test holds everything but `free` ports: the window is
    /// taken as a lease of its own, so no other test's pick lands in it meanwhile.
    fn window(n: usize) -> (Lease, Vec<u16>) {
        loop {
            let l = pick(n, &BTreeSet::new()).unwrap();
            let mut ps = l.ports();
            ps.sort_unstable();
            // A pick that wrapped around the end of the candidates is no window; take another.
            if ps[n - 1] - ps[0] < 1000 {
                return (l, ps);
            }
        }
    }

    #[test]
    fn two_leases_never_share_a_port() {
        // Both picks see the same few candidates; the second gets what the first did not take.
        let (mut held, ps) = window(8);
        held.release(&ps);
        let a = pick_from(&ps, 4, &BTreeSet::new()).unwrap();
        let b = pick_from(&ps, 4, &BTreeSet::new()).unwrap();
        let all: BTreeSet<u16> = a.ports().into_iter().chain(b.ports()).collect();
        assert_eq!(all.len(), 8, "{:?} and {:?}", a.ports(), b.ports());
        // Every candidate is held now: a third pick finds nothing, though every port is bindable.
        assert!(matches!(
            pick_from(&ps, 1, &BTreeSet::new()),
            Err(PortError::Exhausted { count: 1 })
        ));
    }

    #[test]
    fn a_leased_port_is_skipped_by_another_open_file_and_released_on_drop() {
        let (mut held, ps) = window(3);
        held.release(&ps[1..]);
        // The first port stays held by `held`; another open file description cannot take it.
        assert!(matches!(Lease::take(&ps[..1]), Err(PortError::Leased(p)) if p == ps[0]));
        let got = pick_from(&ps, 2, &BTreeSet::new()).unwrap();
        assert_eq!(
            got.ports().into_iter().collect::<BTreeSet<_>>(),
            ps[1..].iter().copied().collect()
        );
        drop(held);
        drop(got);
        let again = Lease::take(&ps).unwrap();
        assert_eq!(again.ports(), ps);
    }

    #[test]
    fn a_port_leased_by_another_process_is_skipped_until_it_exits() {
        let (mut held, ps) = window(2);
        held.release(&ps);
        let dir = lease_dir().unwrap();
        let file = dir.join(ps[0].to_string());
        // flock(1) holds the lock in a process of its own until its stdin closes.
        let child = std::process::Command::new("flock")
            .arg("-x")
            .arg(&file)
            .args(["-c", "echo held; read _"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("flock(1) is not installed; the same rule is proven across open files");
            return;
        };
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "held");
        let got = pick_from(&ps, 1, &BTreeSet::new()).unwrap();
        assert_eq!(got.ports(), vec![ps[1]]);
        drop(got);
        drop(child.stdin.take());
        child.wait().unwrap();
        let got = pick_from(&ps[..1], 1, &BTreeSet::new()).unwrap();
        assert_eq!(got.ports(), vec![ps[0]]);
    }

    #[test]
    fn a_planted_or_loose_lease_folder_is_refused() {
        let uid = nix::unistd::geteuid().as_raw();
        let t = tempfile_dir();
        let parent = t.join("p");
        std::fs::create_dir(&parent).unwrap();
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Made fresh: a private folder.
        let ok = parent.join("fresh");
        ensure_private_dir(&ok, uid).unwrap();
        assert_eq!(std::fs::metadata(&ok).unwrap().mode() & 0o777, 0o700);
        // A link planted where the folder goes, even to a folder of ours.
        let link = parent.join("link");
        std::os::unix::fs::symlink(&ok, &link).unwrap();
        let refused = |d: &Path, uid: u32| ensure_private_dir(d, uid).unwrap_err().to_string();
        assert!(refused(&link, uid).contains("link"));
        // A folder others can write to.
        let loose = parent.join("loose");
        std::fs::create_dir(&loose).unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(refused(&loose, uid).contains("others can write"));
        // A folder of another owner (as seen by a caller of another uid).
        assert!(refused(&ok, uid + 1).contains("belongs to uid"));
        // A parent anyone can write to, without the sticky bit.
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(refused(&ok, uid).contains("not sticky"));
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o1777)).unwrap();
        ensure_private_dir(&ok, uid).unwrap();
        std::fs::remove_dir_all(&t).unwrap();
    }

    /// A fresh folder of this test's own (the crate has no tempfile dependency).
    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "starrocks-common-ports-{}-{}",
            std::process::id(),
            crate::rand::random_u64()
        ));
        std::fs::create_dir(&d).unwrap();
        d
    }
}
