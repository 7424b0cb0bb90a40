//! Stage 6, report: assembles the [`Report`] from the plan, build and run results, writes it as
//! JSON (`--report FILE`, schema in `docs/report-schema.md`), renders the terminal matrix
//! ([`terminal`]) and decides the exit code.

pub(crate) mod junit;
pub(crate) mod live;
pub(crate) mod markdown;
pub(crate) mod merge;
pub(crate) mod stream;
pub(crate) mod terminal;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ids::{BinaryId, TestKey};

use crate::build::{BuildError, BuildResult};
use crate::diagnose::{Diagnoser, Diagnosis, TestFailure};
use crate::discover::Workspace;
use crate::error::{Context, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, Error, Result};
use crate::level::Level;
use crate::plan::{Downgrade, Plan};
use crate::run::{FailureStatus, Partition, RunResult, TestOutcome};

pub(crate) const SCHEMA: &str = "cargo-xtest/report-v1";

fn is_one(n: &u32) -> bool {
    *n == 1
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    pub schema: String,
    pub host: crate::ids::Triple,
    pub targets: Vec<TargetReport>,
    /// The run was stopped by SIGINT/SIGTERM; what is here was finished before that.
    pub interrupted: bool,
    /// `--partition K/N`: this report holds the K-th slice of the tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<Partition>,
    /// What `merge` found wrong with its inputs (missing or repeated shards, conflicting results).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TargetReport {
    pub triple: crate::ids::Triple,
    /// The strongest level this host can reach for the target (what was attempted).
    pub level: Level,
    pub required: Option<Level>,
    pub requirement_met: bool,
    pub runner: Option<String>,
    /// `"miri"`: its tests were built by cargo-miri and interpreted by Miri, not linked and run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreted_by: Option<String>,
    pub linker: Option<String>,
    pub endian: String,
    pub pointer_width: u32,
    pub downgrades: Vec<Downgrade>,
    pub packages: Vec<PackageReport>,
}

impl TargetReport {
    /// Which of its triple's lanes this target is.
    pub(crate) fn lane(&self) -> crate::ids::Lane {
        crate::ids::Lane {
            triple: self.triple.clone(),
            interpreted: self.interpreted_by.is_some(),
        }
    }

    /// The host's own target, built and run natively: what other targets are compared with.
    pub(crate) fn is_native_host(&self, host: &str) -> bool {
        self.triple == host && self.interpreted_by.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum PackageOutcome {
    Passed,
    Failed,
    Excluded,
    /// Nothing failed, but it was not verified as far as its target goes: the run was
    /// interrupted, or `--fail-fast` stopped it, before all of it ran (`not_run` lists what).
    NotRun,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PackageReport {
    pub name: String,
    pub outcome: PackageOutcome,
    /// The strongest level this package was verified at on this target.
    pub level: Level,
    pub failed_stage: Option<Level>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub errors: Vec<ErrorReport>,
    pub tests: Vec<TestReport>,
    /// Test binaries not run (fail-fast or interrupt).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<BinaryId>,
    /// The test executables built for it (binary id → path): the very files `cargo test`
    /// would build and run for the same flags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub executables: BTreeMap<BinaryId, std::path::PathBuf>,
}

/// A compile or test-start error with its diagnosis.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ErrorReport {
    #[serde(flatten)]
    pub error: BuildError,
    #[serde(flatten)]
    pub diagnosis: Option<Diagnosis>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TestReport {
    pub name: String,
    pub binary: BinaryId,
    pub outcome: TestOutcome,
    pub duration_ms: u64,
    /// The CPU time of the process that ran this test and no other (its runner's included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u64>,
    /// It ran beyond the slots, sharing the CPUs, so `duration_ms` includes waiting for one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The size of the test's whole output; `output` keeps its first and last 64 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<u64>,
    /// With `--full-output`: the file holding its process's complete output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file: Option<PathBuf>,
    /// How a failed or timed-out test ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<FailureStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Replayed from the test-result cache, not run in this invocation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
    /// Failed, then passed on a retry (`--retries`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flaky: bool,
    /// Its process left a descendant running that held its output open (see `leaked` in the
    /// schema): the outcome is the test's own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub leaked: bool,
    /// How many times it ran, when more than once.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub attempts: u32,
    /// Set on failed and timed-out tests.
    #[serde(flatten)]
    pub diagnosis: Option<Diagnosis>,
}

/// One failure of a failed package: a compile (or test-start) error, or a failed or
/// timed-out test.
pub(crate) enum Failure<'a> {
    Error(&'a ErrorReport),
    Test(&'a TestReport),
}

impl Report {
    /// Every failure of every failed package, with its target and package, in report order:
    /// what the terminal, Markdown and JUnit renderers group and print.
    pub(crate) fn failures(
        &self,
    ) -> impl Iterator<Item = (&TargetReport, &PackageReport, Failure<'_>)> {
        self.targets.iter().flat_map(|t| {
            t.packages
                .iter()
                .filter(|p| p.outcome == PackageOutcome::Failed)
                .flat_map(move |p| {
                    let errors = p.errors.iter().map(Failure::Error);
                    let tests = p
                        .tests
                        .iter()
                        .filter(|x| {
                            matches!(x.outcome, TestOutcome::Failed | TestOutcome::TimedOut)
                        })
                        .map(Failure::Test);
                    errors.chain(tests).map(move |f| (t, p, f))
                })
        })
    }
}

impl TestReport {
    /// How a report names this test within its target.
    pub(crate) fn key(&self, package: &str) -> TestKey {
        TestKey {
            package: package.to_owned(),
            binary: self.binary.clone(),
            test: self.name.clone(),
        }
    }
}

impl Report {
    pub(crate) fn assemble(
        plan: &Plan,
        build: &BuildResult,
        run: &RunResult,
        diagnoser: &Diagnoser,
    ) -> Report {
        let targets = plan
            .targets
            .iter()
            .map(|t| {
                let mut packages = Vec::new();
                if t.level > Level::None {
                    for id in &plan.packages {
                        let planned = plan.members.get(id);
                        let name = planned.map_or_else(|| id.to_string(), |p| p.name.clone());
                        if let Some(reason) = t.excluded.get(&name) {
                            packages.push(PackageReport {
                                name,
                                outcome: PackageOutcome::Excluded,
                                level: Level::None,
                                failed_stage: None,
                                reason: Some(reason.clone()),
                                errors: Vec::new(),
                                tests: Vec::new(),
                                not_run: Vec::new(),
                                executables: BTreeMap::new(),
                            });
                            continue;
                        }
                        let mut report = package_report(name, &t.lane(), id, t.level, build, run);
                        let proc_macro = planned
                            .and_then(|p| p.lib.as_ref())
                            .is_some_and(|l| l.proc_macro);
                        if proc_macro && t.triple != plan.host && report.level >= Level::Build {
                            if report.outcome == PackageOutcome::NotRun && report.not_run.is_empty()
                            {
                                report.outcome = PackageOutcome::Passed;
                            }
                            report.level = Level::Build;
                            report.reason = Some(
                                "proc-macro: built for the host and used by this target's crates; its tests run on the host target"
                                    .to_owned(),
                            );
                        }
                        packages.push(report);
                    }
                }
                TargetReport {
                    triple: t.triple.clone(),
                    level: t.level,
                    required: t.required,
                    requirement_met: t.meets_requirement(),
                    runner: t.runner.as_ref().map(|r| r.description.clone()),
                    interpreted_by: t.interpreted.then(|| "miri".to_owned()),
                    linker: t.linker.clone(),
                    endian: if t.cfg.big_endian { "big" } else { "little" }.to_owned(),
                    pointer_width: t.cfg.pointer_width,
                    downgrades: t.downgrades.clone(),
                    packages,
                }
            })
            .collect();
        let mut report = Report {
            schema: SCHEMA.to_owned(),
            host: plan.host.clone(),
            targets,
            interrupted: build.interrupted || run.interrupted,
            partition: run.partition,
            problems: Vec::new(),
        };
        report.diagnose(diagnoser);
        report
    }

    /// Attaches a diagnosis to every error and every failed or timed-out test.
    fn diagnose(&mut self, diagnoser: &Diagnoser) {
        for t in &mut self.targets {
            for p in &mut t.packages {
                for e in &mut p.errors {
                    e.diagnosis = Some(diagnoser.build_error(&t.triple, &e.error));
                }
            }
        }
        self.diagnose_tests(diagnoser);
    }

    /// Diagnoses every failed or timed-out test against the host's results in this report.
    /// Without the host among the targets, a failure the host could have told apart from an
    /// architecture assumption says so instead of claiming a cause.
    fn diagnose_tests(&mut self, diagnoser: &Diagnoser) {
        let has_host = self.targets.iter().any(|t| t.is_native_host(&self.host));
        let passed_on_host: std::collections::BTreeSet<TestKey> = self
            .targets
            .iter()
            .filter(|t| t.is_native_host(&self.host))
            .flat_map(|t| &t.packages)
            .flat_map(|p| {
                p.tests
                    .iter()
                    .filter(|x| x.outcome == TestOutcome::Passed)
                    .map(|x| x.key(&p.name))
            })
            .collect();
        for t in &mut self.targets {
            for p in &mut t.packages {
                for x in &mut p.tests {
                    if !matches!(x.outcome, TestOutcome::Failed | TestOutcome::TimedOut) {
                        continue;
                    }
                    let key = x.key(&p.name);
                    let mut d = diagnoser.test_failure(&TestFailure {
                        triple: &t.triple,
                        timed_out: x.outcome == TestOutcome::TimedOut,
                        status: x.status,
                        output: x.output.as_deref().unwrap_or(""),
                        passed_on_host: passed_on_host.contains(&key),
                    });
                    if d.cause == crate::cause::Cause::Unknown && !has_host {
                        d.fix = format!(
                            "undecided: no report has the host's ({}) results, so whether it passes there (an architecture assumption) is unknown; merge the host job's report too",
                            self.host
                        );
                    }
                    x.diagnosis = Some(d);
                }
            }
        }
    }

    /// Why this run, which wanted tests, ran none (then it is never green): no target reached
    /// `test` here, or the test binaries reported no tests. `None` when any test ran, when the run
    /// was capped below `test` on purpose (`--level`), and for a `--partition` slice (a slice may
    /// hold no test; `merge` judges the whole).
    pub(crate) fn nothing_tested(&self) -> Option<String> {
        let wanted = self.targets.iter().any(|t| {
            t.level == Level::Test || t.downgrades.first().is_some_and(|d| d.from == Level::Test)
        });
        let ran = self
            .targets
            .iter()
            .flat_map(|t| &t.packages)
            .flat_map(|p| &p.tests)
            .any(|x| {
                !matches!(
                    x.outcome,
                    TestOutcome::Ignored | TestOutcome::Skipped | TestOutcome::Unsupported
                )
            });
        if !wanted || ran || self.partition.is_some() || self.interrupted {
            return None;
        }
        Some(if self.targets.iter().any(|t| t.level == Level::Test) {
            "nothing was tested: the test binaries reported no tests".to_owned()
        } else {
            "nothing was tested: no target reaches `test` on this host (see each target's steps down and their fixes); pass --level build-tests to verify without running tests".to_owned()
        })
    }

    pub(crate) fn passed(&self) -> bool {
        self.nothing_tested().is_none()
            && self.problems.is_empty()
            && self.targets.iter().all(|t| {
                t.requirement_met
                    && t.packages.iter().all(|p| {
                        matches!(p.outcome, PackageOutcome::Passed | PackageOutcome::Excluded)
                    })
            })
    }

    pub(crate) fn exit_code(&self) -> i32 {
        if self.interrupted {
            EXIT_INTERRUPTED
        } else if self.passed() {
            EXIT_OK
        } else {
            EXIT_FAILED
        }
    }

    /// A copy safe to show on a terminal or in Markdown: every string that came from outside
    /// (test and package names, compiler and test output, a merged report from elsewhere) has
    /// its control characters (escape sequences, carriage returns) written out as `\u{..}`,
    /// and line breaks only where text spans lines (`output`, `rendered`). The JSON report keeps
    /// the originals.
    pub(crate) fn printable(&self) -> Report {
        fn walk(v: &mut serde_json::Value, multiline: bool) {
            match v {
                serde_json::Value::String(s) => {
                    if let std::borrow::Cow::Owned(shown) = printable(s, multiline) {
                        *s = shown;
                    }
                }
                serde_json::Value::Array(items) => {
                    items.iter_mut().for_each(|i| walk(i, multiline))
                }
                serde_json::Value::Object(fields) => {
                    for (key, value) in fields.iter_mut() {
                        walk(value, matches!(key.as_str(), "output" | "rendered"));
                    }
                }
                _ => {}
            }
        }
        let Ok(mut value) = serde_json::to_value(self) else {
            return self.clone();
        };
        walk(&mut value, false);
        serde_json::from_value(value).unwrap_or_else(|_| self.clone())
    }

    pub(crate) fn write_json(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)
            .or_internal(|| "cannot serialize the report".to_owned())?;
        crate::fsutil::write_atomic(path, (json + "\n").as_bytes())
            .map_err(|e| Error::internal(crate::fsutil::write_error("report", path, &e)))
    }
}

/// `s` with its control characters written out (`\u{1b}`), line breaks and tabs kept when
/// `multiline`: text from outside shown on a terminal or in Markdown can then not move the
/// cursor, recolour, retitle or start a new line.
pub(crate) fn printable(s: &str, multiline: bool) -> std::borrow::Cow<'_, str> {
    let obeyed = |c: char| c.is_control() && !(multiline && matches!(c, '\n' | '\t'));
    if !s.chars().any(obeyed) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if obeyed(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

fn package_report(
    name: String,
    lane: &crate::ids::Lane,
    id: &str,
    target_level: Level,
    build: &BuildResult,
    run: &RunResult,
) -> PackageReport {
    let built = build.packages.get(&(lane.clone(), id.into()));
    let ours = |triple: &str, interpreted: bool, package_id: &str| {
        triple == lane.triple && interpreted == lane.interpreted && package_id == id
    };
    let mut errors: Vec<BuildError> = built.map(|b| b.errors.clone()).unwrap_or_default();
    let mut failed_stage = built.and_then(|b| b.failed);
    let mut level = built.map(|b| b.reached).unwrap_or(Level::None);
    let mut tests = Vec::new();
    let not_run: Vec<BinaryId> = run
        .not_run
        .iter()
        .filter(|k| ours(&k.triple, k.interpreted, &k.package_id))
        .map(|k| k.binary.clone())
        .collect();
    let mut ran_everything = not_run.is_empty();
    for r in run
        .runs
        .iter()
        .filter(|r| ours(&r.triple, r.interpreted, &r.package_id))
    {
        if let Some(e) = &r.error {
            failed_stage.get_or_insert(Level::Test);
            let e = e.to_string();
            errors.push(BuildError {
                stage: Level::Test,
                message: e.lines().next().unwrap_or_default().to_owned(),
                rendered: Some(e.clone()),
                host_unit: false,
                blocked_by: None,
            });
            ran_everything = false;
        }
        for t in &r.tests {
            if matches!(t.outcome, TestOutcome::Failed | TestOutcome::TimedOut) {
                failed_stage.get_or_insert(Level::Test);
            }
            tests.push(TestReport {
                name: t.name.clone(),
                binary: r.binary.clone(),
                outcome: t.outcome,
                duration_ms: t.duration.as_millis() as u64,
                cpu_ms: t.cpu.map(|c| c.as_millis() as u64),
                shared: t.shared,
                output: t.output.clone(),
                output_bytes: t.output_bytes,
                output_file: t.output_file.clone(),
                status: t.status,
                reason: t.reason.clone(),
                cached: t.cached,
                leaked: t.leaked,
                flaky: t.flaky,
                attempts: t.attempts,
                diagnosis: None,
            });
        }
    }
    let interrupted = run.interrupted || build.interrupted;
    if target_level >= Level::Test
        && failed_stage.is_none()
        && level >= Level::BuildTests
        && ran_everything
        && !interrupted
    {
        level = Level::Test;
    }
    // Never a pass for what did not finish: stopped by an interrupt or by --fail-fast before
    // it reached its target's level.
    let unfinished = !not_run.is_empty() || (interrupted && level < target_level);
    PackageReport {
        errors: errors
            .into_iter()
            .map(|error| ErrorReport {
                error,
                diagnosis: None,
            })
            .collect(),
        executables: build
            .binaries
            .iter()
            .filter(|b| ours(&b.triple, b.interpreted, &b.package_id))
            .map(|b| (b.id.clone(), b.path.clone()))
            .collect(),
        name,
        outcome: if failed_stage.is_some() {
            PackageOutcome::Failed
        } else if unfinished {
            PackageOutcome::NotRun
        } else {
            PackageOutcome::Passed
        },
        level,
        failed_stage,
        reason: None,
        tests,
        not_run,
    }
}

/// The plan as a GitHub Actions job matrix: one entry per target that can be verified, targets
/// at `test` split into `shards` entries (`shard` is the `--partition` value).
pub(crate) fn github_matrix(plan: &Plan, shards: u32) -> Result<String> {
    let mut include = Vec::new();
    for t in plan.targets.iter().filter(|t| t.level > Level::None) {
        let n = if t.level == Level::Test { shards } else { 1 };
        for k in 1..=n {
            include.push(serde_json::json!({
                "target": t.triple,
                "level": t.level,
                "shard": format!("{k}/{n}"),
            }));
        }
    }
    serde_json::to_string(&serde_json::json!({ "include": include }))
        .or_internal(|| "cannot serialize the matrix".to_owned())
}

/// The plan as JSON (`cargo xtest plan --format json`).
pub(crate) fn plan_json(plan: &Plan, ws: &Workspace) -> Result<String> {
    #[derive(Serialize)]
    struct PlanView<'a> {
        schema: &'static str,
        host: &'a str,
        packages: Vec<&'a str>,
        selection: &'a crate::plan::Selection,
        targets: Vec<TargetView<'a>>,
    }
    #[derive(Serialize)]
    struct TargetView<'a> {
        triple: &'a str,
        level: Level,
        required: Option<Level>,
        requirement_met: bool,
        linker: Option<&'a str>,
        runner: Option<&'a str>,
        downgrades: &'a [Downgrade],
        probes: &'a crate::discover::Probes,
        excluded: &'a std::collections::BTreeMap<String, String>,
        skipped_tests: &'a std::collections::BTreeMap<String, String>,
    }
    let view = PlanView {
        schema: "cargo-xtest/plan-v1",
        host: &plan.host,
        packages: plan.packages.iter().map(|id| ws.package_name(id)).collect(),
        selection: &plan.selection,
        targets: plan
            .targets
            .iter()
            .map(|t| TargetView {
                triple: &t.triple,
                level: t.level,
                required: t.required,
                requirement_met: t.meets_requirement(),
                linker: t.linker.as_deref(),
                runner: t.runner.as_ref().map(|r| r.description.as_str()),
                downgrades: &t.downgrades,
                probes: &t.probes,
                excluded: &t.excluded,
                skipped_tests: &t.skips,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&view).or_internal(|| "cannot serialize the plan".to_owned())
}
