//! Choosing sandbox ports: free now, and never equal to a production port.

use std::collections::BTreeSet;
use std::net::TcpListener;

/// Whether nothing listens on `port` on any interface (the servers bind 0.0.0.0).
pub fn is_free(port: u16) -> bool {
    port != 0 && TcpListener::bind(("0.0.0.0", port)).is_ok()
}

/// The kernel's range for the local ports of outgoing connections. A port picked there can be
/// taken by any connection this host opens (a probe, a heartbeat) between the pick and the bind,
/// and the server then fails with "address in use"; so picks stay out of it.
fn ephemeral() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| {
            let mut it = t.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// Picks `count` distinct free ports, none in `avoid`, from 20000-65535 outside the ephemeral
/// range (all of 20000-65535 if the ephemeral range leaves too few).
pub fn pick(count: usize, avoid: &BTreeSet<u16>) -> Option<Vec<u16>> {
    let (lo, hi) = ephemeral();
    let mut candidates: Vec<u16> = (20000..=65535u16).filter(|p| *p < lo || *p > hi).collect();
    if candidates.len() < 1000 {
        candidates = (20000..=65535u16).collect();
    }
    let start = (crate::rand::random_u64() % candidates.len() as u64) as usize;
    let mut out = Vec::new();
    for i in 0..candidates.len() {
        let p = candidates[(start + i) % candidates.len()];
        if avoid.contains(&p) || out.contains(&p) || !is_free(p) {
            continue;
        }
        out.push(p);
        if out.len() == count {
            return Some(out);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_are_free_distinct_and_outside_the_ephemeral_range() {
        let (lo, hi) = ephemeral();
        let avoid: BTreeSet<u16> = [20000, 20001].into_iter().collect();
        let got = pick(50, &avoid).unwrap();
        let distinct: BTreeSet<u16> = got.iter().copied().collect();
        assert_eq!(distinct.len(), 50);
        for p in got {
            assert!(!avoid.contains(&p));
            assert!(p >= 20000 && (p < lo || p > hi), "{p} in {lo}-{hi}");
        }
    }
}
