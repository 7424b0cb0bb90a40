//! Names for what flows between the stages. A [`BinaryId`] says which test executable of a
//! package a result belongs to; it is written as cargo-xtest has always written it in reports,
//! caches and archives (`lib`, `bin/NAME`, `test/NAME`, `example/NAME`, `bench/NAME`, `doc`) and parsed back only from those.
//! [`BinaryKey`] and [`TestKey`] are the keys results are kept by, instead of tuples of strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Defines a name that is a string underneath: it reads as a `str` (`Deref`), compares with
/// strings, and is written as the plain string in reports, caches and archives.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub(crate) struct $name(String);

        impl $name {
            pub(crate) fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<std::path::Path> for $name {
            fn as_ref(&self) -> &std::path::Path {
                self.0.as_ref()
            }
        }

        impl AsRef<std::ffi::OsStr> for $name {
            fn as_ref(&self) -> &std::ffi::OsStr {
                self.0.as_ref()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> $name {
                $name(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> $name {
                $name(s)
            }
        }

        impl From<&String> for $name {
            fn from(s: &String) -> $name {
                $name(s.clone())
            }
        }

        impl From<$name> for String {
            fn from(t: $name) -> String {
                t.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

string_id! {
    /// A target triple (`aarch64-unknown-linux-gnu`), as rustc and cargo spell it: what results,
    /// plans and reports are kept by per target.
    Triple
}

string_id! {
    /// cargo's id of a package (`path+file:///w/crates/a#0.1.0`), as `cargo metadata` and the
    /// build's JSON messages give it: what a package's results are kept by within a run. Reports
    /// name packages by name, which is unique in a workspace.
    PackageId
}

/// One test executable of a package. The variants are declared in the order of their written
/// form, so sorting by id sorts as the text does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum BinaryId {
    /// A bench target built as a test because it sets `test = true` (`bench/NAME`).
    Bench(String),
    /// A binary target's unit tests (`bin/NAME`).
    Bin(String),
    /// The package's doctests, compiled and run by `cargo test --doc` (`doc`).
    Doc,
    /// An example built as a test because it sets `test = true` (`example/NAME`).
    Example(String),
    /// The library's unit tests (`lib`).
    Lib,
    /// An integration test, `tests/NAME.rs` (`test/NAME`).
    Test(String),
}

impl BinaryId {
    /// An integration test: cargo gives it `CARGO_BIN_EXE_<name>` for the package's binaries.
    pub(crate) fn is_integration_test(&self) -> bool {
        matches!(self, BinaryId::Test(_) | BinaryId::Bench(_))
    }
}

/// One way a run verifies a target: natively (built for it, run by its runner) or interpreted
/// (built by cargo-miri, run by Miri). A run can verify one triple both ways, side by side.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Lane {
    pub triple: Triple,
    pub interpreted: bool,
}

impl Lane {
    pub(crate) fn native(triple: impl Into<Triple>) -> Self {
        Lane {
            triple: triple.into(),
            interpreted: false,
        }
    }
}

/// The triple, followed by ` (miri)` for the interpreted lane.
impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.triple)?;
        if self.interpreted {
            f.write_str(" (miri)")?;
        }
        Ok(())
    }
}

/// One test executable on one target: what results, caches, durations and "not run" are kept
/// by in the run stage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct BinaryKey {
    pub triple: Triple,
    /// Built by cargo-miri and interpreted by Miri: the interpreted lane of `triple`, which a
    /// run can verify beside its native one.
    pub interpreted: bool,
    pub package_id: PackageId,
    pub binary: BinaryId,
}

/// Written `TRIPLE PACKAGE-ID BINARY` (a package id of cargo's old form holds spaces, a triple
/// and a binary id none), as the scheduling history keeps it; an interpreted lane's triple is
/// written `TRIPLE+miri`.
impl fmt::Display for BinaryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lane = if self.interpreted { MIRI_LANE } else { "" };
        write!(
            f,
            "{}{lane} {} {}",
            self.triple, self.package_id, self.binary
        )
    }
}

/// What follows the triple of an interpreted lane in a [`BinaryKey`]'s text.
const MIRI_LANE: &str = "+miri";

impl FromStr for BinaryKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not `TRIPLE PACKAGE-ID BINARY`");
        let (triple, rest) = s.split_once(' ').ok_or_else(bad)?;
        let (package_id, binary) = rest.rsplit_once(' ').ok_or_else(bad)?;
        let (triple, interpreted) = match triple.strip_suffix(MIRI_LANE) {
            Some(t) => (t, true),
            None => (triple, false),
        };
        if triple.is_empty() || package_id.is_empty() {
            return Err(bad());
        }
        Ok(BinaryKey {
            triple: triple.into(),
            interpreted,
            package_id: package_id.into(),
            binary: binary.parse()?,
        })
    }
}

impl Serialize for BinaryKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BinaryKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One test as a report names it, within one target: package name, binary, test name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TestKey {
    pub package: String,
    pub binary: BinaryId,
    pub test: String,
}

impl fmt::Display for TestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.package, self.binary, self.test)
    }
}

impl fmt::Display for BinaryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BinaryId::Lib => f.write_str("lib"),
            BinaryId::Doc => f.write_str("doc"),
            BinaryId::Bin(name) => write!(f, "bin/{name}"),
            BinaryId::Test(name) => write!(f, "test/{name}"),
            BinaryId::Example(name) => write!(f, "example/{name}"),
            BinaryId::Bench(name) => write!(f, "bench/{name}"),
        }
    }
}

impl FromStr for BinaryId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let named = |name: &str, make: fn(String) -> BinaryId| {
            if name.is_empty() || name.contains(['/', '\0']) {
                Err(format!(
                    "`{s}` is not a test binary id (a target name is missing or has a `/`)"
                ))
            } else {
                Ok(make(name.to_owned()))
            }
        };
        match s {
            "lib" => Ok(BinaryId::Lib),
            "doc" => Ok(BinaryId::Doc),
            _ => {
                if let Some(name) = s.strip_prefix("bin/") {
                    named(name, BinaryId::Bin)
                } else if let Some(name) = s.strip_prefix("test/") {
                    named(name, BinaryId::Test)
                } else if let Some(name) = s.strip_prefix("example/") {
                    named(name, BinaryId::Example)
                } else if let Some(name) = s.strip_prefix("bench/") {
                    named(name, BinaryId::Bench)
                } else {
                    Err(format!(
                        "`{s}` is not a test binary id (`lib`, `bin/NAME`, `test/NAME`, `example/NAME`, `bench/NAME` or `doc`)"
                    ))
                }
            }
        }
    }
}

impl Serialize for BinaryId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BinaryId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::{BinaryId, BinaryKey, Triple};

    #[test]
    fn a_triple_is_written_and_compared_as_its_string() {
        let t = Triple::from("s390x-unknown-linux-gnu");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"s390x-unknown-linux-gnu\""
        );
        assert_eq!(
            serde_json::from_str::<Triple>("\"s390x-unknown-linux-gnu\"").unwrap(),
            t
        );
        let name = String::from("s390x-unknown-linux-gnu");
        assert!(t == name.as_str());
        assert!(name == t);
        assert!(t.starts_with("s390x"));
        assert_eq!(format!("{t}"), "s390x-unknown-linux-gnu");
    }

    #[test]
    fn ids_round_trip_and_sort_as_their_text() {
        let mut ids: Vec<BinaryId> = [
            "test/a",
            "lib",
            "doc",
            "bin/z",
            "bin/a",
            "test/b",
            "example/e",
            "bench/b",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        for id in &ids {
            assert_eq!(id.to_string().parse::<BinaryId>().unwrap(), *id);
        }
        let mut texts: Vec<String> = ids.iter().map(ToString::to_string).collect();
        ids.sort();
        texts.sort();
        assert_eq!(
            ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
            texts
        );
        for bad in ["", "benches/x", "test/", "example/", "bin/a/b", "libs"] {
            assert!(bad.parse::<BinaryId>().is_err(), "{bad}");
        }
    }

    /// The history's keys: the same text as before they were typed, and package ids of both
    /// of cargo's forms (the old one holds spaces) read back.
    #[test]
    fn binary_keys_round_trip_as_the_historys_text() {
        for text in [
            "s390x-unknown-linux-gnu path+file:///w/a#0.1.0 test/it",
            "s390x-unknown-linux-gnu a 0.1.0 (path+file:///w/a) lib",
            "s390x-unknown-linux-gnu+miri a 0.1.0 (path+file:///w/a) lib",
        ] {
            let key: BinaryKey = text.parse().unwrap();
            assert_eq!(key.interpreted, text.contains("+miri"));
            assert_eq!(key.triple, "s390x-unknown-linux-gnu", "{text}");
            assert_eq!(key.to_string(), text);
            assert_eq!(serde_json::to_string(&key).unwrap(), format!("\"{text}\""));
        }
        let key: BinaryKey = "t a 0.1.0 (p) bin/x".parse().unwrap();
        assert_eq!(key.package_id, "a 0.1.0 (p)");
        assert_eq!(key.binary, BinaryId::Bin("x".into()));
        for bad in ["", "t lib", "t p nope", " p lib", "+miri p lib"] {
            assert!(bad.parse::<BinaryKey>().is_err(), "{bad}");
        }
    }
}
