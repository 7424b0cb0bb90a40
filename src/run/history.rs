//! How long each test took last time, for scheduling. Keyed on what survives a rebuild — the
//! triple, package, binary and test name — unlike the result cache, which is keyed on the
//! binary's content and so forgets every duration at the first edit. Read once when the run
//! starts, written once when it ends (whole, then renamed into place); a missing or unreadable
//! file is an empty history. Durations never decide an outcome, only the order and grouping of
//! work, so the history is kept even with `--no-cache`.
//!
//! It also remembers each binary's listing (its test names) with the identity of what was
//! listed (the executable file and the runner): the same executable under the same runner
//! lists the same tests, so a re-run schedules its batches without starting the binary (an
//! emulator start) just to list it again.
//!
//! And how many task slots a run ended with ([`super::load`]): a run that found the machine
//! idling with one process per CPU starts the next like run with the slots it opened, and
//! plans its batches for them.

use crate::ids::BinaryKey;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{TestOutcome, TestResult};

/// Binary identity (triple, package id, binary id) → test name → microseconds (a binary of
/// thousands of sub-millisecond tests still sums to its real time).
type Durations = BTreeMap<BinaryKey, BTreeMap<String, u64>>;

/// A binary's test names as it listed them, and what was listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Listing {
    identity: String,
    names: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    /// Named for its unit: a history written in milliseconds (under `durations`) is forgotten,
    /// not misread.
    #[serde(default, rename = "micros")]
    durations: Durations,
    /// Binary identity → its last listing.
    #[serde(default)]
    listings: BTreeMap<BinaryKey, Listing>,
    /// A run's targets (and its starting and largest number of slots) → the slots it ended
    /// with ([`super::load`]).
    #[serde(default)]
    slots: BTreeMap<String, usize>,
}

pub(crate) struct History {
    path: PathBuf,
    map: Mutex<File>,
}

impl History {
    pub(crate) fn open(target_dir: &Path) -> History {
        let path = target_dir.join("xtest/durations.json");
        let map = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        History {
            path,
            map: Mutex::new(map),
        }
    }

    /// What each test of a binary took last time (empty when it never ran here).
    pub(crate) fn expected(&self, binary: &BinaryKey) -> BTreeMap<String, Duration> {
        self.last_run(binary).unwrap_or_default()
    }

    /// What each test of a binary took last time; `None` when it never ran here (a binary that
    /// ran and has no tests gives an empty map).
    pub(crate) fn last_run(&self, binary: &BinaryKey) -> Option<BTreeMap<String, Duration>> {
        self.map
            .lock()
            .expect("history")
            .durations
            .get(binary)
            .map(|tests| {
                tests
                    .iter()
                    .map(|(t, us)| (t.clone(), Duration::from_micros(*us)))
                    .collect()
            })
    }

    /// Remembers the durations of the tests that ran (not those replayed from the cache), each
    /// as it would take with a CPU of its own ([`TestResult::alone`]): a test that shared the
    /// CPUs took longer than it will when planned next time.
    pub(crate) fn record(&self, binary: &BinaryKey, tests: &[TestResult]) {
        let mut map = self.map.lock().expect("history");
        let entry = map.durations.entry(binary.clone()).or_default();
        for t in tests.iter().filter(|t| {
            !t.cached
                && matches!(
                    t.outcome,
                    TestOutcome::Passed | TestOutcome::Failed | TestOutcome::TimedOut
                )
        }) {
            entry.insert(t.name.clone(), t.alone().as_micros() as u64);
        }
    }

    /// What every test of a package's binaries on `triple` took last time, together.
    pub(crate) fn package_total(&self, lane: &crate::ids::Lane, package_id: &str) -> Duration {
        let map = self.map.lock().expect("history");
        let us: u64 = map
            .durations
            .iter()
            .filter(|(k, _)| {
                k.triple == lane.triple
                    && k.interpreted == lane.interpreted
                    && k.package_id == package_id
            })
            .flat_map(|(_, tests)| tests.values())
            .sum();
        Duration::from_micros(us)
    }

    /// The names the binary listed last time, if what is listed now (`identity`: its file
    /// and runner) is what was listed then.
    pub(crate) fn listing(&self, binary: &BinaryKey, identity: &str) -> Option<Vec<String>> {
        let map = self.map.lock().expect("history");
        let listing = map.listings.get(binary)?;
        (listing.identity == identity).then(|| listing.names.clone())
    }

    /// Remembers a binary's listing.
    pub(crate) fn remember_listing(
        &self,
        binary: &BinaryKey,
        identity: String,
        names: Vec<String>,
    ) {
        let mut map = self.map.lock().expect("history");
        map.listings
            .insert(binary.clone(), Listing { identity, names });
    }

    /// The task slots the last run of this kind (`run`: its targets and slot bounds) ended
    /// with.
    pub(crate) fn slots(&self, run: &str) -> Option<usize> {
        self.map.lock().expect("history").slots.get(run).copied()
    }

    pub(crate) fn remember_slots(&self, run: &str, slots: usize) {
        self.map
            .lock()
            .expect("history")
            .slots
            .insert(run.to_owned(), slots);
    }

    pub(crate) fn save(&self) {
        let map = self.map.lock().expect("history");
        let Ok(json) = serde_json::to_string(&*map) else {
            return;
        };
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = self
            .path
            .with_extension(format!("json.{}", std::process::id()));
        if std::fs::write(&tmp, json).is_ok() {
            let _ = std::fs::rename(&tmp, &self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::BinaryId;

    fn lib_of(triple: &str) -> BinaryKey {
        BinaryKey {
            triple: triple.into(),
            interpreted: false,
            package_id: "p 0.1.0".into(),
            binary: BinaryId::Lib,
        }
    }

    #[test]
    fn a_listing_is_remembered_for_the_same_identity_only_and_survives_a_save() {
        let dir = tempfile::tempdir().unwrap();
        let bin = lib_of("s390x-unknown-linux-gnu");
        let h = History::open(dir.path());
        assert_eq!(h.listing(&bin, "hash-a qemu-s390x"), None);
        h.remember_listing(
            &bin,
            "hash-a qemu-s390x".to_owned(),
            vec!["t1".into(), "t2".into()],
        );
        h.save();
        let h = History::open(dir.path());
        assert_eq!(
            h.listing(&bin, "hash-a qemu-s390x"),
            Some(vec!["t1".to_owned(), "t2".to_owned()])
        );
        assert_eq!(h.listing(&bin, "hash-b qemu-s390x"), None, "rebuilt");
        assert_eq!(
            h.listing(&bin, "hash-a other-runner"),
            None,
            "another runner"
        );
    }

    #[test]
    fn sub_millisecond_durations_survive_a_save_and_sum_to_their_real_total() {
        let dir = tempfile::tempdir().unwrap();
        let bin = lib_of("x86_64-unknown-linux-gnu");
        let h = History::open(dir.path());
        let tests: Vec<TestResult> = (0..1000)
            .map(|i| {
                TestResult::new(
                    format!("t{i}"),
                    TestOutcome::Passed,
                    Duration::from_micros(95),
                )
            })
            .collect();
        h.record(&bin, &tests);
        h.save();
        let h = History::open(dir.path());
        assert_eq!(h.expected(&bin)["t7"], Duration::from_micros(95));
        assert_eq!(
            h.package_total(
                &crate::ids::Lane::native("x86_64-unknown-linux-gnu"),
                "p 0.1.0"
            ),
            Duration::from_micros(95_000)
        );
    }

    /// Miri takes 10-1000 times what a native run takes: a triple's interpreted lane keeps
    /// its own durations, which plan neither its native lane's batches nor its budget.
    #[test]
    fn an_interpreted_lane_keeps_its_own_durations() {
        let dir = tempfile::tempdir().unwrap();
        let native = lib_of("x86_64-pc-windows-msvc");
        let interpreted = BinaryKey {
            interpreted: true,
            ..native.clone()
        };
        let h = History::open(dir.path());
        let ran = |ms| {
            vec![TestResult::new(
                "t".into(),
                TestOutcome::Passed,
                Duration::from_millis(ms),
            )]
        };
        h.record(&native, &ran(2));
        h.record(&interpreted, &ran(900));
        h.save();
        let h = History::open(dir.path());
        assert_eq!(h.expected(&native)["t"], Duration::from_millis(2));
        assert_eq!(h.expected(&interpreted)["t"], Duration::from_millis(900));
        let lane = |interpreted| crate::ids::Lane {
            triple: "x86_64-pc-windows-msvc".into(),
            interpreted,
        };
        assert_eq!(
            h.package_total(&lane(false), "p 0.1.0"),
            Duration::from_millis(2)
        );
        assert_eq!(
            h.package_total(&lane(true), "p 0.1.0"),
            Duration::from_millis(900)
        );
    }

    #[test]
    fn a_test_that_shared_the_cpus_is_remembered_at_its_cpu_time_and_only_such_a_test() {
        let dir = tempfile::tempdir().unwrap();
        let bin = lib_of("aarch64-unknown-linux-gnu");
        let h = History::open(dir.path());
        let secs = Duration::from_secs;
        let test = |name: &str, wall, cpu, shared| TestResult {
            cpu: Some(secs(cpu)),
            shared,
            ..TestResult::new(name.to_owned(), TestOutcome::Passed, secs(wall))
        };
        h.record(
            &bin,
            &[
                // Ran a third of the time on a CPU it shared with two others.
                test("shared", 93, 62, true),
                // Its process had more than one thread busy.
                test("threads", 10, 18, true),
                // Waited, not computed, with a CPU of its own: its wall time is what it takes.
                test("sleeps", 60, 1, false),
            ],
        );
        let got = h.expected(&bin);
        assert_eq!(got["shared"], secs(62));
        assert_eq!(got["threads"], secs(10));
        assert_eq!(got["sleeps"], secs(60));
    }
}
