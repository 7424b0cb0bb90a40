//! Names for what flows between the stages. A [`BinaryId`] says which test executable of a
//! package a result belongs to; it is written as cargo-xtest has always written it in reports,
//! caches and archives (`lib`, `bin/NAME`, `test/NAME`, `example/NAME`, `bench/NAME`, `doc`) and parsed back only from those.
//! [`BinaryKey`] and [`TestKey`] are the keys results are kept by, instead of tuples of strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A target triple (`aarch64-unknown-linux-gnu`), as rustc and cargo spell it: what results,
/// plans and reports are kept by per target. Reads as a `str` (`Deref`), compares with strings,
/// and is written as the plain string in reports, caches and archives.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Triple(String);

impl Triple {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Triple {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Triple {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Triple {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::path::Path> for Triple {
    fn as_ref(&self) -> &std::path::Path {
        self.0.as_ref()
    }
}

impl AsRef<std::ffi::OsStr> for Triple {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_ref()
    }
}

impl fmt::Display for Triple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Triple {
    fn from(s: &str) -> Triple {
        Triple(s.to_owned())
    }
}

impl From<String> for Triple {
    fn from(s: String) -> Triple {
        Triple(s)
    }
}

impl From<&String> for Triple {
    fn from(s: &String) -> Triple {
        Triple(s.clone())
    }
}

impl From<Triple> for String {
    fn from(t: Triple) -> String {
        t.0
    }
}

impl PartialEq<str> for Triple {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Triple {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Triple {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl PartialEq<Triple> for str {
    fn eq(&self, other: &Triple) -> bool {
        self == other.0
    }
}

impl PartialEq<Triple> for &str {
    fn eq(&self, other: &Triple) -> bool {
        *self == other.0
    }
}

impl PartialEq<Triple> for String {
    fn eq(&self, other: &Triple) -> bool {
        *self == other.0
    }
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

/// One test executable on one target: what results, caches, durations and "not run" are kept
/// by in the run stage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct BinaryKey {
    pub triple: Triple,
    /// cargo's package id.
    pub package_id: String,
    pub binary: BinaryId,
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
    use super::{BinaryId, Triple};

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
}
