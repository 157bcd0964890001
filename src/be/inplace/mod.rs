//! The in-place canary: the new build on one real node, with a journal and an automatic rollback.
//!
//! The operations guide's procedure (move bin/ and lib/ aside, install the new ones keeping
//! lib/udf, restart, check) made safe: one run at a time per node (a lock in the BE home); the node
//! must be healthy, and its row in SHOW BACKENDS found by host and heartbeat port, before anything
//! moves; every step is journaled before it happens (see `journal`); any failure restores the
//! verified backup, restarts the old build and verifies it; and exit code 5 says, exactly, when
//! even that did not bring the node back. On success the new BE keeps running: it is the node's BE
//! now.
//!
//! The checks before anything moves, the forward steps and the rollback are apart because the
//! rollback also runs alone (`--rollback`, after a killed run) and must not depend on the state a
//! forward run would have built up.

mod bounded;
mod preflight;
mod restart;
mod rollback;
mod soak;
mod upgrade;

pub use super::journal::read_journal;
pub use rollback::rollback;
pub use upgrade::run;
