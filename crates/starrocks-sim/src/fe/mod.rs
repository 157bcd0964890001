//! The simulated frontend: a stand-in JVM and the FE startup sequence.
//!
//! `start_fe.sh` runs `$JAVA_HOME/bin/java … com.starrocks.StarRocksFE`; with a simulated JDK that
//! `java` is this program. It first behaves as the JVM (version answer, refused options), then as
//! StarRocksFE: the startup checks in the order `StarRocksFE.start` runs them, each with the
//! version's exact message and exit behaviour, fe.log in the version's format, the ports bound when
//! the real FE binds them, `/api/bootstrap`, `/api/health` and the MySQL protocol. As leader it
//! heartbeats the backends recorded in the meta and, without the election-reset flag, tries to reach
//! the recorded frontends, so tests can prove the tool keeps a rehearsal away from production.
//!
//! One file per part: the JVM (`jvm`), the process (`launch`), the startup phases in `start`'s
//! order (`conf`, `meta_dir`, `node` with `version_role`, `image_load`, `bdb`, `election`,
//! `replay`, `servers`), and what a ready FE answers (`heartbeat`, `http_api`, `sql`,
//! `variables`) from its shared `state`; the run-time configuration and global variables are the
//! crate's `frontend_config` and `global_vars`.

mod admin_sql;
mod bdb;
mod boot;
mod conf;
mod election;
mod heartbeat;
mod http_api;
mod image_load;
mod image_write;
mod jvm;
mod launch;
mod meta_dir;
mod node;
mod replay;
mod servers;
mod sql;
mod start;
mod state;
mod variables;
mod version_role;

pub use jvm::java_main;
pub use launch::run;
