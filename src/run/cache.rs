//! The test-result cache: a test that passed (or was ignored) is not run again while nothing it
//! depends on changed.
//!
//! What a test reads cannot be known, so the key is wide. A binary's key hashes:
//! - the test executable's content (which embeds every dependency's code),
//! - the runner command, its environment and the test's (cargo's variables, `[env]`, the build
//!   script's `OUT_DIR` and `rustc-env`), the variables that change how tests run under a runner
//!   (`QEMU_*`, `RUST_TEST_*`, `RUST_MIN_STACK`) and the triple,
//! - every file of the package's directory (sources, fixtures, data the tests read),
//! - every other file of the workspace but Rust sources (`*.rs`; what they compile to is in the
//!   executables): a test reading `../fixtures/value.txt` sees its change.
//!
//! Doctests key on the same files, the package's library and test binaries on that triple, the
//! runner and the cargo flags. Outside the key, and so able to go stale: files outside the
//! workspace root, the contents of hidden directories (`.git`, `.cargo`: cargo's `[env]` reaches
//! the key as the test's environment) and of directories named `target`, the files this run
//! writes (`--report`, `--junit`, `--markdown`, `--full-output`), another package's Rust source
//! read as data at run time, other environment variables, the clock and the network.
//!
//! Content hashes are remembered by (size, mtime) so an unchanged file is not read again.
//! Entries live under `<target-dir>/xtest/cache/`; `--no-cache` neither reads nor writes them,
//! and under `CI=true` they are neither read nor written unless `--cache` asks.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::{TestOutcome, TestResult};

/// One test's cached result; `None` means "run it again" (it failed last time).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct CachedTest {
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
pub(crate) struct Cache {
    dir: PathBuf,
    enabled: bool,
    /// The workspace root and the paths this run writes (never part of a key).
    scope: CacheScope,
    memo: Mutex<HashMemo>,
    sources: Mutex<HashMap<PathBuf, String>>,
    workspace: std::sync::OnceLock<String>,
}

/// What the cache keys on beyond the executables: the workspace's files, less what this run
/// writes itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct CacheScope {
    pub workspace_root: PathBuf,
    /// Files and directories this run writes (reports, `--full-output`): a report written into
    /// the workspace must not change the next run's key.
    pub exclude: Vec<PathBuf>,
}

/// Environment variables that change how a test behaves under a runner.
const ENV_PREFIXES: &[&str] = &["QEMU_", "RUST_TEST_", "RUST_MIN_STACK"];

impl Cache {
    /// The cache under `target_dir`; `None` for a run that neither replays nor records.
    pub(crate) fn open(target_dir: &Path, scope: Option<&CacheScope>) -> Cache {
        let enabled = scope.is_some();
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
            scope: scope.cloned().unwrap_or_default(),
            memo: Mutex::new(memo),
            sources: Mutex::new(HashMap::new()),
            workspace: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// blake3 of a file's content, remembered by (size, mtime).
    pub(crate) fn file_hash(&self, path: &Path) -> std::io::Result<String> {
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
    pub(crate) fn source_hash(&self, dir: &Path) -> String {
        if let Some(h) = self.sources.lock().expect("sources").get(dir) {
            return h.clone();
        }
        let h = self.files_hash(dir, |_| true);
        self.sources
            .lock()
            .expect("sources")
            .insert(dir.to_owned(), h.clone());
        h
    }

    /// A hash of the workspace's files but Rust sources (computed once per run).
    pub(crate) fn workspace_hash(&self) -> String {
        self.workspace
            .get_or_init(|| {
                self.files_hash(&self.scope.workspace_root, |rel| {
                    rel.extension().is_none_or(|e| e != "rs")
                })
            })
            .clone()
    }

    fn files_hash(&self, dir: &Path, keep: impl Fn(&Path) -> bool) -> String {
        let mut files = Vec::new();
        collect_files(dir, dir, &self.scope.exclude, &mut files);
        files.retain(|f| keep(f));
        files.sort();
        let mut hasher = blake3::Hasher::new();
        for rel in &files {
            hasher.update(rel.to_string_lossy().as_bytes());
            hasher.update(&[0]);
            let content = self.file_hash(&dir.join(rel)).unwrap_or_default();
            hasher.update(content.as_bytes());
        }
        hasher.finalize().to_hex().to_string()
    }

    /// A key from the given parts plus the relevant environment.
    pub(crate) fn key(&self, parts: &[&str]) -> String {
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

    pub(crate) fn load(&self, key: &str) -> Option<Vec<CachedTest>> {
        if !self.enabled {
            return None;
        }
        let text = std::fs::read_to_string(self.dir.join(format!("{key}.json"))).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Records a finished run of every test under `key`; only passed and ignored results are
    /// reusable, the rest are stored as "run again".
    pub(crate) fn store(&self, key: &str, tests: &[TestResult]) {
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
    pub(crate) fn save(&self) {
        if !self.enabled {
            return;
        }
        let _ = std::fs::create_dir_all(&self.dir);
        if let Ok(json) = serde_json::to_string(&*self.memo.lock().expect("memo")) {
            let _ = crate::fsutil::write_atomic(&self.dir.join("hashes.json"), json.as_bytes());
        }
    }
}

fn collect_files(root: &Path, dir: &Path, exclude: &[PathBuf], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let Ok(kind) = e.file_type() else { continue };
        if exclude.iter().any(|x| *x == e.path()) {
            continue;
        }
        if kind.is_dir() {
            if name == "target" || name.starts_with('.') {
                continue;
            }
            collect_files(root, &e.path(), exclude, out);
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
        let h1 = Cache::open(dir.path(), Some(&CacheScope::default())).source_hash(dir.path());
        std::fs::write(dir.path().join("target/junk"), "y").unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "a").unwrap();
        assert_eq!(
            Cache::open(dir.path(), Some(&CacheScope::default())).source_hash(dir.path()),
            h1,
            "target/ and rewrites of the same content do not count"
        );
        std::fs::write(dir.path().join("src/data.txt"), "fixture").unwrap();
        assert_ne!(
            Cache::open(dir.path(), Some(&CacheScope::default())).source_hash(dir.path()),
            h1,
            "a new fixture file counts"
        );
    }

    #[test]
    fn the_workspace_key_sees_data_files_anywhere_but_not_rust_sources_or_this_runs_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["fixtures", "a/src", "b/src"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("fixtures/value.txt"), "1").unwrap();
        std::fs::write(root.join("b/src/lib.rs"), "fn b() {}").unwrap();
        let scope = CacheScope {
            workspace_root: root.to_owned(),
            exclude: vec![root.join("report.json")],
        };
        let hash = || Cache::open(&root.join("target"), Some(&scope)).workspace_hash();
        let h1 = hash();
        std::fs::write(root.join("b/src/lib.rs"), "fn b() { changed() }").unwrap();
        std::fs::write(root.join("report.json"), "{}").unwrap();
        assert_eq!(
            hash(),
            h1,
            "Rust sources and this run's report are not data"
        );
        std::fs::write(root.join("fixtures/value.txt"), "2").unwrap();
        assert_ne!(hash(), h1, "a data file outside the package counts");
    }

    #[test]
    fn only_passed_and_ignored_are_reusable_and_disabled_cache_is_inert() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path(), Some(&CacheScope::default()));
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
        let off = Cache::open(dir.path(), None);
        assert!(off.load(&key).is_none());
    }
}
