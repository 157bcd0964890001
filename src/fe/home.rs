//! The path the start scripts are given for the sandbox home, and the symlink that stands for it
//! when the real path would not survive the scripts' unquoted expansions.
//!
//! The link lives outside the run folder, so `clean` must know where to find it for a run whose
//! tool was killed: its name and removal rule are here, next to the rule that makes it.

use std::fs;
use std::path::{Path, PathBuf};

/// Characters that reach a start script and the FE unchanged: through `export_env_from_conf`'s
/// unquoted `echo`, its `eval`, the scripts' unquoted `$LOG_DIR`/`$PID_DIR`/`$STARROCKS_HOME`, and
/// Java's `Properties` and `${VAR}` expansion. A blank, a quote, `$`, a backquote, a backslash, a
/// glob character or `=` would each change the path somewhere on the way.
pub fn shell_safe(path: &str) -> bool {
    !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._+,:@%-".contains(c))
}

/// The path the scripts and the FE are given for the sandbox home. The release's start_fe.sh
/// expands `$STARROCKS_HOME`, `$LOG_DIR` and `$PID_DIR` unquoted (`source $STARROCKS_HOME/bin/
/// common.sh`, `mkdir -p $LOG_DIR`, `exec >> $LOG_FILE`), so a home whose path has a blank fails to
/// read fe.conf and makes folders outside the workspace. When the real path is not [`shell_safe`],
/// the scripts reach it through a symlink named after the run folder in a shell-safe temporary
/// folder; the caller removes it once the FE is stopped. Returns the path and the link made.
pub fn script_home(run_dir: &Path, fe_home: &Path) -> std::io::Result<(PathBuf, Option<PathBuf>)> {
    if shell_safe(&fe_home.display().to_string()) {
        return Ok((fe_home.to_path_buf(), None));
    }
    let link = home_link_path(run_dir);
    std::os::unix::fs::symlink(fe_home, &link)?;
    Ok((link.clone(), Some(link)))
}

/// Where [`script_home`] puts the link for a run folder: named after it (the run folder's name is
/// unique and shell-safe) in the temporary folder, or `/tmp` when that path is not shell-safe.
pub(super) fn home_link_path(run_dir: &Path) -> PathBuf {
    let base = std::env::temp_dir();
    let base = if base.is_absolute() && shell_safe(&base.display().to_string()) && base.is_dir() {
        base
    } else {
        PathBuf::from("/tmp")
    };
    let name = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| shell_safe(n))
        .unwrap_or_else(|| "sr-rehearse-run".into());
    base.join(format!("{name}-fe"))
}

/// Removes the link [`script_home`] made for `run_dir`, if it is there and still points at the
/// run's home: what `clean` does for a run whose tool was killed before its teardown.
pub fn remove_home_link(run_dir: &Path) {
    let link = home_link_path(run_dir);
    let home = fs::canonicalize(run_dir.join("fe"));
    if fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink())
        && home.is_ok_and(|h| fs::canonicalize(&link).is_ok_and(|t| t == h))
    {
        let _ = fs::remove_file(link);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_safe_refuses_what_eval_or_word_splitting_would_change() {
        assert!(shell_safe("/tmp/.tmpAb3/ws/sr-rehearse-20261130-1a2b/fe"));
        for bad in [
            "/tmp/my root",
            "/tmp/x$(touch y)",
            "/tmp/x`id`",
            "/tmp/it's",
            "/tmp/\"q\"",
            "/tmp/a=b",
            "/tmp/*",
            "/tmp/back\\slash",
            "",
        ] {
            assert!(!shell_safe(bad), "{bad}");
        }
    }

    #[test]
    fn a_home_with_a_blank_is_reached_through_a_link_that_clean_removes() {
        let tmp = tempfile::tempdir().unwrap();
        let safe = tmp.path().join("sr-rehearse-a");
        fs::create_dir_all(safe.join("fe")).unwrap();
        let (home, link) = script_home(&safe, &safe.join("fe")).unwrap();
        assert_eq!((home, link), (safe.join("fe"), None));

        let run = tmp.path().join("my root/sr-rehearse-20261130-0000-test");
        fs::create_dir_all(run.join("fe/bin")).unwrap();
        let (home, link) = script_home(&run, &run.join("fe")).unwrap();
        let link = link.expect("a link for a path with a blank");
        assert_eq!(home, link);
        assert!(shell_safe(&home.display().to_string()));
        assert!(home.join("bin").is_dir());
        remove_home_link(&run);
        assert!(fs::symlink_metadata(&link).is_err());
    }
}
