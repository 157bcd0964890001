//! The plan of an FE rehearsal: what preflight found (the source, the ports, the base conf, the
//! JDK) and what the sandbox will use.
//!
//! It is kept apart from the checks that fill it so the one structure every later step reads can
//! be seen whole; the fe.conf rewrite that completes it is in `rewrite`, and the `--plan` text
//! sits beside the steps it describes, in the pipeline.

use std::collections::{BTreeMap, BTreeSet};

use crate::conf::{Change, ConfFile};
use crate::meta::MetaInventory;

/// What preflight found and the sandbox will use.
pub struct Plan {
    pub source: MetaInventory,
    pub source_bytes: u64,
    pub source_files: usize,
    pub base_conf: ConfFile,
    pub base_conf_path: String,
    /// Sandbox ports by key, in launch order.
    pub ports: Vec<(String, u16)>,
    /// Ports the sandbox must never use: production's and StarRocks' defaults.
    pub avoid: BTreeSet<u16>,
    pub production: BTreeMap<String, u16>,
    pub password: Option<String>,
    pub java: Option<(String, u32)>,
    pub warnings: Vec<String>,
    /// Filled by `rewrite`.
    pub conf: ConfFile,
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn port(&self, key: &str) -> u16 {
        self.ports
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, p)| *p)
            .unwrap_or(0)
    }

    pub fn preflight_detail(&self) -> String {
        let mut s = format!(
            "meta clusterId {}, {} image(s) up to {}, {} journal file(s), {:.1} MiB",
            self.source.cluster_id,
            self.source.image_files,
            self.source
                .highest_image_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "none".into()),
            self.source.journal_files,
            self.source_bytes as f64 / (1 << 20) as f64
        );
        if !self.source.live_reasons.is_empty() {
            s.push_str("; source is LIVE");
        }
        // Which JDK the script will run is the first thing to look at when the FE fails early.
        if let Some((home, major)) = &self.java {
            match major {
                0 => s.push_str(&format!("; JDK at {home}")),
                m => s.push_str(&format!("; JDK {m} at {home}")),
            }
        }
        s
    }
}
