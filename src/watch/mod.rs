//! Watching StarRocks logs: the signature catalog and incremental tailing.

pub mod catalog;
pub mod tail;
