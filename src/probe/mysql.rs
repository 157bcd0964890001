//! The SQL check: real MySQL-protocol queries against an FE.
//!
//! The `mysql` crate sends queries of its own on connect unless told not to: `SELECT @@socket` on a
//! loopback address (`prefer_socket`, on by default), which StarRocks refuses with error 1193, and
//! `SELECT @@max_allowed_packet` when no packet size is given, a constant SELECT that StarRocks
//! before 3.3 plans onto a BE, so a sandbox without a live BE fails it. Both are switched off here,
//! and `init` stays empty, so the only statements an FE sees are the ones the caller asks for.
//! Errors keep the server's error number, because the decision depends on it (1045 access denied,
//! 1227 missing privilege, 1193 unknown variable, 1064 refused statement) and the wording differs
//! between releases.

use std::collections::BTreeMap;
use std::time::Duration;

use mysql::prelude::Queryable;

/// The packet size announced to the server instead of asking it (StarRocks' own default).
const MAX_ALLOWED_PACKET: usize = 32 << 20;

/// A row as column → text (SQL NULL as an empty string).
pub type Row = BTreeMap<String, String>;

/// Why a connection or a statement failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    /// The server answered with an error packet.
    #[error("MySQL error {code} ({state}): {message}")]
    Server {
        code: u16,
        state: String,
        message: String,
    },
    /// No answer: connection refused, timeout, protocol trouble.
    #[error("failed to talk to the FE: {0}")]
    Transport(String),
}

impl SqlError {
    /// The server's error number, when the server answered.
    pub fn code(&self) -> Option<u16> {
        match self {
            SqlError::Server { code, .. } => Some(*code),
            SqlError::Transport(_) => None,
        }
    }

    fn from_driver(e: mysql::Error) -> SqlError {
        match e {
            mysql::Error::MySqlError(m) => SqlError::Server {
                code: m.code,
                state: m.state,
                message: m.message,
            },
            other => SqlError::Transport(other.to_string()),
        }
    }
}

/// One authenticated connection; statements run one after another on it.
pub struct Session {
    conn: mysql::Conn,
}

impl Session {
    /// Connects and authenticates, sending no statement.
    pub fn connect(
        host: &str,
        port: u16,
        user: &str,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<Session, SqlError> {
        let conn = mysql::Conn::new(options(host, port, user, password, timeout))
            .map_err(SqlError::from_driver)?;
        Ok(Session { conn })
    }

    /// Runs `sql` with the text protocol (older FEs refuse prepared statements).
    pub fn query(&mut self, sql: &str) -> Result<Vec<Row>, SqlError> {
        let rows: Vec<mysql::Row> = self.conn.query(sql).map_err(SqlError::from_driver)?;
        Ok(rows.into_iter().map(to_map).collect())
    }
}

/// The connection options: no socket probe, a fixed packet size, no init statements.
pub fn options(
    host: &str,
    port: u16,
    user: &str,
    password: Option<&str>,
    timeout: Duration,
) -> mysql::Opts {
    mysql::OptsBuilder::new()
        .ip_or_hostname(Some(host))
        .tcp_port(port)
        .user(Some(user))
        .pass(password)
        .prefer_socket(false)
        .max_allowed_packet(Some(MAX_ALLOWED_PACKET))
        .init(Vec::<String>::new())
        .tcp_connect_timeout(Some(timeout))
        .read_timeout(Some(timeout))
        .write_timeout(Some(timeout))
        .into()
}

fn to_map(r: mysql::Row) -> Row {
    let cols: Vec<String> = r
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    cols.into_iter()
        .enumerate()
        .map(|(i, c)| {
            let v = match r.as_ref(i) {
                Some(mysql::Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
                Some(mysql::Value::NULL) | None => String::new(),
                Some(other) => other.as_sql(true),
            };
            (c, v)
        })
        .collect()
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

/// Runs one statement on `host:port`; the error as text, for callers that only report it.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_send_no_query_of_their_own() {
        let o = options("127.0.0.1", 9030, "root", None, Duration::from_secs(1));
        assert!(!o.get_prefer_socket(), "no SELECT @@socket");
        assert_eq!(o.get_max_allowed_packet(), Some(MAX_ALLOWED_PACKET));
        assert!(o.get_init().is_empty());
    }
}
