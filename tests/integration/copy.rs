//! How the meta reaches the workspace: on a filesystem that can clone (XFS with reflink, the
//! default of current mkfs.xfs), every file is cloned and costs no space, and the copy and its
//! manifest are exactly those of a byte-by-byte copy. The XFS tests need root to mount an image on
//! a loop device (they are `#[ignore = "needs root"]`, run by .ci/run) and `mkfs.xfs`
//! (scripts/install-deps.sh installs it); they say why when they skip, and fail instead in CI.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::util::*;

/// An XFS image mounted on a loop device for the life of the value.
struct XfsMount {
    dir: PathBuf,
}

impl Drop for XfsMount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// Mounts a fresh XFS image of `gib` GiB (sparse, so it costs only what is written) at
/// `under/xfs`, or says why it cannot and returns None.
fn mount_xfs(test: &str, under: &Path, gib: u64) -> Option<XfsMount> {
    let skip = |why: &str| {
        skip(test, why);
        None
    };
    if !is_root() {
        return skip("needs root to mount an XFS image on a loop device");
    }
    let image = under.join("xfs.img");
    let dir = under.join("xfs");
    fs::create_dir_all(&dir).unwrap();
    fs::File::create(&image)
        .unwrap()
        .set_len(gib << 30)
        .unwrap();
    let mkfs = Command::new("mkfs.xfs")
        .args(["-q", "-m", "reflink=1"])
        .arg(&image)
        .output();
    match mkfs {
        Err(_) => {
            return skip("mkfs.xfs is not installed (scripts/install-deps.sh installs xfsprogs)")
        }
        Ok(o) if !o.status.success() => {
            return skip(&format!(
                "mkfs.xfs failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
        Ok(_) => {}
    }
    let mount = Command::new("mount")
        .args(["-o", "loop"])
        .arg(&image)
        .arg(&dir)
        .output()
        .unwrap();
    if !mount.status.success() {
        return skip(&format!(
            "this host refuses a loop mount: {}",
            String::from_utf8_lossy(&mount.stderr).trim()
        ));
    }
    Some(XfsMount { dir })
}

/// Bytes that no filesystem stores as a hole or compresses away.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn free_bytes(p: &Path) -> u64 {
    let s = nix::sys::statvfs::statvfs(p).unwrap();
    s.blocks_available() * s.fragment_size()
}

fn sha256_file(p: &Path) -> String {
    format!("{:x}", Sha256::digest(fs::read(p).unwrap()))
}

#[test]
#[ignore = "needs root"]
fn clone_and_byte_copy_give_the_same_copy_and_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(xfs) = mount_xfs(
        "clone_and_byte_copy_give_the_same_copy_and_manifest",
        tmp.path(),
        1,
    ) else {
        return;
    };
    let src = xfs.dir.join("meta");
    fs::create_dir_all(src.join("image")).unwrap();
    fs::create_dir_all(src.join("bdb")).unwrap();
    fs::write(src.join("image/VERSION"), "clusterId=7\ntoken=abc\n").unwrap();
    fs::write(src.join("image/empty"), "").unwrap();
    // Not a multiple of the copy's chunk, so the last chunk is a short one.
    fs::write(src.join("bdb/00000000.jdb"), pattern((9 << 20) + 123, 1)).unwrap();
    fs::write(src.join("bdb/00000001.jdb"), pattern(64 << 20, 2)).unwrap();
    let files = 4;

    let before = free_bytes(&xfs.dir);
    let cloned = sr_rehearse::workspace::copy_tree(
        &src,
        &xfs.dir.join("copy"),
        &tmp.path().join("clone.sha256"),
        &|| false,
        &mut |_| {},
    )
    .unwrap();
    let used = before.saturating_sub(free_bytes(&xfs.dir));
    assert_eq!(cloned.files, files);
    assert_eq!(
        cloned.methods.clone, files,
        "every file cloned on XFS: {:?}",
        cloned.methods
    );
    assert!(
        used < 16 << 20,
        "a clone of 73 MiB used {used} bytes of the filesystem"
    );

    let streamed = sr_rehearse::workspace::copy_tree(
        &src,
        &tmp.path().join("byte-copy"),
        &tmp.path().join("stream.sha256"),
        &|| false,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(streamed.methods.clone, 0, "{:?}", streamed.methods);
    assert_eq!(
        streamed.methods.copy_file_range + streamed.methods.stream,
        files
    );

    let clone_manifest = read(&tmp.path().join("clone.sha256"));
    assert_eq!(clone_manifest, read(&tmp.path().join("stream.sha256")));
    assert_eq!(cloned.manifest_digest, streamed.manifest_digest);
    // The manifest is the hash of the source's bytes, and both copies hold exactly those bytes.
    for line in clone_manifest.lines() {
        let (digest, rel) = line.split_once("  ").unwrap();
        assert_eq!(digest, sha256_file(&src.join(rel)), "{rel}");
        assert_eq!(
            fs::read(src.join(rel)).unwrap(),
            fs::read(xfs.dir.join("copy").join(rel)).unwrap()
        );
    }
    assert_eq!(
        content_digest(&xfs.dir.join("copy"), &[]),
        content_digest(&tmp.path().join("byte-copy"), &[])
    );
    assert_eq!(
        content_digest(&xfs.dir.join("copy"), &[]),
        content_digest(&src, &[])
    );
}

#[test]
#[ignore = "needs root"]
fn a_rehearsal_on_xfs_clones_the_meta_and_says_so() {
    // A 0.8 GiB meta on a 6 GiB XFS: about 5.1 GiB stay free, enough for the 5 GB an FE 3.2+
    // insists on but not for a byte copy of the meta as well, so the preflight must know the copy
    // will be a clone.
    let r = Rehearsal::new("3.2.5", "3.3.2", &["--size", "858993459"], &[]);
    let Some(xfs) = mount_xfs(
        "a_rehearsal_on_xfs_clones_the_meta_and_says_so",
        r.dir.path(),
        6,
    ) else {
        return;
    };
    let meta = xfs.dir.join("meta");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(&r.meta)
        .arg(&meta)
        .status()
        .unwrap();
    assert!(cp.success());
    let root = xfs.dir.join("ws");
    fs::create_dir_all(&root).unwrap();
    let Rehearsal { dir, pkg, jdk, .. } = r;
    let r = Rehearsal {
        dir,
        meta: meta.clone(),
        pkg,
        jdk,
        root,
    };
    let before = tree_digest(&meta);

    let o = r.run(&[]);
    assert_eq!(o.code, Some(0), "{}", o.stdout);
    let files = o.json["source"]["file_count"].as_u64().unwrap();
    assert!(files > 0);
    assert_eq!(
        o.json["source"]["copy_methods"]["clone"].as_u64(),
        Some(files)
    );
    assert!(
        o.stdout.contains(&format!("cloned {files}")),
        "{}",
        o.stdout
    );
    assert_eq!(
        tree_digest(&meta),
        before,
        "the meta is read, never written"
    );
    r.assert_no_process_left();
    drop(xfs);
}
