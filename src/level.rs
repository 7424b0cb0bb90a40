//! The verification ladder: `none` < `check` < `build` < `build-tests` < `test`.
//!
//! Every stage speaks in these levels: the planner decides the highest one a target can honestly
//! reach, the build stage records the stage at which a package failed, and the report prints them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One rung of the verification ladder, ordered from weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Level {
    /// Nothing can be verified (e.g. no standard library for the target).
    None,
    /// `cargo check`: type-checks libraries and binaries.
    Check,
    /// `cargo build`: compiles and links libraries and binaries.
    Build,
    /// `cargo build --tests`: compiles and links the test executables.
    BuildTests,
    /// Runs the tests, natively or under an emulator.
    Test,
}

impl Level {
    pub(crate) const ALL: [Level; 5] = [
        Level::None,
        Level::Check,
        Level::Build,
        Level::BuildTests,
        Level::Test,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Check => "check",
            Level::Build => "build",
            Level::BuildTests => "build-tests",
            Level::Test => "test",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown level `{s}` (expected one of: none, check, build, build-tests, test)"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_round_trip() {
        assert!(Level::None < Level::Check);
        assert!(Level::Check < Level::Build);
        assert!(Level::Build < Level::BuildTests);
        assert!(Level::BuildTests < Level::Test);
        for l in Level::ALL {
            assert_eq!(l.as_str().parse::<Level>().unwrap(), l);
        }
        assert!("tests".parse::<Level>().is_err());
    }
}
