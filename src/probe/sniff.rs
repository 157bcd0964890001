//! Which protocol a port speaks, for the message when an operator gave an FE's query port where
//! its HTTP port belongs, or the other way round.
//!
//! The two fail in ways that name neither port: an HTTP client reading a MySQL server's greeting
//! reports `invalid HTTP version`, a MySQL client waiting on an HTTP server (which waits for a
//! request) times out. A MySQL server speaks first: its handshake packet is a 3-byte length, the
//! sequence number 0 and the protocol version 10 (or an error packet, 0xff, when it refuses the
//! connection). An HTTP server says nothing until asked, and answers a request with `HTTP/`. Only
//! called after a probe failed, so a healthy run never pays for it.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// What answered on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// A MySQL server: an FE's `query_port`.
    MySql,
    /// An HTTP server: an FE's `http_port` (or a BE's).
    Http,
    /// Nothing, or something else.
    Unknown,
}

/// Connects to `host:port` and tells a MySQL server from an HTTP one, each read and write within
/// `timeout`.
pub fn sniff(host: &str, port: u16, timeout: Duration) -> Listener {
    let Some(addr) = (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
    else {
        return Listener::Unknown;
    };
    let Ok(mut s) = TcpStream::connect_timeout(&addr, timeout) else {
        return Listener::Unknown;
    };
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    let mut head = [0u8; 5];
    match read_some(&mut s, &mut head) {
        5 if head[3] == 0 && (head[4] == 10 || head[4] == 0xff) => return Listener::MySql,
        0 => {}
        _ => return Listener::Unknown,
    }
    // Silent: ask it as an HTTP client would.
    if s.write_all(format!("GET /api/bootstrap HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .is_err()
    {
        return Listener::Unknown;
    }
    let mut answer = [0u8; 5];
    if read_some(&mut s, &mut answer) == 5 && &answer == b"HTTP/" {
        Listener::Http
    } else {
        Listener::Unknown
    }
}

/// Reads until `buf` is full, the peer closes, or the read timeout passes; how many bytes came.
fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve(reply_first: &'static [u8], on_request: &'static [u8]) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut c, _)) = l.accept() {
                let _ = c.write_all(reply_first);
                let mut b = [0u8; 256];
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                if c.read(&mut b).is_ok_and(|n| n > 0) {
                    let _ = c.write_all(on_request);
                }
            }
        });
        port
    }

    #[test]
    fn a_greeting_is_mysql_an_answer_to_a_request_is_http() {
        let t = Duration::from_millis(500);
        let mysql = serve(b"\x4a\x00\x00\x00\x0a5.1.0\x00", b"");
        assert_eq!(sniff("127.0.0.1", mysql, t), Listener::MySql);
        let http = serve(b"", b"HTTP/1.1 200 OK\r\n\r\n{}");
        assert_eq!(sniff("127.0.0.1", http, t), Listener::Http);
        let other = serve(b"SSH-2.0-x\r\n", b"");
        assert_eq!(sniff("127.0.0.1", other, t), Listener::Unknown);
    }
}
