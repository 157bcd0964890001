//! Which JDK start_fe.sh will run, found the way the script finds it, and whether the target
//! release accepts it.
//!
//! A missing JDK, a JRE or a JDK too old for the release would stop the sandbox before it reads any
//! metadata; preflight says so (exit 3) instead of a failed rehearsal that blames the metadata.

use std::path::Path;

use super::Ending;
use crate::conf::ConfFile;
use crate::version::Version;

pub(super) use crate::precheck::script_jdk::shell_word;
use crate::precheck::script_jdk::{jdk_at, script_java_home};

/// Finds the JDK start_fe.sh will use and refuses (exit 3) what the script would refuse: no JDK at
/// all, a `JAVA_HOME` without `bin/java`, or (3.0+) a JRE, which has no `bin/javac`.
fn check_jdk(
    conf: &ConfFile,
    to: Option<Version>,
    conf_file: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<(String, u32)>, Ending> {
    let target = to
        .map(|t| format!("StarRocks {}.{}", t.major, t.minor))
        .unwrap_or_else(|| "the new release".into());
    let found = match script_java_home(conf, to) {
        Ok(f) => f,
        Err(why) => {
            warnings.push(why.to_string());
            return Ok(None);
        }
    };
    let Some((home, source)) = found else {
        let how = if to.is_some_and(|t| t < Version::new(3, 1, 0)) {
            "its start_fe.sh does not look for javac"
        } else {
            "and no javac is on PATH"
        };
        return Err(Ending::env(format!(
            "failed to find a JDK: JAVA_HOME is set neither in the environment nor in {conf_file}, {how}; start_fe.sh of {target} would refuse to start. Set JAVA_HOME to a JDK"
        )));
    };
    if !Path::new(&home).join("bin/java").is_file() {
        return Err(Ending::env(format!(
            "failed to find bin/java under JAVA_HOME={home} ({source}); point {} at a JDK",
            if source.contains("fe.conf") {
                format!("JAVA_HOME in {conf_file}")
            } else {
                "JAVA_HOME".into()
            }
        )));
    }
    if !Path::new(&home).join("bin/javac").is_file() {
        let msg = format!(
            "JAVA_HOME={home} ({source}) is a JRE (no bin/javac): start_fe.sh of StarRocks 3.0+ refuses it; install a JDK and point {} at it",
            if source.contains("fe.conf") { format!("JAVA_HOME in {conf_file}") } else { "JAVA_HOME".into() }
        );
        match to {
            Some(t) if t < Version::new(3, 0, 0) => {}
            Some(_) => return Err(Ending::env(msg)),
            None => warnings.push(format!("{msg} (pass --to-version to have this checked)")),
        }
    }
    Ok(Some(jdk_at(&home)))
}

/// The JDK start_fe.sh will use, as (path, major version), refused (exit 3) where the script or the
/// target release would refuse it; what is only doubtful goes to `warnings`.
pub(super) fn check(
    base_conf: &ConfFile,
    to_line: Option<Version>,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<(String, u32)>, Ending> {
    let java = check_jdk(base_conf, to_line, file, warnings)?;
    match (&java, to_line) {
        (None, _) => {}
        (Some((home, 0)), _) => warnings.push(format!(
            "cannot tell the JDK version of JAVA_HOME={home} (no release file)"
        )),
        (Some((home, major)), Some(to)) => {
            let min = to.fe_min_jdk();
            let refused = *major < min
                || (to.line() >= (3, 2) && to.line() <= (3, 3) && (9..11).contains(major));
            if refused {
                return Err(Ending::env(format!(
                    "JDK {major} at JAVA_HOME={home} cannot run StarRocks {to} (it needs JDK {}); point JAVA_HOME at a supported JDK",
                    if to.line() >= (3, 2) && min < 11 { "11 or 17".to_string() } else { format!("{min}+") }
                )));
            }
            // The options this JDK refuses are the precheck's (`fe.java-opts.jvm`).
        }
        _ => {}
    }
    Ok(java)
}
