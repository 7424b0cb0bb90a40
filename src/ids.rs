//! Names for what flows between the stages. A [`BinaryId`] says which test executable of a
//! package a result belongs to; it is written as cargo-xtest has always written it in reports,
//! caches and archives (`lib`, `bin/NAME`, `test/NAME`, `example/NAME`, `bench/NAME`, `doc`) and parsed back only from those.
//! [`BinaryKey`] and [`TestKey`] are the keys results are kept by, instead of tuples of strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
    pub triple: String,
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
    use super::BinaryId;

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
