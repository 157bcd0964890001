//! The sandbox's workspace as both pipelines build it: the run folder (recorded in the report and
//! in `run.json` before anything is written into it), the new release laid out in it, the hashed
//! copy of the source tree with its progress bar, and the rewritten conf with its step.
//!
//! What differs between FE and BE (which folders of the release are copied, linked or made empty;
//! what is copied; which keys change) is passed in; how it is done, reported and failed is here.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{io_ending, Ending, Runner};
use crate::conf::{Change, ConfFile};
use crate::report::StepStatus;
use crate::workspace::{self, CopyError, CopySummary, Layout};

/// What a [`copy_step`](Runner::copy_step) copies, and how it names it.
pub struct CopyStep<'a> {
    /// The step's name (`copy meta`, `storage`) and the progress bar's (`copy meta`, `copy storage`).
    pub step: &'a str,
    pub label: &'a str,
    /// What the source tree is, in warnings (`meta dir`, `storage root`).
    pub tree: &'a str,
    /// What the copy is, in a failure (`copy`, `storage copy`).
    pub what: &'a str,
    pub src: &'a Path,
    pub dst: &'a Path,
    pub manifest: &'a Path,
    /// The bytes to copy, for the bar.
    pub total: u64,
    /// The `--workspace-root` to name when the disk is full, if the user chose it.
    pub root: Option<&'a Path>,
}

impl Runner {
    /// The workspace step up to its detail, which is the caller's: a fresh run folder under `root`
    /// (resolved where it can be), recorded in the report and, with the sandbox `ports`, in
    /// `run.json`; then the release `pkg` laid out per `layout` in the folder `home` of it.
    /// Returns the run folder and the sandbox home.
    pub fn create_workspace(
        &mut self,
        root: &Path,
        ports: &[(String, u16)],
        pkg: &Path,
        home: &str,
        layout: &Layout,
    ) -> Result<(PathBuf, PathBuf), Ending> {
        let resolved = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let dir = workspace::create_run_dir(&resolved).map_err(|e| {
            Ending::env(format!(
                "failed to create a run folder in {}: {e}",
                root.display()
            ))
        })?;
        self.run_dir = Some(dir.clone());
        self.report.workspace.path = Some(dir.display().to_string());
        self.state.ports = ports.iter().map(|(_, p)| *p).collect();
        self.save_state("workspace");
        let home = dir.join(home);
        workspace::lay_out(pkg, &home, layout).map_err(|e| {
            io_ending(
                &e,
                format!(
                    "failed to lay out the sandbox package in {}: {e}",
                    home.display()
                ),
            )
        })?;
        Ok((dir, home))
    }

    /// The copy step: `copy.src` into `copy.dst` under the progress bar and the step `copy.step`,
    /// recorded in the report as the source's counts, digest and copy methods, with what the copy
    /// met on the way (files that changed while read, links out of the tree copied as content,
    /// transient files skipped) as warnings. A failed copy records the failed step.
    pub fn copy_step(&mut self, copy: CopyStep) -> Result<CopySummary, Ending> {
        let t = Instant::now();
        let copied = self.copy_tree(copy.label, copy.src, copy.dst, copy.manifest, copy.total);
        let c = match copied {
            Ok(c) => c,
            Err(e) => {
                if !matches!(e, CopyError::Interrupted) {
                    self.step(copy.step, t, StepStatus::Failed, e.to_string());
                }
                return Err(self.copy_failed(&e, copy.what, copy.root));
            }
        };
        let src = &mut self.report.source;
        src.file_count = c.files;
        src.bytes = c.bytes;
        src.manifest_digest = Some(c.manifest_digest.clone());
        src.changed_during_copy = c.changed.clone();
        src.copy_methods = c.methods;
        if !c.changed.is_empty() {
            src.live = true;
            src.live_reasons.push(format!(
                "{} file(s) changed during the copy",
                c.changed.len()
            ));
        }
        let warnings = &mut self.report.warnings;
        if !c.still_changing.is_empty() {
            warnings.push(format!(
                "still changing after the re-copies, copied as a mid-write snapshot: {}",
                c.still_changing.join(", ")
            ));
        }
        for l in &c.outside_links {
            warnings.push(format!(
                "symlink pointing out of the {} copied as the content it points to: {l}",
                copy.tree
            ));
        }
        for s in &c.skipped {
            warnings.push(format!("skipped transient file {s}"));
        }
        let detail = format!(
            "copied {} files, {:.1} MiB ({}), manifest sha256 {}",
            c.files,
            c.bytes as f64 / (1 << 20) as f64,
            c.methods.describe(),
            c.manifest_digest.get(..12).unwrap_or(&c.manifest_digest)
        );
        self.step(copy.step, t, StepStatus::Ok, detail);
        Ok(c)
    }

    /// Copies the tree `src` into `dst`, hashing it into `manifest`, under a progress bar named
    /// `label` over `total` bytes; a signal stops it between chunks.
    fn copy_tree(
        &self,
        label: &str,
        src: &Path,
        dst: &Path,
        manifest: &Path,
        total: u64,
    ) -> Result<CopySummary, CopyError> {
        let bar = crate::diag::Progress::bytes(label, total, self.quiet);
        let copied = workspace::copy_tree(
            src,
            dst,
            manifest,
            &|| crate::signals::interrupted().is_some(),
            &mut |done| bar.set_position(done),
        );
        drop(bar);
        copied
    }

    /// How a failed copy of `what` ends the run: interrupted by the signal that stopped it, bad
    /// input for a source the copy refused (a dangling link, a loop), else the host's problem;
    /// for a full disk the message names `root` as the `--workspace-root` to change, when given.
    fn copy_failed(&self, e: &CopyError, what: &str, root: Option<&Path>) -> Ending {
        match e {
            CopyError::Interrupted => self
                .interrupted()
                .err()
                .unwrap_or_else(|| Ending::interrupted(format!("interrupted during the {what}"))),
            e if e.is_bad_input() => Ending::bad_input(e.to_string()),
            e => {
                let hint = match root {
                    Some(root) if e.is_no_space() => format!(
                        "; free space on {} or choose another --workspace-root",
                        root.display()
                    ),
                    _ => String::new(),
                };
                Ending::env(format!("{e}{hint}"))
            }
        }
    }

    /// Writes the sandbox's rewritten conf to `path` and records the step `name` with how many
    /// keys changed; with `verbose` each change is printed under it.
    pub fn write_conf(
        &mut self,
        name: &str,
        started: Instant,
        path: &Path,
        conf: &ConfFile,
        changes: &[Change],
        verbose: bool,
    ) -> Result<(), Ending> {
        std::fs::write(path, conf.render())
            .map_err(|e| Ending::env(format!("failed to write {}: {e}", path.display())))?;
        self.step(
            name,
            started,
            StepStatus::Ok,
            format!("{} keys changed", changes.len()),
        );
        if verbose {
            for c in changes {
                self.print(&format!("           {}\n", c.describe()));
            }
        }
        Ok(())
    }
}
