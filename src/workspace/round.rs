//! One round of the copy: the files still to copy, on one pipeline, or on two at once where the
//! filesystem clones.
//!
//! A clone costs no disk write, so a cloned copy is bound by hashing the source (SHA-256 on one
//! core, about 1 GB/s); hashing two files at a time on a host with two cores nearly halves it.
//! A written copy is bound by the disk, where a second stream only makes it seek, so it stays on
//! one pipeline. The first file of the round tells which case this is. Each pipeline has its own
//! fixed pool of buffers, so two keep memory at twice one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use super::file_copy::{copy_file, Copied, CopyError};
use super::manifest::CopyMethod;
use super::pipeline::Pipeline;

/// Copies `pending` (paths relative to `src` and `dst`) in order on `pipe`, or, once the first
/// file was cloned, the rest on `pipe` and a second pipeline at once. `progress` gets the bytes
/// read, on this thread. Results come back in `pending`'s order.
pub(super) fn copy_round(
    src: &Path,
    dst: &Path,
    pending: &[PathBuf],
    pipe: &Pipeline,
    interrupted: &(dyn Fn() -> bool + Sync),
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<(PathBuf, Copied)>, CopyError> {
    let mut done = Vec::with_capacity(pending.len());
    let Some(first) = pending.first() else {
        return Ok(done);
    };
    let c = copy_file(
        &src.join(first),
        &dst.join(first),
        pipe,
        interrupted,
        progress,
    )?;
    let cloned = c.method == CopyMethod::Clone;
    done.push((first.clone(), c));
    let two_cores = std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    if !(cloned && two_cores && pending.len() > 2) {
        for rel in &pending[1..] {
            let c = copy_file(&src.join(rel), &dst.join(rel), pipe, interrupted, progress)?;
            done.push((rel.clone(), c));
        }
        return Ok(done);
    }
    let rest = two_at_once(src, dst, &pending[1..], pipe, interrupted, progress)?;
    done.extend(rest.into_iter().map(|(i, c)| (pending[i + 1].clone(), c)));
    Ok(done)
}

/// Two workers, this thread and a helper with its own pipeline, take the files in order from a
/// shared counter. The first failure stops both (the other's file ends as interrupted), and the
/// failure is returned rather than that interruption.
fn two_at_once(
    src: &Path,
    dst: &Path,
    files: &[PathBuf],
    pipe: &Pipeline,
    interrupted: &(dyn Fn() -> bool + Sync),
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<(usize, Copied)>, CopyError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let stop = || failed.load(Ordering::SeqCst) || interrupted();
    let work = |pipe: &Pipeline, report: &mut dyn FnMut(u64)| {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::SeqCst);
            let Some(rel) = files.get(i) else {
                return Ok(out);
            };
            match copy_file(&src.join(rel), &dst.join(rel), pipe, &stop, report) {
                Ok(c) => out.push((i, c)),
                Err(e) => {
                    failed.store(true, Ordering::SeqCst);
                    return Err(e);
                }
            }
        }
    };
    let (tx, rx) = mpsc::channel::<u64>();
    let (mine, theirs) = std::thread::scope(|s| {
        let helper = s.spawn(|| {
            // The helper's sender goes when it returns, which ends this thread's drain below.
            let tx = tx;
            work(&Pipeline::start(), &mut |n| {
                let _ = tx.send(n);
            })
        });
        let mine = work(pipe, &mut |n| {
            progress(n);
            while let Ok(m) = rx.try_recv() {
                progress(m);
            }
        });
        for n in rx.iter() {
            progress(n);
        }
        let theirs = match helper.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (mine, theirs)
    });
    let mut done = match (mine, theirs) {
        (Ok(a), Ok(b)) => a.into_iter().chain(b).collect::<Vec<_>>(),
        // The worker that met the failure names it; the other one only stopped.
        (Err(CopyError::Interrupted), Err(e)) | (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    done.sort_by_key(|(i, _)| *i);
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::fs;

    /// `n` files of a few chunks each in `src`, and an empty `dst`.
    fn tree(n: usize) -> (tempfile::TempDir, PathBuf, PathBuf, Vec<PathBuf>) {
        let d = tempfile::tempdir().unwrap();
        let (src, dst) = (d.path().join("src"), d.path().join("dst"));
        fs::create_dir_all(&src).unwrap();
        fs::create_dir_all(&dst).unwrap();
        let files = (0..n)
            .map(|i| {
                let rel = PathBuf::from(format!("{i:08}.jdb"));
                let body: Vec<u8> = (0..(5 << 20) + i * 7).map(|b| (b * 31 + i) as u8).collect();
                fs::write(src.join(&rel), body).unwrap();
                rel
            })
            .collect();
        (d, src, dst, files)
    }

    #[test]
    fn two_workers_copy_every_file_once_and_report_in_order() {
        let (_d, src, dst, files) = tree(7);
        let pipe = Pipeline::start();
        let mut bytes = 0u64;
        let done = two_at_once(&src, &dst, &files, &pipe, &|| false, &mut |n| bytes += n).unwrap();
        assert_eq!(
            done.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            (0..files.len()).collect::<Vec<_>>()
        );
        let mut total = 0;
        for (i, c) in &done {
            let body = fs::read(src.join(&files[*i])).unwrap();
            total += body.len() as u64;
            assert_eq!(c.digest, format!("{:x}", Sha256::digest(&body)));
            assert_eq!(fs::read(dst.join(&files[*i])).unwrap(), body);
            assert!(!c.moved);
        }
        assert_eq!(bytes, total, "progress saw every byte of both workers");
    }

    #[test]
    fn a_failure_on_either_worker_is_the_error_of_the_round() {
        let (_d, src, dst, mut files) = tree(6);
        files.insert(3, PathBuf::from("gone.jdb"));
        let pipe = Pipeline::start();
        match two_at_once(&src, &dst, &files, &pipe, &|| false, &mut |_| {}) {
            Err(CopyError::Read(p, _)) => assert!(p.ends_with("gone.jdb"), "{}", p.display()),
            Err(e) => panic!("the failure is named, not {e}"),
            Ok(_) => panic!("a missing file must fail the round"),
        }
    }
}
