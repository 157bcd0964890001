//! Probes that ask a running StarRocks process whether it is ready: the HTTP and MySQL clients,
//! what the readiness endpoints' answers mean (`endpoints`), and which of the two a port speaks
//! (`sniff`), for the message when a port was given for the other.

pub mod endpoints;
pub mod http;
pub mod mysql;
pub mod sniff;
