//! Small non-cryptographic randomness: run folder names, port search starts, simulated ids.
//!
//! Nothing here guards a secret, so the standard library's randomly keyed hasher, fed the clock and
//! the pid, is enough and saves a dependency.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

pub fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_i64(crate::timefmt::unix_millis());
    h.write_u32(std::process::id());
    h.finish()
}
