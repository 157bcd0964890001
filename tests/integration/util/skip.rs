//! The rule for tests this host cannot run (not root, a tool missing): they say why and pass,
//! except in CI, where a skip would hide a test that never ran and so fails instead.

/// Whether the tests run as root (CI does: `.ci/run` runs the `#[ignore = "needs root"]` tests).
pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// The variable `.ci/run` sets: there every test must run, so a skip is a failure.
pub const REQUIRE_ALL: &str = "SR_REHEARSE_REQUIRE_ALL";

/// A test that cannot run on this host says why and returns; where `SR_REHEARSE_REQUIRE_ALL=1`
/// (CI, after scripts/install-deps.sh installed what the tests need) it fails instead, so a missing
/// tool or capability cannot turn a test into a silent pass.
pub fn skip(test: &str, why: impl std::fmt::Display) {
    if std::env::var_os(REQUIRE_ALL).is_some_and(|v| v == "1") {
        panic!("{test} cannot run here ({why}) and {REQUIRE_ALL}=1 requires every test to run");
    }
    eprintln!("SKIPPED {test}: {why}");
}
