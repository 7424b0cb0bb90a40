//! How long each test took last time, for scheduling. Keyed on what survives a rebuild — the
//! triple, package, binary and test name — unlike the result cache, which is keyed on the
//! binary's content and so forgets every duration at the first edit. Read once when the run
//! starts, written once when it ends (whole, then renamed into place); a missing or unreadable
//! file is an empty history. Durations never decide an outcome, only the order and grouping of
//! work, so the history is kept even with `--no-cache`.

use crate::ids::BinaryKey;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::{TestOutcome, TestResult};

/// Binary identity (triple, package id, binary id) → test name → milliseconds.
type Durations = BTreeMap<String, BTreeMap<String, u64>>;

pub struct History {
    path: PathBuf,
    map: Mutex<Durations>,
}

fn key(binary: &BinaryKey) -> String {
    format!("{} {} {}", binary.triple, binary.package_id, binary.binary)
}

impl History {
    pub fn open(target_dir: &Path) -> History {
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
    pub fn expected(&self, binary: &BinaryKey) -> BTreeMap<String, Duration> {
        self.last_run(binary).unwrap_or_default()
    }

    /// What each test of a binary took last time; `None` when it never ran here (a binary that
    /// ran and has no tests gives an empty map).
    pub fn last_run(&self, binary: &BinaryKey) -> Option<BTreeMap<String, Duration>> {
        self.map
            .lock()
            .expect("history")
            .get(&key(binary))
            .map(|tests| {
                tests
                    .iter()
                    .map(|(t, ms)| (t.clone(), Duration::from_millis(*ms)))
                    .collect()
            })
    }

    /// Remembers the durations of the tests that ran (not those replayed from the cache).
    pub fn record(&self, binary: &BinaryKey, tests: &[TestResult]) {
        let mut map = self.map.lock().expect("history");
        let entry = map.entry(key(binary)).or_default();
        for t in tests.iter().filter(|t| {
            !t.cached
                && matches!(
                    t.outcome,
                    TestOutcome::Passed | TestOutcome::Failed | TestOutcome::TimedOut
                )
        }) {
            entry.insert(t.name.clone(), t.duration.as_millis() as u64);
        }
    }

    pub fn save(&self) {
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
