//! Ports for the simulated servers a test starts, leased the way the tool leases the sandbox's:
//! the test holds them for its whole life, so neither another test nor a sandbox of the tool is
//! handed them while a server of this test may still bind them (or rebinds them after a restart).

pub use sr_rehearse::ports::Lease;

/// `n` distinct ports nobody listens on or holds, outside the ephemeral range that the tests' own
/// connections draw their local ports from, leased to the caller until the [`Lease`] is dropped:
/// keep it as long as a server of the test may bind them.
pub fn free_ports(n: usize) -> Lease {
    sr_rehearse::ports::pick(n, &Default::default()).expect("free ports to lease")
}
