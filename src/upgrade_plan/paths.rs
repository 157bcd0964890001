//! Which version paths the StarRocks docs allow, and what the release notes in between ask.
//!
//! The upgrade page (docs/en/deployment/upgrade.md, manage_deployment/upgrade.md) allows skipping
//! minor versions from 2.0 on and "strongly recommend[s]" going one at a time: a skip is a
//! warning, not a refusal. What is refused is what fails: "To upgrade your StarRocks cluster to
//! v3.0, you must first upgrade it to v2.5"; 3.3 and later refuse an image written by 2.5 or 3.0
//! (the meta versions in `starrocks_common::version`); and releases before 2.5, whose SHOW
//! FRONTENDS has no LEADER role, are outside what this tool reads. Downgrades are planned by
//! nobody here (downgrade.md is the reverse, FE-first procedure).

use crate::version::Version;

/// Refusals and warnings for upgrading a cluster on `from` to `to`.
pub(super) fn judge_path(from: Version, to: Version) -> (Vec<String>, Vec<String>) {
    let (mut refusals, mut warnings) = (Vec::new(), Vec::new());
    if to < from {
        refusals.push(format!(
            "{to} is older than the cluster's {from}: this plans upgrades, not downgrades"
        ));
        return (refusals, warnings);
    }
    if !from.at_least(2, 5) {
        refusals.push(format!(
            "the cluster runs {from}: releases before 2.5 are not supported (their SHOW FRONTENDS names no LEADER); upgrade to 2.5 by the docs of that release first"
        ));
        return (refusals, warnings);
    }
    if to.line() == (3, 0) && from.line() != (2, 5) {
        refusals.push(format!(
            "{from} -> {to}: the docs allow 3.0 only from 2.5 (\"To upgrade your StarRocks cluster to v3.0, you must first upgrade it to v2.5\")"
        ));
    } else if to.at_least(3, 3) && matches!(from.line(), (2, 5) | (3, 0)) {
        refusals.push(format!(
            "{from} -> {to}: 3.3 and later refuse the metadata image written by 2.5 and 3.0; upgrade to 3.1 or 3.2 first"
        ));
    } else if to.line() > next_line(from.line()) {
        let (m, n) = next_line(from.line());
        warnings.push(format!(
            "{from} -> {to} skips a minor version: the docs allow it but strongly recommend one minor version at a time ({m}.{n}.x next), with a new image between two upgrades"
        ));
    }
    (refusals, warnings)
}

/// The next minor line after `line`: x.y+1, and 2.5 -> 3.0, 3.5 -> 4.0 (the last minor of a major
/// is followed by the next major's first).
pub fn next_line(line: (u32, u32)) -> (u32, u32) {
    match line {
        (2, 5) => (3, 0),
        (3, 5) => (4, 0),
        (m, n) => (m, n + 1),
    }
}

/// What the release notes of the releases up to `to` ask of the hosts and the session when
/// coming from `from`, named in the plan. `sr-rehearse precheck` checks the hosts' part on every
/// host before the first node; `upgrade-settings apply` sets the session part.
pub(super) fn prerequisites(from: Version, to: Version) -> Vec<String> {
    let mut p = Vec::new();
    if to.at_least(3, 5) && !from.at_least(3, 5) {
        // Release notes 3.5, "Upgrade Notes".
        p.push("3.5 (release notes, Upgrade Notes): JDK 17 or later on every host; remove the options JDK 17 rejects (CMS, GC) from JAVA_OPTS in fe.conf; with external catalogs add --add-opens=java.base/java.util=ALL-UNNAMED, with Java UDFs --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED to JAVA_OPTS in be.conf".into());
        if from < Version::new(3, 4, 10) {
            p.push(format!("3.5 from {from} (below 3.4.10): low-cardinality optimization off for the mixed-version phase (SET GLOBAL cbo_enable_low_cardinality_optimize = false; upgrade-settings apply sets it and restore puts it back)"));
        }
    }
    if to.line() == (3, 4) && from.line() < (3, 4) {
        // The newest upgrade page: "StarRocks 3.4.x on Ubuntu requires JDK 11".
        p.push("3.4 (upgrade page): JDK 11 on Ubuntu hosts (the deployment prerequisites)".into());
    }
    p
}

/// The versions downgrade.md (and the release notes' Downgrade Notes) forbid going back to from
/// `to`: the way back to `from` names them when `from` is one.
pub(super) fn forbidden_downgrade(from: Version, to: Version) -> Option<String> {
    let v = |a, b, c| Version::new(a, b, c);
    let bad = if to.line() == (3, 3) && from >= v(3, 2, 0) && from <= v(3, 2, 2) {
        Some("after an upgrade to 3.3, never downgrade to 3.2.0-3.2.2 (metadata loss): go to 3.2.3 or later")
    } else if to.line() == (3, 5) && from >= v(3, 4, 0) && from <= v(3, 4, 5) {
        Some("after an upgrade to 3.5, never downgrade to 3.4.0-3.4.5 (metadata incompatibility): go to 3.4.6 or later")
    } else if to >= v(3, 5, 2) && from >= v(3, 5, 0) && from <= v(3, 5, 1) {
        Some("after an upgrade to 3.5.2 or later, never downgrade to 3.5.0 or 3.5.1 (the FE crashes)")
    } else if to.line() == (3, 0) && from < v(2, 5, 3) {
        Some("3.0 downgrades only to 2.5.3 or later")
    } else {
        None
    };
    bad.map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn paths_follow_the_docs() {
        assert!(judge_path(v("3.2.11"), v("3.3.5")) == (vec![], vec![]));
        let (r, w) = judge_path(v("3.1.11"), v("3.3.5"));
        assert!(
            r.is_empty() && w[0].contains("skips a minor version"),
            "{w:?}"
        );
        assert!(judge_path(v("2.5.22"), v("3.3.5")).0[0].contains("3.1 or 3.2 first"));
        assert!(judge_path(v("3.0.9"), v("3.4.1")).0[0].contains("3.1 or 3.2 first"));
        assert!(judge_path(v("2.4.1"), v("3.0.1")).0[0].contains("before 2.5"));
        assert!(judge_path(v("2.5.22"), v("3.2.1")).0.is_empty());
        assert!(judge_path(v("3.3.5"), v("3.2.11")).0[0].contains("not downgrades"));
        assert_eq!(next_line((3, 5)), (4, 0));
    }

    #[test]
    fn release_notes_in_between_are_named() {
        let p = prerequisites(v("3.4.3"), v("3.5.1"));
        assert!(p[0].contains("JDK 17") && p[1].contains("cbo_enable_low_cardinality"));
        assert_eq!(prerequisites(v("3.4.10"), v("3.5.1")).len(), 1);
        assert!(prerequisites(v("3.2.1"), v("3.3.5")).is_empty());
        assert!(forbidden_downgrade(v("3.2.1"), v("3.3.5")).is_some());
        assert!(forbidden_downgrade(v("3.2.11"), v("3.3.5")).is_none());
    }
}
