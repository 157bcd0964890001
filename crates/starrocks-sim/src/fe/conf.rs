//! The first startup phase: `Config.init` reads fe.conf, then `Log4jConfig` opens fe.log.
//!
//! Until fe.log is open a failure can only go to fe.out, so this phase alone fails without a log
//! line; the tool's diagnosis of a bad fe.conf reads exactly these messages.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::boot::{stack, Fe, LogSlot, Stop};
use crate::logs::{FeLog, Threshold};
use starrocks_common::props;

/// Java properties (`Properties.load`: LF, CR and CRLF end a line), later key wins, `${VAR}` from
/// the environment in every value.
pub(super) fn read_conf(fe: &mut Fe) -> Result<(), Stop> {
    let conf_path = fe.home.join("conf/fe.conf");
    let text = fs::read_to_string(&conf_path).map_err(|e| {
        Stop::StartFailed(format!(
            "java.io.FileNotFoundException: {} ({e})",
            conf_path.display()
        ))
    })?;
    let lookup = |name: &str| std::env::var(name).ok();
    for entry in props::parse(&text) {
        // `replacedByEnv` runs over every key, the shell's uppercase ones too.
        let value = props::expand_vars(&entry.value, &lookup).map_err(|unset| {
            Stop::StartFailed(stack(
                &format!("java.lang.IllegalArgumentException: {unset}"),
                &["com.starrocks.common.ConfigBase.replacedByEnv(ConfigBase.java:290)"],
            ))
        })?;
        // Uppercase keys are for the shell; the FE ignores keys it does not know.
        if entry
            .key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
        {
            continue;
        }
        fe.conf.insert(entry.key, value);
    }
    fe.config = Arc::new(crate::frontend_config::FeConfig::from_conf(&fe.conf, fe.v));
    Ok(())
}

/// Opens fe.log under `sys_log_dir` and hands it to the shutdown hook too.
pub(super) fn open_log(fe: &mut Fe, log_slot: &LogSlot) -> Result<Arc<FeLog>, Stop> {
    let home = fe.home.display().to_string();
    let sys_log_dir = fe.conf_str("sys_log_dir", &format!("{home}/log"));
    let level = fe.conf_str("sys_log_level", "INFO");
    // Log4jConfig checks the level before it prints or applies the configuration.
    let threshold = Threshold::parse(&level)
        .map_err(|e| Stop::StartFailed(format!("java.io.IOException: {e}")))?;
    print_log4j_config(&sys_log_dir, &level);
    let log = FeLog::open(Path::new(&sys_log_dir), fe.v, threshold)
        .map_err(|e| Stop::StartFailed(format!("java.io.IOException: {sys_log_dir}: {e}")))?;
    let log = Arc::new(log);
    fe.log = Some(log.clone());
    *log_slot.lock().unwrap() = Some(log.clone());
    Ok(log)
}

fn print_log4j_config(sys_log_dir: &str, level: &str) {
    println!("=====");
    println!("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    println!("<Configuration status=\"info\" packages=\"com.starrocks.common\">");
    println!("  <Appenders>");
    println!("    <RollingFile name=\"Sys\" fileName=\"{sys_log_dir}/fe.log\" filePattern=\"{sys_log_dir}/fe.log.%d{{yyyyMMdd}}-%i\"/>");
    println!("    <RollingFile name=\"SysWF\" fileName=\"{sys_log_dir}/fe.warn.log\" filePattern=\"{sys_log_dir}/fe.warn.log.%d{{yyyyMMdd}}-%i\"/>");
    println!("  </Appenders>");
    println!("  <Loggers><Root level=\"{level}\"/></Loggers>");
    println!("</Configuration>");
    println!("=====");
}
