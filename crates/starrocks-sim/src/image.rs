//! The simulator's own content for image and journal files.
//!
//! Real `image.<N>` and `*.jdb` files are Java serialisation and BDB JE logs; nothing in the tool
//! reads them, so the simulator stores what it needs to behave like a real FE (meta version, the
//! frontends and backends recorded, the root password, journal ids and operation codes) in a short
//! text header and pads the rest of the file to the requested size. Keeping the format here, in one
//! place, lets `make-meta` write it and the FE server read it without drift.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

pub const IMAGE_MAGIC: &str = "STARROCKS-SIM-IMAGE 1";
pub const JDB_MAGIC: &str = "STARROCKS-SIM-JDB 1";
const HEADER_END: &str = "END";

/// A frontend recorded in the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontend {
    pub role: String,
    pub host: String,
    pub edit_log_port: u16,
    pub name: String,
}

/// A backend recorded in the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    pub id: u64,
    pub host: String,
    pub heartbeat_port: u16,
}

/// A table recorded in the metadata, with its replication number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub db: String,
    pub name: String,
    pub replication_num: u32,
}

/// The part of an image the simulator reads back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageHeader {
    pub meta_version: u32,
    pub writer_version: String,
    pub journal_id: u64,
    pub root_password: String,
    pub frontends: Vec<Frontend>,
    pub backends: Vec<Backend>,
    pub tables: Vec<Table>,
    /// Accounts other than root, with no privilege granted: `(name, password)`.
    pub users: Vec<(String, String)>,
}

impl ImageHeader {
    pub fn render(&self) -> String {
        let mut s = format!(
            "{IMAGE_MAGIC}\nmetaVersion={}\nwriterVersion={}\njournalId={}\nrootPassword={}\n",
            self.meta_version, self.writer_version, self.journal_id, self.root_password
        );
        for f in &self.frontends {
            s.push_str(&format!(
                "frontend={} {} {} {}\n",
                f.role, f.host, f.edit_log_port, f.name
            ));
        }
        for b in &self.backends {
            s.push_str(&format!(
                "backend={} {} {}\n",
                b.id, b.host, b.heartbeat_port
            ));
        }
        for t in &self.tables {
            s.push_str(&format!(
                "table={} {} {}\n",
                t.db, t.name, t.replication_num
            ));
        }
        for (name, password) in &self.users {
            s.push_str(&format!("user={name} {password}\n"));
        }
        s.push_str(HEADER_END);
        s.push('\n');
        s
    }

    pub fn parse(lines: &[String]) -> Result<ImageHeader, HeaderError> {
        if lines.first().map(String::as_str) != Some(IMAGE_MAGIC) {
            return Err(HeaderError::NotImage);
        }
        let mut h = ImageHeader::default();
        for line in &lines[1..] {
            let (k, v) = line.split_once('=').unwrap_or((line.as_str(), ""));
            let bad = || HeaderError::Malformed {
                what: "image",
                line: line.clone(),
            };
            match k {
                "metaVersion" => h.meta_version = v.parse().map_err(|_| bad())?,
                "writerVersion" => h.writer_version = v.to_string(),
                "journalId" => h.journal_id = v.parse().map_err(|_| bad())?,
                "rootPassword" => h.root_password = v.to_string(),
                "frontend" => {
                    let p: Vec<&str> = v.split(' ').collect();
                    if p.len() != 4 {
                        return Err(bad());
                    }
                    h.frontends.push(Frontend {
                        role: p[0].into(),
                        host: p[1].into(),
                        edit_log_port: p[2].parse().map_err(|_| bad())?,
                        name: p[3].into(),
                    });
                }
                "backend" => {
                    let p: Vec<&str> = v.split(' ').collect();
                    if p.len() != 3 {
                        return Err(bad());
                    }
                    h.backends.push(Backend {
                        id: p[0].parse().map_err(|_| bad())?,
                        host: p[1].into(),
                        heartbeat_port: p[2].parse().map_err(|_| bad())?,
                    });
                }
                "table" => {
                    let p: Vec<&str> = v.split(' ').collect();
                    if p.len() != 3 {
                        return Err(bad());
                    }
                    h.tables.push(Table {
                        db: p[0].into(),
                        name: p[1].into(),
                        replication_num: p[2].parse().map_err(|_| bad())?,
                    });
                }
                "user" => {
                    let (name, password) = v.split_once(' ').ok_or_else(bad)?;
                    h.users.push((name.into(), password.into()));
                }
                _ => {}
            }
        }
        Ok(h)
    }
}

/// The header of one simulated BDB JE log file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JdbHeader {
    pub first_journal: u64,
    pub last_journal: u64,
    pub max_op: u32,
    pub writer_version: String,
}

impl JdbHeader {
    pub fn render(&self) -> String {
        format!(
            "{JDB_MAGIC}\nfirst={}\nlast={}\nmaxOp={}\nwriter={}\n{HEADER_END}\n",
            self.first_journal, self.last_journal, self.max_op, self.writer_version
        )
    }

    pub fn parse(lines: &[String]) -> Result<JdbHeader, HeaderError> {
        if lines.first().map(String::as_str) != Some(JDB_MAGIC) {
            return Err(HeaderError::NotJournal);
        }
        let mut h = JdbHeader::default();
        for line in &lines[1..] {
            let (k, v) = line.split_once('=').unwrap_or((line.as_str(), ""));
            let bad = || HeaderError::Malformed {
                what: "journal",
                line: line.clone(),
            };
            match k {
                "first" => h.first_journal = v.parse().map_err(|_| bad())?,
                "last" => h.last_journal = v.parse().map_err(|_| bad())?,
                "maxOp" => h.max_op = v.parse().map_err(|_| bad())?,
                "writer" => h.writer_version = v.to_string(),
                _ => {}
            }
        }
        Ok(h)
    }
}

/// Why a file's header is not one the simulator wrote.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("failed to read the header: not a simulator image")]
    NotImage,
    #[error("failed to read the header: not a simulator journal file")]
    NotJournal,
    #[error("failed to read the header: malformed {what} header line `{line}`")]
    Malformed { what: &'static str, line: String },
    #[error("failed to read the header: {0}")]
    Io(#[from] io::Error),
}

/// Reads header lines up to `END`, without reading the padding behind them.
pub fn read_header_lines(path: &Path) -> io::Result<Vec<String>> {
    let mut r = BufReader::new(File::open(path)?.take(1 << 20));
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
        if line == HEADER_END {
            return Ok(lines);
        }
        lines.push(line);
    }
    Err(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "header has no END line",
    ))
}

/// Writes `header` followed by pseudo-random padding up to `total` bytes.
pub fn write_padded(path: &Path, header: &str, total: u64, seed: u64) -> io::Result<()> {
    let mut f = io::BufWriter::with_capacity(1 << 20, File::create(path)?);
    f.write_all(header.as_bytes())?;
    let mut left = total.saturating_sub(header.len() as u64);
    let mut rng = seed | 1;
    let mut chunk = vec![0u8; 1 << 20];
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        for word in chunk[..n].chunks_mut(8) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let bytes = rng.to_le_bytes();
            word.copy_from_slice(&bytes[..word.len()]);
        }
        f.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    f.flush()
}

/// CRC-32 (IEEE), the checksum StarRocks 3.4+ stores beside a v2 image.
pub fn crc32_file(path: &Path) -> io::Result<u32> {
    let mut table = [0u32; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *slot = c;
    }
    let mut crc = 0xFFFF_FFFFu32;
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            crc = table[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
        }
    }
    Ok(crc ^ 0xFFFF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_header_round_trip() {
        let h = ImageHeader {
            meta_version: 4,
            writer_version: "3.2.5".into(),
            journal_id: 1200,
            root_password: "s3cret".into(),
            frontends: vec![Frontend {
                role: "FOLLOWER".into(),
                host: "127.0.0.1".into(),
                edit_log_port: 9010,
                name: "127.0.0.1_9010_1".into(),
            }],
            backends: vec![Backend {
                id: 10001,
                host: "127.0.0.10".into(),
                heartbeat_port: 9050,
            }],
            tables: vec![Table {
                db: "shop".into(),
                name: "orders".into(),
                replication_num: 1,
            }],
            users: vec![("etl".into(), "pw".into())],
        };
        let text = h.render();
        let lines: Vec<String> = text.lines().map(String::from).collect();
        let end = lines.iter().position(|l| l == "END").unwrap();
        assert_eq!(ImageHeader::parse(&lines[..end]).unwrap(), h);
    }

    #[test]
    fn crc32_of_known_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"123456789").unwrap();
        assert_eq!(crc32_file(&p).unwrap(), 0xCBF4_3926);
    }
}
