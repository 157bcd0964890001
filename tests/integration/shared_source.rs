//! One production meta read by several rehearsals at once, and a meta whose files are also reached
//! some other way (hard links into another folder, a sparse file): what a CI host that rehearses
//! several targets in parallel, or an operator's odd meta disk, gives the tool. Each run must pass
//! on its own copy, leave the source and every other name of its files as they were, and leave no
//! process behind.

use std::fs;
use std::process::{Command, Stdio};

use crate::util::{tool_bin, tree_digest, Rehearsal};

/// Three rehearsals of one meta at once, into one workspace root, without the fence: three run
/// folders, three passes on ports no two runs share, the source untouched and no process left.
#[test]
fn three_rehearsals_of_one_meta_at_once_each_pass_on_their_own_copy() {
    let r = Rehearsal::new("3.2.11", "3.3.5", &[], &[]);
    let before = tree_digest(&r.meta);
    let children: Vec<_> = (0..3)
        .map(|i| {
            Command::new(tool_bin())
                .arg("fe")
                .arg("--meta")
                .arg(&r.meta)
                .arg("--new-fe")
                .arg(&r.pkg)
                .arg("--workspace-root")
                .arg(&r.root)
                .arg("--json")
                .arg(r.dir.path().join(format!("report-{i}.json")))
                .args(["--timeout", "90s", "--keep", "always", "--isolate", "none"])
                .env("JAVA_HOME", &r.jdk)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "run {i}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut ports = Vec::new();
    for i in 0..3 {
        let text = fs::read_to_string(r.dir.path().join(format!("report-{i}.json"))).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["verdict"], "pass", "run {i}: {v}");
        let mine: Vec<u64> = v["ports"]["sandbox"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|p| p.as_u64())
            .collect();
        assert!(!mine.is_empty(), "run {i} reports no sandbox port: {v}");
        ports.extend(mine);
    }
    let distinct: std::collections::BTreeSet<_> = ports.iter().collect();
    assert_eq!(
        distinct.len(),
        ports.len(),
        "two runs shared a port: {ports:?}"
    );
    assert_eq!(r.workspaces().len(), 3, "one run folder per run");
    assert_eq!(tree_digest(&r.meta), before, "the source meta changed");
    r.assert_no_process_left();
}

/// Image and VERSION files that are hard links from another folder: the copy reads them and never
/// writes them, so the other names still hold the same bytes; a sparse journal file is copied.
#[test]
fn hard_linked_and_sparse_meta_files_are_read_never_written() {
    let r = Rehearsal::new("3.2.11", "3.3.5", &[], &[]);
    let other = r.dir.path().join("other");
    fs::create_dir_all(&other).unwrap();
    let image = fs::read_dir(r.meta.join("image"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("image.")
        })
        .expect("an image file");
    fs::hard_link(&image, other.join("image-link")).unwrap();
    fs::hard_link(r.meta.join("image/VERSION"), other.join("VERSION-link")).unwrap();
    let sparse = fs::File::create(r.meta.join("bdb/sparse.dat")).unwrap();
    sparse.set_len(64 << 20).unwrap();
    drop(sparse);
    let before = (tree_digest(&other), tree_digest(&r.meta));
    let o = r.run(&["--isolate", "none"]);
    assert_eq!(o.code, Some(0), "{}\n{}", o.stdout, o.stderr);
    assert_eq!(
        (tree_digest(&other), tree_digest(&r.meta)),
        before,
        "a hard-linked or sparse source file changed"
    );
    r.assert_no_process_left();
}
