//! Ports for the simulated servers a test starts, picked the way the tool picks the sandbox's, so a
//! test's own connections cannot take them in between.

/// A port nobody listens on now, outside the ephemeral range that the tests' own connections
/// draw their local ports from (see `sr_rehearse::ports::pick`).
pub fn free_port() -> u16 {
    sr_rehearse::ports::pick(1, &Default::default()).expect("a free port")[0]
}
