//! The fourth startup phase: `GlobalStateMgr.loadImage`, the newest image's header, its checksum
//! (3.4+ `image/v2`) and the meta version this release accepts.
//!
//! An image this release cannot read (a meta version it does not accept, as after a downgrade) is
//! refused here, from the header alone, before any journal is read; that refusal is one of the
//! failures a metadata rehearsal exists to catch.

use std::fs;
use std::time::Instant;

use super::boot::{stack, Fe, Stop};
use super::meta_dir::MetaDir;
use super::node::Node;
use crate::image::{self, Frontend, ImageHeader};
use crate::logs::FeLog;
use crate::Fault;
use starrocks_common::version::Version;

/// The loaded header, with this node in its frontend list whatever the image recorded.
pub(super) fn load_image(
    fe: &Fe,
    log: &FeLog,
    dirs: &MetaDir,
    node: &Node,
) -> Result<ImageHeader, Stop> {
    let v = fe.v;
    let (images, image_dir) = (&dirs.images, &dirs.image_dir);
    let (self_host, edit_log_port) = (&node.self_host, node.ports.edit_log);
    let (role, node_name) = (&node.id.role, &node.id.node_name);
    // Load the image: the highest id, from image/ or (3.4+) image/v2/.
    let mut header = ImageHeader {
        meta_version: v.meta_version_written(),
        ..Default::default()
    };
    if let Some((id, path)) = images.last() {
        log.info(
            "GlobalStateMgr.loadImage():1205",
            &format!("start load image from {}. is ckpt: false", path.display()),
        );
        let started = Instant::now();
        if path.parent().is_some_and(|p| p.ends_with("v2")) {
            let ck = path.with_file_name(format!("checksum.{id}"));
            let expect: Option<u32> = fs::read_to_string(&ck)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            let actual = image::crc32_file(path).unwrap_or(0);
            if let Some(expect) = expect.filter(|e| *e != actual) {
                return Err(Stop::StartFailed(format!(
                    "java.io.IOException: checksum mismatch! expect {expect} actual {actual}"
                )));
            }
        }
        header = match image::read_header_lines(path)
            .map_err(image::HeaderError::from)
            .and_then(|l| ImageHeader::parse(&l))
        {
            Ok(h) => h,
            Err(_) => {
                log.warn("GlobalStateMgr.loadImage():1231", "load image eof.");
                return Err(Stop::StartFailed(stack(
                    "java.io.EOFException",
                    &[
                        "java.io.DataInputStream.readInt(DataInputStream.java:397)",
                        "com.starrocks.server.GlobalStateMgr.loadHeader(GlobalStateMgr.java:1290)",
                    ],
                )));
            }
        };
        if fe.release.fault_is(Fault::IncompatibleMeta) {
            header.meta_version = if v >= Version::new(3, 3, 0) {
                3
            } else {
                v.meta_version_written() + 1
            };
        }
        if let Err(refused) = v.check_meta_version(header.meta_version) {
            return Err(fe.fatal("GlobalStateMgr.loadHeader():1301", &refused.to_string()));
        }
        log.info(
            "GlobalStateMgr.loadImage():1226",
            &format!(
                "finished to load image in {} ms",
                started.elapsed().as_millis()
            ),
        );
    } else {
        log.info(
            "GlobalStateMgr.loadImage():1200",
            &format!(
                "image does not exist: {}",
                image_dir.join("image.0").display()
            ),
        );
    }
    if node.id.first_time {
        header.frontends.clear();
        header.backends.clear();
    }
    if !header.frontends.iter().any(|f| f.name == *node_name) {
        header.frontends.insert(
            0,
            Frontend {
                role: role.clone(),
                host: self_host.clone(),
                edit_log_port,
                name: node_name.clone(),
            },
        );
    }
    Ok(header)
}
