//! The simulated FE, started and stopped with its own scripts, behaves like each release: the full
//! start/stop cycle with each release's log lines and answers (`full_cycle`), what refuses or fails
//! a start (`start`), what happens to a running FE and its stop (`run_and_stop`), and what it does
//! with the frontends and backends its meta records (`recorded_nodes`).

mod full_cycle;
mod recorded_nodes;
mod run_and_stop;
mod start;

use std::time::Duration;

const T: Duration = Duration::from_secs(30);
