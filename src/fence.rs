//! The network fence: a fresh network namespace around the sandbox, with the probes inside it.
//!
//! Moved ports and a new cluster id keep a rehearsal apart from production by convention only: the
//! sandbox leader still heartbeats every backend recorded in the meta and, without the election
//! reset, tries the recorded frontends. In a new network namespace with only `lo` up, none of those
//! addresses exist, so nothing can reach production whatever the FE tries. The probes (HTTP, MySQL)
//! then have to run inside the same namespace, so they run on one thread that has joined it.
//!
//! Creating a network namespace needs CAP_SYS_ADMIN. Unprivileged user namespaces could provide it,
//! but joining such a namespace from a multithreaded tool is not possible, so the fence is used when
//! the tool runs as root and reported as absent otherwise.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::mpsc;

use nix::sched::{unshare, CloneFlags};

/// Why the fence cannot be put up here.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error("not running as root: a network namespace needs CAP_SYS_ADMIN")]
    NotRoot,
    #[error("this host refuses new network namespaces ({0})")]
    Refused(std::process::ExitStatus),
    #[error("this host refuses new network namespaces: {0}")]
    FailedToStart(#[source] std::io::Error),
}

/// Whether a network namespace can be created here, and if not, why.
pub fn available() -> Result<(), Unavailable> {
    if !nix::unistd::Uid::effective().is_root() {
        return Err(Unavailable::NotRoot);
    }
    let mut probe = Command::new("true");
    enter_new_netns(&mut probe);
    match probe.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(Unavailable::Refused(s)),
        Err(e) => Err(Unavailable::FailedToStart(e)),
    }
}

/// Brings `lo` up in the current network namespace (ioctl SIOCSIFFLAGS).
fn loopback_up() -> std::io::Result<()> {
    use nix::libc;
    // SAFETY: plain syscalls on a zeroed ifreq; safe to call between fork and exec.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            ifr.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut ifr) < 0 {
            let e = std::io::Error::last_os_error();
            libc::close(fd);
            return Err(e);
        }
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        let r = libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &ifr);
        let e = std::io::Error::last_os_error();
        libc::close(fd);
        if r < 0 {
            return Err(e);
        }
    }
    Ok(())
}

/// Makes `cmd` start in a new network namespace with `lo` up.
pub fn enter_new_netns(cmd: &mut Command) {
    // SAFETY: unshare and ioctl are async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(|| {
            unshare(CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
            loopback_up()
        });
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs probes where the sandbox is: in its namespace when fenced, on the caller's thread otherwise.
pub struct ProbeRunner {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProbeRunner {
    /// Probes on the calling thread, in the host's namespace.
    pub fn host() -> ProbeRunner {
        ProbeRunner {
            tx: None,
            thread: None,
        }
    }

    /// Probes on a thread that joined the network namespace of `pid`.
    pub fn inside(pid: u32) -> std::io::Result<ProbeRunner> {
        let ns = crate::procfs::net_namespace(pid)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let joined =
                nix::sched::setns(&ns, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from);
            let ok = joined.is_ok();
            let _ = ready_tx.send(joined);
            if ok {
                for job in rx {
                    job();
                }
            }
        });
        ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("probe thread died"))??;
        Ok(ProbeRunner {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn is_fenced(&self) -> bool {
        self.tx.is_some()
    }

    /// Runs `f` where the probes belong and returns its result.
    ///
    /// A panic inside `f` (in the `mysql` crate, say) is carried back to the caller's thread and
    /// resumed there, so it unwinds through the run's guards, which stop the sandbox.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let f = move || {
            crate::hooks::test_panic_at("probe");
            f()
        };
        match &self.tx {
            None => f(),
            Some(tx) => {
                let (rtx, rrx) = mpsc::channel();
                let job: Job = Box::new(move || {
                    let _ = rtx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
                });
                let answer = tx.send(job).ok().and_then(|()| rrx.recv().ok());
                match answer {
                    Some(Ok(v)) => v,
                    Some(Err(p)) => std::panic::resume_unwind(p),
                    None => panic!("the probe thread is gone"),
                }
            }
        }
    }
}

impl Drop for ProbeRunner {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
