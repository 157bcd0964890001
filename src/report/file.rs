//! Report files: `--json` and `--junit` of every command, the playbook files of `upgrade-plan
//! --out`, the reports `demo` leaves. Checked before the run, and written as new files, never
//! through a link.
//!
//! A report path is given by whoever runs the tool, often in a shared folder (`/tmp/report.json`),
//! and written at the end of a run that was handed the production meta, a package or a BE home.
//! Opening the path and writing into it would follow a symlink planted there (into the meta's
//! `image/VERSION`, a package's start script, `be.conf`), write into the other names of a hard
//! link, and wait without end in open() on a FIFO. So the check refuses, before anything runs, a
//! path that is a symlink (whatever it points at: the real path is always known to the operator),
//! that resolves into anything the run must not write through any folder of it, or that is not a
//! regular file; and the writer creates a temporary file in the resolved folder (`O_CREAT|O_EXCL|
//! O_NOFOLLOW`, mode 0644 less the umask) and renames it over the name, which replaces whatever
//! entry is there without opening it.

use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a report path is refused; each message names the option, the path and what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum ReportPathError {
    #[error("{flag} {path} is a symbolic link to {target}{inside}; a report is never written through a link: remove the link or give the real path of a file")]
    Symlink {
        flag: String,
        path: String,
        target: String,
        inside: String,
    },
    #[error("{flag} {path} is inside the {what} {base}, which the run must never write; write the report elsewhere")]
    Inside {
        flag: String,
        path: String,
        what: String,
        base: String,
    },
    #[error("{flag} {path} is {kind}, not a regular file; give the path of a file (a report is written as a new file)")]
    NotRegular {
        flag: String,
        path: String,
        kind: &'static str,
    },
    #[error("{flag} {path} {why}; give a writable file path")]
    Unwritable {
        flag: String,
        path: String,
        why: String,
    },
    #[error("{0} and {1} both name {2}; give each report its own file")]
    Same(String, String, String),
}

/// What the run was given and must never write (the meta dir, the packages, the BE home, the
/// storage roots), each resolved once, before the run.
#[derive(Debug, Clone, Default)]
pub struct Guarded {
    bases: Vec<(String, PathBuf)>,
}

impl Guarded {
    pub fn new(list: &[(&str, &Path)]) -> Guarded {
        let bases = list
            .iter()
            .map(|(what, p)| {
                (
                    what.to_string(),
                    fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()),
                )
            })
            .collect();
        Guarded { bases }
    }

    /// The guarded path `at` (resolved) lies in, if any.
    fn holding(&self, at: &Path) -> Option<&(String, PathBuf)> {
        self.bases.iter().find(|(_, base)| at.starts_with(base))
    }

    /// Checks the report paths given with their options, and that no two name the same file.
    pub fn check_all(&self, reports: &[(&str, &Path)]) -> Result<(), ReportPathError> {
        for (i, (flag, p)) in reports.iter().enumerate() {
            self.check(flag, p)?;
            for (other, q) in &reports[i + 1..] {
                if resolved(p) == resolved(q) {
                    return Err(ReportPathError::Same(
                        flag.to_string(),
                        other.to_string(),
                        p.display().to_string(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks one report path: not a link, not inside a guarded path through any of its folders, a
    /// regular file or nothing yet, in a folder that exists and can be written.
    pub fn check(&self, flag: &str, p: &Path) -> Result<(), ReportPathError> {
        let shown = p.display().to_string();
        let unwritable = |why: &str| ReportPathError::Unwritable {
            flag: flag.into(),
            path: shown.clone(),
            why: why.into(),
        };
        let not_regular = |kind| ReportPathError::NotRegular {
            flag: flag.into(),
            path: shown.clone(),
            kind,
        };
        let existing = match fs::symlink_metadata(p) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(unwritable(&format!("cannot be looked at ({e})"))),
        };
        if let Some(m) = &existing {
            if m.file_type().is_symlink() {
                let target = link_target(p);
                let inside = self
                    .holding(&target)
                    .map(|(what, base)| {
                        format!(
                            ", inside the {what} {}, which the run must never write",
                            base.display()
                        )
                    })
                    .unwrap_or_default();
                return Err(ReportPathError::Symlink {
                    flag: flag.into(),
                    path: shown,
                    target: target.display().to_string(),
                    inside,
                });
            }
        }
        let folder = folder_of(p);
        let Ok(dir) = fs::canonicalize(&folder) else {
            return Err(unwritable("is in a folder that does not exist"));
        };
        let at = match p.file_name() {
            Some(name) => dir.join(name),
            None => dir.clone(),
        };
        if let Some((what, base)) = self.holding(&at) {
            return Err(ReportPathError::Inside {
                flag: flag.into(),
                path: shown,
                what: what.clone(),
                base: base.display().to_string(),
            });
        }
        match &existing {
            Some(m) if m.is_dir() => return Err(unwritable("is a folder")),
            Some(m) if !m.is_file() => return Err(not_regular(kind_of(&m.file_type()))),
            Some(_) if !writable(p) => return Err(unwritable("cannot be written")),
            Some(_) => {}
            None if p.file_name().is_none() => return Err(unwritable("is a folder")),
            None if !dir.is_dir() => return Err(unwritable("is in a folder that does not exist")),
            None => {}
        }
        if !writable(&dir) {
            return Err(unwritable("is in a folder that cannot be written"));
        }
        Ok(())
    }

    /// Checks the folder `names` are written into (`upgrade-plan --out`): it resolves, through any
    /// of its folders, outside every guarded path, and each file in it passes [`Guarded::check`] (a
    /// link planted in the folder is refused). A folder that does not exist yet is created later.
    pub fn check_folder(
        &self,
        flag: &str,
        dir: &Path,
        names: &[&str],
    ) -> Result<(), ReportPathError> {
        let shown = dir.display().to_string();
        let unwritable = |why: &str| ReportPathError::Unwritable {
            flag: flag.into(),
            path: shown.clone(),
            why: why.into(),
        };
        // The nearest folder that exists, resolved, and the part still to be created.
        let mut existing = dir.to_path_buf();
        let mut missing = Vec::new();
        while fs::symlink_metadata(&existing).is_err() {
            match (existing.file_name(), existing.parent()) {
                (Some(n), Some(up)) => {
                    missing.push(n.to_os_string());
                    existing = if up.as_os_str().is_empty() {
                        PathBuf::from(".")
                    } else {
                        up.to_path_buf()
                    };
                }
                _ => return Err(unwritable("is in a folder that does not exist")),
            }
        }
        let Ok(mut at) = fs::canonicalize(&existing) else {
            return Err(unwritable("is in a folder that does not exist"));
        };
        if !at.is_dir() {
            return Err(unwritable("is not a folder"));
        }
        let parent = at.clone();
        at.extend(missing.iter().rev());
        if let Some((what, base)) = self.holding(&at) {
            return Err(ReportPathError::Inside {
                flag: flag.into(),
                path: shown,
                what: what.clone(),
                base: base.display().to_string(),
            });
        }
        if !missing.is_empty() {
            return match writable(&parent) {
                true => Ok(()),
                false => Err(unwritable("is in a folder that cannot be written")),
            };
        }
        for name in names {
            self.check(flag, &dir.join(name))?;
        }
        Ok(())
    }

    /// Writes `bytes` as a new file at `p` (see [`write_new`]), after resolving its folder again:
    /// a folder swapped for a link into a guarded path during the run is refused, not written.
    pub fn write(&self, p: &Path, bytes: &[u8]) -> io::Result<()> {
        let dir = fs::canonicalize(folder_of(p))?;
        if let Some((what, base)) = self.holding(&dir) {
            return Err(io::Error::other(format!(
                "its folder now resolves into the {what} {}, which the run must never write",
                base.display()
            )));
        }
        let name = p
            .file_name()
            .ok_or_else(|| io::Error::other("the path names no file"))?;
        write_new(&dir.join(name), bytes)
    }
}

/// What a symlink finally names, resolved as far as it exists (a dangling link names the path it
/// would create).
fn link_target(p: &Path) -> PathBuf {
    if let Ok(c) = fs::canonicalize(p) {
        return c;
    }
    let mut at = p.to_path_buf();
    // The kernel's own limit on links followed in one lookup.
    for _ in 0..40 {
        let Ok(t) = fs::read_link(&at) else { break };
        at = folder_of(&at).join(t);
        if !fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            break;
        }
    }
    resolved(&at)
}

/// `p` with its folder resolved (the file itself may not exist).
fn resolved(p: &Path) -> PathBuf {
    let dir = folder_of(p);
    let dir = fs::canonicalize(&dir).unwrap_or(dir);
    match p.file_name() {
        Some(n) => dir.join(n),
        None => dir,
    }
}

/// The folder holding `p` (`.` for a bare name).
fn folder_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn kind_of(t: &fs::FileType) -> &'static str {
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

fn writable(p: &Path) -> bool {
    use nix::sys::statvfs::{statvfs, FsFlags};
    nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok()
        && !statvfs(p).is_ok_and(|s| s.flags().contains(FsFlags::ST_RDONLY))
}

/// Writes `bytes` to `p` as a new file: a temporary file created in `p`'s folder (never following
/// a link, never opening an existing file), flushed to disk, then renamed over `p`. Whatever `p`
/// was (a link, a FIFO, a hard link of another file) is replaced, never written into; a failure
/// leaves `p` as it was and no temporary file.
pub fn write_new(p: &Path, bytes: &[u8]) -> io::Result<()> {
    use nix::fcntl::{open, openat, renameat, OFlag};
    use nix::sys::stat::Mode;
    use nix::unistd::{unlinkat, UnlinkatFlags};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = p
        .file_name()
        .ok_or_else(|| io::Error::other("the path names no file"))?;
    let dir = open(
        &folder_of(p),
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: `open` returned a new descriptor that nothing else owns.
    let dir = unsafe { OwnedFd::from_raw_fd(dir) };
    let dfd = Some(dir.as_raw_fd());
    let (tmp, fd) = loop {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let tmp = format!(".sr-rehearse-report.{}.{n}.tmp", std::process::id());
        match openat(
            dfd,
            tmp.as_str(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        ) {
            Ok(fd) => break (tmp, fd),
            Err(nix::errno::Errno::EEXIST) if n < 1000 => continue,
            Err(e) => return Err(e.into()),
        }
    };
    // SAFETY: as above, for the temporary file's descriptor.
    let mut file = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let written = file
        .write_all(bytes)
        .and_then(|_| file.sync_all())
        .and_then(|_| Ok(renameat(dfd, tmp.as_str(), dfd, name)?));
    if written.is_err() {
        let _ = unlinkat(dfd, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn guarded(dir: &Path) -> (Guarded, PathBuf) {
        let meta = dir.join("meta");
        fs::create_dir_all(meta.join("image")).unwrap();
        fs::write(meta.join("image/VERSION"), "clusterId=1\n").unwrap();
        (Guarded::new(&[("meta dir", &meta)]), meta)
    }

    #[test]
    fn links_are_refused_and_say_where_they_lead() {
        let d = tempfile::tempdir().unwrap();
        let (g, meta) = guarded(d.path());
        let into = d.path().join("into.json");
        symlink(meta.join("image/VERSION"), &into).unwrap();
        let e = g.check("--json", &into).unwrap_err().to_string();
        assert!(
            e.contains("symbolic link") && e.contains("inside the meta dir"),
            "{e}"
        );
        let dangling = d.path().join("dangling.json");
        symlink(meta.join("image/planted.json"), &dangling).unwrap();
        let e = g.check("--json", &dangling).unwrap_err().to_string();
        assert!(e.contains("inside the meta dir"), "{e}");
        let elsewhere = d.path().join("elsewhere.json");
        symlink(d.path().join("real.json"), &elsewhere).unwrap();
        let e = g.check("--junit", &elsewhere).unwrap_err().to_string();
        assert!(
            e.starts_with("--junit ") && e.contains("give the real path"),
            "{e}"
        );
        // Through a linked folder.
        let linked = d.path().join("linked");
        symlink(meta.join("image"), &linked).unwrap();
        let e = g.check("--json", &linked.join("r.json")).unwrap_err();
        assert!(matches!(e, ReportPathError::Inside { .. }), "{e}");
    }

    #[test]
    fn only_regular_files_or_new_names_in_a_writable_folder_pass() {
        let d = tempfile::tempdir().unwrap();
        let (g, _) = guarded(d.path());
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let e = g.check("--json", &fifo).unwrap_err().to_string();
        assert!(e.contains("is a FIFO"), "{e}");
        let e = g
            .check("--json", Path::new("/dev/null"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("character device"), "{e}");
        assert!(g.check("--json", &d.path().join("new.json")).is_ok());
        fs::write(d.path().join("old.json"), "").unwrap();
        assert!(g.check("--json", &d.path().join("old.json")).is_ok());
        let a = d.path().join("a.json");
        let e = g
            .check_all(&[
                ("--json", &a),
                ("--junit", &d.path().join(".").join("a.json")),
            ])
            .unwrap_err();
        assert!(matches!(e, ReportPathError::Same(..)), "{e}");
    }

    #[test]
    fn a_new_file_replaces_a_link_and_the_other_names_of_a_hard_link() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let link = d.path().join("link.json");
        symlink(&victim, &link).unwrap();
        write_new(&link, b"report").unwrap();
        let hard = d.path().join("hard.json");
        fs::hard_link(&victim, &hard).unwrap();
        write_new(&hard, b"report").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(fs::read_to_string(&link).unwrap(), "report");
        assert!(!fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&hard).unwrap(), "report");
        let mode = fs::metadata(&hard).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o644, 0, "{mode:o}");
        let left: Vec<_> = fs::read_dir(d.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 3, "no temporary file is left: {left:?}");
    }
}
