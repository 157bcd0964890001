//! # sr-rehearse
//!
//! Rehearses a StarRocks upgrade before anyone touches production.
//!
//! The **FE rehearsal** copies the Leader FE's meta directory into an isolated workspace, starts the
//! new release on the copy with every port moved, a new cluster id and the election-group reset
//! flag, and decides from its logs, `/api/bootstrap`, a SQL query and `/api/health` whether the new
//! version accepts the metadata. The **BE canary** starts a new BE build in a sandbox, or in place
//! on one node with a journaled rollback.
//!
//! ## Where things live
//!
//! - [`props`]: Java properties, read and written exactly as the JVM does (VERSION, ROLE, fe.conf).
//! - [`version`]: StarRocks versions and every behaviour that changes with them.
//! - [`timefmt`]: the timestamp shapes StarRocks writes.
//! - [`probe`]: readiness probes (HTTP today).
//! - [`sim`]: `starrocks-sim`, the simulator of StarRocks releases the tests and `demo` run against.
//!   It is kept apart from the tool: nothing outside `sim` depends on it.

pub mod probe;
pub mod props;
pub mod sim;
pub mod timefmt;
pub mod version;
