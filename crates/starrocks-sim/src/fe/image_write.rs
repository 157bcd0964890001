//! `ALTER SYSTEM CREATE IMAGE` on the leader: the checkpoint writes `image.<journal id>` and pushes
//! it to the other frontends, logging the line the upgrade and downgrade pages tell operators to
//! wait for; and `/put`, where a frontend receives a pushed image.
//!
//! In StarRocks the statement only rolls the journal (`triggerNewImage`); the checkpoint daemon
//! writes the image at its next run (`checkpoint_interval_second`, 60 s) and pushes it. The
//! simulator runs that checkpoint at once, in its own thread, so the statement returns first as
//! the real one does. Which frontends are pushed to follows each release: up to 3.3
//! `Checkpoint.runAfterCatalogReady` skips every frontend whose host string is the leader's (so on
//! one host it counts the others but pushes to none); from 3.4 `CheckpointController.pushImage`
//! pushes to every other frontend by name and logs nothing when there is none.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::state::State;
use crate::http::{Request, Response};
use crate::image::{self, ImageHeader};
use crate::logs::Level;
use crate::mysql::Outcome;
use starrocks_common::version::Version;

/// First release line whose checkpoint is `CheckpointController` (push by node name, a push line
/// only when there are nodes to push to); the exact release was not pinned.
const CONTROLLER: Version = Version::new(3, 4, 0);

/// Where the checkpoint thread logs from.
const THREAD: &str = "leaderCheckpointer|95";

/// The newest image of `image_dir` (and `image_dir/v2`), with its id.
fn newest_image(image_dir: &Path) -> Option<(u64, PathBuf)> {
    let mut best: Option<(u64, PathBuf)> = None;
    for dir in [image_dir.to_path_buf(), image_dir.join("v2")] {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = name
                .strip_prefix("image.")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            if best.as_ref().is_none_or(|(b, _)| id > *b) {
                best = Some((id, e.path()));
            }
        }
    }
    best
}

/// Writes `image.<journal>` beside the newest image (with its checksum file in `v2/`), from the
/// newest image's header with the new journal id. Returns the new id of the image.
pub(super) fn write_image(image_dir: &Path, journal: u64) -> std::io::Result<u64> {
    let (dir, mut header) = match newest_image(image_dir) {
        Some((_, p)) => {
            let lines = image::read_header_lines(&p)?;
            let h = ImageHeader::parse(&lines).map_err(|e| std::io::Error::other(e.to_string()))?;
            (p.parent().unwrap_or(image_dir).to_path_buf(), h)
        }
        None => (image_dir.to_path_buf(), ImageHeader::default()),
    };
    header.journal_id = journal;
    let text = header.render();
    let path = dir.join(format!("image.{journal}"));
    image::write_padded(&path, &text, text.len() as u64 + 4096, journal)?;
    if dir.ends_with("v2") {
        let crc = image::crc32_file(&path)?;
        fs::write(dir.join(format!("checksum.{journal}")), crc.to_string())?;
    }
    Ok(journal)
}

/// One GET of the push, within 5 s; Ok when the frontend answered 200.
fn push_get(host: &str, port: u16, path: &str) -> std::io::Result<()> {
    let addr = crate::loopback_addr(host, port)
        .ok_or_else(|| std::io::Error::other("not a loopback address"))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .max_idle_connections(0)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    agent
        .get(format!("http://{addr}{path}"))
        .call()
        .map(|_| ())
        .map_err(ureq::Error::into_io)
}

/// The leader's answer to `ALTER SYSTEM CREATE IMAGE`: OK at once, the checkpoint in a thread.
pub(super) fn create_image(st: &Arc<State>) -> Outcome {
    let st = st.clone();
    std::thread::spawn(move || checkpoint(&st));
    Outcome::Ok
}

fn checkpoint(st: &State) {
    let log = &st.log;
    let journal = st.group.as_ref().map_or(st.journal_id, |g| g.journal());
    let image_version = newest_image(&st.image_dir).map_or(0, |(id, _)| id);
    log.log(
        Level::Info,
        THREAD,
        "Checkpoint.runAfterCatalogReady():91",
        &format!("checkpoint imageVersion {image_version}, checkpointVersion {journal}"),
    );
    if image_version >= journal {
        return;
    }
    log.log(
        Level::Info,
        THREAD,
        "Checkpoint.replayAndGenerateGlobalStateMgrImage():190",
        &format!("begin to generate new image: image.{journal}"),
    );
    if let Err(e) = write_image(&st.image_dir, journal) {
        log.log(
            Level::Error,
            THREAD,
            "Checkpoint.replayAndGenerateGlobalStateMgrImage():205",
            &format!("Exception when generate new image file\njava.io.IOException: {e}"),
        );
        return;
    }
    log.log(
        Level::Info,
        THREAD,
        "Checkpoint.replayAndGenerateGlobalStateMgrImage():201",
        &format!("checkpoint finished save image.{journal}"),
    );
    let others: Vec<_> = st
        .frontends
        .iter()
        .filter(|f| f.name != st.node_name)
        .collect();
    let controller = st.version >= CONTROLLER;
    if controller && others.is_empty() {
        return;
    }
    let mut pushed = 0;
    for f in &others {
        // Up to 3.3 the leader is skipped by its host string, which every frontend on its host
        // shares.
        if !controller && f.host == st.self_host {
            continue;
        }
        let http_port = st
            .group
            .as_ref()
            .and_then(|g| g.peer(&f.host, f.edit_log_port))
            .map_or(st.http_port, |p| p.http_port);
        let path = format!("/put?version={journal}&port={http_port}&subdir=");
        let url = format!("http://{}:{http_port}{path}", f.host);
        if !controller {
            log.log(
                Level::Info,
                THREAD,
                "Checkpoint.runAfterCatalogReady():131",
                &format!("Put image:{url}"),
            );
        }
        match push_get(&f.host, http_port, &path) {
            Ok(()) => {
                pushed += 1;
                if controller {
                    log.log(
                        Level::Info,
                        THREAD,
                        "CheckpointController.pushImage():360",
                        &format!("push image successfully, url = {url}"),
                    );
                }
            }
            Err(e) => log.log(
                Level::Error,
                THREAD,
                "Checkpoint.runAfterCatalogReady():137",
                &format!(
                    "Exception when pushing image file. url = {url}\njava.io.IOException: {e}"
                ),
            ),
        }
    }
    log.log(
        Level::Info,
        THREAD,
        "Checkpoint.runAfterCatalogReady():141",
        &format!(
            "push image.{journal} from subdir [] to other nodes. totally {} nodes, push succeeded {pushed} nodes",
            others.len()
        ),
    );
}

/// `/put?version=N`: a frontend takes the pushed image (the real one downloads it from the
/// leader's `/image`; the simulator writes the same header with that journal id).
pub(super) fn put(st: &State, r: &Request) -> Response {
    match r.param("version").and_then(|v| v.parse::<u64>().ok()) {
        Some(v) => match write_image(&st.image_dir, v) {
            Ok(_) => Response::json("{\"code\":0,\"msg\":\"success\",\"status\":\"OK\"}".into()),
            Err(e) => Response::status(500, "text/plain", &e.to_string()),
        },
        None => Response::status(400, "text/plain", "missing version"),
    }
}
