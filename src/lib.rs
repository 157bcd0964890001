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
//! - [`version`]: StarRocks versions and every behaviour that changes with them.
//! - [`clean`], [`demo`]: the other commands.
//! - [`diag`]: diagnostics (tracing on stderr and the run folder's log) and progress bars.
//! - [`sim`]: `starrocks-sim`, the simulator of StarRocks releases the tests and `demo` run against.
//!   The tool's pipelines never depend on it.

pub mod be;
pub mod check;
pub mod clean;
pub mod cli;
pub mod conf;
pub mod demo;
pub mod demo_cluster;
pub mod diag;
pub mod fe;
pub mod fence;
pub mod hooks;
pub mod meta;
pub mod output;
pub mod ports;
pub mod probe;
pub mod procfs;
pub mod props;
pub mod rand;
pub mod report;
pub(crate) mod runner;
pub mod scan;
pub mod signals;
pub mod sim;
pub mod supervise;
pub mod timefmt;
pub mod upgrade_plan;
pub mod version;
pub mod watch;
pub mod workspace;
