//! The HTTP GET behind the readiness endpoints, on `ureq`.
//!
//! `/api/bootstrap` and `/api/health` are plain GETs on loopback with small JSON bodies. When the
//! sandbox is fenced the probe runs on a thread that has joined its network namespace, and a socket
//! belongs to the namespace of the thread that creates it; `ureq` connects on the calling thread, so
//! the probe lands inside the fence. Three settings keep it there: no proxy from the environment (a
//! proxy address does not exist inside the namespace, and must never be tried outside it), no
//! connection pool (every probe opens its own socket), and one global deadline for the whole
//! exchange, so a server that trickles bytes cannot hold a probe past it. Redirects are not
//! followed: a readiness probe asks one process, and a 3xx is that process's answer (with its
//! `Location`), never a reason to count another server's answer for it.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// A response: status code, body, and where a redirect pointed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
    /// The `Location` header of a 3xx, not followed.
    pub location: Option<String>,
}

/// Sends `GET path` to `addr` and reads the whole response, all within `timeout`.
pub fn get(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<HttpResponse> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .max_idle_connections(0)
        .timeout_global(Some(timeout))
        // A 404 or 500 is an answer the caller reads, not a transport failure.
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent("sr-rehearse")
        .build()
        .into();
    let mut resp = agent
        .get(format!("http://{addr}{path}"))
        .call()
        .map_err(ureq::Error::into_io)?;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = resp
        .body_mut()
        .read_to_string()
        .map_err(ureq::Error::into_io)?;
    Ok(HttpResponse {
        status,
        body,
        location,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A server that trickles its body one byte at a time, each well within the deadline: the
    /// whole exchange, not each read, is bounded, so the probe gives up at the deadline.
    #[test]
    fn a_trickled_body_hits_the_deadline() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n");
            // Paced by the client's verdict, not by a clock: one byte per 100 ms until it returns.
            for _ in 0..200 {
                match done_rx.recv_timeout(Duration::from_millis(100)) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                if s.write_all(b" ").is_err() {
                    return;
                }
            }
        });
        let r = get(addr, "/api/health", Duration::from_millis(500));
        let _ = done_tx.send(());
        server.join().unwrap();
        assert!(
            r.is_err(),
            "a body trickled past the deadline must fail the probe, got {r:?}"
        );
    }

    #[test]
    fn an_error_status_is_returned_not_raised() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            s.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
                .unwrap();
        });
        let r = get(addr, "/api/health", Duration::from_secs(5)).unwrap();
        server.join().unwrap();
        assert_eq!((r.status, r.body.as_str()), (500, "{}"));
    }

    /// A 302 is the answer: the server it points at is never asked.
    #[test]
    fn a_redirect_is_returned_not_followed() {
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let other_addr = other.local_addr().unwrap();
        other.set_nonblocking(true).unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let head = format!("HTTP/1.1 302 Found\r\nLocation: http://{other_addr}/api/bootstrap\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            s.write_all(head.as_bytes()).unwrap();
        });
        let r = get(addr, "/api/bootstrap", Duration::from_secs(5)).unwrap();
        server.join().unwrap();
        assert_eq!(r.status, 302);
        assert_eq!(
            r.location.as_deref(),
            Some(format!("http://{other_addr}/api/bootstrap").as_str())
        );
        assert!(
            other.accept().is_err(),
            "the redirect target was connected to"
        );
    }
}
