//! Which versions a cluster runs, judged as an operator does during a rolling upgrade.
//!
//! The docs design the upgrade around nodes of two versions side by side (BEs and CNs first, the
//! FEs after), and a hot-fix build or a newer patch on some nodes of one release line is a steady
//! state StarRocks supports. So versions that differ only in patch or build hash on one `x.y`
//! line are healthy, with a note; two lines are a rolling upgrade, allowed with
//! `--allow-version`, and anything more is mixed. A node without a Version counts as one more.

use std::collections::BTreeSet;

use super::gate::version_part;
use super::values::escape;
use super::ClusterStatus;

/// The release line `x.y` of a version (`3.3` of `3.3.5-abc1234`).
pub(super) fn line(v: &str) -> String {
    v.split(['.', '-']).take(2).collect::<Vec<_>>().join(".")
}

/// Whether `v` is one of the versions `--allow-version` names: the same version, or one that
/// starts with it (`3.4` allows `3.4.1-abc`, `3.4.1` allows `3.4.1-abc` but not `3.4.10`).
fn allowed(v: &str, allow_versions: &[String]) -> bool {
    allow_versions
        .iter()
        .any(|a| v == a || v.starts_with(&format!("{a}-")) || v.starts_with(&format!("{a}.")))
}

/// Fills `versions` and judges them: one line (patch or hash skew) is a note, the lines the
/// cluster runs plus allowed ones a warning, more lines (or an unknown version) are mixed.
pub(super) fn judge_versions(st: &mut ClusterStatus, allow_versions: &[String]) {
    for n in &st.nodes {
        let v = if n.version.is_empty() {
            "unknown".to_string()
        } else {
            n.version.clone()
        };
        st.versions.entry(v).or_default().push(n.id());
    }
    if st.versions.len() < 2 {
        return;
    }
    let described: Vec<String> = st
        .versions
        .iter()
        .map(|(v, nodes)| format!("{} on {}", escape(v), nodes.join(", ")))
        .collect();
    let described = described.join("; ");
    if st.versions.contains_key("unknown") {
        st.problems.push(format!("mixed versions: {described}"));
        return;
    }
    let lines: BTreeSet<String> = st.versions.keys().map(|v| line(v)).collect();
    if lines.len() == 1 {
        let l = lines.into_iter().next().unwrap_or_default();
        st.warnings.push(format!(
            "note: versions differ only in patch or build on the {} line (supported side by side): {described}",
            escape(&l)
        ));
        return;
    }
    let not_allowed: BTreeSet<String> = st
        .versions
        .keys()
        .filter(|v| !allowed(v, allow_versions))
        .map(|v| line(v))
        .collect();
    if not_allowed.len() <= 1 {
        st.warnings
            .push(format!("versions side by side (allowed): {described}"));
    } else {
        st.problems.push(format!("mixed versions: {described}"));
    }
}

/// `--expect-version` without `--node`: every node runs `expect` (the build hash not compared).
pub(super) fn judge_expected(st: &mut ClusterStatus, expect: &str) {
    let want = version_part(expect);
    for n in &mut st.nodes {
        if version_part(&n.version) != want {
            n.problems.push(format!(
                "runs {}, not the expected {}",
                if n.version.is_empty() {
                    "an unknown version".to_string()
                } else {
                    escape(&n.version)
                },
                escape(expect)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules::tests::node;
    use super::*;

    fn status(versions: &[(&str, &str)]) -> ClusterStatus {
        let mut st = ClusterStatus::new("fe:8030");
        st.nodes = versions
            .iter()
            .enumerate()
            .map(|(i, (kind, v))| {
                let mut n = node(kind, if *kind == "fe" { "LEADER" } else { "" }, v);
                n.port = 9000 + i as u16;
                n
            })
            .collect();
        st
    }

    #[test]
    fn an_allowed_second_version_warns_and_a_third_degrades() {
        let mut st = status(&[("fe", "3.3.5-abc"), ("be", "3.4.1-def")]);
        judge_versions(&mut st, &["3.4.1".to_string()]);
        assert!(st.problems.is_empty());
        assert_eq!(st.warnings.len(), 1);

        let mut st = status(&[
            ("fe", "3.3.5-abc"),
            ("be", "3.4.1-def"),
            ("cn", "3.5.0-def"),
        ]);
        judge_versions(&mut st, &["3.4.1".to_string()]);
        assert_eq!(st.problems.len(), 1, "3.5.0 is not allowed");
    }

    #[test]
    fn two_lines_without_allow_version_are_mixed() {
        let mut st = status(&[("fe", "3.3.5-abc"), ("be", "3.4.1-def")]);
        judge_versions(&mut st, &[]);
        assert_eq!(st.problems.len(), 1, "{:?}", st);
        assert!(st.problems[0].starts_with("mixed versions: 3.3.5-abc on"));
    }

    #[test]
    fn patch_or_hash_skew_on_one_line_is_healthy_with_a_note() {
        let mut st = status(&[
            ("fe", "3.3.4-abc1234"),
            ("be", "3.3.5-def5678"),
            ("be", "3.3.5-0123456"),
        ]);
        judge_versions(&mut st, &[]);
        assert!(st.problems.is_empty(), "{:?}", st.problems);
        assert_eq!(st.warnings.len(), 1);
        assert!(
            st.warnings[0]
                .starts_with("note: versions differ only in patch or build on the 3.3 line"),
            "{:?}",
            st.warnings
        );
    }

    #[test]
    fn a_node_without_a_version_is_one_more_version() {
        let mut st = status(&[("fe", "3.3.5-abc"), ("be", "")]);
        judge_versions(&mut st, &[]);
        assert_eq!(st.problems.len(), 1, "{:?}", st.problems);
        assert!(st.problems[0].contains("unknown on be 10.0.0.1:9001"));
        let mut st = status(&[("fe", "3.3.5-abc"), ("be", "")]);
        judge_versions(&mut st, &["3.3.5".to_string()]);
        assert_eq!(
            st.problems.len(),
            1,
            "--allow-version never allows an unknown one"
        );
    }

    #[test]
    fn expect_version_names_every_node_on_another() {
        let mut st = status(&[("fe", "3.3.5-abc1234"), ("be", "3.3.4-def5678"), ("be", "")]);
        judge_expected(&mut st, "3.3.5");
        assert!(st.nodes[0].problems.is_empty());
        assert_eq!(
            st.nodes[1].problems,
            ["runs 3.3.4-def5678, not the expected 3.3.5"]
        );
        assert_eq!(
            st.nodes[2].problems,
            ["runs an unknown version, not the expected 3.3.5"]
        );
        let mut st = status(&[("fe", "3.3.5-abc1234")]);
        judge_expected(&mut st, "3.3.5-fffffff");
        assert!(st.nodes[0].problems.is_empty(), "the hash is not compared");
    }
}
