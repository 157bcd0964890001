//! Test-only crash points, compiled in only with the `test-hooks` feature.
//!
//! `cargo test` turns the feature on (the package is its own dev-dependency with it) and a release
//! build leaves it off, so no environment can make a real run panic; `.ci/run` checks the release
//! binary for the variable names. Kept apart from the pipelines so that any module (the probe
//! runner of the fence, the runner) can hold a crash point without depending on another.

/// `SR_REHEARSE_TEST_PANIC_AT=<step>` makes the tool panic right after that step is recorded
/// (`probe` panics inside the probe runner, `soak` inside each round of the in-place soak), so
/// tests can prove a panic still stops the sandbox, or rolls the in-place canary back.
#[cfg(feature = "test-hooks")]
pub fn test_panic_at(point: &str) {
    if std::env::var_os("SR_REHEARSE_TEST_PANIC_AT").is_some_and(|s| s == point) {
        panic!("test panic requested at {point}");
    }
}

#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn test_panic_at(_point: &str) {}
