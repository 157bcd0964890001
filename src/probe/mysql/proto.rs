//! The MySQL wire format, only as much of it as a StarRocks FE speaks: the v10 handshake, the
//! `mysql_native_password` scramble, text result sets, OK/EOF/ERR packets.
//!
//! Everything here works on payloads already read (`wire` reads them, with a deadline and a byte
//! budget), and every field is read through a checked cursor: a short or lying packet is a
//! protocol error, never an index out of bounds, so a hostile server cannot make the client panic.

use sha1::{Digest, Sha1};

use super::SqlError;

const CLIENT_LONG_PASSWORD: u32 = 0x1;
const CLIENT_LONG_FLAG: u32 = 0x4;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_TRANSACTIONS: u32 = 0x2000;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x80000;
/// What the client announces. No CLIENT_LOCAL_FILES (a server could ask for any file), no
/// CLIENT_SSL (no TLS here), no CLIENT_DEPRECATE_EOF (StarRocks ends each part with EOF), no
/// CLIENT_CONNECT_WITH_DB, no connection attributes, no multi-statements.
const CLIENT_CAPS: u32 = CLIENT_LONG_PASSWORD
    | CLIENT_LONG_FLAG
    | CLIENT_PROTOCOL_41
    | CLIENT_TRANSACTIONS
    | CLIENT_SECURE_CONNECTION
    | CLIENT_PLUGIN_AUTH;
/// utf8_general_ci, the character set StarRocks announces and answers in.
const UTF8_GENERAL_CI: u8 = 33;
/// The EOF status flag saying another result set follows.
const SERVER_MORE_RESULTS_EXISTS: u16 = 0x0008;

/// The only authentication method the client speaks (StarRocks' own, `MysqlHandshakePacket`).
pub(super) const NATIVE: &str = "mysql_native_password";

/// A checked reader over one payload.
pub(super) struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(b: &'a [u8], what: &'static str) -> Cursor<'a> {
        Cursor { b, pos: 0, what }
    }

    fn short(&self) -> SqlError {
        SqlError::Transport(format!(
            "malformed {} packet from the server ({} bytes)",
            self.what,
            self.b.len()
        ))
    }

    pub(super) fn rest(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or_default()
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], SqlError> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.short())?;
        let s = self.b.get(self.pos..end).ok_or_else(|| self.short())?;
        self.pos = end;
        Ok(s)
    }

    pub(super) fn u8(&mut self) -> Result<u8, SqlError> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, SqlError> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }

    fn u32(&mut self) -> Result<u32, SqlError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// A NUL-terminated string; a missing NUL ends it at the end of the packet.
    pub(super) fn cstr(&mut self) -> &'a [u8] {
        let rest = self.rest();
        let n = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
        self.pos += (n + 1).min(rest.len());
        &rest[..n]
    }

    /// A length-encoded integer; `None` for 0xfb, the NULL marker of a row.
    fn lenenc(&mut self) -> Result<Option<u64>, SqlError> {
        Ok(Some(match self.u8()? {
            0xfb => return Ok(None),
            0xfc => self.u16()? as u64,
            0xfd => {
                let s = self.take(3)?;
                u32::from_le_bytes([s[0], s[1], s[2], 0]) as u64
            }
            0xfe => {
                let s = self.take(8)?;
                u64::from_le_bytes(s.try_into().map_err(|_| self.short())?)
            }
            0xff => return Err(self.short()),
            n => n as u64,
        }))
    }

    /// A length-encoded string; `None` for SQL NULL.
    pub(super) fn lenenc_bytes(&mut self) -> Result<Option<&'a [u8]>, SqlError> {
        match self.lenenc()? {
            None => Ok(None),
            Some(n) => {
                let n = usize::try_from(n).map_err(|_| self.short())?;
                self.take(n).map(Some)
            }
        }
    }
}

/// What the server's greeting says.
#[derive(Debug)]
pub(super) struct Handshake {
    /// The 20-byte salt of the scramble.
    pub(super) salt: Vec<u8>,
    /// The server's default authentication method; `None` from a server without plugin auth.
    pub(super) plugin: Option<String>,
}

/// Reads the server's greeting (protocol 10). A server that refuses us straight away (too many
/// connections, a host not allowed) sends an error packet instead.
pub(super) fn parse_handshake(p: &[u8]) -> Result<Handshake, SqlError> {
    if p.first() == Some(&0xff) {
        return Err(parse_err(p));
    }
    let mut c = Cursor::new(p, "handshake");
    let version = c.u8()?;
    if version != 10 {
        return Err(SqlError::Transport(format!(
            "the server does not speak the MySQL protocol 10 (its greeting starts with {version:#04x})"
        )));
    }
    let _server_version = c.cstr();
    let _connection_id = c.u32()?;
    let mut salt = c.take(8)?.to_vec();
    let _filler = c.u8()?;
    let mut caps = c.u16()? as u32;
    let mut plugin = None;
    if !c.at_end() {
        let _charset = c.u8()?;
        let _status = c.u16()?;
        caps |= (c.u16()? as u32) << 16;
        let data_len = c.u8()? as usize;
        c.take(10)?;
        if caps & CLIENT_SECURE_CONNECTION != 0 {
            // At least 13 bytes, the last one a NUL that is not part of the salt.
            let n = data_len.saturating_sub(8).max(13);
            let part = c.take(n)?;
            salt.extend_from_slice(part.strip_suffix(&[0]).unwrap_or(part));
        }
        if caps & CLIENT_PLUGIN_AUTH != 0 {
            plugin = Some(String::from_utf8_lossy(c.cstr()).into_owned());
        }
    }
    if caps & CLIENT_PROTOCOL_41 == 0 {
        return Err(SqlError::Transport(
            "the server does not speak the MySQL 4.1 protocol".into(),
        ));
    }
    salt.resize(20, 0);
    Ok(Handshake { salt, plugin })
}

/// `mysql_native_password`: SHA1(pw) XOR SHA1(salt + SHA1(SHA1(pw))); empty for no password.
/// The password itself never leaves the process.
pub(super) fn native_scramble(password: Option<&str>, salt: &[u8]) -> Vec<u8> {
    let Some(pw) = password.filter(|p| !p.is_empty()) else {
        return Vec::new();
    };
    let h1 = Sha1::digest(pw.as_bytes());
    let h2 = Sha1::digest(h1);
    let mut h = Sha1::new();
    h.update(salt);
    h.update(h2);
    let h3 = h.finalize();
    h1.iter().zip(h3.iter()).map(|(a, b)| a ^ b).collect()
}

/// HandshakeResponse41 with the native scramble, announcing the fixed packet size instead of
/// asking the server for `@@max_allowed_packet`.
pub(super) fn handshake_response(user: &str, scramble: &[u8], max_packet: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(64 + user.len());
    p.extend_from_slice(&CLIENT_CAPS.to_le_bytes());
    p.extend_from_slice(&max_packet.to_le_bytes());
    p.push(UTF8_GENERAL_CI);
    p.extend_from_slice(&[0u8; 23]);
    p.extend_from_slice(user.as_bytes());
    p.push(0);
    p.push(scramble.len() as u8);
    p.extend_from_slice(scramble);
    p.extend_from_slice(NATIVE.as_bytes());
    p.push(0);
    p
}

/// The server's answer to a login packet.
#[derive(Debug)]
pub(super) enum AuthReply {
    Ok,
    /// Another method and its salt.
    Switch {
        plugin: String,
        salt: Vec<u8>,
    },
    /// Extra authentication data (0x01): caching_sha2_password's fast or full authentication.
    MoreData,
}

pub(super) fn parse_auth_reply(p: &[u8]) -> Result<AuthReply, SqlError> {
    match p.first() {
        Some(0x00) => Ok(AuthReply::Ok),
        Some(0xff) => Err(parse_err(p)),
        Some(0x01) => Ok(AuthReply::MoreData),
        Some(0xfe) => {
            let mut c = Cursor::new(p, "auth switch");
            c.u8()?;
            if c.at_end() {
                // The pre-4.1 switch request: mysql_old_password.
                return Ok(AuthReply::Switch {
                    plugin: "mysql_old_password".into(),
                    salt: Vec::new(),
                });
            }
            let plugin = String::from_utf8_lossy(c.cstr()).into_owned();
            let data = c.rest();
            Ok(AuthReply::Switch {
                plugin,
                salt: data.strip_suffix(&[0]).unwrap_or(data).to_vec(),
            })
        }
        _ => Err(SqlError::Transport(
            "unexpected packet from the server during login".into(),
        )),
    }
}

/// An ERR packet: code, SQL state (absent before 4.1 and in early greetings), message.
pub(super) fn parse_err(p: &[u8]) -> SqlError {
    let mut c = Cursor::new(p, "error");
    let code = c.u8().and_then(|_| c.u16()).unwrap_or(0);
    let state = if c.rest().first() == Some(&b'#') {
        c.take(6)
            .map(|s| String::from_utf8_lossy(&s[1..]).into_owned())
            .unwrap_or_default()
    } else {
        "HY000".to_string()
    };
    SqlError::Server {
        code,
        state,
        message: String::from_utf8_lossy(c.rest()).into_owned(),
    }
}

/// An EOF packet (0xfe, shorter than 9 bytes: a row starting with 0xfe is at least 9 long).
pub(super) fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xfe) && p.len() < 9
}

/// Whether an EOF packet says another result set follows.
pub(super) fn more_results(eof: &[u8]) -> bool {
    let mut c = Cursor::new(eof, "EOF");
    let status = c.take(3).and_then(|_| c.u16()).unwrap_or(0);
    status & SERVER_MORE_RESULTS_EXISTS != 0
}

/// The first packet of a statement's answer.
pub(super) enum QueryHead {
    /// OK: a statement without a result set.
    Done,
    /// A result set of this many columns follows.
    Columns(u64),
}

pub(super) fn parse_query_head(p: &[u8]) -> Result<QueryHead, SqlError> {
    match p.first() {
        Some(0x00) => Ok(QueryHead::Done),
        Some(0xff) => Err(parse_err(p)),
        Some(0xfb) => Err(SqlError::Transport(
            "the server asked the client to send it a local file (LOAD DATA LOCAL); refused".into(),
        )),
        _ => match Cursor::new(p, "column count").lenenc()? {
            Some(n) if n > 0 => Ok(QueryHead::Columns(n)),
            _ => Err(SqlError::Transport(
                "malformed column count from the server".into(),
            )),
        },
    }
}

/// The column name (its alias, as `SHOW` statements name them) of a ColumnDefinition41 packet.
pub(super) fn column_name(p: &[u8]) -> Result<String, SqlError> {
    let mut c = Cursor::new(p, "column definition");
    for _ in 0..4 {
        c.lenenc_bytes()?; // catalog, schema, table, org_table
    }
    let name = c.lenenc_bytes()?.unwrap_or_default();
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// The values of a text-protocol row, SQL NULL as an empty string.
pub(super) fn row_values(p: &[u8], columns: usize) -> Result<Vec<String>, SqlError> {
    let mut c = Cursor::new(p, "row");
    let mut out = Vec::with_capacity(columns.min(1024));
    for _ in 0..columns {
        let v = c.lenenc_bytes()?.unwrap_or_default();
        out.push(String::from_utf8_lossy(v).into_owned());
    }
    Ok(out)
}
