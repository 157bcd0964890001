//! The JVM that `start_fe.sh` runs, when the simulated JDK is this program.
//!
//! StarRocksFE is reached only through `java`, and the JDK decides first: it answers `-version`,
//! and refuses options it no longer knows before any FE code runs. Upgrades that change the JDK
//! fail here, in fe.out, which is why this is played separately from the FE itself.

use std::fs;

use starrocks_common::props;

use super::launch::run;

fn jdk_version() -> (u32, String) {
    let release = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(|d| d.join("release")))
        .and_then(|p| fs::read_to_string(p).ok())
        .unwrap_or_default();
    let full = props::parse_map(&release)
        .get("JAVA_VERSION")
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "17.0.15".into());
    let major = if let Some(rest) = full.strip_prefix("1.") {
        rest.split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(8)
    } else {
        full.split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(17)
    };
    (major, full)
}

/// The JVM option this JDK refuses, if any, and how it says so.
fn refused_option(jdk: u32, opt: &str) -> Option<String> {
    if jdk <= 8 && opt.starts_with("-Xlog:") {
        return Some(format!("Unrecognized option: {opt}"));
    }
    let name = opt
        .strip_prefix("-XX:")
        .map(|o| o.trim_start_matches(['+', '-']))
        .map(|o| o.split('=').next().unwrap_or(o))?;
    let removed_in = match name {
        "PrintGCDateStamps" => 9,
        "UseParNewGC" | "UseMembar" => 10,
        "UseConcMarkSweepGC"
        | "CMSClassUnloadingEnabled"
        | "CMSParallelRemarkEnabled"
        | "CMSInitiatingOccupancyFraction" => 17,
        _ => return None,
    };
    (jdk >= removed_in).then(|| format!("Unrecognized VM option '{name}'"))
}

/// `java …` as the simulated JDK runs it.
pub fn java_main(args: Vec<String>) -> i32 {
    let (jdk, full) = jdk_version();
    let mut it = args.into_iter();
    let mut class = None;
    for a in it.by_ref() {
        if a == "-version" {
            eprintln!("openjdk version \"{full}\" 2025-04-15");
            eprintln!("OpenJDK Runtime Environment (build {full}+6)");
            eprintln!("OpenJDK 64-Bit Server VM (build {full}+6, mixed mode, sharing)");
            return 0;
        }
        if !a.starts_with('-') {
            class = Some(a);
            break;
        }
        if let Some(msg) = refused_option(jdk, &a) {
            println!("{msg}");
            println!("Error: Could not create the Java Virtual Machine.");
            println!("Error: A fatal exception has occurred. Program will exit.");
            return 1;
        }
    }
    match class.as_deref() {
        Some("com.starrocks.StarRocksFE") => run(it.collect()),
        Some(other) => {
            println!("Error: Could not find or load main class {other}");
            println!("Caused by: java.lang.ClassNotFoundException: {other}");
            1
        }
        None => {
            println!("Usage: java [options] <mainclass> [args...]");
            1
        }
    }
}
