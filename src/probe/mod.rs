//! Probes that ask a running StarRocks process whether it is ready: the HTTP and MySQL clients,
//! and what the readiness endpoints' answers mean (`endpoints`).

pub mod endpoints;
pub mod http;
pub mod mysql;
