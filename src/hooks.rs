//! Test-only crash points and a port squatter, compiled in only with the `test-hooks` feature.
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

/// `SR_REHEARSE_TEST_SQUAT=<port key>:<launches>[:before-launch]` makes the tool itself listen on
/// the sandbox's port `<port key>` at each of its first `<launches>` launches: by default after the
/// check that the ports are still free and before the start script runs (the sandbox's bind then
/// fails), with `before-launch` just before that check. A port taken between the pick and the
/// bind, made deterministic. `phase` says where the caller is; the caller holds the listener until
/// the run ends.
#[cfg(feature = "test-hooks")]
pub fn test_squat(ports: &[(String, u16)], phase: &str) -> Option<std::net::TcpListener> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static LAUNCHES: AtomicUsize = AtomicUsize::new(0);
    let spec = std::env::var("SR_REHEARSE_TEST_SQUAT").ok()?;
    let mut parts = spec.split(':');
    let (key, times) = (parts.next()?, parts.next()?);
    if parts.next().unwrap_or("after-check") != phase {
        return None;
    }
    let launch = LAUNCHES.fetch_add(1, Ordering::SeqCst);
    if launch >= times.parse().ok()? {
        return None;
    }
    let port = ports.iter().find(|(k, _)| k == key)?.1;
    std::net::TcpListener::bind(("0.0.0.0", port)).ok()
}

#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn test_squat(_ports: &[(String, u16)], _phase: &str) -> Option<std::net::TcpListener> {
    None
}
