//! The test-result cache: a test that passed (or was ignored) is not run again while nothing it
//! depends on changed.
//!
//! A binary's key hashes the test binary's content, the runner command and its environment, the
//! relevant environment variables (`QEMU_*`, `RUST_TEST_*`, `RUST_MIN_STACK`), the triple, and
//! every file of the package's directory (sources, fixtures, data the tests read). Doctests key on
//! the package's files, its library and test binaries on that triple (which embed every
//! dependency), the runner and the cargo flags. Content hashes of large files are remembered by
//! (size, mtime) so an unchanged binary is not read again. Entries live under
//! `<target-dir>/xtest/cache/`; `--no-cache` neither reads nor writes them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::{TestOutcome, TestResult};

/// One test's cached result; `None` means "run it again" (it failed last time).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CachedTest {
    pub name: String,
    pub outcome: Option<TestOutcome>,
    pub duration_ms: u64,
    pub reason: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct HashMemo {
    /// path → (size, mtime in ns, blake3 hex)
    files: HashMap<PathBuf, (u64, u128, String)>,
}

#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    enabled: bool,
    memo: Mutex<HashMemo>,
    sources: Mutex<HashMap<PathBuf, String>>,
}

/// Environment variables that change how a test behaves under a runner.
const ENV_PREFIXES: &[&str] = &["QEMU_", "RUST_TEST_", "RUST_MIN_STACK"];

impl Cache {
    pub fn open(target_dir: &Path, enabled: bool) -> Cache {
        let dir = target_dir.join("xtest/cache");
        let memo = if enabled {
            std::fs::read_to_string(dir.join("hashes.json"))
                .ok()
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default()
        } else {
            HashMemo::default()
        };
        Cache {
            dir,
            enabled,
            memo: Mutex::new(memo),
            sources: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// blake3 of a file's content, remembered by (size, mtime).
    pub fn file_hash(&self, path: &Path) -> std::io::Result<String> {
        let meta = std::fs::metadata(path)?;
        let mtime = meta
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        if let Some((size, m, h)) = self.memo.lock().expect("memo").files.get(path)
            && *size == meta.len()
            && *m == mtime
        {
            return Ok(h.clone());
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(std::fs::File::open(path)?)?;
        let hash = hasher.finalize().to_hex().to_string();
        self.memo
            .lock()
            .expect("memo")
            .files
            .insert(path.to_owned(), (meta.len(), mtime, hash.clone()));
        Ok(hash)
    }

    /// A hash of every file under `dir` (relative paths and contents), skipping `target` and
    /// hidden directories.
    pub fn source_hash(&self, dir: &Path) -> String {
        if let Some(h) = self.sources.lock().expect("sources").get(dir) {
            return h.clone();
        }
        let mut files = Vec::new();
        collect_files(dir, dir, &mut files);
        files.sort();
        let mut hasher = blake3::Hasher::new();
        for rel in &files {
            hasher.update(rel.to_string_lossy().as_bytes());
            hasher.update(&[0]);
            let content = self.file_hash(&dir.join(rel)).unwrap_or_default();
            hasher.update(content.as_bytes());
        }
        let h = hasher.finalize().to_hex().to_string();
        self.sources
            .lock()
            .expect("sources")
            .insert(dir.to_owned(), h.clone());
        h
    }

    /// A key from the given parts plus the relevant environment.
    pub fn key(&self, parts: &[&str]) -> String {
        let mut hasher = blake3::Hasher::new();
        for p in parts {
            hasher.update(p.as_bytes());
            hasher.update(&[0]);
        }
        let mut env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| ENV_PREFIXES.iter().any(|p| k.starts_with(p)))
            .collect();
        env.sort();
        for (k, v) in env {
            hasher.update(format!("{k}={v}\0").as_bytes());
        }
        hasher.finalize().to_hex().to_string()
    }

    pub fn load(&self, key: &str) -> Option<Vec<CachedTest>> {
        if !self.enabled {
            return None;
        }
        let text = std::fs::read_to_string(self.dir.join(format!("{key}.json"))).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Records a finished run of every test under `key`; only passed and ignored results are
    /// reusable, the rest are stored as "run again".
    pub fn store(&self, key: &str, tests: &[TestResult]) {
        if !self.enabled {
            return;
        }
        let entries: Vec<CachedTest> = tests
            .iter()
            .map(|t| CachedTest {
                name: t.name.clone(),
                outcome: matches!(t.outcome, TestOutcome::Passed | TestOutcome::Ignored)
                    .then_some(t.outcome)
                    .filter(|_| !t.flaky),
                duration_ms: t.duration.as_millis() as u64,
                reason: t.reason.clone(),
            })
            .collect();
        let _ = std::fs::create_dir_all(&self.dir);
        if let Ok(json) = serde_json::to_string(&entries) {
            let _ =
                crate::fsutil::write_atomic(&self.dir.join(format!("{key}.json")), json.as_bytes());
        }
    }

    /// Persists the content-hash memo.
    pub fn save(&self) {
        if !self.enabled {
            return;
        }
        let _ = std::fs::create_dir_all(&self.dir);
        if let Ok(json) = serde_json::to_string(&*self.memo.lock().expect("memo")) {
            let _ = crate::fsutil::write_atomic(&self.dir.join("hashes.json"), json.as_bytes());
        }
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            if name == "target" || name.starts_with('.') {
                continue;
            }
            collect_files(root, &e.path(), out);
        } else if kind.is_file()
            && let Ok(rel) = e.path().strip_prefix(root)
        {
            out.push(rel.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn result(name: &str, outcome: TestOutcome) -> TestResult {
        TestResult::new(name.into(), outcome, Duration::from_millis(5))
    }

    #[test]
    fn source_hash_follows_content_not_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::create_dir_all(dir.path().join("target")).unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "a").unwrap();
        std::fs::write(dir.path().join("target/junk"), "x").unwrap();
        let h1 = Cache::open(dir.path(), true).source_hash(dir.path());
        std::fs::write(dir.path().join("target/junk"), "y").unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "a").unwrap();
        assert_eq!(
            Cache::open(dir.path(), true).source_hash(dir.path()),
            h1,
            "target/ and rewrites of the same content do not count"
        );
        std::fs::write(dir.path().join("src/data.txt"), "fixture").unwrap();
        assert_ne!(
            Cache::open(dir.path(), true).source_hash(dir.path()),
            h1,
            "a new fixture file counts"
        );
    }

    #[test]
    fn only_passed_and_ignored_are_reusable_and_disabled_cache_is_inert() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), true);
        let key = cache.key(&["bin", "runner"]);
        cache.store(
            &key,
            &[
                result("a", TestOutcome::Passed),
                result("b", TestOutcome::Failed),
                result("c", TestOutcome::Ignored),
            ],
        );
        let got = cache.load(&key).unwrap();
        assert_eq!(
            got.iter().map(|t| t.outcome).collect::<Vec<_>>(),
            [Some(TestOutcome::Passed), None, Some(TestOutcome::Ignored)]
        );
        assert_ne!(key, cache.key(&["bin", "other runner"]));
        let off = Cache::open(dir.path(), false);
        assert!(off.load(&key).is_none());
    }
}
