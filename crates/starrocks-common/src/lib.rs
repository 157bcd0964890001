//! # starrocks-common
//!
//! What the tool (`sr-rehearse`) and the simulator (`starrocks-sim`) must agree on, in one small
//! crate both depend on, so neither depends on the other:
//!
//! - [`version`]: StarRocks release numbers, version requests, and the release facts both act on.
//! - [`props`]: Java properties files (`fe.conf`, `image/VERSION`) read the way the JVM reads them;
//!   [`beconf`]: be.conf read the way the BE reads it.
//! - [`ports`]: leasing free ports outside the kernel's ephemeral range, so no two pickers share one.
//! - [`timefmt`]: UTC instants for run folder names and reports; [`rand`]: non-secret randomness.

pub mod beconf;
pub mod ports;
pub mod props;
pub mod rand;
pub mod timefmt;
pub mod version;
