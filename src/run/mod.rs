//! Stage 4, run: executes the test binaries and doctests of every target planned at `test`,
//! under that target's runner, as fast as the host allows.
//!
//! [`dispatcher`] owns the scheduling state: one pool of `-j` workers for all targets, fed with
//! test binaries as cargo reports them (tests of one target run while others still compile), a
//! long binary split into shards, at most one `cargo test --doc` at a time, fail-fast, and the
//! aggregation of shards into one result per binary. [`schedule`] decides the shards (by the
//! durations [`history`] remembers), [`executor`] spawns and supervises the processes of one
//! task. [`load`] decides how many tasks run at once. [`cache`] is the test-result cache,
//! [`libtest`] reads libtest's output.
//! The executor tells the dispatcher what happens as [`Event`]s, which the dispatcher hands on.

pub(crate) mod cache;
pub(crate) mod dispatcher;
pub(crate) mod executor;
pub(crate) mod history;
pub(crate) mod libtest;
pub(crate) mod load;
pub(crate) mod queue;
pub(crate) mod schedule;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::build::{BuildResult, CargoOptions, TestBinary};
use crate::ids::{BinaryId, BinaryKey, PackageId};
use crate::plan::RunnerSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum TestOutcome {
    Passed,
    Failed,
    /// `#[ignore]`d in the code.
    Ignored,
    TimedOut,
    /// Not run on this target because the policy skips it (`reason` says why).
    Skipped,
    /// Miri could not interpret what it does (a foreign C function, an unsupported system call
    /// or shim, inline assembly): neither passed nor failed (`reason` has Miri's line).
    Unsupported,
}

#[derive(Debug, Clone)]
pub(crate) struct TestResult {
    pub name: String,
    pub outcome: TestOutcome,
    pub duration: Duration,
    /// The CPU time of the process that ran this test and no other (its runner's included);
    /// `None` when it shared its process. Unlike `duration`, it does not grow when the test
    /// waits for a CPU.
    pub cpu: Option<Duration>,
    /// Ran beyond the slots, sharing the CPUs with the work in them
    /// ([`schedule::Placement::Shared`]): its `duration` includes the time it waited for a CPU.
    pub shared: bool,
    /// Captured output of a failed, crashed or timed-out test.
    pub output: Option<String>,
    /// Why it was ignored (`#[ignore = "…"]` or the policy's skip reason).
    pub reason: Option<String>,
    /// Replayed from the result cache instead of run.
    pub cached: bool,
    /// Failed, then passed on a retry.
    pub flaky: bool,
    /// How many times it ran (1 + retries used).
    pub attempts: u32,
    /// How many bytes of output it produced in all (`output` keeps a bounded head and tail).
    pub output_bytes: Option<u64>,
    /// The file holding its process's complete output (`--full-output`).
    pub output_file: Option<PathBuf>,
    /// How a failed or timed-out test ended.
    pub status: Option<FailureStatus>,
    /// Its process exited while something it started, outside its process group, still held
    /// its output open: reading stopped and that descendant was left running (nextest's
    /// "leaky" test). The outcome is the test's own.
    pub leaked: bool,
}

/// How a failed test ended, as data (its `output` says the same for people).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub(crate) enum FailureStatus {
    /// libtest ran it and reported it failed (a panic, a failed assertion).
    Failed,
    /// `--test-timeout` killed it with everything it started.
    TimedOut,
    /// Its process exited with `code` while it ran, before libtest could report it.
    Exited { code: i32 },
    /// Its process was killed by `signal` while it ran (SIGSEGV, SIGILL, SIGABRT…).
    Signaled { signal: i32 },
}

impl TestResult {
    pub(crate) fn new(name: String, outcome: TestOutcome, duration: Duration) -> Self {
        TestResult {
            name,
            outcome,
            duration,
            cpu: None,
            shared: false,
            output: None,
            reason: None,
            cached: false,
            flaky: false,
            attempts: 1,
            output_bytes: None,
            output_file: None,
            status: None,
            leaked: false,
        }
    }

    pub(crate) fn failed(&self) -> bool {
        matches!(self.outcome, TestOutcome::Failed | TestOutcome::TimedOut)
    }

    /// What it would take with a CPU of its own: its duration, or, when it shared the CPUs
    /// and had a process of its own, the CPU time that process used, if less.
    pub(crate) fn alone(&self) -> Duration {
        match self.cpu {
            Some(cpu) if self.shared => cpu.min(self.duration),
            _ => self.duration,
        }
    }
}

/// The results of one test binary (or one package's doctests) on one target.
#[derive(Debug, Clone)]
pub(crate) struct BinaryRun {
    pub triple: crate::ids::Triple,
    /// Interpreted by Miri: the target's interpreted lane.
    pub interpreted: bool,
    pub package_id: PackageId,
    pub binary: BinaryId,
    pub tests: Vec<TestResult>,
    /// Set when the binary could not be listed or run to its end.
    pub error: Option<RunFailure>,
}

/// Why a test binary, or a package's doctests, gave no whole result. The tests it did report
/// keep their outcomes; this says what is missing and why. Its text (`Display`) is what the
/// report and the terminal show, and what the diagnosis reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunFailure {
    /// The runner, or the binary itself, could not be started.
    CannotStart { command: String, error: String },
    /// `--list` ended cleanly but printed no test list to trust.
    BadListing {
        binary: BinaryId,
        runner: String,
        problem: String,
        output: String,
    },
    /// `--list` failed; with exit status 127 and no output, the loader path it was given.
    CannotList {
        binary: BinaryId,
        status: String,
        output: String,
        loader_path: Option<String>,
    },
    /// It ended without running a test.
    NoTestRan {
        binary: BinaryId,
        status: String,
        output: String,
    },
    /// It ended before running every test.
    EndedEarly {
        binary: BinaryId,
        status: String,
        output: String,
    },
    /// `cargo test --doc` finished no doctest for `idle` (`--test-timeout`) and was killed.
    DoctestsTimedOut { idle: Duration, output: String },
    /// `cargo test --doc` failed before this package's doctests ran.
    DoctestsNotRun { status: String, output: String },
    /// `cargo test --doc` could not be started.
    CannotRunDoctests { error: String },
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunFailure::CannotStart { command, error } => {
                write!(f, "cannot start {command}: {error}")
            }
            RunFailure::BadListing {
                binary,
                runner,
                problem,
                output,
            } => write!(
                f,
                "{binary} under `{runner}` {problem}; its output:\n{output}"
            ),
            RunFailure::CannotList {
                binary,
                status,
                output,
                loader_path,
            } => {
                write!(f, "cannot list the tests of {binary} ({status})")?;
                if output.is_empty() {
                    f.write_str(", printing nothing")?;
                } else {
                    write!(f, ":\n{output}")?;
                }
                if let Some(path) = loader_path {
                    write!(f, "\nthe loader path it was given: LD_LIBRARY_PATH={path}")?;
                }
                Ok(())
            }
            RunFailure::NoTestRan {
                binary,
                status,
                output,
            } => write!(
                f,
                "{binary} ended ({status}) without running a test: {output}"
            ),
            RunFailure::EndedEarly {
                binary,
                status,
                output,
            } => write!(
                f,
                "{binary} ended ({status}) before running every test: {output}"
            ),
            RunFailure::DoctestsTimedOut { idle, output } => write!(
                f,
                "doctests timed out: none finished for {:.1}s (--test-timeout); cargo, rustdoc and the doctests were killed: {output}",
                idle.as_secs_f64()
            ),
            RunFailure::DoctestsNotRun { status, output } => write!(
                f,
                "doctests did not run (cargo test --doc: {status}): {output}"
            ),
            RunFailure::CannotRunDoctests { error } => {
                write!(f, "cannot run cargo test --doc: {error}")
            }
        }
    }
}

impl BinaryRun {
    pub(crate) fn lane(&self) -> crate::ids::Lane {
        crate::ids::Lane {
            triple: self.triple.clone(),
            interpreted: self.interpreted,
        }
    }

    pub(crate) fn key(&self) -> BinaryKey {
        BinaryKey {
            triple: self.triple.clone(),
            interpreted: self.interpreted,
            package_id: self.package_id.clone(),
            binary: self.binary.clone(),
        }
    }

    pub(crate) fn new(key: BinaryKey) -> Self {
        let BinaryKey {
            triple,
            interpreted,
            package_id,
            binary,
        } = key;
        BinaryRun {
            triple,
            interpreted,
            package_id,
            binary,
            tests: Vec::new(),
            error: None,
        }
    }

    /// Did anything in it fail, time out, or fail to run?
    pub(crate) fn failed(&self) -> bool {
        self.error.is_some() || self.tests.iter().any(TestResult::failed)
    }
}

#[derive(Debug, Default)]
pub(crate) struct RunResult {
    pub runs: Vec<BinaryRun>,
    /// (triple, package id, binary) of work never started (fail-fast or interrupt).
    pub not_run: Vec<BinaryKey>,
    pub interrupted: bool,
    pub partition: Option<Partition>,
}

/// `--partition K/N`: this invocation runs the K-th of N deterministic slices of the test work.
/// A test belongs to a slice by a hash of its package, binary and name (a package's doctests go
/// together), so N invocations with K = 1..N run every test exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Partition {
    /// 1-based.
    pub index: u32,
    pub count: u32,
}

impl Partition {
    pub(crate) fn owns(&self, package: &str, binary: &BinaryId, test: &str) -> bool {
        let hash = blake3::hash(format!("{package}\0{binary}\0{test}").as_bytes());
        let n = u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"));
        n % u64::from(self.count) == u64::from(self.index - 1)
    }
}

impl std::str::FromStr for Partition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || format!("expected K/N with 1 <= K <= N (e.g. 2/3), got `{s}`");
        let (k, n) = s.split_once('/').ok_or_else(err)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| err())?,
            n.trim().parse().map_err(|_| err())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(err());
        }
        Ok(Partition { index, count })
    }
}

/// Settings of the run stage.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    /// Test processes (and listings, doctest runs) at once, to start with.
    pub jobs: usize,
    /// What `jobs` may grow to while the machine idles ([`load`]); `jobs` for a fixed number.
    pub max_jobs: usize,
    /// Bind each emulated test process to one CPU, spreading them over the CPUs this process
    /// may use. Under QEMU, libtest's hand-over from one test's thread to the next costs a
    /// wake-up on another CPU when the process may move; bound, it stays where it is.
    pub bind: bool,
    pub test_timeout: Option<Duration>,
    /// Warn about a test still running after this long.
    pub slow_after: Option<Duration>,
    /// Re-run a failed test up to this many times; passing on a retry makes it flaky.
    pub retries: u32,
    pub fail_fast: bool,
    /// The result cache and what it keys on; `None`: neither replay nor record.
    pub cache: Option<cache::CacheScope>,
    pub doctests: bool,
    pub partition: Option<Partition>,
    pub cargo: CargoOptions,
    /// The rustc sysroot (`None` without a toolchain, as in an archive run): like cargo, the
    /// library path of a test holds `<sysroot>/lib/rustlib/<triple>/lib` and `<sysroot>/lib`
    /// (host test binaries of proc-macros link libstd dynamically).
    pub sysroot: Option<PathBuf>,
    /// `[env]` from cargo's configuration: (name, value, force). A variable already set in
    /// this process's environment wins unless `force`, as in cargo.
    pub config_env: Vec<(String, std::ffi::OsString, bool)>,
    /// `--full-output DIR`: every test process's complete output is written to a file there.
    pub full_output: Option<PathBuf>,
    /// The target directory: the result cache and test durations live in `xtest/` below it.
    pub target_dir: PathBuf,
    /// Tripped, the run starts nothing more, stops what runs and reports what did not finish.
    pub stop: crate::process::StopToken,
}

/// A test binary to run, with everything needed to start it.
#[derive(Debug, Clone)]
pub(crate) struct BinaryJob {
    pub triple: crate::ids::Triple,
    /// Built by cargo-miri and interpreted by Miri: the target's interpreted lane.
    pub interpreted: bool,
    pub package_id: PackageId,
    pub package_name: String,
    pub binary: BinaryId,
    pub path: PathBuf,
    /// `harness = false`: cargo runs it without arguments and judges its exit status; its one
    /// result is named after the target.
    pub harness: bool,
    pub cwd: PathBuf,
    /// What `cargo test` adds to a test's environment: `CARGO`, `CARGO_MANIFEST_DIR`,
    /// `CARGO_PKG_*`, `CARGO_BIN_EXE_<name>` (integration tests) and cargo config's `[env]`.
    pub env: Vec<(String, std::ffi::OsString)>,
    /// Directories put first on `LD_LIBRARY_PATH`, as cargo does for `cargo test`.
    pub lib_path: Vec<PathBuf>,
    pub runner: RunnerSpec,
    pub skips: BTreeMap<String, String>,
    /// The target's `panic = "abort"`: libtest does not run its `#[should_panic]` tests.
    pub panic_abort: bool,
    /// The CPU the dispatcher gave the task at hand: an emulated test process is bound to it
    /// (see [`RunOptions::bind`]).
    pub cpu: Option<usize>,
}

impl BinaryJob {
    pub(crate) fn key(&self) -> BinaryKey {
        BinaryKey {
            triple: self.triple.clone(),
            interpreted: self.interpreted,
            package_id: self.package_id.clone(),
            binary: self.binary.clone(),
        }
    }
}

/// The doctests of some packages on one target, run by `cargo test --doc`.
#[derive(Debug, Clone)]
pub(crate) struct DoctestJob {
    pub triple: crate::ids::Triple,
    pub packages: Vec<DoctestPackage>,
    pub cargo_env: Vec<(String, String)>,
    pub skips: BTreeMap<String, String>,
    /// Built and interpreted by cargo-miri (`cargo miri test --doc`).
    pub interpreted: bool,
}

impl DoctestJob {
    /// The key of `package_id`'s doctests in this job.
    pub(crate) fn doc_key(&self, package_id: &str) -> BinaryKey {
        BinaryKey {
            triple: self.triple.clone(),
            interpreted: self.interpreted,
            package_id: package_id.into(),
            binary: BinaryId::Doc,
        }
    }
}

/// One package of a [`DoctestJob`].
#[derive(Debug, Clone)]
pub(crate) struct DoctestPackage {
    pub id: PackageId,
    pub name: String,
    /// The library's crate name, as `Doc-tests` prints it.
    pub crate_name: String,
    /// Its result-cache key.
    pub key: String,
}

/// What the build stage hands the run stage while it works.
#[derive(Debug, Clone)]
pub(crate) enum BuildEvent {
    /// A test executable was linked and can run now.
    Binary(TestBinary),
    /// The build is over (doctests may start: they need cargo's build lock).
    Finished(Box<BuildResult>),
}

/// Which test an event is about, and where.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TestRef {
    /// The target triple.
    pub target: crate::ids::Triple,
    /// `"miri"` for the target's interpreted lane.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpreted_by: Option<&'static str>,
    pub package_id: PackageId,
    /// The package's name, for people (unique in a workspace).
    pub package: String,
    pub binary: BinaryId,
    pub test: String,
}

impl TestRef {
    pub(crate) fn lane(&self) -> crate::ids::Lane {
        crate::ids::Lane {
            triple: self.target.clone(),
            interpreted: self.interpreted_by.is_some(),
        }
    }
}

impl std::fmt::Display for TestRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.lane(),
            self.package,
            self.binary,
            self.test
        )
    }
}

/// The name an interpreted lane carries in every output: `interpreted_by`.
pub(crate) fn interpreted_by(interpreted: bool) -> Option<&'static str> {
    interpreted.then_some("miri")
}

/// What the run stage tells as it goes; it never prints (the reporter renders these).
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// A test binary was linked and is queued to run.
    Queued { lane: crate::ids::Lane },
    /// A test started (libtest announced it).
    TestStarted(TestRef),
    /// A test ran to its end in this invocation (replayed ones come with their binary).
    TestFinished { test: TestRef, result: TestResult },
    /// A test is still running after `--slow-after`.
    Slow { test: TestRef, elapsed: Duration },
    /// Every test of one binary (or one package's doctests) is done.
    BinaryFinished {
        /// The package's name.
        package: String,
        run: BinaryRun,
    },
}

pub(crate) use dispatcher::run;

#[cfg(test)]
mod tests {
    use super::Partition;

    #[test]
    fn partitions_parse_and_cover_every_test_exactly_once() {
        assert!("0/3".parse::<Partition>().is_err());
        assert!("4/3".parse::<Partition>().is_err());
        assert!("x".parse::<Partition>().is_err());
        let parts: Vec<Partition> = (1..=3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        let mut sizes = [0; 3];
        for i in 0..300 {
            let name = format!("tests::t{i}");
            let owners: Vec<usize> = (0..3)
                .filter(|&k| parts[k].owns("pkg", &crate::ids::BinaryId::Lib, &name))
                .collect();
            assert_eq!(owners.len(), 1, "{name}");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&s| s > 50), "roughly even: {sizes:?}");
    }
}
