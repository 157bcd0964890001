//! The SQL check: real MySQL-protocol queries against an FE, through a small client written for
//! exactly what StarRocks speaks.
//!
//! The only statements an FE sees are the ones the caller asks for: no `SELECT @@socket` (which
//! StarRocks refuses with 1193), no `SELECT @@max_allowed_packet` (a constant SELECT that StarRocks
//! before 3.3 plans onto a BE, so a sandbox without a live BE fails it: the packet size is announced
//! instead), no init statements. Errors keep the server's error number, because the decision
//! depends on it (1045 access denied, 1227/5203 missing privilege, 1193 unknown variable, 1064
//! refused statement) and the wording differs between releases.
//!
//! Hostile or broken servers are bounded: the login sends only a `mysql_native_password` scramble
//! (StarRocks' method; any other is refused before a byte of the password leaves, since there is no
//! TLS here), every exchange (connect and login, then each statement with its rows) has one deadline
//! and yields to SIGINT/SIGTERM, a result is capped in rows and bytes, and a panic inside the client
//! becomes [`SqlError::Internal`] instead of unwinding through the caller.

mod proto;
mod wire;

#[cfg(test)]
mod hostile;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use wire::{Budget, Wire};

/// The packet size announced to the server instead of asking it (StarRocks' own default).
const MAX_ALLOWED_PACKET: u32 = 32 << 20;
/// The most rows one statement may return; SHOW FRONTENDS/BACKENDS are tens of rows, the
/// low-replica partitions of a large cluster some thousands.
pub const MAX_ROWS: usize = 200_000;
/// The most bytes one statement's answer may take, on the wire and, estimated, once held as rows
/// (the tighter of the two for small rows: about 90,000 rows of two short columns).
pub const MAX_RESULT_BYTES: usize = 64 << 20;
/// The most bytes the greeting and login may take.
const LOGIN_BYTES: usize = 1 << 20;

/// A row as column → text (SQL NULL as an empty string).
pub type Row = BTreeMap<String, String>;

/// Why a connection or a statement failed.
///
/// For the callers: `Server` carries the number they decide on; `AuthRefused` is bad input (the
/// account or the port is not one the tool can log in to safely: retrying does not help);
/// `Internal` is an environment error (exit 3) naming a bug; `Interrupted` means a signal arrived
/// and the caller's own signal handling decides; the others are the FE not answering properly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    /// The server answered with an error packet.
    #[error("MySQL error {code} ({state}): {message}")]
    Server {
        code: u16,
        state: String,
        message: String,
    },
    /// No proper answer: connection refused or reset, protocol trouble.
    #[error("failed to talk to the FE: {0}")]
    Transport(String),
    /// The exchange did not finish by its deadline (a hung or trickling server).
    #[error("failed to talk to the FE: no complete answer within {} ({stage}); a hung, overloaded or trickling server", humantime::format_duration(*.after))]
    Timeout {
        stage: &'static str,
        after: Duration,
    },
    /// The answer was larger than the client holds ([`MAX_ROWS`], [`MAX_RESULT_BYTES`]).
    #[error("failed to read the FE's answer: {0}, more than sr-rehearse reads from one statement; the rest was not read")]
    TooLarge(String),
    /// The server asked for an authentication method other than `mysql_native_password`.
    #[error("the server asked for the authentication method {plugin}; sr-rehearse logs in only with mysql_native_password (what StarRocks asks for) because the connection has no TLS, so no password was sent: check that the port is a StarRocks FE's query_port and that the user's account uses a native password")]
    AuthRefused { plugin: String },
    /// A signal (SIGINT, SIGTERM) arrived while waiting.
    #[error("interrupted by a signal while waiting for the FE")]
    Interrupted,
    /// The client itself failed (a panic, caught): a bug of the tool.
    #[error(
        "internal error in the MySQL client ({0}); this is a bug of sr-rehearse, please report it"
    )]
    Internal(String),
}

impl SqlError {
    /// The server's error number, when the server answered.
    pub fn code(&self) -> Option<u16> {
        match self {
            SqlError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}

thread_local! {
    /// Set while this thread runs client code whose panic is caught and turned into an error.
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Whether a panic on this thread happens inside the client, where it becomes
/// [`SqlError::Internal`]; the tool's panic hook stays quiet for those (no "exit 101" line).
pub fn panic_is_contained() -> bool {
    CONTAINED.with(Cell::get)
}

/// Runs client code, turning a panic into [`SqlError::Internal`].
fn contained<T>(f: impl FnOnce() -> Result<T, SqlError>) -> Result<T, SqlError> {
    let was = CONTAINED.with(|c| c.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::hooks::test_panic_at("mysql");
        f()
    }));
    CONTAINED.with(|c| c.set(was));
    r.unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        Err(SqlError::Internal(what.replace('\n', " ")))
    })
}

fn interrupted() -> bool {
    crate::signals::interrupted().is_some()
}

/// The caps of one statement's answer.
#[derive(Debug, Clone, Copy)]
struct Limits {
    rows: usize,
    bytes: usize,
}

/// One authenticated connection; statements run one after another on it.
pub struct Session {
    /// `None` once an exchange broke off (timeout, cap, protocol error): the stream is then in an
    /// unknown state and is closed rather than drained.
    wire: Option<Wire>,
    timeout: Duration,
    limits: Limits,
    cancel: fn() -> bool,
}

impl Session {
    /// Connects and authenticates, sending no statement; all of it within `timeout`.
    pub fn connect(
        host: &str,
        port: u16,
        user: &str,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<Session, SqlError> {
        let limits = Limits {
            rows: MAX_ROWS,
            bytes: MAX_RESULT_BYTES,
        };
        Session::open(host, port, user, password, timeout, limits, interrupted)
    }

    fn open(
        host: &str,
        port: u16,
        user: &str,
        password: Option<&str>,
        timeout: Duration,
        limits: Limits,
        cancel: fn() -> bool,
    ) -> Result<Session, SqlError> {
        let mut s = Session {
            wire: None,
            timeout,
            limits,
            cancel,
        };
        let mut b = s.budget("connect and login", LOGIN_BYTES);
        let wire = contained(|| login(host, port, user, password, &mut b))?;
        s.wire = Some(wire);
        Ok(s)
    }

    fn budget(&self, stage: &'static str, bytes: usize) -> Budget {
        Budget {
            // A timeout too large for the clock means no deadline worth keeping: a year.
            deadline: Instant::now()
                .checked_add(self.timeout)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 86_400)),
            timeout: self.timeout,
            bytes_left: bytes,
            bytes_cap: bytes,
            cancel: self.cancel,
            stage,
        }
    }

    /// Runs `sql` with the text protocol (older FEs refuse prepared statements), within the
    /// session's timeout for the statement and all its rows.
    pub fn query(&mut self, sql: &str) -> Result<Vec<Row>, SqlError> {
        let mut b = self.budget("statement", self.limits.bytes);
        let limits = self.limits;
        let Some(mut wire) = self.wire.take() else {
            return Err(SqlError::Transport(
                "the connection was closed after an earlier failure".into(),
            ));
        };
        let r = contained(|| run_query(&mut wire, sql, limits, &mut b));
        // After an error packet the connection is in step and stays usable; after anything else
        // it is dropped (closed) without reading what may still come.
        if matches!(r, Ok(_) | Err(SqlError::Server { .. })) {
            self.wire = Some(wire);
        }
        r
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(w) = self.wire.take() {
            w.quit();
        }
    }
}

/// Greeting, login with the native scramble, the server's verdict.
fn login(
    host: &str,
    port: u16,
    user: &str,
    password: Option<&str>,
    b: &mut Budget,
) -> Result<Wire, SqlError> {
    if (b.cancel)() {
        return Err(SqlError::Interrupted);
    }
    let mut w = Wire::connect(host, port, b)?;
    let hs = proto::parse_handshake(&w.read_packet(b)?)?;
    // StarRocks always names mysql_native_password; a server naming another method is not a
    // StarRocks FE (or sits behind something that is not), and gets nothing.
    if let Some(p) = hs.plugin.as_deref().filter(|p| *p != proto::NATIVE) {
        return Err(SqlError::AuthRefused { plugin: p.into() });
    }
    let scramble = proto::native_scramble(password, &hs.salt);
    w.write_packet(
        &proto::handshake_response(user, &scramble, MAX_ALLOWED_PACKET),
        b,
    )?;
    let mut switched = false;
    loop {
        match proto::parse_auth_reply(&w.read_packet(b)?)? {
            proto::AuthReply::Ok => return Ok(w),
            // StarRocks switches a client that announced another method back to the native one,
            // with the same salt; one switch is all a login needs.
            proto::AuthReply::Switch { plugin, salt } if plugin == proto::NATIVE && !switched => {
                switched = true;
                w.write_packet(&proto::native_scramble(password, &salt), b)?;
            }
            proto::AuthReply::Switch { plugin, .. } => {
                return Err(SqlError::AuthRefused { plugin })
            }
            proto::AuthReply::MoreData => {
                return Err(SqlError::AuthRefused {
                    plugin: "caching_sha2_password (extra authentication data)".into(),
                })
            }
        }
    }
}

/// COM_QUERY and its text result set(s); only the first set is kept, any further one is read
/// within the same caps and dropped so the connection stays in step.
fn run_query(
    w: &mut Wire,
    sql: &str,
    limits: Limits,
    b: &mut Budget,
) -> Result<Vec<Row>, SqlError> {
    if (b.cancel)() {
        return Err(SqlError::Interrupted);
    }
    w.reset_seq();
    let mut cmd = Vec::with_capacity(sql.len() + 1);
    cmd.push(0x03);
    cmd.extend_from_slice(sql.as_bytes());
    w.write_packet(&cmd, b)?;
    let mut held = Held::default();
    let mut first: Option<Vec<Row>> = None;
    loop {
        let (rows, more) = read_result(w, limits, &mut held, b)?;
        first.get_or_insert(rows);
        if !more {
            return Ok(first.unwrap_or_default());
        }
    }
}

/// Roughly what a row costs once held as a [`Row`]: a B-tree leaf node per row, and per cell two
/// strings (the column name is copied into every row). Measured: 200,000 two-column rows took
/// about 140 MB, so the wire size alone would understate memory severalfold.
const ROW_OVERHEAD: usize = 576;
const CELL_OVERHEAD: usize = 64;

/// What one statement's rows hold so far.
#[derive(Default)]
struct Held {
    rows: usize,
    bytes: usize,
}

/// One result set: the rows and whether another set follows; `held` counts every row of the
/// statement against the caps.
fn read_result(
    w: &mut Wire,
    limits: Limits,
    held: &mut Held,
    b: &mut Budget,
) -> Result<(Vec<Row>, bool), SqlError> {
    let n = match proto::parse_query_head(&w.read_packet(b)?)? {
        proto::QueryHead::Done => return Ok((Vec::new(), false)),
        proto::QueryHead::Columns(n) => n,
    };
    let mut names = Vec::new();
    for _ in 0..n {
        names.push(proto::column_name(&w.read_packet(b)?)?);
    }
    let per_row = ROW_OVERHEAD + names.iter().map(|c| c.len() + CELL_OVERHEAD).sum::<usize>();
    let mut rows = Vec::new();
    let mut p = w.read_packet(b)?;
    if proto::is_eof(&p) {
        p = w.read_packet(b)?;
    }
    loop {
        if proto::is_eof(&p) {
            return Ok((rows, proto::more_results(&p)));
        }
        if p.first() == Some(&0xff) {
            return Err(proto::parse_err(&p));
        }
        held.rows += 1;
        held.bytes += per_row + p.len();
        if held.rows > limits.rows {
            return Err(SqlError::TooLarge(format!(
                "more than {} rows",
                limits.rows
            )));
        }
        if held.bytes > limits.bytes {
            return Err(SqlError::TooLarge(format!(
                "more than {} MiB of rows",
                limits.bytes >> 20
            )));
        }
        let values = proto::row_values(&p, names.len())?;
        rows.push(names.iter().cloned().zip(values).collect());
        p = w.read_packet(b)?;
    }
}

/// Runs one statement on `127.0.0.1:port`.
pub fn query(
    port: u16,
    user: &str,
    password: Option<&str>,
    sql: &str,
    timeout: Duration,
) -> Result<Vec<Row>, SqlError> {
    Session::connect("127.0.0.1", port, user, password, timeout)?.query(sql)
}

/// Runs one statement on `host:port`.
pub fn query_host(
    host: &str,
    port: u16,
    user: &str,
    password: Option<&str>,
    sql: &str,
    timeout: Duration,
) -> Result<Vec<Row>, SqlError> {
    Session::connect(host, port, user, password, timeout).and_then(|mut s| s.query(sql))
}
