//! A hostile or broken MySQL server for the client's tests: one connection per server, one
//! misbehaviour each, and a record of every byte the client sent, so a test can prove that a
//! password never left and that each call returns with the right kind of error.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What the server does with its one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// A greeting that names caching_sha2_password (as MySQL 8 does).
    Sha2Greeting,
    /// A native greeting, then "perform full authentication" (0x01 0x04) after the login packet,
    /// which makes a caching_sha2 client send the password (in clear, or RSA-encrypted with a key
    /// the server chose).
    Sha2FullAuth,
    /// A native greeting, then a switch to caching_sha2_password, full authentication and,
    /// unasked, a "public key" that is not one.
    MalformedKey,
    /// A greeting announcing 4 KiB, sent one byte every 50 ms.
    Trickle,
    /// Accepts and never answers.
    Hang,
    /// Logs anyone in, then answers a statement one byte every 50 ms.
    TrickleAnswer,
    /// Logs anyone in, then answers any statement with rows that never end.
    EndlessRows { value_len: usize },
    /// Logs anyone in and answers any statement with two rows.
    Normal,
}

/// A server listening on a loopback port of its own.
pub(super) struct Hostile {
    pub(super) port: u16,
    accepted: mpsc::Receiver<()>,
    thread: JoinHandle<Vec<u8>>,
}

impl Hostile {
    pub(super) fn start(mode: Mode) -> Hostile {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, accepted) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let _ = tx.send(());
            let mut c = Conn {
                s,
                seq: 0,
                got: Vec::new(),
            };
            let _ = c.serve(mode);
            // Whatever else the client sends, until it closes (it does so on any error).
            let _ = c.s.set_read_timeout(Some(Duration::from_secs(20)));
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = c.s.read(&mut buf) {
                c.got.extend_from_slice(&buf[..n]);
            }
            c.got
        });
        Hostile {
            port,
            accepted,
            thread,
        }
    }

    /// Blocks until the client's connection was accepted.
    pub(super) fn wait_accepted(&self) {
        self.accepted.recv().unwrap();
    }

    /// Every byte the client sent, once it has closed the connection.
    pub(super) fn received(self) -> Vec<u8> {
        self.thread.join().unwrap()
    }
}

struct Conn {
    s: TcpStream,
    seq: u8,
    got: Vec<u8>,
}

const SALT: &[u8; 20] = b"abcdefghijklmnopqrst";

fn lenenc_str(out: &mut Vec<u8>, s: &[u8]) {
    assert!(s.len() < 1 << 16);
    if s.len() < 251 {
        out.push(s.len() as u8);
    } else {
        out.push(0xfc);
        out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(s);
}

fn greeting(plugin: &str) -> Vec<u8> {
    let caps: u32 = 0x1 | 0x4 | 0x8 | 0x200 | 0x8000 | 0x80000;
    let mut hs = vec![10u8];
    hs.extend_from_slice(b"5.1.0\0");
    hs.extend_from_slice(&7u32.to_le_bytes());
    hs.extend_from_slice(&SALT[..8]);
    hs.push(0);
    hs.extend_from_slice(&(caps as u16).to_le_bytes());
    hs.push(33);
    hs.extend_from_slice(&0u16.to_le_bytes());
    hs.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    hs.push(21);
    hs.extend_from_slice(&[0u8; 10]);
    hs.extend_from_slice(&SALT[8..]);
    hs.push(0);
    hs.extend_from_slice(plugin.as_bytes());
    hs.push(0);
    hs
}

impl Conn {
    fn packet(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
        p.push(self.seq);
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        p
    }

    fn send(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let p = self.packet(payload);
        self.s.write_all(&p)
    }

    fn read(&mut self) -> std::io::Result<Vec<u8>> {
        let mut head = [0u8; 4];
        self.s.read_exact(&mut head)?;
        let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
        self.seq = head[3].wrapping_add(1);
        let mut p = vec![0; len];
        self.s.read_exact(&mut p)?;
        self.got.extend_from_slice(&head);
        self.got.extend_from_slice(&p);
        Ok(p)
    }

    fn serve(&mut self, mode: Mode) -> std::io::Result<()> {
        self.s.set_read_timeout(Some(Duration::from_secs(20)))?;
        match mode {
            Mode::Hang => {
                // Reading blocks until the client gives up and closes.
                let mut b = [0u8; 1];
                let _ = self.s.read(&mut b);
                return Ok(());
            }
            Mode::Trickle => {
                self.s.write_all(&[0x00, 0x10, 0x00, 0x00])?;
                loop {
                    self.s.write_all(&[0x0a])?;
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            Mode::Sha2Greeting => return self.send(&greeting("caching_sha2_password")),
            _ => {}
        }
        self.send(&greeting("mysql_native_password"))?;
        self.read()?;
        match mode {
            Mode::Sha2FullAuth => return self.send(&[0x01, 0x04]),
            Mode::MalformedKey => {
                let mut sw = vec![0xfe];
                sw.extend_from_slice(b"caching_sha2_password\0");
                sw.extend_from_slice(SALT);
                sw.push(0);
                self.send(&sw)?;
                let mut out = self.packet(&[0x01, 0x04]);
                out.extend(self.packet(b"\x01this is not a PEM key"));
                return self.s.write_all(&out);
            }
            _ => self.send(&[0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00])?,
        }
        loop {
            let p = self.read()?;
            self.seq = 1;
            if p.first() != Some(&0x03) {
                return Ok(());
            }
            if mode == Mode::TrickleAnswer {
                self.s.write_all(&[0x00, 0x10, 0x00, 0x01])?;
                loop {
                    self.s.write_all(&[0x02])?;
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let mut out = self.packet(&[2]);
            for name in ["IP", "Role"] {
                let mut def = Vec::new();
                for s in ["def", "", "", "", name, name] {
                    lenenc_str(&mut def, s.as_bytes());
                }
                def.extend_from_slice(&[0x0c, 33, 0, 0, 4, 0, 0, 0xfd, 0, 0, 0, 0, 0]);
                out.extend(self.packet(&def));
            }
            out.extend(self.packet(&[0xfe, 0, 0, 2, 0]));
            let mut row = Vec::new();
            lenenc_str(&mut row, b"127.0.0.1");
            match mode {
                Mode::EndlessRows { value_len } => {
                    lenenc_str(&mut row, &vec![b'F'; value_len]);
                    loop {
                        for _ in 0..100 {
                            out.extend(self.packet(&row));
                        }
                        self.s.write_all(&out)?;
                        out.clear();
                    }
                }
                _ => {
                    lenenc_str(&mut row, b"FOLLOWER");
                    out.extend(self.packet(&row));
                    out.extend(self.packet(&[0xfb, 0x01, b'x']));
                    out.extend(self.packet(&[0xfe, 0, 0, 2, 0]));
                    self.s.write_all(&out)?;
                }
            }
        }
    }
}
