//! Stage 3, build: compiles the workspace for every planned target with cargo's JSON messages and
//! `--keep-going`, and attributes every failure to the package, triple and stage that caused it.
//!
//! One cargo invocation per stage covers all targets planned at or above it (several `--target`
//! flags; the host alone and without `--target`, as a plain `cargo test` builds it). The
//! `build-tests` invocation is exactly what `cargo test --no-run` builds (`cargo build --tests`
//! with the `test` profile), so the test executables are the very files `cargo test` would run;
//! where that leaves the `build` rung in doubt (a package whose tests did not build, or that has
//! no test units), a `cargo build` of just those packages settles it. Cargo's
//! `compiler-message`s carry no triple, so success is read from artifacts: a
//! package passed a stage on a triple when every unit it should produce there was reported. When
//! only one triple failed, the messages are its own; when several did, a narrowed re-run per
//! failing triple (only the failing packages) tells the messages apart. A package blocked by a
//! failing dependency or dev-dependency is told which one, with that dependency's diagnostics.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cargo_metadata::Message;
use cargo_metadata::diagnostic::DiagnosticLevel;
use serde::Serialize;

use crate::capture::LineBuffer;
use crate::discover::workspace::unit_kind;
use crate::discover::{FeatureArgs, Package, UnitKind, Workspace};
use crate::error::{Context, Result};
use crate::ids::{BinaryId, Lane, PackageId, Triple};
use crate::level::Level;
use crate::plan::Plan;
use crate::process::{Next, Stream, Supervised};

/// Which cargo profile builds what, as cargo itself selects it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Profile {
    /// `cargo build` uses `dev`, `cargo test` uses `test`.
    #[default]
    Default,
    /// `--release`: `release` for both.
    Release,
    /// `--profile NAME`: `NAME` for both.
    Named(String),
}

/// Cargo flags shared by every invocation.
#[derive(Debug, Clone, Default)]
pub(crate) struct CargoOptions {
    pub cargo: PathBuf,
    pub manifest_path: PathBuf,
    pub features: FeatureArgs,
    pub profile: Profile,
    /// The host triple: built without `--target`, exactly as a plain `cargo test` builds it.
    pub host: crate::ids::Triple,
    /// Cargo's configuration names a default target (`[build] target`, `CARGO_BUILD_TARGET`):
    /// a build without `--target` would be for that one, so the host is built with an explicit
    /// `--target <host>`.
    pub host_needs_target: bool,
    pub jobs: Option<usize>,
    /// `--locked`, `--offline`, `--frozen` as given.
    pub extra: Vec<String>,
    /// Tripped to stop cargo (by default, by the signals that stop a run).
    pub stop: crate::process::StopToken,
    /// Miri, when some target is interpreted (`--miri`, the policy's `miri = true`): cargo-miri
    /// builds those targets' tests (`cargo miri test --no-run`) into `<target-dir>/miri`, and
    /// Miri interprets them. Every method taking `interpreted` builds for one or the other.
    pub miri: Option<crate::discover::toolchain::Miri>,
}

impl CargoOptions {
    /// `--target TRIPLE`, except for the host: `cargo test` without `--target` builds into
    /// `target/<profile>/` with `RUSTFLAGS` applied to build scripts too, and those are the
    /// executables a user's `cargo test` runs.
    pub(crate) fn target_args(&self, triple: &str, interpreted: bool) -> Vec<String> {
        // cargo-miri always builds with `--target` (its own, the host's, when none is given).
        if triple == self.host && !self.host_needs_target && !interpreted {
            Vec::new()
        } else {
            vec!["--target".to_owned(), triple.to_owned()]
        }
    }

    /// Where cargo puts what it builds for the targets: cargo-miri's `miri` directory for the
    /// interpreted ones.
    pub(crate) fn artifact_dir(&self, target_dir: &Path, interpreted: bool) -> PathBuf {
        if interpreted {
            target_dir.join("miri")
        } else {
            target_dir.to_owned()
        }
    }

    /// A `cargo <subcommand>` command with the shared flags and a quiet, colourless stderr;
    /// for interpreted targets `cargo miri test` (cargo-miri runs no other subcommand).
    pub(crate) fn command_for(&self, subcommand: &str, interpreted: bool) -> Command {
        let mut cmd = match self.miri.as_ref().filter(|_| interpreted) {
            Some(miri) => miri.cargo_command("test"),
            None => {
                let mut cmd = Command::new(&self.cargo);
                cmd.arg(subcommand);
                cmd
            }
        };
        cmd.arg("--manifest-path")
            .arg(&self.manifest_path)
            .env("CARGO_TERM_COLOR", "never")
            .env("CARGO_TERM_PROGRESS_WHEN", "never");
        match &self.profile {
            Profile::Default => {}
            Profile::Release => {
                cmd.arg("--release");
            }
            Profile::Named(name) => {
                cmd.arg("--profile").arg(name);
            }
        }
        if let Some(j) = self.jobs {
            cmd.arg("--jobs").arg(j.to_string());
        }
        if self.features.all_features {
            cmd.arg("--all-features");
        }
        if self.features.no_default_features {
            cmd.arg("--no-default-features");
        }
        if !self.features.features.is_empty() {
            cmd.arg("--features").arg(self.features.features.join(","));
        }
        cmd.args(&self.extra);
        cmd
    }
}

/// One compile error, attributed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct BuildError {
    pub stage: Level,
    /// The diagnostic's one-line message.
    pub message: String,
    /// Cargo's or rustc's full rendered diagnostic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered: Option<String>,
    /// Raised while compiling a unit built for the host (a build script or a proc-macro).
    #[serde(skip)]
    pub host_unit: bool,
    /// The package did not fail itself: this dependency of it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<Blocker>,
}

/// The dependency whose compile error stopped a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct Blocker {
    /// The dependency's package name.
    pub package: String,
    pub kind: DependencyKind,
    /// A member of the workspace (its own errors are reported on it).
    pub member: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum DependencyKind {
    /// Needed by the package's code (and so by its tests).
    Dependency,
    /// Only the package's tests need it (`[dev-dependencies]`).
    DevDependency,
}

impl std::fmt::Display for DependencyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DependencyKind::Dependency => "dependency",
            DependencyKind::DevDependency => "dev-dependency",
        })
    }
}

/// How far one package got on one triple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackageBuild {
    /// The strongest stage it passed (`none` if it failed the first one).
    pub reached: Level,
    pub failed: Option<Level>,
    pub errors: Vec<BuildError>,
}

/// What the build stage tells as it goes; it never prints (the reporter renders these).
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// One cargo invocation for `stage` started for these targets.
    Started {
        stage: Level,
        triples: Vec<Triple>,
        /// cargo-miri builds them, for their interpreted lanes.
        interpreted: bool,
        packages: usize,
    },
    /// A test executable was linked: its tests can start while the rest compiles.
    Binary(TestBinary),
    /// Several targets of one invocation failed: cargo runs again for `triple` alone to tell
    /// which failures are its own.
    Attributing {
        triple: crate::ids::Triple,
        failures: usize,
    },
    /// The invocation for `stage` is over, failures attributed.
    Finished {
        stage: Level,
        triples: Vec<Triple>,
        interpreted: bool,
        elapsed: Duration,
    },
}

/// A test executable cargo reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TestBinary {
    pub triple: crate::ids::Triple,
    /// Built by cargo-miri, for Miri: the target's interpreted lane.
    pub interpreted: bool,
    pub package_id: PackageId,
    pub id: BinaryId,
    pub path: PathBuf,
    /// `harness = false`: run whole, without arguments, judged by its exit status.
    pub harness: bool,
    /// What its package's build script hands the tests at run time, as cargo does: `OUT_DIR`
    /// and every `cargo::rustc-env` variable (from cargo's `build-script-executed` message).
    pub script_env: Vec<(String, String)>,
    /// Every `cargo::rustc-link-search` directory of the build scripts that ran for this
    /// executable's build: cargo puts those inside the executable's profile directory on the
    /// loader path (the dispatcher keeps those).
    pub link_dirs: Vec<PathBuf>,
}

/// One test executable in cargo's output, with what the build scripts reported before it.
#[derive(Debug, Clone)]
struct Executable {
    interpreted: bool,
    package_id: PackageId,
    unit: Unit,
    path: PathBuf,
    script_env: Vec<(String, String)>,
    link_dirs: Vec<PathBuf>,
}

impl TestBinary {
    pub(crate) fn key(&self) -> crate::ids::BinaryKey {
        crate::ids::BinaryKey {
            triple: self.triple.clone(),
            interpreted: self.interpreted,
            package_id: self.package_id.clone(),
            binary: self.id.clone(),
        }
    }
}

impl Executable {
    fn binary(&self, triple: Triple, ws: &Workspace) -> Option<TestBinary> {
        let id = binary_id(&self.unit)?;
        let harness = ws.member(&self.package_id).is_none_or(|p| {
            p.targets
                .iter()
                .find(|t| t.name == self.unit.name && t.kind == self.unit.kind)
                .is_none_or(|t| t.harness)
        });
        Some(TestBinary {
            triple,
            interpreted: self.interpreted,
            package_id: self.package_id.clone(),
            id,
            path: self.path.clone(),
            harness,
            script_env: self.script_env.clone(),
            link_dirs: self.link_dirs.clone(),
        })
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct BuildResult {
    /// Keyed by (triple, package id), for every selected, non-excluded package of every target
    /// planned at `check` or above.
    pub packages: BTreeMap<(Lane, PackageId), PackageBuild>,
    pub binaries: Vec<TestBinary>,
    pub interrupted: bool,
}

/// A compile unit as cargo reports it; `triple` is `None` for host units (proc-macros).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Unit {
    name: String,
    kind: UnitKind,
    test: bool,
    triple: Option<Triple>,
}

#[derive(Debug, Default)]
struct CargoOutput {
    artifacts: BTreeSet<(PackageId, Unit)>,
    executables: Vec<Executable>,
    /// `build-script-executed`: (triple, package id) → `OUT_DIR` and the `rustc-env` pairs.
    scripts: BTreeMap<(Triple, PackageId), Vec<(String, String)>>,
    /// Every `rustc-link-search` directory the build scripts reported, in order.
    link_dirs: Vec<PathBuf>,
    errors: BTreeMap<PackageId, Vec<BuildError>>,
    /// `error:` blocks from cargo's stderr that name no package.
    general: Vec<String>,
    status: String,
}

/// Builds every planned stage; `on_event` hears of each test executable the moment cargo links
/// it, so its tests can run while the rest still compiles, and of each step.
pub(crate) fn build(
    plan: &Plan,
    ws: &Workspace,
    opts: &CargoOptions,
    on_event: &dyn Fn(Event),
) -> Result<BuildResult> {
    let report = |exe: &Executable| {
        let triple = exe.unit.triple.clone().unwrap_or_else(|| plan.host.clone());
        if let Some(b) = exe.binary(triple, ws) {
            on_event(Event::Binary(b));
        }
    };
    let mut result = BuildResult::default();
    for target in &plan.targets {
        if target.level < Level::Check {
            continue;
        }
        for id in selected(plan, ws, target) {
            result.packages.insert(
                (target.lane(), id.clone()),
                PackageBuild {
                    reached: Level::None,
                    failed: None,
                    errors: Vec::new(),
                },
            );
        }
    }
    for stage in [Level::Check, Level::Build, Level::BuildTests] {
        // Each target is built once, at its top stage: `build` implies `check`, and building a
        // package's test units implies its code builds.
        let triples: Vec<&crate::plan::TargetPlan> = plan
            .targets
            .iter()
            .filter(|t| t.level.min(Level::BuildTests) == stage)
            .collect();
        // Targets with the same exclusions share one cargo invocation; the host has its own,
        // without `--target`, as `cargo test` builds it; interpreted targets, cargo-miri's.
        type Group<'p> = (bool, bool, BTreeSet<&'p String>);
        let mut groups: BTreeMap<Group, Vec<&crate::plan::TargetPlan>> = BTreeMap::new();
        for t in triples {
            groups
                .entry((
                    t.interpreted,
                    t.triple != opts.host,
                    t.excluded.keys().collect(),
                ))
                .or_default()
                .push(t);
        }
        for group in groups.values() {
            if opts.stop.is_stopped() {
                result.interrupted = true;
                return Ok(result);
            }
            let names: Vec<Triple> = group.iter().map(|t| t.triple.clone()).collect();
            // Packages that already failed on every triple of the group are not built again.
            let packages: Vec<PackageId> = selected(plan, ws, group[0])
                .into_iter()
                .filter(|id| {
                    group.iter().any(|t| {
                        result
                            .packages
                            .get(&(t.lane(), id.clone()))
                            .is_some_and(|p| p.failed.is_none())
                    })
                })
                .collect();
            if packages.is_empty() {
                continue;
            }
            let env: Vec<(String, String)> =
                group.iter().flat_map(|t| t.cargo_env.clone()).collect();
            on_event(Event::Started {
                stage,
                triples: names.clone(),
                interpreted: group[0].interpreted,
                packages: packages.len(),
            });
            let started = Instant::now();
            let inv = Invocation {
                ws,
                opts,
                host: &plan.host,
                stage,
                interpreted: group[0].interpreted,
                triples: &names,
                packages: &packages,
                env: &env,
                on_event,
            };
            let out = run_cargo(&inv, &report)?;
            if opts.stop.is_stopped() {
                // Cargo was stopped, not failing: what it linked is kept, nothing is blamed.
                result.interrupted = true;
                record_binaries(&mut result, ws, &plan.host, &out);
                return Ok(result);
            }
            attribute_group(&mut result, &inv, out)?;
            // cargo-miri builds nothing but tests: there is no `build` rung to settle.
            if stage == Level::BuildTests && !result.interrupted && !inv.interpreted {
                settle_build_rung(&mut result, &inv)?;
            }
            on_event(Event::Finished {
                stage,
                interpreted: inv.interpreted,
                triples: names,
                elapsed: started.elapsed(),
            });
        }
    }
    Ok(result)
}

/// Selected, non-excluded member ids for `target`.
fn selected(plan: &Plan, ws: &Workspace, target: &crate::plan::TargetPlan) -> Vec<PackageId> {
    plan.packages
        .iter()
        .filter(|id| !target.excluded.contains_key(ws.package_name(id)))
        .cloned()
        .collect()
}

/// One cargo invocation's scope: the stage, the targets and packages, the environment. Running
/// it and attributing its results read the same scope; a narrower re-run derives its own.
#[derive(Clone, Copy)]
struct Invocation<'a> {
    ws: &'a Workspace,
    opts: &'a CargoOptions,
    host: &'a str,
    stage: Level,
    /// cargo-miri builds the tests, for Miri.
    interpreted: bool,
    triples: &'a [Triple],
    packages: &'a [PackageId],
    env: &'a [(String, String)],
    on_event: &'a dyn Fn(Event),
}

impl Invocation<'_> {
    /// `triple`'s lane in this invocation.
    fn lane(&self, triple: &Triple) -> Lane {
        Lane {
            triple: triple.clone(),
            interpreted: self.interpreted,
        }
    }
}

fn attribute_group(result: &mut BuildResult, inv: &Invocation, out: CargoOutput) -> Result<()> {
    record_binaries(result, inv.ws, inv.host, &out);
    attribute_failures(result, inv, out)
}

/// The test executables cargo reported.
fn record_binaries(result: &mut BuildResult, ws: &Workspace, host: &str, out: &CargoOutput) {
    for exe in &out.executables {
        // Host units (proc-macro tests) belong to the host target only.
        let triple = exe.unit.triple.clone().unwrap_or_else(|| host.into());
        result.binaries.extend(exe.binary(triple, ws));
    }
}

/// What each package reached and, for those that failed, the errors that blocked them.
fn attribute_failures(result: &mut BuildResult, inv: &Invocation, out: CargoOutput) -> Result<()> {
    let Invocation {
        ws,
        opts,
        stage,
        triples,
        packages,
        on_event,
        ..
    } = *inv;
    let mut failing: BTreeMap<&Triple, Vec<PackageId>> = BTreeMap::new();
    for triple in triples {
        for id in packages {
            let Some(pb) = result.packages.get(&(inv.lane(triple), id.clone())) else {
                continue;
            };
            if pb.failed.is_some() {
                continue;
            }
            let pkg = ws.member(id).expect("selected packages are members");
            let (reached, failed) = progress(pkg, stage, triple, &opts.features, &out.artifacts);
            let pb = result
                .packages
                .get_mut(&(inv.lane(triple), id.clone()))
                .expect("present");
            pb.reached = reached;
            if failed.is_some() {
                failing.entry(triple).or_default().push(id.clone());
            }
        }
    }
    let ambiguous = failing.len() > 1;
    for (triple, ids) in failing {
        let rerun;
        let source = if ambiguous {
            on_event(Event::Attributing {
                triple: triple.clone(),
                failures: ids.len(),
            });
            rerun = run_cargo(
                &Invocation {
                    triples: std::slice::from_ref(triple),
                    packages: &ids,
                    ..*inv
                },
                &|_| {},
            )?;
            &rerun
        } else {
            &out
        };
        for id in ids {
            let pkg = ws.member(&id).expect("member");
            let (_, failed) = progress(pkg, stage, triple, &opts.features, &out.artifacts);
            let (failed_stage, missing) = failed.expect("failing packages failed a stage");
            let errors = errors_for(ws, failed_stage, &id, &missing, source);
            let pb = result
                .packages
                .get_mut(&(inv.lane(triple), id.clone()))
                .expect("present");
            pb.failed = Some(failed_stage);
            pb.errors = errors;
        }
    }
    Ok(())
}

/// Packages of a `build-tests` group whose `build` rung the test build did not prove: those
/// whose test units failed (does their code build at all?) and those without test units. One
/// `cargo build` of just them (the `dev` profile, as `cargo build`) settles it: a failure there
/// is a `build` failure with its own errors; otherwise a package whose tests failed reached
/// `build`, and one without test units reached `build-tests` (it has nothing more to build).
fn settle_build_rung(result: &mut BuildResult, inv: &Invocation) -> Result<()> {
    let Invocation {
        ws,
        opts,
        triples,
        packages,
        ..
    } = *inv;
    let unsure: Vec<(Lane, PackageId)> = triples
        .iter()
        .flat_map(|t| packages.iter().map(move |id| (inv.lane(t), id.clone())))
        .filter(|key| {
            let Some(pb) = result.packages.get(key) else {
                return false;
            };
            let no_tests = ws
                .member(&key.1)
                .is_some_and(|p| expected_units(p, Level::BuildTests, &opts.features).is_empty());
            pb.failed == Some(Level::BuildTests) || (pb.failed.is_none() && no_tests)
        })
        .collect();
    if unsure.is_empty() {
        return Ok(());
    }
    let ids: Vec<PackageId> = packages
        .iter()
        .filter(|id| unsure.iter().any(|(_, u)| u == *id))
        .cloned()
        .collect();
    let mut probe = BuildResult::default();
    for key in &unsure {
        probe.packages.insert(
            key.clone(),
            PackageBuild {
                reached: Level::None,
                failed: None,
                errors: Vec::new(),
            },
        );
    }
    let narrowed = Invocation {
        stage: Level::Build,
        packages: &ids,
        ..*inv
    };
    let out = run_cargo(&narrowed, &|_| {})?;
    attribute_group(&mut probe, &narrowed, out)?;
    for (key, settled) in probe.packages {
        let pb = result
            .packages
            .get_mut(&key)
            .expect("unsure packages are present");
        if settled.failed.is_some() {
            *pb = settled;
        } else if pb.failed == Some(Level::BuildTests) {
            pb.reached = Level::Build;
        } else {
            pb.reached = Level::BuildTests;
        }
    }
    Ok(())
}

/// How far `pkg` got in an invocation for `stage` on `triple`: the stage it reached, and the
/// first stage it failed with the units it did not produce. A `build-tests` invocation proves
/// `build-tests` when every test unit was built (whether it proves `build` when one was not is
/// settled by [`settle_build_rung`]).
fn progress(
    pkg: &Package,
    stage: Level,
    triple: &str,
    features: &FeatureArgs,
    artifacts: &BTreeSet<(PackageId, Unit)>,
) -> (Level, Option<(Level, Vec<String>)>) {
    let stages: &[Level] = match stage {
        Level::BuildTests => &[Level::BuildTests],
        Level::Build => &[Level::Build],
        _ => &[Level::Check],
    };
    let mut reached = Level::None;
    for s in stages {
        let missing = missing_units(pkg, *s, triple, features, artifacts);
        if !missing.is_empty() {
            return (reached, Some((*s, missing)));
        }
        reached = *s;
    }
    (reached, None)
}

/// The test binary id of a unit that cargo built as a test executable.
fn binary_id(unit: &Unit) -> Option<BinaryId> {
    match unit.kind {
        UnitKind::Lib => Some(BinaryId::Lib),
        UnitKind::Bin => Some(BinaryId::Bin(unit.name.clone())),
        UnitKind::Test => Some(BinaryId::Test(unit.name.clone())),
        UnitKind::Example => Some(BinaryId::Example(unit.name.clone())),
        UnitKind::Bench => Some(BinaryId::Bench(unit.name.clone())),
        UnitKind::Other => None,
    }
}

/// The targets of `pkg` that `stage` builds (with the features given): test units for
/// `build-tests`, libraries and binaries otherwise.
fn expected_units<'a>(
    pkg: &'a Package,
    stage: Level,
    features: &FeatureArgs,
) -> Vec<&'a crate::discover::workspace::Target> {
    let enabled = |t: &crate::discover::workspace::Target| {
        features.all_features
            || t.required_features
                .iter()
                .all(|f| features.features.iter().any(|g| g == f))
    };
    pkg.targets
        .iter()
        .filter(|t| enabled(t))
        .filter(|t| match stage {
            // `cargo test`'s test units: every target with `test = true` (examples and benches
            // only when they set it).
            Level::BuildTests => t.test && t.kind != UnitKind::Other,
            _ => matches!(t.kind, UnitKind::Lib | UnitKind::Bin),
        })
        .collect()
}

/// The units `pkg` should produce at `stage` on `triple` that cargo did not report.
fn missing_units(
    pkg: &Package,
    stage: Level,
    triple: &str,
    features: &FeatureArgs,
    artifacts: &BTreeSet<(PackageId, Unit)>,
) -> Vec<String> {
    expected_units(pkg, stage, features)
        .into_iter()
        .filter_map(|t| {
            let unit = Unit {
                name: t.name.clone(),
                kind: t.kind,
                test: stage == Level::BuildTests,
                triple: (!t.proc_macro).then(|| triple.into()),
            };
            (!artifacts.contains(&(pkg.id.clone(), unit.clone()))).then(|| {
                let id = binary_id(&unit).map_or_else(|| t.name.clone(), |id| id.to_string());
                if unit.test {
                    format!("{id} (test)")
                } else {
                    id
                }
            })
        })
        .collect()
}

/// The errors that explain why `id` failed: its own, else those of the dependency that blocked it.
fn errors_for(
    ws: &Workspace,
    stage: Level,
    id: &str,
    missing: &[String],
    out: &CargoOutput,
) -> Vec<BuildError> {
    if let Some(own) = out.errors.get(id) {
        // One invocation may cover two stages: an error belongs to the stage that failed.
        return own
            .iter()
            .map(|e| BuildError { stage, ..e.clone() })
            .collect();
    }
    let direct_dev: BTreeSet<&str> = ws
        .deps
        .get(id)
        .into_iter()
        .flatten()
        .filter(|e| e.dev_only)
        .map(|e| e.id.as_str())
        .collect();
    let mut errors = Vec::new();
    for dep in ws.closure(id, stage == Level::BuildTests) {
        let Some(dep_errors) = out.errors.get(&dep) else {
            continue;
        };
        let what = if direct_dev.contains(dep.as_str()) {
            DependencyKind::DevDependency
        } else {
            DependencyKind::Dependency
        };
        let name = ws.display_name(&dep);
        let blocker = Blocker {
            package: ws.package_name(&dep).to_owned(),
            kind: what,
            member: ws.member(&dep).is_some(),
        };
        if blocker.member {
            errors.push(BuildError {
                stage,
                message: format!("blocked: workspace {what} `{name}` failed to compile"),
                rendered: None,
                host_unit: dep_errors.iter().any(|e| e.host_unit),
                blocked_by: Some(blocker),
            });
        } else {
            errors.extend(dep_errors.iter().map(|e| BuildError {
                stage,
                message: format!("in {what} `{name}`: {}", e.message),
                rendered: e.rendered.clone(),
                host_unit: e.host_unit,
                blocked_by: Some(blocker.clone()),
            }));
        }
    }
    if errors.is_empty() {
        errors.extend(out.general.iter().map(|block| {
            BuildError {
                stage,
                message: block
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_owned(),
                rendered: Some(block.clone()),
                host_unit: false,
                blocked_by: None,
            }
        }));
    }
    if errors.is_empty() {
        errors.push(BuildError {
            stage,
            message: format!(
                "cargo did not build {} and reported no error for it ({})",
                missing.join(", "),
                out.status
            ),
            rendered: None,
            host_unit: false,
            blocked_by: None,
        });
    }
    errors
}

fn run_cargo(inv: &Invocation, on_executable: &dyn Fn(&Executable)) -> Result<CargoOutput> {
    let mut cmd = inv.opts.command_for(
        if inv.stage == Level::Check {
            "check"
        } else {
            "build"
        },
        inv.interpreted,
    );
    match inv.stage {
        // cargo-miri writes, in each test executable's place, what Miri interprets.
        Level::BuildTests if inv.interpreted => {
            cmd.args(["--no-run", "--tests"]);
        }
        // Exactly what `cargo test --no-run` builds: the test units, with the `test` profile
        // (`cargo build --tests` alone would use `dev`, which differs as soon as
        // `[profile.test]` says anything). Adding `--lib --bins` here would change the test
        // executables too: a proc-macro built as a root unit gets the target's debuginfo, and
        // everything using it another hash.
        Level::BuildTests => {
            cmd.arg("--tests");
            if inv.opts.profile == Profile::Default {
                cmd.args(["--profile", "test"]);
            }
        }
        // `cargo build`'s own selection, also for libraries whose tests are off.
        Level::Build => {
            // `--lib` is an error when no selected package has a library; `--bins` never is.
            if inv
                .packages
                .iter()
                .any(|id| inv.ws.member(id).is_some_and(|p| p.lib().is_some()))
            {
                cmd.arg("--lib");
            }
            cmd.arg("--bins");
        }
        _ => {}
    }
    cmd.arg("--message-format=json");
    // `cargo test` has no `--keep-going`: `--no-fail-fast` keeps it building.
    cmd.arg(if inv.interpreted {
        "--no-fail-fast"
    } else {
        "--keep-going"
    });
    for t in inv.triples {
        cmd.args(inv.opts.target_args(t, inv.interpreted));
    }
    for p in inv.packages {
        cmd.arg("--package").arg(p);
    }
    cmd.envs(inv.env.iter().map(|(k, v)| (k, v)));
    // Built without `--target`: every unit but a proc-macro is the host's.
    let plain = (inv.triples.len() == 1
        && inv
            .opts
            .target_args(&inv.triples[0], inv.interpreted)
            .is_empty())
    .then_some(inv.opts.host.as_str());
    // Host units (a proc-macro's tests) come from an invocation that builds for the host: built
    // by one for another target they are not what `cargo test` builds (RUSTFLAGS do not reach
    // them there), and the host's own invocation reports the right ones.
    let keeps_host_units = inv.triples.contains(&inv.opts.host);
    let reader = Reader {
        artifacts: inv.opts.artifact_dir(&inv.ws.target_dir, inv.interpreted),
        triples: inv.triples,
        plain,
        keeps_host_units,
        stage: inv.stage,
        interpreted: inv.interpreted,
    };
    let mut child = Supervised::spawn(&mut cmd, false)
        .or_bad_input(|| format!("cannot run cargo ({})", inv.opts.cargo.display()))?;
    let mut out = CargoOutput::default();
    let mut stdout = LineBuffer::default();
    // Cargo's stderr is mostly quiet, but a failing build script's output is repeated there:
    // hold a bounded head and tail.
    let mut stderr = crate::capture::Capture::new(8 << 20, 1 << 20);
    loop {
        match child.next(Duration::from_millis(200)) {
            Next::Data(Stream::Stdout, data) => {
                for line in stdout.push(&data) {
                    let before = out.executables.len();
                    reader.message(&line, &mut out);
                    for exe in &out.executables[before..] {
                        on_executable(exe);
                    }
                }
            }
            Next::Data(Stream::Stderr, data) => stderr.push(&data),
            Next::Idle => {
                if inv.opts.stop.is_stopped() {
                    child.kill();
                }
            }
            Next::Done => break,
        }
    }
    if let Some(rest) = stdout.rest() {
        reader.message(&rest, &mut out);
    }
    out.status = crate::process::describe_status(child.finish());
    parse_stderr(&stderr.text(), inv.ws, inv.stage, &mut out);
    Ok(out)
}

/// Reads cargo's JSON messages (`stdout`) and its stderr as a build of `triples` in a workspace
/// whose target directory is `ws.target_dir` does, and returns how many errors and executables
/// it took from them (for the fuzzer: outside input must never panic).
#[cfg(feature = "fuzzing")]
pub(crate) fn read_cargo_output(
    stdout: &str,
    stderr: &str,
    ws: &Workspace,
    triples: &[Triple],
    host: &str,
) -> (usize, usize) {
    let mut out = CargoOutput::default();
    let reader = Reader {
        artifacts: ws.target_dir.clone(),
        triples,
        plain: (triples == [host]).then_some(host),
        keeps_host_units: triples.iter().any(|t| t == host),
        stage: Level::BuildTests,
        interpreted: false,
    };
    for line in stdout.lines() {
        reader.message(line, &mut out);
    }
    parse_stderr(stderr, ws, Level::BuildTests, &mut out);
    (
        out.errors.values().map(Vec::len).sum::<usize>() + out.general.len(),
        out.executables.len(),
    )
}

/// How one invocation's JSON messages are read.
struct Reader<'a> {
    /// Where the targets' artifacts go ([`CargoOptions::artifact_dir`]).
    artifacts: PathBuf,
    triples: &'a [Triple],
    /// The host triple when cargo ran without `--target`: its units are all the host's.
    plain: Option<&'a str>,
    /// The invocation builds for the host: its host units' test executables are kept.
    keeps_host_units: bool,
    stage: Level,
    /// cargo-miri builds: the executables are the interpreted lane's.
    interpreted: bool,
}

impl Reader<'_> {
    /// The triple a file cargo wrote belongs to, `None` for a host unit of a `--target` build.
    fn triple_of(&self, file: &Path) -> Option<Triple> {
        match self.plain {
            Some(host) => Some(host.into()),
            None => triple_of(file, &self.artifacts, self.triples),
        }
    }

    fn message(&self, line: &str, out: &mut CargoOutput) {
        let Ok(msg) = serde_json::from_str::<Message>(line) else {
            return;
        };
        match msg {
            Message::CompilerArtifact(a) => {
                let proc_macro = a.target.is_proc_macro();
                let unit = Unit {
                    name: a.target.name.clone(),
                    kind: unit_kind(&a.target),
                    test: a.profile.test,
                    triple: if proc_macro {
                        None
                    } else {
                        a.filenames
                            .first()
                            .and_then(|f| self.triple_of(f.as_std_path()))
                    },
                };
                let pkg = PackageId::from(a.package_id.repr.as_str());
                if let Some(exe) = a.executable.filter(|_| a.profile.test)
                    && (unit.triple.is_some() || self.keeps_host_units)
                {
                    let triple = unit.triple.clone().or(self.plain.map(Triple::from));
                    let script_env = triple
                        .and_then(|t| out.scripts.get(&(t, pkg.clone())))
                        .cloned()
                        .unwrap_or_default();
                    out.executables.push(Executable {
                        interpreted: self.interpreted,
                        package_id: pkg.clone(),
                        unit: unit.clone(),
                        path: exe.into_std_path_buf(),
                        script_env,
                        link_dirs: out.link_dirs.clone(),
                    });
                }
                out.artifacts.insert((pkg, unit));
            }
            Message::BuildScriptExecuted(b) => {
                for p in &b.linked_paths {
                    // `KIND=PATH` or a bare path, as in `cargo::rustc-link-search`.
                    let p = p.as_str();
                    let dir = match p.split_once('=') {
                        Some(("native" | "crate" | "dependency" | "framework" | "all", d)) => d,
                        _ => p,
                    };
                    let dir = PathBuf::from(dir);
                    if !out.link_dirs.contains(&dir) {
                        out.link_dirs.push(dir);
                    }
                }
                let Some(triple) = self.triple_of(b.out_dir.as_std_path()) else {
                    return;
                };
                let mut env = vec![("OUT_DIR".to_owned(), b.out_dir.to_string())];
                env.extend(b.env.iter().cloned());
                out.scripts
                    .insert((triple, b.package_id.repr.as_str().into()), env);
            }
            Message::CompilerMessage(m) => {
                let level = m.message.level;
                if !matches!(level, DiagnosticLevel::Error | DiagnosticLevel::Ice)
                    || m.message.message.starts_with("aborting due to")
                {
                    return;
                }
                let error = BuildError {
                    stage: self.stage,
                    message: m.message.message.clone(),
                    rendered: m.message.rendered.clone(),
                    host_unit: m.target.kind.iter().any(|k| {
                        matches!(
                            k,
                            cargo_metadata::TargetKind::CustomBuild
                                | cargo_metadata::TargetKind::ProcMacro
                        )
                    }),
                    blocked_by: None,
                };
                let list = out
                    .errors
                    .entry(m.package_id.repr.as_str().into())
                    .or_default();
                if !list.contains(&error) {
                    list.push(error);
                }
            }
            _ => {}
        }
    }
}

/// The triple directory an artifact was written to, or `None` for host units.
fn triple_of(file: &Path, target_dir: &Path, triples: &[Triple]) -> Option<Triple> {
    let first = file.strip_prefix(target_dir).ok()?.components().next()?;
    let first = first.as_os_str().to_str()?;
    triples.iter().find(|t| *t == first).cloned()
}

/// Splits cargo's stderr into `error:` blocks; build-script failures are attributed to their
/// package, the rest kept as general errors. Cargo's own summaries are dropped.
fn parse_stderr(stderr: &str, ws: &Workspace, stage: Level, out: &mut CargoOutput) {
    let mut blocks: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in stderr.lines() {
        let continues = line.is_empty()
            || line.starts_with(char::is_whitespace)
            || line.starts_with("Caused by:");
        if line.starts_with("error") {
            blocks.extend(current.take());
            current = Some(line.to_owned());
        } else if let Some(block) = current.as_mut().filter(|_| continues) {
            block.push('\n');
            block.push_str(line);
        } else {
            blocks.extend(current.take());
        }
    }
    blocks.extend(current);
    for block in blocks {
        let block = block.trim_end().to_owned();
        let first = block.lines().next().unwrap_or_default();
        if first.starts_with("error: could not compile") {
            continue;
        }
        if let Some(rest) = first.strip_prefix("error: failed to run custom build command for `") {
            let spec = rest.split('`').next().unwrap_or_default();
            let mut words = spec.split_whitespace();
            let (name, version) = (
                words.next().unwrap_or_default(),
                words.next().unwrap_or_default(),
            );
            let id = ws
                .names
                .iter()
                .find(|(_, (n, v))| n == name && format!("v{v}") == version)
                .map(|(id, _)| id.clone());
            if let Some(id) = id {
                out.errors.entry(id).or_default().push(BuildError {
                    stage,
                    message: format!("build script of `{spec}` failed"),
                    rendered: Some(block),
                    host_unit: false,
                    blocked_by: None,
                });
                continue;
            }
        }
        out.general.push(block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_map_to_their_triple_directory() {
        let td = Path::new("/ws/target");
        let triples = ["s390x-unknown-linux-gnu".into()];
        assert_eq!(
            triple_of(
                Path::new("/ws/target/s390x-unknown-linux-gnu/debug/deps/a-1"),
                td,
                &triples
            )
            .as_deref(),
            Some("s390x-unknown-linux-gnu")
        );
        assert_eq!(
            triple_of(Path::new("/ws/target/debug/deps/libpm-1.so"), td, &triples),
            None
        );
    }

    #[test]
    fn stderr_blocks_attribute_build_scripts_and_drop_summaries() {
        let ws = Workspace {
            default_members: vec![],
            root: "/ws".into(),
            manifest_path: "/ws/Cargo.toml".into(),
            target_dir: "/ws/target".into(),
            members: vec![],
            names: [(
                "path+file:///ws/cc-user#0.1.0".into(),
                ("cc-user".to_owned(), "0.1.0".to_owned()),
            )]
            .into_iter()
            .collect(),
            deps: BTreeMap::new(),
            metadata: serde_json::Value::Null,
        };
        let stderr = "   Compiling cc-user v0.1.0 (/ws/cc-user)\n\
error: failed to run custom build command for `cc-user v0.1.0 (/ws/cc-user)`\n\
\n\
Caused by:\n  process didn't exit successfully: `/ws/target/debug/build/x/build-script-build` (exit status: 1)\n  --- stderr\n  error occurred: Failed to find tool. Is `s390x-linux-gnu-gcc` installed?\n\
warning: build failed, waiting for other jobs to finish...\n\
error: could not compile `b` (lib test) due to 1 previous error\n\
error: something else\n";
        let mut out = CargoOutput::default();
        parse_stderr(stderr, &ws, Level::Build, &mut out);
        let e = &out.errors["path+file:///ws/cc-user#0.1.0"][0];
        assert_eq!(
            e.message,
            "build script of `cc-user v0.1.0 (/ws/cc-user)` failed"
        );
        assert!(e.rendered.as_ref().unwrap().contains("Failed to find tool"));
        assert_eq!(out.general, ["error: something else"]);
    }
}
