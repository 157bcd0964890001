//! Choosing sandbox ports: free now, and never equal to a production port.

use std::collections::BTreeSet;
use std::net::TcpListener;

/// Whether nothing listens on `port` on any interface (the servers bind 0.0.0.0).
pub fn is_free(port: u16) -> bool {
    port != 0 && TcpListener::bind(("0.0.0.0", port)).is_ok()
}

/// Picks `count` distinct free ports, none in `avoid`.
pub fn pick(count: usize, avoid: &BTreeSet<u16>) -> Option<Vec<u16>> {
    let start = 20000 + (crate::rand::random_u64() % 30000) as u16;
    let mut out = Vec::new();
    let mut p = start;
    for _ in 0..40000 {
        p = if p >= 60999 { 20000 } else { p + 1 };
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
