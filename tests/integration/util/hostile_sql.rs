//! A hostile FE for the SQL client, as `check` meets it: `/api/bootstrap` answers OK on its HTTP port, and its MySQL port
//! misbehaves in one chosen way. Each accepted MySQL connection is announced on a channel, so a
//! test acts once the client is inside the exchange, not after a sleep; every byte the clients sent
//! is kept, to prove what never left.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlMode {
    /// A greeting that announces 4 KiB and sends one byte every 200 ms.
    Trickle,
    /// Accepts and never answers.
    Hang,
    /// A greeting naming caching_sha2_password, as MySQL 8 sends.
    Sha2,
    /// Logs anyone in; any statement gets rows without end.
    EndlessRows,
}

pub struct HostileSqlFe {
    pub http_port: u16,
    pub query_port: u16,
    accepted: mpsc::Receiver<()>,
    closed: mpsc::Receiver<()>,
    received: Arc<Mutex<Vec<u8>>>,
}

impl HostileSqlFe {
    pub fn start(mode: SqlMode) -> HostileSqlFe {
        let http = TcpListener::bind("127.0.0.1:0").unwrap();
        let sql = TcpListener::bind("127.0.0.1:0").unwrap();
        let (http_port, query_port) = (
            http.local_addr().unwrap().port(),
            sql.local_addr().unwrap().port(),
        );
        std::thread::spawn(move || {
            for s in http.incoming().flatten() {
                std::thread::spawn(move || bootstrap_ok(s));
            }
        });
        let (tx, accepted) = mpsc::channel();
        let (closed_tx, closed) = mpsc::channel();
        let received = Arc::new(Mutex::new(Vec::new()));
        let got = received.clone();
        std::thread::spawn(move || {
            for s in sql.incoming().flatten() {
                let _ = tx.send(());
                let got = got.clone();
                let closed_tx = closed_tx.clone();
                std::thread::spawn(move || {
                    let _ = serve(s, mode, &got);
                    let _ = closed_tx.send(());
                });
            }
        });
        HostileSqlFe {
            http_port,
            query_port,
            accepted,
            closed,
            received,
        }
    }

    /// `check`'s arguments for this FE.
    pub fn check_args(&self) -> Vec<String> {
        vec![
            "check".into(),
            "--fe".into(),
            format!("127.0.0.1:{}", self.http_port),
            "--query-port".into(),
            self.query_port.to_string(),
        ]
    }

    /// Blocks until a MySQL connection was accepted (at most `timeout`).
    pub fn wait_accepted(&self, timeout: Duration) {
        self.accepted
            .recv_timeout(timeout)
            .expect("the client connected to the MySQL port");
    }

    /// Blocks until a MySQL connection was closed by the client (at most `timeout`).
    pub fn wait_closed(&self, timeout: Duration) {
        self.closed
            .recv_timeout(timeout)
            .expect("the client closed its MySQL connection");
    }

    /// Every byte any client sent to the MySQL port so far.
    pub fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }
}

fn bootstrap_ok(mut s: TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(n @ 1..) => req.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
    let body = r#"{"status":"OK","msg":"Success"}"#;
    let _ = write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn serve(mut s: TcpStream, mode: SqlMode, got: &Mutex<Vec<u8>>) -> std::io::Result<()> {
    match mode {
        SqlMode::Trickle => {
            s.write_all(&[0x00, 0x10, 0x00, 0x00])?;
            loop {
                s.write_all(&[0x0a])?;
                // The misbehaviour itself (a trickle), not a synchronisation.
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        SqlMode::Sha2 => {
            let mut hs = vec![10u8];
            hs.extend_from_slice(b"8.0.33\0\x07\0\0\0abcdefgh\0\x0c\xa2\x21\0\0\x08\x00\x15");
            hs.extend_from_slice(&[0; 10]);
            hs.extend_from_slice(b"ijklmnopqrst\0caching_sha2_password\0");
            let mut p = (hs.len() as u32).to_le_bytes()[..3].to_vec();
            p.push(0);
            p.extend_from_slice(&hs);
            s.write_all(&p)?;
        }
        SqlMode::EndlessRows => return endless_rows(s),
        SqlMode::Hang => {}
    }
    // Keep what the client sends until it closes.
    s.set_read_timeout(Some(Duration::from_secs(600)))?;
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = s.read(&mut buf) {
        got.lock().unwrap().extend_from_slice(&buf[..n]);
    }
    Ok(())
}

fn packet(seq: &mut u8, payload: &[u8]) -> Vec<u8> {
    let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    p.push(*seq);
    p.extend_from_slice(payload);
    *seq = seq.wrapping_add(1);
    p
}

fn read_packet(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head)?;
    let mut p = vec![0; u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize];
    s.read_exact(&mut p)?;
    Ok(p)
}

/// A native greeting, OK to any login, then a two-column result set that never ends.
fn endless_rows(mut s: TcpStream) -> std::io::Result<()> {
    let mut hs = vec![10u8];
    hs.extend_from_slice(b"5.1.0\0\x07\0\0\0abcdefgh\0\x0c\xa2\x21\0\0\x08\x00\x15");
    hs.extend_from_slice(&[0; 10]);
    hs.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
    let mut seq = 0;
    s.write_all(&packet(&mut seq, &hs))?;
    read_packet(&mut s)?;
    seq = 2;
    s.write_all(&packet(&mut seq, &[0, 0, 0, 2, 0, 0, 0]))?;
    read_packet(&mut s)?;
    seq = 1;
    let mut out = packet(&mut seq, &[2]);
    for name in [&b"IP"[..], b"Role"] {
        let mut def = Vec::new();
        for f in [&b"def"[..], b"", b"", b"", name, name] {
            def.push(f.len() as u8);
            def.extend_from_slice(f);
        }
        def.extend_from_slice(&[0x0c, 33, 0, 0, 4, 0, 0, 0xfd, 0, 0, 0, 0, 0]);
        out.extend(packet(&mut seq, &def));
    }
    out.extend(packet(&mut seq, &[0xfe, 0, 0, 2, 0]));
    loop {
        for _ in 0..1000 {
            out.extend(packet(&mut seq, b"\x09127.0.0.1\x08FOLLOWER"));
        }
        s.write_all(&out)?;
        out.clear();
    }
}
