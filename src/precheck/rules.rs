//! The release-note prerequisites, one entry per rule, each with the note it comes from.
//!
//! The upgrade page asks to read the release notes of every version between the current one and
//! the target and to "verify prerequisites"; the notes' "Upgrade Notes" are where a host or a conf
//! that worked yesterday stops working (3.5: JDK 17, `JAVA_OPTS` without CMS in fe.conf,
//! `--add-opens` in be.conf, low-cardinality optimisation off below 3.4.10). Each rule applies when
//! its release lies after `--from-version` and at or before `--to-version` (without
//! `--from-version`: the target's own line), and is judged against the node's conf and JDK.

use super::doc::{RELEASE_3_5, UPGRADE};
use super::java::{refused_options, JdkUsed};
use super::{Finding, Level, Role};
use crate::conf::ConfFile;
use crate::version::Version;

/// What a rule looks at.
#[derive(Debug, Clone, Copy)]
enum Judge {
    /// The JDK's major version must be at least this.
    JdkAtLeast(u32),
    /// fe.conf's `JAVA_OPTS` must hold nothing JDK 17 refuses.
    FeJavaOptsFor17,
    /// The JDK-specific options variables are no longer supported from this release.
    FeJdkSpecificOptsIgnored,
    /// be.conf's (cn.conf's) `JAVA_OPTS` should hold every one of these words.
    BeJavaOptsHold(&'static [&'static str]),
    /// A cluster coming from below this patch needs the statement of the rule's fix.
    FromBelow(Version),
}

/// One prerequisite from a release note or the upgrade page.
struct Rule {
    id: &'static str,
    /// The release line whose notes state it.
    release: (u32, u32),
    roles: &'static [Role],
    /// The note's own words.
    says: &'static str,
    judge: Judge,
    /// The level when the rule is not met.
    level: Level,
    fix: &'static str,
    doc: &'static str,
}

const ALL: &[Role] = &[Role::Fe, Role::Be, Role::Cn];
const FE: &[Role] = &[Role::Fe];
const BE_CN: &[Role] = &[Role::Be, Role::Cn];

/// The rules, oldest release first.
const RULES: &[Rule] = &[
    Rule {
        id: "release-3.4.jdk-11",
        release: (3, 4),
        roles: FE,
        says: "StarRocks 3.4.x on Ubuntu requires JDK 11 (upgrade page); start_fe.sh of 3.4 sets MIN_JDK_VERSION=11",
        judge: Judge::JdkAtLeast(11),
        level: Level::Error,
        fix: "install JDK 11 or later and point JAVA_HOME at it before the FE is upgraded",
        doc: UPGRADE,
    },
    Rule {
        id: "release-3.5.jdk-17",
        release: (3, 5),
        roles: ALL,
        says: "JDK 17 or later is required from StarRocks v3.5.0 onwards.",
        judge: Judge::JdkAtLeast(17),
        level: Level::Error,
        fix: "install JDK 17 or later on this host and point JAVA_HOME (the environment or the conf) at it",
        doc: RELEASE_3_5,
    },
    Rule {
        id: "release-3.5.fe-java-opts",
        release: (3, 5),
        roles: FE,
        says: "remove the options that are incompatible with JDK 17 in the configuration item `JAVA_OPTS` in the FE configuration file fe.conf, for example, options that involve CMS and GC",
        judge: Judge::FeJavaOptsFor17,
        level: Level::Error,
        fix: "take the v3.5 default JAVA_OPTS (G1, -Xlog:gc*) into fe.conf before the FE is upgraded: the procedure keeps conf/",
        doc: RELEASE_3_5,
    },
    Rule {
        id: "release-3.5.fe-jdk-specific-opts",
        release: (3, 5),
        roles: FE,
        says: "as of v3.5.0, StarRocks no longer provides JVM configurations for specific JDK versions. All versions of JDK use `JAVA_OPTS`.",
        judge: Judge::FeJdkSpecificOptsIgnored,
        level: Level::Warning,
        fix: "move what JAVA_OPTS_FOR_JDK_9/JAVA_OPTS_FOR_JDK_11 set (the heap above all) into JAVA_OPTS and remove them",
        doc: RELEASE_3_5,
    },
    Rule {
        id: "release-3.5.be-add-opens-catalogs",
        release: (3, 5),
        roles: BE_CN,
        says: "For clusters using external catalogs, you need to add `--add-opens=java.base/java.util=ALL-UNNAMED` to the `JAVA_OPTS` configuration item in the BE configuration file be.conf.",
        judge: Judge::BeJavaOptsHold(&["--add-opens=java.base/java.util=ALL-UNNAMED"]),
        level: Level::Warning,
        fix: "if the cluster uses external catalogs, add --add-opens=java.base/java.util=ALL-UNNAMED to JAVA_OPTS in the conf",
        doc: RELEASE_3_5,
    },
    Rule {
        id: "release-3.5.be-add-opens-udf",
        release: (3, 5),
        roles: BE_CN,
        says: "For clusters using Java UDFs, you need to add `--add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED` to the `JAVA_OPTS` configuration item in the BE configuration file be.conf.",
        judge: Judge::BeJavaOptsHold(&[
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
        ]),
        level: Level::Warning,
        fix: "if the cluster uses Java UDFs, add --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED to JAVA_OPTS in the conf",
        doc: RELEASE_3_5,
    },
    Rule {
        id: "release-3.5.low-cardinality",
        release: (3, 5),
        roles: FE,
        says: "It is recommended to upgrade the cluster to v3.4.10 or later before upgrading it to v3.5. Otherwise, you must manually disable low cardinality optimization during the gray-scale upgrade",
        judge: Judge::FromBelow(Version::new(3, 4, 10)),
        level: Level::Warning,
        fix: "upgrade to 3.4.10 or later first, or run SET GLOBAL cbo_enable_low_cardinality_optimize=false; for the mixed-version phase (sr-rehearse upgrade-settings apply does) and restore it afterwards",
        doc: RELEASE_3_5,
    },
];

/// Whether a rule of `release` applies to an upgrade from `from` to `to`.
fn applies(release: (u32, u32), from: Option<Version>, to: Version) -> bool {
    let within_to = release <= to.line();
    match from {
        Some(f) => release > f.line() && within_to,
        None => release == to.line(),
    }
}

/// Judges every rule that applies.
pub fn check(
    role: Role,
    from: Option<Version>,
    to: Version,
    conf: &ConfFile,
    jdk: Option<&JdkUsed>,
) -> Vec<Finding> {
    let opts = conf.get("JAVA_OPTS").unwrap_or_default();
    let mut out = Vec::new();
    for r in RULES
        .iter()
        .filter(|r| r.roles.contains(&role) && applies(r.release, from, to))
    {
        let (met, found) = match r.judge {
            Judge::JdkAtLeast(min) => match jdk {
                Some(j) if j.major > 0 => (
                    j.major >= min,
                    format!("JDK {} at {} ({})", j.major, j.path, j.source),
                ),
                _ => (false, "no JDK of a known version found".to_string()),
            },
            Judge::FeJavaOptsFor17 => {
                // The variable the 3.5 script hands the JDK: JAVA_OPTS, or a leftover
                // JAVA_OPTS_FOR_JDK_11, which it still prefers.
                let (var, opts) = super::java::fe_options(conf, to, 17);
                let bad = refused_options(&opts, 17);
                (
                    bad.is_empty(),
                    if bad.is_empty() {
                        format!("{var} of fe.conf holds no option JDK 17 refuses")
                    } else {
                        format!("{var} of fe.conf holds {}", bad.join(" "))
                    },
                )
            }
            Judge::FeJdkSpecificOptsIgnored => {
                let set: Vec<&str> = ["JAVA_OPTS_FOR_JDK_9", "JAVA_OPTS_FOR_JDK_11"]
                    .into_iter()
                    .filter(|k| conf.get(k).is_some())
                    .collect();
                (
                    set.is_empty(),
                    if set.is_empty() {
                        "fe.conf sets no JDK-specific options variable".into()
                    } else {
                        format!("fe.conf sets {} (start_fe.sh of 3.5 ignores JAVA_OPTS_FOR_JDK_9 and still prefers JAVA_OPTS_FOR_JDK_11 over JAVA_OPTS, with \"Warning: Configuration parameter JAVA_OPTS_FOR_JDK_11 is not supported, JAVA_OPTS is the only place to set jvm parameters\")", set.join(" and "))
                    },
                )
            }
            Judge::BeJavaOptsHold(words) => {
                let missing: Vec<&str> = words
                    .iter()
                    .copied()
                    .filter(|w| {
                        !opts
                            .split_whitespace()
                            .any(|o| o.trim_matches(['"', '\'']) == *w)
                    })
                    .collect();
                (
                    missing.is_empty(),
                    if missing.is_empty() {
                        format!(
                            "JAVA_OPTS of {} holds {}",
                            role.conf_name(),
                            words.join(" ")
                        )
                    } else {
                        format!(
                            "JAVA_OPTS of {} lacks {}",
                            role.conf_name(),
                            missing.join(" ")
                        )
                    },
                )
            }
            Judge::FromBelow(v) => match from {
                Some(f) if f >= v => (true, format!("the cluster runs {f}")),
                Some(f) => (false, format!("the cluster runs {f}, below {v}")),
                None => (
                    false,
                    format!(
                        "--from-version not given: cannot tell whether the cluster is below {v}"
                    ),
                ),
            },
        };
        // A BE or CN without a JDK still starts (only its JNI features fail): not an error.
        let soft = role != Role::Fe && jdk.is_none() && matches!(r.judge, Judge::JdkAtLeast(_));
        let level = match (met, soft) {
            (true, _) => Level::Ok,
            (false, true) => Level::Warning,
            (false, false) => r.level,
        };
        out.push(Finding {
            id: r.id.into(),
            level,
            found: format!("{found}; the notes: \"{}\"", r.says),
            fix: if met { String::new() } else { r.fix.into() },
            doc: r.doc.into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn rules_apply_to_the_releases_crossed() {
        assert!(applies((3, 5), Some(v("3.4.3")), v("3.5.0")));
        assert!(!applies((3, 5), Some(v("3.5.0")), v("3.5.2")));
        assert!(applies((3, 4), Some(v("3.3.9")), v("3.5.1")));
        assert!(!applies((3, 5), Some(v("3.3.9")), v("3.4.1")));
        assert!(applies((3, 5), None, v("3.5.1")) && !applies((3, 4), None, v("3.5.1")));
    }

    #[test]
    fn a_34_to_35_fe_with_cms_options_and_jdk_11_breaks_two_rules() {
        let conf = ConfFile::parse("JAVA_OPTS=\"-Xmx8g -XX:+UseConcMarkSweepGC -XX:+UseMembar\"\nJAVA_OPTS_FOR_JDK_9=\"-Xmx8g\"\n");
        let jdk = JdkUsed {
            path: "/opt/jdk11".into(),
            source: "test".into(),
            major: 11,
            kind: "jdk",
            has_java: true,
        };
        let f = check(Role::Fe, Some(v("3.4.3")), v("3.5.0"), &conf, Some(&jdk));
        let level = |id: &str| f.iter().find(|x| x.id == id).map(|x| x.level);
        assert_eq!(level("release-3.5.jdk-17"), Some(Level::Error));
        assert_eq!(level("release-3.5.fe-java-opts"), Some(Level::Error));
        assert_eq!(
            level("release-3.5.fe-jdk-specific-opts"),
            Some(Level::Warning)
        );
        assert_eq!(level("release-3.5.low-cardinality"), Some(Level::Warning));
        assert_eq!(level("release-3.4.jdk-11"), None, "3.4 was already crossed");
        let opts = f
            .iter()
            .find(|x| x.id == "release-3.5.fe-java-opts")
            .unwrap();
        assert!(
            opts.found.contains("-XX:+UseConcMarkSweepGC") && opts.found.contains("-XX:+UseMembar")
        );
        assert!(f
            .iter()
            .all(|x| x.doc.starts_with("https://docs.starrocks.io/")));
    }

    #[test]
    fn a_be_conf_with_the_add_opens_meets_the_35_rules() {
        let conf = ConfFile::parse("JAVA_OPTS=\"--add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED\"\n");
        let f = check(Role::Be, Some(v("3.4.10")), v("3.5.1"), &conf, None);
        let level = |id: &str| f.iter().find(|x| x.id == id).map(|x| x.level);
        assert_eq!(level("release-3.5.be-add-opens-catalogs"), Some(Level::Ok));
        assert_eq!(level("release-3.5.be-add-opens-udf"), Some(Level::Warning));
        assert_eq!(
            level("release-3.5.jdk-17"),
            Some(Level::Warning),
            "a BE without a JDK starts"
        );
        assert_eq!(level("release-3.5.low-cardinality"), None, "an FE rule");
    }
}
