//! StarRocks release versions and what changes with them.
//!
//! Almost every behaviour the tool depends on moved between releases: the log line format, which
//! recovery key is honoured, whether `cluster_id` in fe.conf is checked, which image meta versions
//! load. The facts both the tool and the simulator act on are methods of `Version` here, so the two
//! agree on them; what only a simulated server needs lives in `starrocks-sim`'s `release` module.
//! The boundaries come from the reference notes' version matrix; patch-level boundaries are kept
//! where the notes give them (3.1.10, 3.2.5).

use std::fmt;
use std::str::FromStr;

/// A StarRocks release, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid StarRocks version `{0}`: expected MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 3.3.2")]
pub struct ParseVersionError(pub String);

/// Why a release refuses an image: the wording of `MetaContext`/`ImageLoader` in that release
/// (the 2.x spelling mistakes are StarRocks').
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaVersionError {
    /// 3.1 and later.
    #[error("Not compatible with meta version {meta}, current version is {code}")]
    NotCompatible { meta: u32, code: u32 },
    /// Before 3.1.
    #[error("invalid meta data version found, cat not bigger than FeConstants.meta_version.please update FeConstants.meta_version bigger or equal to {meta} and restart.")]
    TooNew { meta: u32 },
}

impl FromStr for Version {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Accept the forms StarRocks prints too: `3.2.1-79ee91d`, `3.3.14-ee-5b29ea9`, `v3.3`.
        let core = s.trim().trim_start_matches('v');
        let core = core.split('-').next().unwrap_or("");
        let parts: Vec<&str> = core.split('.').collect();
        let bad = || ParseVersionError(s.to_string());
        if parts.len() < 2 || parts.len() > 3 {
            return Err(bad());
        }
        let num = |p: &str| p.parse::<u32>().map_err(|_| bad());
        Ok(Version {
            major: num(parts[0])?,
            minor: num(parts[1])?,
            patch: if parts.len() == 3 { num(parts[2])? } else { 0 },
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Written as `3.3.2` in JSON (the simulator's release files, the reports).
impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A version as an operator asks for it: `3.3` means any 3.3.x, `3.3.1` exactly that patch.
///
/// Kept apart from [`Version`] because `3.3` and `3.3.0` ask different things, and because release
/// strings must be compared as numbers: `3.3.1` is not a prefix match for `3.3.10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionReq {
    pub major: u32,
    pub minor: u32,
    pub patch: Option<u32>,
}

impl VersionReq {
    /// Whether `v` is a release this request accepts.
    pub fn matches(&self, v: Version) -> bool {
        (v.major, v.minor) == (self.major, self.minor) && self.patch.is_none_or(|p| p == v.patch)
    }

    /// Whether a version string as StarRocks reports it (`3.3.10-ee-5b29ea9`) is one this request
    /// accepts; an unparsable string never is.
    pub fn matches_reported(&self, reported: &str) -> bool {
        reported.parse::<Version>().is_ok_and(|v| self.matches(v))
    }

    /// The lowest release the request accepts, for the facts that change with the version.
    pub fn lowest(&self) -> Version {
        Version::new(self.major, self.minor, self.patch.unwrap_or(0))
    }
}

impl FromStr for VersionReq {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v: Version = s.parse()?;
        let core = s.trim().trim_start_matches('v');
        let core = core.split('-').next().unwrap_or("");
        Ok(VersionReq {
            major: v.major,
            minor: v.minor,
            patch: (core.split('.').count() == 3).then_some(v.patch),
        })
    }
}

impl fmt::Display for VersionReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.patch {
            Some(p) => write!(f, "{}.{}.{p}", self.major, self.minor),
            None => write!(f, "{}.{}.x", self.major, self.minor),
        }
    }
}

/// Whether a version string StarRocks reports (`SHOW BACKENDS` `Version`, `feVersion`) is exactly
/// the release `expected` (as `starrocks_be --version` prints it, `3.3.5-6d81f75`, or bare
/// `3.3.5`). The numbers are compared as numbers because a prefix test would let `3.3.1` pass for
/// `3.3.10-…`; the build suffix is compared too when both strings carry one, because two builds of
/// one release (`3.3.5-6d81f75`, `3.3.5-ee-5b29ea9`) are different binaries.
pub fn reported_is(reported: &str, expected: &str) -> bool {
    let split = |s: &str| -> (Result<Version, ParseVersionError>, Option<String>) {
        let s = s.trim();
        match s.split_once('-') {
            Some((v, build)) => (v.parse(), Some(build.to_string())),
            None => (s.parse(), None),
        }
    };
    let (Ok(rv), rb) = split(reported) else {
        return false;
    };
    let (Ok(ev), eb) = split(expected) else {
        return false;
    };
    rv == ev
        && match (rb, eb) {
            (Some(r), Some(e)) => r == e,
            _ => true,
        }
}

/// Which name of the election-group reset flag a release reads from fe.conf.
pub const KEY_OLD_RECOVERY: &str = "metadata_failure_recovery";
pub const KEY_NEW_RECOVERY: &str = "bdbje_reset_election_group";

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Whether this release is `major.minor` or later.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// `major.minor`, the release line.
    pub fn line(&self) -> (u32, u32) {
        (self.major, self.minor)
    }

    /// `FE started successfully` is logged from 3.1 on.
    pub fn logs_fe_started_successfully(&self) -> bool {
        self.at_least(3, 1)
    }

    /// The StarRocks meta version this release writes in its image header.
    pub fn meta_version_written(&self) -> u32 {
        if self.at_least(3, 1) {
            4
        } else {
            3
        }
    }

    /// Whether an image written with `meta` loads on this release, and StarRocks' message when it
    /// does not.
    pub fn check_meta_version(&self, meta: u32) -> Result<(), MetaVersionError> {
        let code = self.meta_version_written();
        let refused = if self.at_least(3, 3) {
            meta != code
        } else {
            meta > code
        };
        match (refused, self.at_least(3, 1)) {
            (false, _) => Ok(()),
            (true, true) => Err(MetaVersionError::NotCompatible { meta, code }),
            (true, false) => Err(MetaVersionError::TooNew { meta }),
        }
    }

    /// The JDK major versions start_fe.sh accepts, as (minimum, refused range inside).
    pub fn fe_min_jdk(&self) -> u32 {
        if self.at_least(3, 5) {
            17
        } else if self.at_least(3, 4) {
            11
        } else {
            8
        }
    }

    /// stop_be.sh gained `-g` in 3.0 and `--timeout` in 3.4.
    pub fn stop_be_has_graceful(&self) -> bool {
        self.at_least(3, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn parses_release_forms() {
        assert_eq!(v("3.2.1-79ee91d"), Version::new(3, 2, 1));
        assert_eq!(v("v3.3"), Version::new(3, 3, 0));
        assert_eq!(v("3.3.14-ee-5b29ea9"), Version::new(3, 3, 14));
        assert!("3".parse::<Version>().is_err());
        assert!("3.x".parse::<Version>().is_err());
    }

    #[test]
    fn meta_version_rules() {
        assert!(v("3.2.0").check_meta_version(3).is_ok());
        assert_eq!(
            v("3.3.0").check_meta_version(3).unwrap_err().to_string(),
            "Not compatible with meta version 3, current version is 4"
        );
        assert!(v("2.5.0").check_meta_version(4).is_err());
        assert!(v("3.5.0").check_meta_version(4).is_ok());
    }

    #[test]
    fn requests_match_by_number_never_by_prefix() {
        let line: VersionReq = "3.3".parse().unwrap();
        assert!(line.matches(v("3.3.0")) && line.matches(v("3.3.14")));
        assert!(!line.matches(v("3.4.0")) && !line.matches(v("3.30.1")));
        assert!(line.matches_reported("3.3.10-ee-5b29ea9"));
        assert_eq!(line.to_string(), "3.3.x");
        let exact: VersionReq = "v3.3.1".parse().unwrap();
        assert_eq!(exact.patch, Some(1));
        assert!(exact.matches(v("3.3.1")));
        assert!(!exact.matches(v("3.3.10")) && !exact.matches_reported("3.3.10-5b29ea9"));
        assert!(exact.matches_reported("3.3.1-79ee91d"));
        assert!(!exact.matches_reported("garbage"));
        assert!("3".parse::<VersionReq>().is_err());
    }

    #[test]
    fn a_reported_version_is_the_expected_release_only_exactly() {
        assert!(reported_is("3.3.1-79ee91d", "3.3.1"));
        assert!(reported_is("3.3.1-abc1234", "3.3.1-abc1234"));
        assert!(!reported_is("3.3.10-79ee91d", "3.3.1"));
        assert!(!reported_is("3.3.10-abc1234", "3.3.1-abc1234"));
        // Another build of the same release is not the build that was installed.
        assert!(!reported_is("3.3.1-def5678", "3.3.1-abc1234"));
        assert!(!reported_is("3.3.14-ee-5b29ea9", "3.3.14-5b29ea9"));
        assert!(!reported_is("", ""));
        assert!(!reported_is("garbage", "3.3.1"));
    }
}
