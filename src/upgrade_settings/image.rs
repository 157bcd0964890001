//! `create-image`: `ALTER SYSTEM CREATE IMAGE` on the leader, then the leader's fe.log until the
//! push line says where the new image went.
//!
//! What StarRocks does (fe-core, newest `CheckpointController`; the older `Checkpoint` alike):
//! - The statement only asks for an image: `visitCreateImageClause` calls
//!   `GlobalStateMgr.triggerNewImage()`, which is `journalWriter.setForceRollJournal()`. It
//!   returns at once; the checkpoint daemon makes the image on its next round
//!   (every `FeConstants.checkpoint_interval_second = 60; // 1 minutes`, a constant, not a
//!   config item) and pushes it.
//! - ALTER SYSTEM is DDL (`RedirectStatus.visitAlterSystemStatement` -> `visitDDLStatement` ->
//!   `FORWARD_WITH_SYNC`): a follower forwards it to the leader and returns the leader's answer,
//!   so there is no follower-specific error. The tool sends it to the leader found in SHOW
//!   FRONTENDS anyway (its fe.log is the one with the line). It needs the SYSTEM NODE privilege
//!   (`Authorizer.checkSystemAction(..., PrivilegeType.NODE)`; OPERATOR on 2.5), where ADMIN SET
//!   FRONTEND CONFIG needs OPERATE.
//! - After an image is made, it is pushed to every other FE but the checkpoint worker (which made
//!   it), and `LOG.info("push image.{} from subdir [{}] to other nodes. totally {} nodes, push
//!   succeeded {} nodes", imageVersion, subDir, needToPushCnt, successPushedCnt)` is logged, only
//!   `if (needToPushCnt > 0)`: a one-FE cluster never logs it. `subDir` is empty for the catalog
//!   image (`from subdir []`), `starmgr` for the shared-data StarManager's. Nodes that failed are
//!   retried on later rounds.
//! - The older `Checkpoint` (the leader makes the image itself) logs the same words with `totally
//!   {allFrontends.size() - 1}`, every other FE alive or not, for every image it makes (`totally
//!   0 nodes` on one FE); its image version is `journal.getFinalizedJournalId()`, which after the
//!   forced roll is at least the leader's journal id read before the statement. The oldest
//!   (`Catalog` era) log `push image.{} to other nodes. totally {} nodes, push successed {}
//!   nodes`, without the subdir; the docs quote "push successed" and "push successful" too.
//! - Docs (downgrade.md): "The ALTER SYSTEM CREATE IMAGE statement is supported in v2.5.3 and
//!   later. In earlier versions, you need to create a meatadata snapshot by restarting the Leader
//!   FE."

use std::time::{Duration, Instant};

use super::follow::LogFollower;
use super::leader::{find_leader, SqlLink};
use super::{ImageConfig, SettingsError};
use crate::check::escape;
use crate::output::outln;
use crate::version::Version;

/// The first release with `ALTER SYSTEM CREATE IMAGE` (docs, downgrade.md).
pub const CREATE_IMAGE_SINCE: Version = Version::new(2, 5, 3);
/// How often the log is read while waiting.
const POLL: Duration = Duration::from_millis(200);

/// One push line of the leader's fe.log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The image's journal id (`image.N`).
    pub image: u64,
    /// `from subdir [X]`: None when the release does not print it.
    pub subdir: Option<String>,
    pub total: u64,
    pub pushed: u64,
}

/// Reads `push image.N [from subdir [X]] to other nodes. totally T nodes, push succeeded|successed|
/// successful S nodes` anywhere in a log line.
pub fn parse_push(line: &str) -> Option<Push> {
    let rest = &line[line.find("push image.")? + "push image.".len()..];
    let (image, rest) = number(rest)?;
    let (subdir, rest) = match rest.strip_prefix(" from subdir [") {
        Some(r) => {
            let end = r.find(']')?;
            (Some(r[..end].to_string()), &r[end + 1..])
        }
        None => (None, rest),
    };
    let rest = rest.strip_prefix(" to other nodes. totally ")?;
    let (total, rest) = number(rest)?;
    let rest = rest.strip_prefix(" nodes, push ")?;
    let rest = ["succeeded ", "successed ", "successful "]
        .iter()
        .find_map(|w| rest.strip_prefix(w))?;
    let (pushed, rest) = number(rest)?;
    rest.starts_with(" nodes").then_some(Push {
        image,
        subdir,
        total,
        pushed,
    })
}

fn number(s: &str) -> Option<(u64, &str)> {
    let end = s.bytes().take_while(u8::is_ascii_digit).count();
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// `fe@HOST:QUERY_PORT` as given, checked.
fn node_id(s: &str) -> Result<(String, u16), SettingsError> {
    let bad = || {
        SettingsError::BadInput(format!(
            "failed to read --node {}: expected fe@HOST:QUERY_PORT, e.g. fe@10.0.0.1:9030",
            escape(s)
        ))
    };
    let rest = s.strip_prefix("fe@").ok_or_else(bad)?;
    let (h, p) = rest.rsplit_once(':').ok_or_else(bad)?;
    let port = crate::check::known_port(p).ok_or_else(bad)?;
    if !crate::check::is_host(h) {
        return Err(bad());
    }
    Ok((h.to_string(), port))
}

/// `create-image`.
pub fn create_image(
    sql: &dyn SqlLink,
    host: &str,
    port: u16,
    cfg: &ImageConfig,
) -> Result<(), SettingsError> {
    let node = cfg.node.as_deref().map(node_id).transpose()?;
    let l = find_leader(sql, host, port)?;
    if let Some((h, p)) = &node {
        // A node the cluster does not list would skip on every host: no image, and a green play.
        if !l.members.contains(&format!("fe@{h}:{p}")) {
            return Err(SettingsError::BadInput(format!(
                "--node fe@{h}:{p} is not an FE that SHOW FRONTENDS lists ({})",
                l.members.join(", ")
            )));
        }
        if (h.as_str(), *p) != (l.host.as_str(), l.query_port) {
            outln(&format!(
                "fe@{h}:{p} is not the leader (the leader is {}): nothing to do on this host",
                l.id()
            ));
            return Ok(());
        }
    }
    if l.version < CREATE_IMAGE_SINCE {
        return Err(SettingsError::BadInput(format!(
            "the leader {} runs {}: ALTER SYSTEM CREATE IMAGE is supported from v{CREATE_IMAGE_SINCE} (docs, downgrade.md); restart the leader FE to make an image instead",
            l.id(),
            escape(&l.version_text)
        )));
    }
    let log = cfg.leader_log.as_path();
    let shown_log = escape(&log.display().to_string());
    if !std::fs::metadata(log).is_ok_and(|m| m.is_file()) {
        return Err(SettingsError::BadInput(format!(
            "--leader-log {shown_log} is not a file: give the leader's fe.log (log/fe.log in its home) on the host this runs on"
        )));
    }
    // From the file's end at the time of the statement: a push line of an earlier image is old.
    let mut follower = LogFollower::at_end(log).map_err(|e| {
        SettingsError::Unreachable(format!("failed to open --leader-log {shown_log}: {e}"))
    })?;
    sql.query(&l.host, l.query_port, "ALTER SYSTEM CREATE IMAGE")
        .map_err(|e| {
            SettingsError::from_sql(
                format!(
                    "failed to run ALTER SYSTEM CREATE IMAGE on the leader {}",
                    l.id()
                ),
                &e,
            )
        })?;
    outln(&format!(
        "ALTER SYSTEM CREATE IMAGE on the leader {} ({}): accepted",
        l.id(),
        escape(&l.version_text)
    ));
    if l.others == 0 {
        // `if (needToPushCnt > 0) pushImage(...)`: no other FE, no push, no line to wait for.
        outln("the cluster has one FE: the image is not pushed anywhere, so there is no push line to wait for");
        return Ok(());
    }
    // An image made from this point on covers at least the leader's journal as it was read.
    let since = l.journal_id.unwrap_or(0);
    outln(&format!(
        "waiting up to {} for the push line of an image at or after journal {since} in {shown_log} ({} other FEs listed)",
        humantime::format_duration(cfg.wait),
        l.others
    ));
    let deadline = Instant::now() + cfg.wait;
    loop {
        for line in follower.poll() {
            let Some(p) = parse_push(&line) else { continue };
            if p.subdir.as_deref().is_some_and(|s| !s.is_empty()) {
                // The shared-data StarManager's image (`from subdir [starmgr]`): not the catalog's.
                continue;
            }
            if p.image < since {
                outln(&format!(
                    "skipped: image.{} was made before the statement (journal {since})",
                    p.image
                ));
                continue;
            }
            return judge(&p, l.others);
        }
        if crate::signals::interrupted().is_some() {
            return Err(SettingsError::Interrupted);
        }
        if Instant::now() >= deadline {
            return Err(SettingsError::TimedOut(format!(
                "no \"push image.* from subdir [] to other nodes\" line in {shown_log} within {}: the checkpoint (every 60 s, then as long as the image takes) may still be running, or this is not the leader's fe.log",
                humantime::format_duration(cfg.wait)
            )));
        }
        std::thread::sleep(POLL);
    }
}

/// Every node the line counts got the image (exit 0), or fewer (exit 1).
fn judge(p: &Push, others: usize) -> Result<(), SettingsError> {
    if p.pushed >= p.total {
        let worker = if (p.total as usize) < others {
            " (the FE that made the image, a checkpoint worker, is not pushed to)"
        } else {
            ""
        };
        outln(&format!(
            "image.{} pushed to {} of {} nodes{worker}",
            p.image, p.pushed, p.total
        ));
        Ok(())
    } else {
        Err(SettingsError::Failed(format!(
            "image.{} pushed to {} of {} nodes: the other {} did not get it (the leader retries on its next checkpoint rounds); run create-image again once every FE is alive",
            p.image,
            p.pushed,
            p.total,
            p.total - p.pushed
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_push_line_is_read_in_every_spelling() {
        let newest = "2026-12-05 06:00:01.123+00:00 INFO (leaderCheckpointer|98) [CheckpointController.pushImage():412] push image.5120 from subdir [] to other nodes. totally 2 nodes, push succeeded 2 nodes";
        assert_eq!(
            parse_push(newest),
            Some(Push {
                image: 5120,
                subdir: Some(String::new()),
                total: 2,
                pushed: 2
            })
        );
        let old = "push image.77 from subdir [starmgr] to other nodes. totally 3 nodes, push successed 1 nodes";
        let p = parse_push(old).unwrap();
        assert_eq!(
            (p.subdir.as_deref(), p.total, p.pushed),
            (Some("starmgr"), 3, 1)
        );
        let oldest = "push image.9 to other nodes. totally 1 nodes, push successful 1 nodes";
        assert_eq!(parse_push(oldest).unwrap().subdir, None);
        for not in [
            "push image successfully, url = http://x/put?version=5",
            "push image.5 from subdir [] to other nodes. totally x nodes, push succeeded 1 nodes",
            "",
        ] {
            assert_eq!(parse_push(not), None, "{not}");
        }
    }

    #[test]
    fn fewer_nodes_pushed_fail_and_the_node_id_is_checked() {
        let p = |total, pushed| Push {
            image: 1,
            subdir: None,
            total,
            pushed,
        };
        assert!(judge(&p(2, 2), 2).is_ok());
        assert!(judge(&p(1, 1), 2).is_ok());
        assert!(matches!(judge(&p(2, 1), 2), Err(SettingsError::Failed(_))));
        assert_eq!(node_id("fe@10.0.0.1:9030").unwrap().1, 9030);
        for bad in [
            "be@10.0.0.1:9050",
            "fe@10.0.0.1",
            "fe@$(id):9030",
            "fe@h:99999",
        ] {
            assert!(
                matches!(node_id(bad), Err(SettingsError::BadInput(_))),
                "{bad}"
            );
        }
    }
}
