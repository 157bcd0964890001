//! The plan of an FE rehearsal: what preflight found (the source, the ports, the base conf, the
//! JDK) and what the sandbox will use, and the `--plan` text that shows it without doing it.
//!
//! It is kept apart from the checks that fill it so the one structure every later step reads can
//! be seen whole; the fe.conf rewrite that completes it is in `rewrite`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::home::{home_link_path, shell_safe};
use super::FeConfig;
use crate::conf::{Change, ConfFile};
use crate::meta::MetaInventory;
use crate::runner;

/// What preflight found and the sandbox will use.
pub struct Plan {
    pub source: MetaInventory,
    pub source_bytes: u64,
    pub source_files: usize,
    pub base_conf: ConfFile,
    pub base_conf_path: String,
    /// Sandbox ports by key, in launch order.
    pub ports: Vec<(String, u16)>,
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
        s
    }

    /// The `--plan` text.
    pub fn render(&mut self, cfg: &FeConfig) -> String {
        let ws = runner::planned_run_dir(&cfg.workspace_root);
        let fe_home = format!("{ws}/fe");
        let root =
            fs::canonicalize(&cfg.workspace_root).unwrap_or_else(|_| cfg.workspace_root.clone());
        let link = (!shell_safe(&root.display().to_string())).then(|| {
            home_link_path(Path::new("sr-rehearse-TIMESTAMP-RANDOM"))
                .display()
                .to_string()
                .replace("TIMESTAMP-RANDOM", "<UTC timestamp>-<random>")
        });
        self.rewrite(link.as_deref().unwrap_or(&fe_home), cfg.cluster_id);
        let mut s = String::from(runner::PLAN_HEADING);
        s.push_str(&format!(
            "  1. create {ws}/ with fe/bin (copied), fe/lib (linked to {}/lib), fe/conf, fe/log\n",
            cfg.new_fe.display()
        ));
        if let Some(l) = &link {
            s.push_str(&format!(
                "     and the link {l} -> {fe_home}, through which the scripts reach it (the workspace path has characters the start scripts split or evaluate); removed once the FE is stopped\n"
            ));
        }
        s.push_str(&format!(
            "  2. copy {} -> {fe_home}/meta ({} files, {:.1} MiB), hashing into {ws}/manifest.sha256\n",
            self.source.path.display(),
            self.source_files,
            self.source_bytes as f64 / (1 << 20) as f64
        ));
        s.push_str(&format!(
            "  3. rewrite fe.conf (base: {}):\n",
            self.base_conf_path
        ));
        for c in &self.changes {
            s.push_str(&format!("       {}\n", c.describe()));
        }
        s.push_str(&format!(
            "  4. patch {fe_home}/meta/image/VERSION: clusterId={} -> clusterId={}\n",
            self.source.cluster_id, cfg.cluster_id
        ));
        s.push_str(&format!(
            "  5. run `bash {fe_home}/bin/start_fe.sh` in its own process group (JAVA_HOME={})\n",
            self.java.as_ref().map(|j| j.0.as_str()).unwrap_or("unset")
        ));
        s.push_str("  6. decide from fe.log/fe.warn.log/fe.out, GET /api/bootstrap, ");
        match &cfg.query {
            Some(q) => s.push_str(&format!("`{q}` as {} over MySQL, ", cfg.user)),
            None => s.push_str("(no SQL check), "),
        }
        s.push_str(&format!(
            "GET /api/health; timeout {}\n",
            humantime::format_duration(cfg.timeout)
        ));
        s.push_str(&format!("  7. {}\n", runner::planned_stop("stop_fe.sh")));
        s.push_str(&format!(
            "  8. report; keep the workspace: {:?}\n",
            cfg.keep
        ));
        s.push_str(&runner::ports_table(&self.ports, &self.production));
        s
    }
}
