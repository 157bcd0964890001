//! # sr-rehearse
//!
//! Rehearses a StarRocks upgrade before anyone touches production.
//!
//! The **FE rehearsal** ([`fe`]) copies the Leader FE's meta directory into an isolated workspace,
//! starts the new release on the copy with every port moved, a new cluster id and the
//! election-group reset flag, and decides from its logs, `/api/bootstrap`, a SQL query and
//! `/api/health` whether the new version accepts the metadata.
//!
//! ## Where things live
//!
//! - [`cli`]: clap definitions, turned into plain config structs; `main.rs` only dispatches.
//! - [`fe`]: the FE pipeline (preflight and plan, the steps, the decision, teardown).
//! - [`conf`]: the line-preserving fe.conf editor; [`props`]: Java properties as the JVM reads them.
//! - [`meta`]: reading VERSION/ROLE/images of a meta dir, read-only; patching VERSION on the copy.
//! - [`workspace`]: run folders, the hashed copy with its manifest, `run.json`.
//! - [`supervise`]: process groups and the stop ladder; [`signals`]: SIGINT/SIGTERM to the tool.
//! - [`watch`]: the signature catalog and log tailing; [`probe`]: HTTP and MySQL probes.
//! - [`report`]: the human summary, JSON and JUnit; exit codes.
//! - [`version`], [`props`], [`ports`], [`timefmt`]: from `starrocks-common`, the crate the tool
//!   shares with the simulator (versions and the behaviours that change with them, Java properties).
//! - [`precheck`]: the host precheck (limits, CPU, JDK, JAVA_OPTS, kernel, release notes).
//! - [`clean`], `demo` (with the default `demo` feature): the other commands.
//! - [`diag`]: diagnostics (tracing on stderr and the run folder's log) and progress bars.
//! - The simulator of StarRocks releases the tests and `demo` run against is its own crate,
//!   `starrocks-sim` (crates/starrocks-sim); only `demo` depends on it.

pub mod be;
pub mod check;
pub mod clean;
pub mod cli;
pub mod conf;
#[cfg(feature = "demo")]
pub mod demo;
#[cfg(feature = "demo")]
pub mod demo_cluster;
pub mod diag;
pub mod fe;
pub mod fence;
pub mod hooks;
pub mod meta;
pub mod output;
pub mod precheck;
pub mod probe;
pub mod procfs;
pub mod report;
pub(crate) mod runner;
pub mod scan;
pub mod signals;
pub mod supervise;
pub mod upgrade_plan;
pub mod upgrade_settings;
pub mod watch;
pub mod workspace;

// Shared with the simulator through `starrocks-common`; re-exported so the tool names them as its own.
pub use starrocks_common::{ports, props, rand, timefmt, version};
