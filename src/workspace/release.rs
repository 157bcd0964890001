//! A release laid out in a sandbox home: which entries of the unpacked package are copied, linked
//! or made empty, and the copy of a release folder (`bin/`, `conf/`, `lib/`).
//!
//! The FE and BE sandboxes differ only in their [`Layout`]; the copy leaves pid files behind, so a
//! copy never looks like a running server, and follows the [`links`](super::links) policy.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::links::{link_rule, LinkRule};

/// Where one entry of an unpacked release goes in a sandbox home.
#[derive(Debug, Clone, Copy)]
pub enum Place {
    /// A folder copied by [`copy_release_dir`]: what the sandbox writes beside (pid files in
    /// `bin/`) or rewrites (`conf/`) must not be the package's.
    Copy,
    /// A file copied (a start script may chmod it).
    CopyFile,
    /// A symlink to the package's entry: content the sandbox only reads.
    Link,
    /// An empty folder: one the server writes into at run time.
    Empty,
    /// Nothing: made by the layout itself, or of no use to the sandbox.
    Skip,
    /// A folder of the home's own, its entries placed by this rule.
    Within(fn(&str) -> Place),
}

/// How a release is laid out in a sandbox home.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Folders made first, relative to the home.
    pub made: &'static [&'static str],
    /// Where each entry of the release's top folder goes, by name.
    pub place: fn(&str) -> Place,
}

/// Lays the release `pkg` out in the sandbox home `home` per `layout`.
pub fn lay_out(pkg: &Path, home: &Path, layout: &Layout) -> io::Result<()> {
    let pkg = fs::canonicalize(pkg)?;
    for d in layout.made {
        fs::create_dir_all(home.join(d))?;
    }
    place_entries(&pkg, home, layout.place)
}

fn place_entries(from: &Path, to: &Path, place: fn(&str) -> Place) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let dest = to.join(&name);
        match place(&name.to_string_lossy()) {
            Place::Copy => copy_release_dir(&entry.path(), &dest)?,
            Place::CopyFile => {
                fs::copy(entry.path(), &dest)?;
            }
            Place::Link => std::os::unix::fs::symlink(entry.path(), &dest)?,
            Place::Empty => fs::create_dir_all(&dest)?,
            Place::Skip => {}
            Place::Within(inner) => {
                fs::create_dir_all(&dest)?;
                place_entries(&entry.path(), &dest, inner)?;
            }
        }
    }
    Ok(())
}

/// Copies a release folder (`bin/`, `conf/`, `lib/`) from `from` to `to`: modes are kept, pid
/// files are left behind so a copy never looks like a running server, and symlinks follow
/// [`LinkRule`] (a link out of the folder is copied as its content, so the sandbox never writes
/// through it; a dangling link or a loop is an `InvalidInput` error).
pub fn copy_release_dir(from: &Path, to: &Path) -> io::Result<()> {
    let root = fs::canonicalize(from)?;
    fs::create_dir_all(to)?;
    copy_release_level(&root, &root, Path::new(""), to, &mut vec![root.clone()])
}

fn copy_release_level(
    root: &Path,
    disk: &Path,
    rel: &Path,
    to: &Path,
    expanding: &mut Vec<PathBuf>,
) -> io::Result<()> {
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(disk)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let rel = rel.join(e.file_name());
        let dest = to.join(&rel);
        let ft = e.file_type()?;
        let copy_file = |from: &Path| -> io::Result<()> {
            fs::copy(from, &dest)?;
            let mode = fs::metadata(from)?.permissions().mode();
            fs::set_permissions(&dest, fs::Permissions::from_mode(mode))
        };
        if ft.is_dir() {
            fs::create_dir_all(&dest)?;
            copy_release_level(root, &path, &rel, to, expanding)?;
        } else if ft.is_symlink() {
            let rule = link_rule(root, &path, &rel, expanding).map_err(|why| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the symlink {} {why}", path.display()),
                )
            })?;
            match rule {
                LinkRule::Inside(text) => std::os::unix::fs::symlink(text, &dest)?,
                LinkRule::OutsideFile(t) => copy_file(&t)?,
                LinkRule::OutsideDir(t) => {
                    fs::create_dir_all(&dest)?;
                    expanding.push(t.clone());
                    copy_release_level(root, &t, &rel, to, expanding)?;
                    expanding.pop();
                }
            }
        } else if !e.file_name().to_string_lossy().ends_with(".pid") {
            copy_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_dir_links_out_are_copied_and_dangling_ones_refused() {
        let d = tempfile::tempdir().unwrap();
        let other = d.path().join("elsewhere");
        fs::create_dir_all(&other).unwrap();
        fs::write(other.join("fe.conf"), "x = 1\n").unwrap();
        let from = d.path().join("conf");
        fs::create_dir_all(&from).unwrap();
        std::os::unix::fs::symlink(other.join("fe.conf"), from.join("fe.conf")).unwrap();
        fs::write(from.join("be.conf"), "y = 2\n").unwrap();
        std::os::unix::fs::symlink("be.conf", from.join("alias.conf")).unwrap();
        let to = d.path().join("copy");
        copy_release_dir(&from, &to).unwrap();
        assert!(!fs::symlink_metadata(to.join("fe.conf"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            fs::read_link(to.join("alias.conf")).unwrap(),
            Path::new("be.conf")
        );
        std::os::unix::fs::symlink("missing", from.join("bad")).unwrap();
        let e = copy_release_dir(&from, &d.path().join("copy2")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    }

    #[test]
    fn a_layout_copies_links_and_empties_per_entry() {
        let d = tempfile::tempdir().unwrap();
        let pkg = d.path().join("pkg");
        for f in [
            "bin/start.sh",
            "bin/old.pid",
            "lib/a.jar",
            "lib/srv",
            "lib/udf/x",
            "log/old.log",
        ] {
            let p = pkg.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f).unwrap();
        }
        let layout = Layout {
            made: &["log", "storage"],
            place: |name| match name {
                "bin" => Place::Copy,
                "lib" => Place::Within(|name| match name {
                    "srv" => Place::CopyFile,
                    "udf" => Place::Empty,
                    _ => Place::Link,
                }),
                "log" => Place::Skip,
                _ => Place::Link,
            },
        };
        let home = d.path().join("run/fe");
        lay_out(&pkg, &home, &layout).unwrap();
        let is_link = |p: &str| {
            fs::symlink_metadata(home.join(p))
                .unwrap()
                .file_type()
                .is_symlink()
        };
        assert!(home.join("bin/start.sh").is_file() && !is_link("bin"));
        assert!(!home.join("bin/old.pid").exists(), "pid files stay behind");
        assert!(!is_link("lib") && is_link("lib/a.jar") && !is_link("lib/srv"));
        assert_eq!(fs::read_dir(home.join("lib/udf")).unwrap().count(), 0);
        assert_eq!(fs::read_dir(home.join("log")).unwrap().count(), 0);
        assert!(home.join("storage").is_dir());
    }
}
