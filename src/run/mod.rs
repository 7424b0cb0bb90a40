//! Stage 4, run: executes the test binaries cargo reported, and the doctests, for every target
//! planned at `test`, under that target's runner.
//!
//! [`dispatcher`] owns the scheduling state (a job pool sized to `-j`, fail-fast); [`executor`]
//! spawns and supervises one job's processes (listing, batches, timeouts, re-running what a crash
//! or hang left unfinished); [`libtest`] reads libtest's output. They talk by [`ExecEvent`]s.

pub mod dispatcher;
pub mod executor;
pub mod libtest;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::build::{BuildResult, CargoOptions};
use crate::discover::Workspace;
use crate::level::Level;
use crate::plan::{Plan, RunnerSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestOutcome {
    Passed,
    Failed,
    Ignored,
    TimedOut,
}

#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: String,
    pub outcome: TestOutcome,
    pub duration: Duration,
    /// Captured output of a failed, crashed or timed-out test.
    pub output: Option<String>,
    /// Why it was ignored (`#[ignore = "…"]` or the policy's skip reason).
    pub reason: Option<String>,
}

/// The results of one test binary (or one package's doctests) on one target.
#[derive(Debug, Clone)]
pub struct BinaryRun {
    pub triple: String,
    pub package_id: String,
    pub binary: String,
    pub tests: Vec<TestResult>,
    /// Set when the binary could not be listed or run at all.
    pub error: Option<String>,
}

impl BinaryRun {
    /// Did anything in it fail, time out, or fail to run?
    pub fn failed(&self) -> bool {
        self.error.is_some()
            || self
                .tests
                .iter()
                .any(|t| matches!(t.outcome, TestOutcome::Failed | TestOutcome::TimedOut))
    }
}

#[derive(Debug, Default)]
pub struct RunResult {
    pub runs: Vec<BinaryRun>,
    /// (triple, package id, binary) of jobs never started (fail-fast or interrupt).
    pub not_run: Vec<(String, String, String)>,
    pub interrupted: bool,
}

/// Settings of the run stage.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub jobs: usize,
    pub test_timeout: Option<Duration>,
    pub fail_fast: bool,
    pub cargo: CargoOptions,
    /// The rustc sysroot's library directories: host test binaries of proc-macros link libstd
    /// dynamically, so (like cargo) they need these on the library path.
    pub host_libs: Vec<PathBuf>,
}

/// A test binary to run.
#[derive(Debug, Clone)]
pub struct BinaryJob {
    pub triple: String,
    pub package_id: String,
    pub package_name: String,
    pub package_version: String,
    pub binary: String,
    pub path: PathBuf,
    pub cwd: PathBuf,
    /// Directories put first on `LD_LIBRARY_PATH`, as cargo does for `cargo test`.
    pub lib_path: Vec<PathBuf>,
    pub runner: RunnerSpec,
    pub skips: BTreeMap<String, String>,
}

/// The doctests of some packages on one target, run by `cargo test --doc`.
#[derive(Debug, Clone)]
pub struct DoctestJob {
    pub triple: String,
    /// (package id, crate name as `Doc-tests` prints it).
    pub packages: Vec<(String, String)>,
    pub cargo_env: Vec<(String, String)>,
    pub skips: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub enum Job {
    Binary(BinaryJob),
    Doctest(DoctestJob),
}

impl Job {
    fn describe(&self) -> Vec<(String, String, String)> {
        match self {
            Job::Binary(b) => vec![(b.triple.clone(), b.package_id.clone(), b.binary.clone())],
            Job::Doctest(d) => d
                .packages
                .iter()
                .map(|(id, _)| (d.triple.clone(), id.clone(), "doc".to_owned()))
                .collect(),
        }
    }
}

/// What the executor tells the dispatcher while a job runs.
#[derive(Debug)]
pub enum ExecEvent {
    TestFinished {
        triple: String,
        package: String,
        binary: String,
        result: TestResult,
    },
}

/// Builds the job list from the build stage's binaries and runs it.
pub fn run(plan: &Plan, ws: &Workspace, build: &BuildResult, opts: &RunOptions) -> RunResult {
    let mut jobs = Vec::new();
    for target in plan.targets.iter().filter(|t| t.level >= Level::Test) {
        let Some(runner) = &target.runner else {
            continue;
        };
        let built = |id: &str| {
            build
                .packages
                .get(&(target.triple.clone(), id.to_owned()))
                .is_some_and(|p| p.failed.is_none() && p.reached >= Level::BuildTests)
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut binaries: Vec<_> = build
            .binaries
            .iter()
            .filter(|b| b.triple == target.triple && built(&b.package_id))
            .collect();
        // A stable order (package name, binary) makes fail-fast and progress output predictable.
        binaries.sort_by_key(|b| (ws.package_name(&b.package_id).to_owned(), b.id.clone()));
        for b in binaries {
            if !seen.insert((b.package_id.clone(), b.id.clone())) {
                continue;
            }
            let pkg = ws
                .member(&b.package_id)
                .expect("binaries come from members");
            jobs.push(Job::Binary(BinaryJob {
                triple: target.triple.clone(),
                package_id: pkg.id.clone(),
                package_name: pkg.name.clone(),
                package_version: pkg.version.clone(),
                binary: b.id.clone(),
                path: b.path.clone(),
                cwd: pkg.manifest_dir.clone(),
                lib_path: b
                    .path
                    .parent()
                    .map(Path::to_path_buf)
                    .into_iter()
                    .chain(if target.triple == plan.host {
                        opts.host_libs.clone()
                    } else {
                        Vec::new()
                    })
                    .collect(),
                runner: runner.clone(),
                skips: target.skips.clone(),
            }));
        }
        let doc_packages: Vec<(String, String)> = plan
            .packages
            .iter()
            .filter(|id| built(id))
            .filter_map(|id| ws.member(id))
            .filter_map(|p| {
                let lib = p.lib()?;
                let runs_here = !lib.proc_macro || target.triple == plan.host;
                (lib.doctest && runs_here).then(|| (p.id.clone(), lib.name.replace('-', "_")))
            })
            .collect();
        if !doc_packages.is_empty() {
            jobs.push(Job::Doctest(DoctestJob {
                triple: target.triple.clone(),
                packages: doc_packages,
                cargo_env: target.cargo_env.clone(),
                skips: target.skips.clone(),
            }));
        }
    }
    dispatcher::dispatch(jobs, opts)
}
