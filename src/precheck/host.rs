//! The host as the precheck sees it: `/proc`, `/sys` and the free space of a folder, read under a
//! root folder.
//!
//! The real run reads `/`; a test points `SR_REHEARSE_HOST_ROOT` at a fixture tree holding
//! `proc/self/limits`, `proc/cpuinfo`, `proc/meminfo`, `proc/sys/vm/*`, `sys/kernel/mm/
//! transparent_hugepage/enabled` and `proc/net/tcp`, so a check's verdict never depends on the
//! machine the tests run on. Statvfs cannot be faked by a tree: under a fixture root the free
//! bytes come from the file `sr-rehearse-disk-free` when it exists. The limits are those of this
//! process (`/proc/self/limits`, what `getrlimit` answers), which inherits them from the shell or
//! the Ansible task that will also run the node's start script.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The environment variable that moves the root the host is read under.
pub const ROOT_ENV: &str = "SR_REHEARSE_HOST_ROOT";

/// A resource limit: `None` stands for `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// The host under a root folder.
#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
}

impl Host {
    /// The real host, or the fixture tree `SR_REHEARSE_HOST_ROOT` names.
    pub fn from_env() -> Host {
        match std::env::var_os(ROOT_ENV).filter(|v| !v.is_empty()) {
            Some(r) => Host::at(PathBuf::from(r)),
            None => Host::at(PathBuf::from("/")),
        }
    }

    pub fn at(root: PathBuf) -> Host {
        Host { root }
    }

    /// Whether this is the machine itself rather than a fixture tree.
    pub fn is_real(&self) -> bool {
        self.root == Path::new("/")
    }

    /// Whether there is a `/proc` to read at all (a fixture root that does not exist, a container
    /// without procfs): without it nothing can be checked.
    pub fn readable(&self) -> bool {
        self.root.join("proc").is_dir()
    }

    /// The root folder, for messages.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn read(&self, rel: &str) -> Option<String> {
        fs::read_to_string(self.root.join(rel)).ok()
    }

    /// `Max open files` of `/proc/self/limits`.
    pub fn open_files(&self) -> Option<Limit> {
        parse_limit(&self.read("proc/self/limits")?, "Max open files")
    }

    /// The effective uid (`Uid:` of `/proc/self/status`, second field): root may raise a hard limit.
    pub fn euid(&self) -> Option<u32> {
        let status = self.read("proc/self/status")?;
        let line = status.lines().find(|l| l.starts_with("Uid:"))?;
        line.split_whitespace().nth(2)?.parse().ok()
    }

    /// The x86 CPU flags of the first processor in `/proc/cpuinfo`; `None` when the file has no
    /// `flags` line (another architecture, or no file).
    pub fn cpu_flags(&self) -> Option<Vec<String>> {
        let text = self.read("proc/cpuinfo")?;
        let line = text
            .lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == "flags"))?;
        Some(
            line.split_once(':')?
                .1
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        )
    }

    /// `/proc/meminfo` in bytes by key (`MemTotal`, `MemAvailable`, `SwapTotal`, ...).
    pub fn meminfo(&self) -> BTreeMap<String, u64> {
        let text = self.read("proc/meminfo").unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                let mut w = v.split_whitespace();
                let n: u64 = w.next()?.parse().ok()?;
                let mult = if w.next() == Some("kB") { 1024 } else { 1 };
                Some((k.trim().to_string(), n * mult))
            })
            .collect()
    }

    /// A `vm.*` sysctl, e.g. `max_map_count`, from `/proc/sys/vm/`.
    pub fn vm(&self, name: &str) -> Option<i64> {
        self.read(&format!("proc/sys/vm/{name}"))?
            .trim()
            .parse()
            .ok()
    }

    /// The selected mode of transparent huge pages (`always`, `madvise` or `never`): the word in
    /// brackets of `/sys/kernel/mm/transparent_hugepage/enabled`.
    pub fn thp(&self) -> Option<String> {
        let text = self.read("sys/kernel/mm/transparent_hugepage/enabled")?;
        let start = text.find('[')?;
        let end = text[start..].find(']')? + start;
        Some(text[start + 1..end].to_string())
    }

    /// Whether something listens on TCP `port` (IPv4 or IPv6).
    pub fn listening(&self, port: u16) -> bool {
        ["proc/net/tcp", "proc/net/tcp6"].iter().any(|t| {
            self.read(t)
                .is_some_and(|text| !crate::procfs::listening_in(&text, port).is_empty())
        })
    }

    /// The free bytes of the file system holding `path`.
    /// A folder not made yet (a first meta dir) counts with the nearest folder that exists.
    pub fn free_bytes(&self, path: &Path) -> Option<u64> {
        if self.is_real() {
            let existing = path.ancestors().find(|p| p.is_dir())?;
            return crate::workspace::free_bytes(existing);
        }
        self.read("sr-rehearse-disk-free")?.trim().parse().ok()
    }
}

/// One row of a `/proc/<pid>/limits` table: `Max open files  1024  524288  files`.
fn parse_limit(text: &str, name: &str) -> Option<Limit> {
    let rest = text.lines().find_map(|l| l.strip_prefix(name))?;
    let mut w = rest.split_whitespace();
    let value = |s: Option<&str>| -> Option<Option<u64>> {
        match s? {
            "unlimited" => Some(None),
            n => n.parse().ok().map(Some),
        }
    };
    Some(Limit {
        soft: value(w.next())?,
        hard: value(w.next())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_rows_are_read_with_unlimited() {
        let t = "Limit                     Soft Limit           Hard Limit           Units\n\
                 Max open files            1024                 unlimited            files\n";
        assert_eq!(
            parse_limit(t, "Max open files"),
            Some(Limit {
                soft: Some(1024),
                hard: None
            })
        );
        assert_eq!(parse_limit(t, "Max processes"), None);
    }

    #[test]
    fn a_fixture_tree_is_read_instead_of_the_machine() {
        let d = tempfile::tempdir().unwrap();
        let w = |rel: &str, text: &str| {
            let p = d.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        };
        w(
            "proc/cpuinfo",
            "processor\t: 0\nflags\t\t: fpu sse4_2 avx\n",
        );
        w(
            "sys/kernel/mm/transparent_hugepage/enabled",
            "[always] madvise never\n",
        );
        w(
            "proc/meminfo",
            "MemTotal:       1000 kB\nSwapTotal:  0 kB\n",
        );
        w("proc/sys/vm/max_map_count", "65530\n");
        w(
            "proc/self/status",
            "Name:\tx\nUid:\t1000\t1000\t1000\t1000\n",
        );
        w(
            "proc/net/tcp",
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F72 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1\n",
        );
        w("sr-rehearse-disk-free", "12345\n");
        let h = Host::at(d.path().to_path_buf());
        assert!(!h.is_real());
        let flags = h.cpu_flags().unwrap();
        assert!(flags.contains(&"avx".to_string()) && !flags.contains(&"avx2".to_string()));
        assert_eq!(h.thp().as_deref(), Some("always"));
        assert_eq!(h.meminfo()["MemTotal"], 1000 * 1024);
        assert_eq!(h.vm("max_map_count"), Some(65530));
        assert_eq!(h.vm("overcommit_memory"), None);
        assert_eq!(h.euid(), Some(1000));
        assert!(h.listening(8050) && !h.listening(8030));
        assert_eq!(h.free_bytes(Path::new("/")), Some(12345));
        assert_eq!(h.open_files(), None);
    }
}
