//! Probes that ask a running StarRocks process whether it is ready: HTTP today, MySQL next.

pub mod http;
pub mod mysql;
