//! The socket under the SQL client: connecting and reading packets with one deadline for the
//! whole exchange, a byte budget, and an ear for SIGINT/SIGTERM.
//!
//! A per-read timeout does not bound an exchange: a server that trickles a byte just before each
//! read times out holds the client for as long as it likes. So the socket is non-blocking and every
//! wait is a `poll` of at most [`SLICE`], after which the exchange's deadline and the cancel check
//! (the tool's interrupt flag) are looked at again; a signal also cuts the `poll` short (EINTR).
//! Bytes are counted against the exchange's budget before they are read, so an endless result
//! stops at the cap instead of growing memory. The socket is created on the calling thread, so a
//! probe thread that joined a sandbox's network namespace connects inside it.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrStorage};

use super::SqlError;

/// The longest single wait before the deadline and the interrupt flag are checked again.
const SLICE: Duration = Duration::from_millis(100);
/// A payload of this length continues in the next packet.
const MAX_PAYLOAD: usize = 0xff_ffff;

/// The limits of one exchange (connect and login, or one statement with its rows).
pub(super) struct Budget {
    pub(super) deadline: Instant,
    pub(super) timeout: Duration,
    pub(super) bytes_left: usize,
    pub(super) bytes_cap: usize,
    pub(super) cancel: fn() -> bool,
    /// What the exchange is doing, for the timeout's message.
    pub(super) stage: &'static str,
}

impl Budget {
    /// The error for a wait that cannot go on, or `None` while it may.
    fn stop(&self) -> Option<SqlError> {
        if (self.cancel)() {
            return Some(SqlError::Interrupted);
        }
        (Instant::now() >= self.deadline).then_some(SqlError::Timeout {
            stage: self.stage,
            after: self.timeout,
        })
    }

    /// The next wait: up to [`SLICE`], never past the deadline.
    fn slice(&self) -> Result<Duration, SqlError> {
        match self.stop() {
            Some(e) => Err(e),
            None => Ok(self
                .deadline
                .saturating_duration_since(Instant::now())
                .min(SLICE)),
        }
    }

    fn spend(&mut self, n: usize) -> Result<(), SqlError> {
        self.bytes_left = self
            .bytes_left
            .checked_sub(n)
            .ok_or(SqlError::TooLarge(format!(
                "more than {} MiB",
                self.bytes_cap >> 20
            )))?;
        Ok(())
    }
}

/// Waits until `fd` is ready for `events`, the deadline passes or the cancel check fires.
fn wait_for(fd: &impl AsFd, events: PollFlags, b: &Budget) -> Result<(), SqlError> {
    loop {
        let t = b.slice()?;
        let ms = u16::try_from(t.as_millis().max(1)).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), events)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => return Ok(()),
            Err(e) => return Err(SqlError::Transport(format!("poll: {e}"))),
        }
    }
}

/// The addresses of `host`: an IP literal at once, a name on a helper thread, so a hung resolver
/// is bounded by the deadline too (the thread is left to finish on its own).
fn resolve(host: &str, port: u16, b: &Budget) -> Result<Vec<SocketAddr>, SqlError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let name = host.to_string();
    std::thread::spawn(move || {
        let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
    });
    loop {
        match rx.recv_timeout(b.slice()?) {
            Ok(Ok(a)) if !a.is_empty() => return Ok(a),
            Ok(Ok(_)) => return Err(SqlError::Transport(format!("{host}: no address"))),
            Ok(Err(e)) => {
                return Err(SqlError::Transport(format!(
                    "failed to resolve {host}: {e}"
                )))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(e) => {
                return Err(SqlError::Transport(format!(
                    "failed to resolve {host}: {e}"
                )))
            }
        }
    }
}

/// One non-blocking connect, waited for within the budget.
fn connect_one(addr: SocketAddr, b: &Budget) -> Result<TcpStream, SqlError> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let io = |e: Errno| SqlError::Transport(format!("failed to connect to {addr}: {e}"));
    let fd = socket::socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io)?;
    match socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(addr)) {
        Ok(()) => {}
        Err(Errno::EINPROGRESS) => {
            wait_for(&fd, PollFlags::POLLOUT, b)?;
            match socket::getsockopt(&fd, sockopt::SocketError).map_err(io)? {
                0 => {}
                e => return Err(io(Errno::from_raw(e))),
            }
        }
        Err(e) => return Err(io(e)),
    }
    let s = TcpStream::from(fd);
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// A connection and its read buffer.
pub(super) struct Wire {
    s: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The sequence number the next packet carries.
    seq: u8,
}

impl Wire {
    pub(super) fn connect(host: &str, port: u16, b: &Budget) -> Result<Wire, SqlError> {
        let mut last = None;
        for addr in resolve(host, port, b)? {
            match connect_one(addr, b) {
                Ok(s) => {
                    return Ok(Wire {
                        s,
                        buf: vec![0; 64 << 10],
                        start: 0,
                        end: 0,
                        seq: 0,
                    })
                }
                Err(e @ (SqlError::Timeout { .. } | SqlError::Interrupted)) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| SqlError::Transport(format!("{host}: no address"))))
    }

    /// A command starts a new sequence.
    pub(super) fn reset_seq(&mut self) {
        self.seq = 0;
    }

    /// Fills the buffer with at least one more byte.
    fn fill(&mut self, b: &Budget) -> Result<(), SqlError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            match self.s.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    return Err(SqlError::Transport(
                        "the server closed the connection".into(),
                    ))
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    wait_for(&self.s, PollFlags::POLLIN, b)?
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(SqlError::Transport(format!("read: {e}"))),
            }
        }
    }

    /// Reads exactly `n` bytes into `out`.
    fn read_into(&mut self, out: &mut Vec<u8>, mut n: usize, b: &Budget) -> Result<(), SqlError> {
        while n > 0 {
            if self.start == self.end {
                self.fill(b)?;
            }
            let k = n.min(self.end - self.start);
            out.extend_from_slice(&self.buf[self.start..self.start + k]);
            self.start += k;
            n -= k;
        }
        Ok(())
    }

    /// Reads one packet's payload (joining continuation packets), spending its bytes first.
    pub(super) fn read_packet(&mut self, b: &mut Budget) -> Result<Vec<u8>, SqlError> {
        // Checked per packet too: a server streaming fast never makes a read wait.
        if let Some(e) = b.stop() {
            return Err(e);
        }
        let mut payload = Vec::new();
        loop {
            let mut head = Vec::with_capacity(4);
            b.spend(4)?;
            self.read_into(&mut head, 4, b)?;
            let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
            if head[3] != self.seq {
                return Err(SqlError::Transport(format!(
                    "packets out of order (sequence {} where {} was due)",
                    head[3], self.seq
                )));
            }
            self.seq = self.seq.wrapping_add(1);
            b.spend(len)?;
            self.read_into(&mut payload, len, b)?;
            if len < MAX_PAYLOAD {
                return Ok(payload);
            }
        }
    }

    /// Writes one packet (a command or a login packet: always under 16 MiB here).
    pub(super) fn write_packet(&mut self, payload: &[u8], b: &Budget) -> Result<(), SqlError> {
        if payload.len() >= MAX_PAYLOAD {
            return Err(SqlError::TooLarge("a statement of 16 MiB or more".into()));
        }
        let mut p = Vec::with_capacity(payload.len() + 4);
        p.extend_from_slice(&(payload.len() as u32).to_le_bytes()[..3]);
        p.push(self.seq);
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        let mut off = 0;
        while off < p.len() {
            match self.s.write(&p[off..]) {
                Ok(n) => off += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    wait_for(&self.s, PollFlags::POLLOUT, b)?
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(SqlError::Transport(format!("write: {e}"))),
            }
        }
        Ok(())
    }

    /// COM_QUIT if the socket takes it at once; the connection closes either way.
    pub(super) fn quit(mut self) {
        let _ = self.s.write(&[1, 0, 0, 0, 0x01]);
    }
}
