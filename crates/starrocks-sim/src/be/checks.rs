//! What fails before the BE's `main` logs anything: the start script's environment, the dynamic
//! linker, and the CPU's instruction sets.
//!
//! These failures show only in be.out (or as a signal), never in be.INFO, which is why the tool's
//! BE diagnosis reads be.out; they are kept apart so their order stays the real one.

use std::path::Path;

use nix::sys::signal::{SigHandler, Signal};

use crate::release::Behaviour as _;
use crate::{Fault, Release};

/// The exit status when the build cannot run here, or None to go on.
pub(super) fn refuse_to_start(home: &Path, release: &Release) -> Option<i32> {
    let v = release.version;
    if std::env::var("TCMALLOC_HEAP_LIMIT_MB").is_err() || release.fault_is(Fault::LibWithoutBin) {
        eprintln!("Environment variable TCMALLOC_HEAP_LIMIT_MB is not set, maybe you forgot to replace bin directory");
        return Some(255);
    }
    if release.fault_is(Fault::MissingLibrary) {
        // What ld.so prints before main() when a build for a newer OS meets an older one.
        eprintln!("{}/lib/starrocks_be: error while loading shared libraries: libbfd-2.38-system.so: cannot open shared object file: No such file or directory", home.display());
        return Some(127);
    }
    if release.fault_is(Fault::NoAvx2) {
        if v.be_start_steps() {
            eprintln!("CPU flags check failed! The following instruction sets are enabled during compiling but not supported in current running env: avx2!");
            return Some(255);
        }
        // 2.x has no check: the first AVX2 instruction kills the process with SIGILL.
        unsafe {
            let _ = nix::sys::signal::signal(Signal::SIGILL, SigHandler::SigDfl);
        }
        let _ = nix::sys::signal::raise(Signal::SIGILL);
        return Some(132);
    }
    None
}
