//! Where a starting node is in its startup, read from its own log lines, for the wait's progress:
//! a large meta takes minutes to load and replay, and "waiting for the FE" tells an operator (or a
//! CI log) nothing about whether it moves.
//!
//! The lines are StarRocks' own: `GlobalStateMgr.loadImage` logs `start load image from <file>. is
//! ckpt: false` and `finished to load image in <n> ms`, `replayJournal` logs `replayed journal id
//! is <a>, replay to journal id is <b>` and `finish replay from <a> to <b> in <n> msec`; the BE logs
//! `begin loading tablet from meta` while its tablet metas load. A line that names no phase
//! leaves the phase as it was.

use std::sync::OnceLock;

use regex::Regex;

/// A pattern and how its match reads as a phase.
type Phase = (Regex, fn(&regex::Captures) -> String);

fn patterns() -> &'static [Phase] {
    static P: OnceLock<Vec<Phase>> = OnceLock::new();
    P.get_or_init(|| {
        type Raw = (&'static str, fn(&regex::Captures) -> String);
        let p: Vec<Raw> = vec![
            (r"start load image from (\S*?)\.? is ckpt", |c| {
                let file = c[1].rsplit('/').next().unwrap_or(&c[1]).to_string();
                format!("loading the image {file}")
            }),
            (r"finished to load image in (\d+) ms", |c| {
                format!("image loaded in {} ms", &c[1])
            }),
            (
                r"replayed journal id is (\d+), replay to journal id is (\d+)",
                |c| format!("replaying the journal from {} to {}", &c[1], &c[2]),
            ),
            (r"finish replay from (\d+) to (\d+) in (\d+) msec", |c| {
                format!("journal replayed up to {} in {} ms", &c[2], &c[3])
            }),
            (r"begin loading tablet from meta", |_| {
                "loading the tablet metas".to_string()
            }),
        ];
        p.into_iter()
            .map(|(re, f)| (Regex::new(re).expect("phase pattern compiles"), f))
            .collect()
    })
}

/// The phase `line` announces, if it announces one.
pub fn phase_of(line: &str) -> Option<String> {
    // Cheap rejection first: every pattern holds one of these words.
    if !(line.contains("image") || line.contains("replay") || line.contains("tablet from meta")) {
        return None;
    }
    patterns()
        .iter()
        .find_map(|(re, f)| re.captures(line).map(|c| f(&c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_startup_lines_name_their_phase() {
        let fe = "2024-11-20 14:28:03,900 INFO (main|1) [GlobalStateMgr.loadImage():1190] start load image from /data/meta/image/image.1234. is ckpt: false";
        assert_eq!(phase_of(fe).unwrap(), "loading the image image.1234");
        let r = "2024-11-20 14:28:09,000 INFO (stateChangeExecutor|80) [GlobalStateMgr.replayJournal():1800] replayed journal id is 1234, replay to journal id is 98765";
        assert_eq!(
            phase_of(r).unwrap(),
            "replaying the journal from 1234 to 98765"
        );
        assert_eq!(
            phase_of("finish replay from 1235 to 98765 in 5400 msec").unwrap(),
            "journal replayed up to 98765 in 5400 ms"
        );
        assert_eq!(
            phase_of("I1120 14:28:03.900000  1 data_dir.cpp:600] begin loading tablet from meta")
                .unwrap(),
            "loading the tablet metas"
        );
        assert_eq!(phase_of("the image is fine"), None);
    }
}
