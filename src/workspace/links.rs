//! The symlink policy of every copy into a workspace: nothing there may resolve outside it.
//!
//! A link that stays inside the copied tree stays a link, re-aimed at the copy; one that leaves the
//! tree is copied as what it points to, so the sandbox never writes through it to another disk; one
//! that resolves to nothing, or to a folder containing itself, is refused as bad input. The meta
//! copy and the release folders laid out in a sandbox home follow the same rule.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What is wrong with a symlink of a tree to copy; reads after "the symlink PATH".
#[derive(Debug, thiserror::Error)]
pub enum LinkProblem {
    #[error("cannot be read ({0})")]
    Unreadable(#[source] io::Error),
    #[error("is a symlink loop (-> {})", .0.display())]
    SelfLoop(PathBuf),
    #[error("is dangling: its target {} does not exist", .0.display())]
    Dangling(PathBuf),
    #[error("cannot be resolved ({0})")]
    Unresolvable(#[source] io::Error),
    #[error("is a loop: it points to {}, a folder that contains it", .0.display())]
    ContainsItself(PathBuf),
    #[error("is a loop: it points to {}, which contains the folder being copied", .0.display())]
    ContainsCopy(PathBuf),
    #[error("points to {}, which is neither a file nor a folder", .0.display())]
    Special(PathBuf),
}

/// What a symlink of a copied tree becomes in the copy. Nothing in a workspace may resolve outside
/// it: a link that stays inside the tree stays a link (re-aimed at the copy), one that leaves the
/// tree is copied as what it points to, and one that resolves to nothing is refused.
pub(super) enum LinkRule {
    /// Keep as a link with this (relative) text.
    Inside(PathBuf),
    /// Copy the content of this file (canonical path).
    OutsideFile(PathBuf),
    /// Copy this folder (canonical path) in place of the link.
    OutsideDir(PathBuf),
}

/// Decides [`LinkRule`] for the link at `disk` that lands at `rel` in the copy of `root`
/// (canonical). `expanding` holds the canonical folders being copied, to tell a loop. The error
/// says what is wrong with the link.
pub(super) fn link_rule(
    root: &Path,
    disk: &Path,
    rel: &Path,
    expanding: &[PathBuf],
) -> Result<LinkRule, LinkProblem> {
    let text = fs::read_link(disk).map_err(LinkProblem::Unreadable)?;
    let target = match fs::canonicalize(disk) {
        Ok(t) => t,
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Err(LinkProblem::SelfLoop(text))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(LinkProblem::Dangling(text)),
        Err(e) => return Err(LinkProblem::Unresolvable(e)),
    };
    let meta = fs::metadata(&target).map_err(LinkProblem::Unresolvable)?;
    let parent = rel.parent().unwrap_or(Path::new(""));
    if let Ok(inside) = target.strip_prefix(root) {
        if meta.is_dir() && parent.starts_with(inside) {
            return Err(LinkProblem::ContainsItself(text));
        }
        let mut rel_text = PathBuf::new();
        for _ in parent.components() {
            rel_text.push("..");
        }
        rel_text.push(inside);
        if rel_text.as_os_str().is_empty() {
            rel_text.push(".");
        }
        return Ok(LinkRule::Inside(rel_text));
    }
    if meta.is_dir() {
        if expanding.iter().any(|d| d.starts_with(&target)) {
            return Err(LinkProblem::ContainsCopy(target));
        }
        Ok(LinkRule::OutsideDir(target))
    } else if meta.is_file() {
        Ok(LinkRule::OutsideFile(target))
    } else {
        Err(LinkProblem::Special(target))
    }
}
