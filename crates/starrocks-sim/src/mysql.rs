//! The MySQL protocol as the simulated FE speaks it on `query_port`.
//!
//! Operators and the tool verify a started FE with SQL (`SHOW DATABASES`, `SHOW PROC '/statistic'`,
//! `SHOW FRONTENDS`), and the copied metadata carries production's accounts and passwords, so the
//! simulator performs a real handshake (protocol 10, `mysql_native_password`), checks the scramble
//! against the image's password for that account, and answers text queries with real result sets
//! for the logged-in user. Anything it does not know gets a MySQL error packet, not silence.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use sha1::{Digest, Sha1};

/// A query result: column names and rows of optional strings (None is SQL NULL).
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// What a query produced.
pub enum Outcome {
    Rows(ResultSet),
    Ok,
    Err(u16, &'static str, String),
}

/// Answers one query of the logged-in user (`user`, `sql`); the server handles the protocol.
pub type QueryFn = Arc<dyn Fn(&str, &str) -> Outcome + Send + Sync>;

pub struct ServerConfig {
    pub server_version: String,
    pub root_password: String,
    /// Other accounts the copied image carries: `(name, password)`.
    pub users: Vec<(String, String)>,
    pub query: QueryFn,
}

impl ServerConfig {
    fn password_of(&self, user: &str) -> Option<&str> {
        if user == "root" {
            return Some(&self.root_password);
        }
        self.users
            .iter()
            .find(|(n, _)| n == user)
            .map(|(_, p)| p.as_str())
    }
}

const CLIENT_LONG_PASSWORD: u32 = 0x1;
const CLIENT_FOUND_ROWS: u32 = 0x2;
const CLIENT_LONG_FLAG: u32 = 0x4;
const CLIENT_CONNECT_WITH_DB: u32 = 0x8;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_TRANSACTIONS: u32 = 0x2000;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x80000;
const CLIENT_CONNECT_ATTRS: u32 = 0x100000;
const CLIENT_PLUGIN_AUTH_LENENC: u32 = 0x200000;
const SERVER_CAPS: u32 = CLIENT_LONG_PASSWORD
    | CLIENT_FOUND_ROWS
    | CLIENT_LONG_FLAG
    | CLIENT_CONNECT_WITH_DB
    | CLIENT_PROTOCOL_41
    | CLIENT_TRANSACTIONS
    | CLIENT_SECURE_CONNECTION
    | CLIENT_PLUGIN_AUTH;

/// Serves `listener` on background threads until the process exits.
pub fn serve(listener: TcpListener, cfg: Arc<ServerConfig>) {
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().flatten().enumerate() {
            let cfg = cfg.clone();
            let id = n as u32 + 1;
            std::thread::spawn(move || {
                let _ = Conn {
                    s: stream,
                    seq: 0,
                    out: Vec::new(),
                }
                .run(&cfg, id);
            });
        }
    });
}

/// mysql_native_password: SHA1(pw) XOR SHA1(salt + SHA1(SHA1(pw))).
pub fn native_scramble(password: &str, salt: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let h1 = Sha1::digest(password.as_bytes());
    let h2 = Sha1::digest(h1);
    let mut h = Sha1::new();
    h.update(salt);
    h.update(h2);
    let h3 = h.finalize();
    h1.iter().zip(h3.iter()).map(|(a, b)| a ^ b).collect()
}

struct Conn {
    s: TcpStream,
    seq: u8,
    /// Packets of the response being built. The real FE's `MysqlChannel.sendOnePacket` appends
    /// to its send buffer and `flush()` writes it out once per response; writing each packet on
    /// its own would let Nagle's algorithm and the client's delayed ACK stall every result set.
    out: Vec<u8>,
}

fn lenenc_int(out: &mut Vec<u8>, n: u64) {
    if n < 251 {
        out.push(n as u8);
    } else if n < 1 << 16 {
        out.push(0xfc);
        out.extend_from_slice(&(n as u16).to_le_bytes());
    } else if n < 1 << 24 {
        out.push(0xfd);
        out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
    } else {
        out.push(0xfe);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

fn lenenc_str(out: &mut Vec<u8>, s: &str) {
    lenenc_int(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn read_lenenc(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *buf.get(*pos)?;
    *pos += 1;
    let take = |pos: &mut usize, n: usize| -> Option<u64> {
        let b = buf.get(*pos..*pos + n)?;
        *pos += n;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(b);
        Some(u64::from_le_bytes(v))
    };
    match first {
        0xfc => take(pos, 2),
        0xfd => take(pos, 3),
        0xfe => take(pos, 8),
        n => Some(n as u64),
    }
}

fn cstr(buf: &[u8], pos: &mut usize) -> String {
    let end = buf[*pos..]
        .iter()
        .position(|&b| b == 0)
        .map(|e| *pos + e)
        .unwrap_or(buf.len());
    let s = String::from_utf8_lossy(&buf[*pos..end]).into_owned();
    *pos = (end + 1).min(buf.len());
    s
}

impl Conn {
    fn write_packet(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut p = Vec::with_capacity(payload.len() + 4);
        p.extend_from_slice(&(payload.len() as u32).to_le_bytes()[..3]);
        p.push(self.seq);
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.out.extend_from_slice(&p);
        Ok(())
    }

    /// Sends the buffered response in one write, as `MysqlChannel.flush()` does.
    fn flush(&mut self) -> io::Result<()> {
        let out = std::mem::take(&mut self.out);
        self.s.write_all(&out)
    }

    /// Reads the client's next packet; whatever was answered so far goes out first, since the
    /// client waits for it.
    fn read_packet(&mut self) -> io::Result<Vec<u8>> {
        self.flush()?;
        let mut head = [0u8; 4];
        self.s.read_exact(&mut head)?;
        let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
        self.seq = head[3].wrapping_add(1);
        let mut buf = vec![0u8; len];
        self.s.read_exact(&mut buf)?;
        Ok(buf)
    }

    fn ok(&mut self) -> io::Result<()> {
        self.write_packet(&[0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00])
    }

    fn err(&mut self, code: u16, state: &str, msg: &str) -> io::Result<()> {
        let mut p = vec![0xff];
        p.extend_from_slice(&code.to_le_bytes());
        p.push(b'#');
        p.extend_from_slice(state.as_bytes());
        p.extend_from_slice(msg.as_bytes());
        self.write_packet(&p)
    }

    fn eof(&mut self) -> io::Result<()> {
        self.write_packet(&[0xfe, 0x00, 0x00, 0x02, 0x00])
    }

    fn run(mut self, cfg: &ServerConfig, conn_id: u32) -> io::Result<()> {
        let served = self.session(cfg, conn_id);
        // An error packet that ends the session (access denied) still reaches the client.
        let flushed = self.flush();
        served.and(flushed)
    }

    fn session(&mut self, cfg: &ServerConfig, conn_id: u32) -> io::Result<()> {
        self.s.set_read_timeout(Some(Duration::from_secs(300)))?;
        let salt: Vec<u8> = (0..3)
            .flat_map(|_| super::meta::random_u64().to_le_bytes())
            .take(20)
            .map(|b| (b % 94) + 33)
            .collect();
        let mut hs = vec![10u8];
        hs.extend_from_slice(cfg.server_version.as_bytes());
        hs.push(0);
        hs.extend_from_slice(&conn_id.to_le_bytes());
        hs.extend_from_slice(&salt[..8]);
        hs.push(0);
        hs.extend_from_slice(&(SERVER_CAPS as u16).to_le_bytes());
        hs.push(33);
        hs.extend_from_slice(&2u16.to_le_bytes());
        hs.extend_from_slice(&((SERVER_CAPS >> 16) as u16).to_le_bytes());
        hs.push(21);
        hs.extend_from_slice(&[0u8; 10]);
        hs.extend_from_slice(&salt[8..]);
        hs.push(0);
        hs.extend_from_slice(b"mysql_native_password\0");
        self.seq = 0;
        self.write_packet(&hs)?;

        let resp = self.read_packet()?;
        if resp.len() < 32 {
            return self.err(1043, "08S01", "Bad handshake");
        }
        let caps = u32::from_le_bytes([resp[0], resp[1], resp[2], resp[3]]);
        let mut pos = 32;
        let user = cstr(&resp, &mut pos);
        let auth: Vec<u8> = if caps & CLIENT_PLUGIN_AUTH_LENENC != 0 {
            let n = read_lenenc(&resp, &mut pos).unwrap_or(0) as usize;
            let a = resp.get(pos..pos + n).unwrap_or(&[]).to_vec();
            pos += n;
            a
        } else if caps & CLIENT_SECURE_CONNECTION != 0 {
            let n = *resp.get(pos).unwrap_or(&0) as usize;
            pos += 1;
            let a = resp.get(pos..pos + n).unwrap_or(&[]).to_vec();
            pos += n;
            a
        } else {
            cstr(&resp, &mut pos).into_bytes()
        };
        if caps & CLIENT_CONNECT_WITH_DB != 0 && pos < resp.len() {
            let _db = cstr(&resp, &mut pos);
        }
        let plugin = if caps & CLIENT_PLUGIN_AUTH != 0 && pos < resp.len() {
            cstr(&resp, &mut pos)
        } else {
            "mysql_native_password".to_string()
        };
        let _ = caps & CLIENT_CONNECT_ATTRS;
        let auth = if plugin != "mysql_native_password" {
            // Ask the client to switch to the one method we speak.
            let mut sw = vec![0xfe];
            sw.extend_from_slice(b"mysql_native_password\0");
            sw.extend_from_slice(&salt);
            sw.push(0);
            self.write_packet(&sw)?;
            self.read_packet()?
        } else {
            auth
        };
        let peer = self
            .s
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let known = cfg.password_of(&user);
        if known.is_none_or(|pw| auth != native_scramble(pw, &salt)) {
            let using = if auth.is_empty() { "NO" } else { "YES" };
            return self.err(
                1045,
                "28000",
                &format!("Access denied for user '{user}'@'{peer}' (using password: {using})"),
            );
        }
        self.ok()?;

        loop {
            let pkt = match self.read_packet() {
                Ok(p) => p,
                Err(_) => return Ok(()),
            };
            self.seq = 1;
            match pkt.first() {
                Some(0x01) => return Ok(()),
                Some(0x02) | Some(0x0e) => self.ok()?,
                Some(0x03) => {
                    let sql = String::from_utf8_lossy(&pkt[1..]).into_owned();
                    match (cfg.query)(&user, &sql) {
                        Outcome::Ok => self.ok()?,
                        Outcome::Err(code, state, msg) => self.err(code, state, &msg)?,
                        Outcome::Rows(rs) => self.result_set(&rs)?,
                    }
                }
                _ => self.err(1047, "08S01", "Unknown command")?,
            }
        }
    }

    fn result_set(&mut self, rs: &ResultSet) -> io::Result<()> {
        let mut p = Vec::new();
        lenenc_int(&mut p, rs.columns.len() as u64);
        self.write_packet(&p)?;
        for c in &rs.columns {
            let mut p = Vec::new();
            lenenc_str(&mut p, "def");
            lenenc_str(&mut p, "");
            lenenc_str(&mut p, "");
            lenenc_str(&mut p, "");
            lenenc_str(&mut p, c);
            lenenc_str(&mut p, c);
            p.push(0x0c);
            p.extend_from_slice(&33u16.to_le_bytes());
            p.extend_from_slice(&1024u32.to_le_bytes());
            p.push(0xfd);
            p.extend_from_slice(&0u16.to_le_bytes());
            p.push(0);
            p.extend_from_slice(&[0, 0]);
            self.write_packet(&p)?;
        }
        self.eof()?;
        for row in &rs.rows {
            let mut p = Vec::new();
            for v in row {
                match v {
                    Some(s) => lenenc_str(&mut p, s),
                    None => p.push(0xfb),
                }
            }
            self.write_packet(&p)?;
        }
        self.eof()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_password_scrambles_to_nothing() {
        assert!(native_scramble("", b"12345678901234567890").is_empty());
        assert_eq!(native_scramble("pw", b"12345678901234567890").len(), 20);
    }

    #[test]
    fn a_result_set_leaves_in_one_write_when_the_server_turns_to_read() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut conn = Conn {
            s: server,
            seq: 1,
            out: Vec::new(),
        };
        let rs = ResultSet {
            columns: vec!["Database".into()],
            rows: vec![
                vec![Some("information_schema".into())],
                vec![Some("sales".into())],
            ],
        };
        conn.result_set(&rs).unwrap();
        client.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 4096];
        assert!(
            matches!(client.read(&mut buf), Err(e) if e.kind() == io::ErrorKind::WouldBlock),
            "nothing is sent packet by packet"
        );
        let built = conn.out.len();
        assert!(built > 0);
        conn.flush().unwrap();
        client.set_nonblocking(false).unwrap();
        let mut got = 0;
        while got < built {
            got += client.read(&mut buf[got..]).unwrap();
        }
        assert_eq!(
            got, built,
            "the whole response, column count to the last EOF"
        );
    }
}
