//! Stage 2, plan: the capability ladder of every target.
//!
//! From a [`Discovery`] and the policy, decides for each target the strongest level this host can
//! honestly reach (`test` > `build-tests` > `build` > `check` > `none`), records every step down
//! with its reason and the exact fix, and fixes what the later stages use: the packages, the
//! per-target exclusions and skipped tests, the runner, and the environment handed to cargo.
//!
//! A rung is claimed only when discovery found its pieces *and* no probe refuted them: a linker
//! that cannot link a test executable, or a runner that cannot run one, steps the target down with
//! the probe's literal output as evidence.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cause::Cause;
use crate::discover::{
    Discovery, Host, ProbeKind, ProbeResult, Probes, Runner, Source, TargetCfg, TargetToolchain,
    Tool,
};
use crate::fixes::Fixer;
use crate::ids::PackageId;
use crate::level::Level;
use crate::policy::Policy;
use crate::runner::{Launcher, RunnerKind};
use crate::targets;

/// One step down the ladder, with why and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct Downgrade {
    pub from: Level,
    pub to: Level,
    pub cause: Cause,
    pub reason: String,
    pub fix: String,
    /// The probe that refuted the higher rung, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// A failed probe, as the proof behind a step down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct Evidence {
    pub probe: ProbeKind,
    /// The command the probe ran.
    pub command: String,
    /// The line of its output that proves the cause (else its first line).
    pub line: String,
    /// Its literal output (bounded).
    pub output: String,
}

impl Evidence {
    pub(crate) fn of(p: &ProbeResult) -> Self {
        Evidence {
            probe: p.kind,
            command: p.command.clone(),
            line: p.evidence(),
            output: p.output.clone(),
        }
    }
}

/// How test executables of a target are started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunnerSpec {
    /// The runner as discovery decided it, unchanged: every command starting an executable of
    /// this target is built from it ([`Launcher::command`]).
    pub launcher: Launcher,
    pub description: String,
}

impl RunnerSpec {
    /// What runs the tests, as a test reads it from `XTEST_RUNNER`.
    pub(crate) fn kind(&self) -> RunnerKind {
        self.launcher.kind
    }

    /// What every test process gets in its environment from cargo-xtest (and nothing else):
    /// `XTEST_TARGET=<triple>` and `XTEST_RUNNER=<kind>`.
    pub(crate) fn test_env(&self, triple: &str) -> [(String, String); 2] {
        [
            ("XTEST_TARGET".to_owned(), triple.to_owned()),
            ("XTEST_RUNNER".to_owned(), self.kind().as_str().to_owned()),
        ]
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TargetPlan {
    pub triple: crate::ids::Triple,
    pub level: Level,
    pub required: Option<Level>,
    /// `None` unless executables of this target can run here.
    pub runner: Option<RunnerSpec>,
    pub linker: Option<String>,
    /// `CARGO_TARGET_*` variables handing auto-detected tools to cargo.
    pub cargo_env: Vec<(String, String)>,
    pub downgrades: Vec<Downgrade>,
    /// Excluded package name → reason.
    pub excluded: BTreeMap<String, String>,
    /// Skipped test name → reason.
    pub skips: BTreeMap<String, String>,
    pub cfg: TargetCfg,
    /// What the probes proved on this host.
    pub probes: Probes,
    /// Built by cargo-miri and interpreted by Miri (`--miri`, or the policy's `miri = true`).
    pub interpreted: bool,
}

impl TargetPlan {
    /// Which of its triple's lanes this target is.
    pub(crate) fn lane(&self) -> crate::ids::Lane {
        crate::ids::Lane {
            triple: self.triple.clone(),
            interpreted: self.interpreted,
        }
    }

    pub(crate) fn meets_requirement(&self) -> bool {
        self.required.is_none_or(|r| self.level >= r)
    }
}

/// Everything the later stages need to know, self-contained: the run stage and the report read
/// the plan, never the workspace, so that `run --archive` (which has no workspace) builds one
/// from what the archive carries.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub host: crate::ids::Triple,
    pub targets: Vec<TargetPlan>,
    /// Selected workspace member ids, in workspace order.
    pub packages: Vec<PackageId>,
    pub selection: Selection,
    /// What the run stage and the report need of each selected package, by id.
    pub members: BTreeMap<PackageId, PlannedPackage>,
}

/// A selected package as its tests see it.
#[derive(Debug, Clone)]
pub(crate) struct PlannedPackage {
    pub name: String,
    /// Its directory: where its tests run.
    pub dir: std::path::PathBuf,
    /// What `cargo test` puts in its tests' environment (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`).
    pub env: Vec<(String, String)>,
    /// Its binary targets: integration tests get `CARGO_BIN_EXE_<name>` for each.
    pub bins: Vec<String>,
    /// `cargo build` of it links something for the target (a binary, a dylib or cdylib).
    pub links: bool,
    pub lib: Option<PlannedLib>,
}

#[derive(Debug, Clone)]
pub(crate) struct PlannedLib {
    /// The crate name, as `Doc-tests` prints it.
    pub crate_name: String,
    pub doctest: bool,
    /// Built for the host; its tests run on the host target only.
    pub proc_macro: bool,
}

impl PlannedPackage {
    pub(crate) fn of(p: &crate::discover::Package) -> PlannedPackage {
        PlannedPackage {
            name: p.name.clone(),
            dir: p.manifest_dir.clone(),
            env: p.test_env(),
            bins: p.bins().map(str::to_owned).collect(),
            links: p.targets.iter().any(|t| t.links),
            lib: p.lib().map(|l| PlannedLib {
                crate_name: l.name.replace('-', "_"),
                doctest: l.doctest,
                proc_macro: l.proc_macro,
            }),
        }
    }
}

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub targets: Vec<String>,
    pub packages: Vec<String>,
    /// `--workspace`: every member, not only the default members.
    pub workspace: bool,
    pub exclude: Vec<String>,
    pub max_level: Option<Level>,
}

/// How the packages were selected, as cargo selects them (`plan` says which).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Selection {
    /// No `-p`, `--workspace` or `--exclude`: what `cargo test` tests, the workspace's
    /// `default-members` (the root package when the root is a package; every member of a
    /// virtual workspace without `default-members`).
    DefaultMembers { of: usize },
    /// `--workspace` (or `--exclude`): every member but the excluded.
    Workspace,
    /// `-p`: the packages named.
    Packages,
}

impl std::fmt::Display for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selection::DefaultMembers { of } => write!(
                f,
                "the workspace's default members, as `cargo test` selects them ({of} members in all: --workspace for every one)"
            ),
            Selection::Workspace => f.write_str("every workspace member (--workspace)"),
            Selection::Packages => f.write_str("the packages given with -p"),
        }
    }
}

/// The target triples to verify: the command line's, else the policy's, else the targets
/// cargo's configuration builds for by default (`[build] target`, `CARGO_BUILD_TARGET`: what a
/// plain `cargo test` there tests), else host + defaults.
/// `host` is the host triple, a policy group name its members, and `all` every target of the
/// knowledge base whose standard library is installed (`has_std`); the second value says `all`
/// was asked for, so that the caller keeps only those its probes prove reach `test`.
pub(crate) fn select_triples(
    request: &Request,
    policy: &Policy,
    host: &str,
    config_targets: &[String],
    has_std: impl Fn(&str) -> bool,
) -> (Vec<String>, bool) {
    let chosen: Vec<String> = if !request.targets.is_empty() {
        request.targets.clone()
    } else if !policy.targets.is_empty() {
        policy.targets.clone()
    } else if !config_targets.is_empty() {
        config_targets.to_vec()
    } else {
        std::iter::once(host.to_owned())
            .chain(
                targets::DEFAULT_CROSS_TARGETS
                    .iter()
                    .map(|t| (*t).to_owned()),
            )
            .collect()
    };
    let mut out: Vec<String> = Vec::new();
    let mut all = false;
    let push = |t: &str, out: &mut Vec<String>| {
        let t = if t == "host" { host } else { t };
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    };
    for t in &chosen {
        let members: Vec<&str> = match policy.groups.get(t) {
            Some(m) => m.iter().map(String::as_str).collect(),
            None => vec![t.as_str()],
        };
        for m in members {
            if m == "all" {
                all = true;
                push(host, &mut out);
                for k in targets::KNOWN.iter().filter(|k| has_std(k.triple)) {
                    push(k.triple, &mut out);
                }
            } else {
                push(m, &mut out);
            }
        }
    }
    (out, all)
}

pub(crate) fn plan(
    discovery: &Discovery,
    policy: &Policy,
    request: &Request,
) -> crate::error::Result<Plan> {
    let ws = &discovery.workspace;
    for name in request.packages.iter().chain(&request.exclude) {
        if ws.member_by_name(name).is_none() {
            return Err(crate::error::Error::bad_input(format!(
                "package `{name}` is not a member of the workspace at {}",
                ws.root.display()
            )));
        }
    }
    let selection = if !request.packages.is_empty() {
        Selection::Packages
    } else if request.workspace || !request.exclude.is_empty() {
        Selection::Workspace
    } else {
        Selection::DefaultMembers {
            of: ws.members.len(),
        }
    };
    let selected: Vec<&crate::discover::Package> = ws
        .members
        .iter()
        .filter(|p| match selection {
            Selection::Packages => request.packages.contains(&p.name),
            Selection::Workspace => true,
            Selection::DefaultMembers { .. } => ws.default_members.contains(&p.id),
        })
        .filter(|p| !request.exclude.contains(&p.name))
        .collect();
    let packages = selected.iter().map(|p| p.id.clone()).collect();
    let members: BTreeMap<PackageId, PlannedPackage> = selected
        .iter()
        .map(|p| (p.id.clone(), PlannedPackage::of(p)))
        .collect();
    let targets = discovery
        .targets
        .iter()
        .map(|tc| {
            let rules = policy.for_target(&tc.triple, &discovery.host.triple);
            let mut t = plan_target(
                &discovery.host,
                tc,
                request.max_level.unwrap_or(Level::Test),
                rules,
            );
            let links = members
                .values()
                .any(|p| p.links && !t.excluded.contains_key(&p.name));
            if !links {
                libraries_build_without_a_linker(&mut t, request.max_level.unwrap_or(Level::Test));
            }
            t
        })
        .collect();
    Ok(Plan {
        host: discovery.host.triple.clone(),
        targets,
        packages,
        selection,
        members,
    })
}

/// A target no Linux distro can link for still reaches `build` when nothing selected links for
/// it: rlibs and staticlibs need no linker (build scripts and proc-macros link for the host), so
/// `cargo build` proves them; test executables still need one.
fn libraries_build_without_a_linker(t: &mut TargetPlan, cap: Level) {
    let Some(step) = t
        .downgrades
        .iter_mut()
        .find(|d| d.to == Level::Check && d.cause == Cause::NotAvailableHere)
    else {
        return;
    };
    if t.level != Level::Check || cap < Level::Build {
        return;
    }
    step.to = Level::Build;
    step.reason = format!(
        "{}: test executables cannot be linked, but the selected packages are libraries that link nothing for it, so they are built",
        step.reason
    );
    t.level = Level::Build;
}

fn plan_target(
    host: &Host,
    tc: &TargetToolchain,
    cap: Level,
    rules: crate::policy::TargetPolicy,
) -> TargetPlan {
    let (level, downgrades) = ladder(host, tc, cap);
    TargetPlan {
        triple: tc.triple.clone(),
        required: rules.require,
        runner: tc
            .runner
            .as_ref()
            .ok()
            .map(runner_spec)
            .filter(|_| level >= Level::Test),
        linker: tc.linker_label(),
        cargo_env: tc.cargo_env(),
        downgrades,
        excluded: rules.exclude,
        skips: rules.skip,
        cfg: tc.cfg.clone(),
        probes: tc.probes.clone(),
        interpreted: tc.interpreted(),
        level,
    }
}

/// The strongest level `tc` honestly reaches (at most `cap`), with every step down from `cap`,
/// top down: what discovery found missing, then what a probe refuted.
pub(crate) fn ladder(host: &Host, tc: &TargetToolchain, cap: Level) -> (Level, Vec<Downgrade>) {
    let fixer = Fixer::new(host);
    let mut level = cap;
    let mut downgrades = Vec::new();
    let mut step =
        |to: Level, cause: Cause, reason: String, fix: String, probe: Option<&ProbeResult>| {
            if to < level {
                downgrades.push(Downgrade {
                    from: level,
                    to,
                    cause,
                    reason,
                    fix,
                    evidence: probe.map(Evidence::of),
                });
                level = to;
            }
        };
    // `--miri`: cargo-miri builds the tests (`build-tests`, no linker) and Miri interprets them
    // (`test`); nothing else is built, so without Miri nothing is verified.
    if tc.interpreted() {
        if cap < Level::Test {
            step(
                Level::BuildTests.min(cap),
                Cause::Unknown,
                format!("--level {cap}: the tests are built, not interpreted"),
                "raise --level to test".to_owned(),
                None,
            );
        }
        match &tc.runner {
            Err(problem) => {
                let (reason, fix) = fixer.runner_problem(tc, problem);
                step(Level::None, problem.cause(), reason, fix, None);
            }
            Ok(_) => {
                if let Some(p) = tc.probes.run.as_ref().filter(|p| !p.ok) {
                    step(
                        Level::None,
                        Cause::MiriMissing,
                        format!(
                            "Miri could not build and interpret a one-test crate for {}",
                            tc.triple
                        ),
                        format!(
                            "run `{}` by hand in a new crate to see why (`rustup component add miri rust-src --toolchain {}` repairs a partial install)",
                            p.command,
                            crate::discover::toolchain::MIRI_TOOLCHAIN
                        ),
                        Some(p),
                    );
                }
            }
        }
        return (level, downgrades);
    }
    if let Err(problem) = &tc.runner {
        let (reason, fix) = fixer.runner_problem(tc, problem);
        step(Level::BuildTests, problem.cause(), reason, fix, None);
    }
    if let (Some(p), Ok(runner)) = (tc.probes.run.as_ref().filter(|p| !p.ok), &tc.runner) {
        let (cause, reason, fix) = refuted_runner(&fixer, tc, runner, p);
        step(Level::BuildTests, cause, reason, fix, Some(p));
    }
    match &tc.linker {
        Some(Tool { path: Some(_), .. }) => {}
        Some(Tool {
            program, source, ..
        }) => step(
            Level::Check,
            Cause::LinkerMissing,
            format!(
                "the linker `{program}` set by {source} is not on PATH; executables cannot be linked"
            ),
            fixer.linker_fix(tc),
            None,
        ),
        None if let Some(targets::LinkVia::Unavailable(lift)) = tc.info.map(|i| i.link) => step(
            Level::Check,
            Cause::NotAvailableHere,
            format!(
                "no linker for {} on a Linux host: none is configured and no distro package provides one",
                tc.triple
            ),
            lift.to_owned(),
            None,
        ),
        None if let Some(targets::LinkVia::Zig(zig_target)) = tc.info.map(|i| i.link) => step(
            Level::Check,
            Cause::LinkerMissing,
            format!(
                "no linker for {}: none is configured and `{}` is not on PATH (zig links it as {zig_target}); executables cannot be linked",
                tc.triple,
                targets::ZIG_DRIVER
            ),
            fixer.linker_fix(tc),
            None,
        ),
        None => step(
            Level::Check,
            Cause::LinkerMissing,
            format!(
                "no linker for {}: none is configured{}; executables cannot be linked",
                tc.triple,
                tc.info
                    .map(|i| format!(" and `{}` is not on PATH", i.linkers.join("`, `")))
                    .unwrap_or_default()
            ),
            fixer.linker_fix(tc),
            None,
        ),
    }
    if let (Some(p), Some(linker)) = (tc.probes.link.as_ref().filter(|p| !p.ok), &tc.linker) {
        let (cause, reason, fix) = refuted_linker(&fixer, tc, linker, p);
        step(Level::Check, cause, reason, fix, Some(p));
    }
    if !tc.std_installed {
        let fix = fixer.std_fix(host, &tc.triple);
        step(
            Level::None,
            Cause::MissingStd,
            format!("the standard library for {} is not installed", tc.triple),
            fix,
            None,
        );
    }
    (level, downgrades)
}

/// Why a linker that exists could not link the link probe, and the fix.
fn refuted_linker(
    fixer: &Fixer,
    tc: &TargetToolchain,
    linker: &Tool,
    p: &ProbeResult,
) -> (Cause, String, String) {
    let who = format!("`{}` ({})", linker.program, linker.source);
    let triple = &tc.triple;
    match p.cause {
        Some(Cause::CLibraryMissing) => (
            Cause::CLibraryMissing,
            format!(
                "{who} cannot link a test executable for {triple}: the target C library's development files (crt objects, libc.so, headers) are missing"
            ),
            fixer.c_library_fix(triple),
        ),
        Some(Cause::WrongLinker) => (
            Cause::WrongLinker,
            format!("{who} cannot link {triple} executables: it links for another architecture"),
            match tc.info.and_then(|i| i.linkers.first()) {
                Some(l) => format!(
                    "set {}={l} ({})",
                    targets::cargo_env_var(triple, "linker"),
                    fixer.linker_fix(tc)
                ),
                None => fixer.linker_fix(tc),
            },
        ),
        _ => (
            Cause::LinkerBroken,
            format!("{who} failed to link a minimal test executable for {triple}"),
            format!(
                "make the linker work for {triple}: the probe `{}` must succeed (`cargo xtest doctor` shows its output)",
                p.command
            ),
        ),
    }
}

/// Why a runner that exists could not run the run probe, and the fix.
fn refuted_runner(
    fixer: &Fixer,
    tc: &TargetToolchain,
    runner: &Runner,
    p: &ProbeResult,
) -> (Cause, String, String) {
    let who = format!("the runner `{}`", runner.describe());
    let var = targets::cargo_env_var(&tc.triple, "runner");
    match (p.cause, tc.info) {
        (Some(Cause::EmulatorSysrootMissing), Some(info)) => (
            Cause::EmulatorSysrootMissing,
            format!(
                "{who} cannot start {} executables: the target's dynamic loader is not where it looks",
                tc.triple
            ),
            format!(
                "give QEMU the target's sysroot: {var}=\"{} -L {}\" ({})",
                info.qemu,
                info.sysroots[0],
                fixer.c_library_fix(&tc.triple)
            ),
        ),
        _ => (
            p.cause.unwrap_or(Cause::RunnerBroken),
            format!(
                "{who} did not run a minimal test executable for {} ({})",
                tc.triple,
                if p.timed_out {
                    "timed out"
                } else {
                    "it failed"
                }
            ),
            match runner {
                Runner::Command { source, .. } if *source != Source::AutoDetected => format!(
                    "fix or replace the runner set by {source}: `{}` must run the test and exit 0",
                    p.command
                ),
                _ => format!(
                    "make `{}` run the test and exit 0, or set {var} to a runner that does",
                    p.command
                ),
            },
        ),
    }
}

/// How a discovered runner starts executables.
pub(crate) fn runner_spec(r: &Runner) -> RunnerSpec {
    RunnerSpec {
        launcher: r.launcher(),
        description: match r {
            Runner::Command {
                kind: RunnerKind::Miri,
                ..
            } => format!("Miri, interpreted ({})", r.describe()),
            Runner::Command { source, .. } if *source != Source::AutoDetected => {
                format!("{} ({source})", r.describe())
            }
            _ => r.describe(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::RunnerProblem;

    #[test]
    fn runner_kinds_as_tests_read_them() {
        let spec = RunnerSpec {
            launcher: Launcher {
                kind: RunnerKind::Qemu,
                argv: vec!["qemu-aarch64".into()],
                env: Vec::new(),
                preopen: false,
            },
            description: String::new(),
        };
        let env = spec.test_env("aarch64-unknown-linux-gnu");
        assert_eq!(
            env[0],
            ("XTEST_TARGET".into(), "aarch64-unknown-linux-gnu".into())
        );
        assert_eq!(env[1], ("XTEST_RUNNER".into(), "qemu".into()));
    }
    use crate::discover::PackageManager;
    use std::path::PathBuf;

    fn host() -> Host {
        Host {
            triple: "x86_64-unknown-linux-gnu".into(),
            arch: "x86_64".into(),
            sysroot: PathBuf::from("/sysroot"),
            rustup: true,
            known_triples: Default::default(),
            package_manager: PackageManager::Apt,
            cargo: PathBuf::from("cargo"),
            rustc: "rustc".into(),
            rustc_version: String::new(),
            cfg_memo: Default::default(),
        }
    }

    fn toolchain(
        std: bool,
        linker: bool,
        runner: Result<Runner, RunnerProblem>,
    ) -> TargetToolchain {
        TargetToolchain {
            triple: "s390x-unknown-linux-gnu".into(),
            info: targets::lookup("s390x-unknown-linux-gnu"),
            cfg: TargetCfg::default(),
            std_installed: std,
            linker: linker.then(|| Tool {
                program: "s390x-linux-gnu-gcc".into(),
                source: Source::AutoDetected,
                path: Some(PathBuf::from("/usr/bin/s390x-linux-gnu-gcc")),
            }),
            c_compiler: None,
            emulator: Some("qemu-s390x".into()),
            binfmt: false,
            sysroot: Some("/usr/s390x-linux-gnu".into()),
            runner,
            probes: Default::default(),
            miri: None,
        }
    }

    fn qemu() -> Result<Runner, RunnerProblem> {
        Ok(Runner::Command {
            argv: vec![
                "qemu-s390x".into(),
                "-L".into(),
                "/usr/s390x-linux-gnu".into(),
            ],
            env: vec![],
            source: Source::AutoDetected,
            kind: RunnerKind::Qemu,
        })
    }

    #[test]
    fn full_toolchain_reaches_test() {
        let p = plan_target(
            &host(),
            &toolchain(true, true, qemu()),
            Level::Test,
            Default::default(),
        );
        assert_eq!(p.level, Level::Test);
        assert!(p.downgrades.is_empty());
        assert_eq!(p.runner.unwrap().launcher.argv[0], "qemu-s390x");
        assert!(p.cargo_env.contains(&(
            "CARGO_TARGET_S390X_UNKNOWN_LINUX_GNU_LINKER".into(),
            "s390x-linux-gnu-gcc".into()
        )));
    }

    /// `--miri`: no linker, std or emulator is asked for; without Miri nothing is verified,
    /// and the fix installs it; with it, the probe's verdict decides.
    #[test]
    fn under_miri_only_miri_and_its_probe_decide() {
        let mut tc = toolchain(false, false, qemu());
        tc.interpret(&Err(RunnerProblem::MiriMissing {
            what: "nightly with the miri component".into(),
        }));
        let (level, steps) = ladder(&host(), &tc, Level::Test);
        assert_eq!(level, Level::None);
        assert_eq!(steps.len(), 1, "{steps:?}");
        assert_eq!(steps[0].cause, Cause::MiriMissing);
        assert!(
            steps[0].fix.contains("-c miri,rust-src"),
            "{}",
            steps[0].fix
        );
        let miri = crate::discover::toolchain::Miri {
            cargo_miri: "/n/bin/cargo-miri".into(),
            cargo: "/n/bin/cargo".into(),
            sysroot: "/c/miri".into(),
        };
        tc.interpret(&Ok(miri));
        assert_eq!(ladder(&host(), &tc, Level::Test), (Level::Test, Vec::new()));
        let runner = plan_target(&host(), &tc, Level::Test, Default::default())
            .runner
            .unwrap();
        assert_eq!(runner.kind(), RunnerKind::Miri);
        assert_eq!(runner.launcher.argv, ["/n/bin/cargo-miri", "runner"]);
        assert!(
            runner
                .launcher
                .env
                .contains(&("MIRI_SYSROOT".into(), "/c/miri".into()))
        );
        tc.probes.run = Some(ProbeResult {
            kind: ProbeKind::Run,
            ok: false,
            command: "cargo-miri miri test".into(),
            output: "error[E0463]: can't find crate for `std`".into(),
            cause: None,
            timed_out: false,
            millis: 0,
            cached: false,
        });
        let (level, steps) = ladder(&host(), &tc, Level::Test);
        assert_eq!(level, Level::None);
        assert_eq!(steps[0].cause, Cause::MiriMissing);
    }

    #[test]
    fn each_missing_piece_is_one_explained_step_down() {
        let no_qemu = Err(RunnerProblem::NoEmulator {
            qemu: "qemu-s390x".into(),
        });
        let p = plan_target(
            &host(),
            &toolchain(true, true, no_qemu.clone()),
            Level::Test,
            Default::default(),
        );
        assert_eq!(p.level, Level::BuildTests);
        assert_eq!(p.downgrades.len(), 1);
        assert!(
            p.downgrades[0]
                .fix
                .ends_with("apt-get install -y qemu-user"),
            "{:?}",
            p.downgrades
        );
        assert!(p.runner.is_none());

        let p = plan_target(
            &host(),
            &toolchain(true, false, no_qemu.clone()),
            Level::Test,
            Default::default(),
        );
        assert_eq!(p.level, Level::Check);
        assert_eq!(
            p.downgrades
                .iter()
                .map(|d| (d.from, d.to))
                .collect::<Vec<_>>(),
            [
                (Level::Test, Level::BuildTests),
                (Level::BuildTests, Level::Check)
            ]
        );
        assert!(p.downgrades[1].fix.ends_with("gcc-s390x-linux-gnu"));

        let p = plan_target(
            &host(),
            &toolchain(false, true, qemu()),
            Level::Test,
            Default::default(),
        );
        assert_eq!(p.level, Level::None);
        assert_eq!(
            p.downgrades[0].fix,
            "rustup target add s390x-unknown-linux-gnu"
        );
    }

    #[test]
    fn cap_hides_problems_above_it_and_requirement_is_checked() {
        let no_qemu = Err(RunnerProblem::NoEmulator {
            qemu: "qemu-s390x".into(),
        });
        let rules = crate::policy::TargetPolicy {
            require: Some(Level::Test),
            ..Default::default()
        };
        let p = plan_target(
            &host(),
            &toolchain(true, true, no_qemu),
            Level::Build,
            rules,
        );
        assert_eq!(p.level, Level::Build);
        assert!(p.downgrades.is_empty());
        assert!(!p.meets_requirement());
    }

    #[test]
    fn triples_default_to_host_plus_three_and_dedupe() {
        let h = "x86_64-unknown-linux-gnu";
        let (t, all) = select_triples(&Request::default(), &Policy::default(), h, &[], |_| true);
        assert!(!all);
        assert_eq!(
            t,
            [
                h,
                "aarch64-unknown-linux-gnu",
                "s390x-unknown-linux-gnu",
                "riscv64gc-unknown-linux-gnu"
            ]
        );
        let r = Request {
            targets: vec!["host".into(), h.into(), "s390x-unknown-linux-gnu".into()],
            ..Default::default()
        };
        assert_eq!(
            select_triples(&r, &Policy::default(), h, &[], |_| true).0,
            [h, "s390x-unknown-linux-gnu"]
        );
    }

    #[test]
    fn groups_expand_and_all_takes_every_known_target_with_std() {
        let h = "x86_64-unknown-linux-gnu";
        let mut policy = Policy::default();
        policy.groups.insert(
            "big-endian".into(),
            vec!["host".into(), "s390x-unknown-linux-gnu".into()],
        );
        let r = Request {
            targets: vec!["big-endian".into(), "powerpc-unknown-linux-gnu".into()],
            ..Default::default()
        };
        let (t, all) = select_triples(&r, &policy, h, &[], |_| true);
        assert!(!all);
        assert_eq!(
            t,
            [h, "s390x-unknown-linux-gnu", "powerpc-unknown-linux-gnu"]
        );
        let r = Request {
            targets: vec!["all".into()],
            ..Default::default()
        };
        let (t, all) = select_triples(&r, &policy, h, &[], |t| t.contains("i686") || t == h);
        assert!(all);
        assert_eq!(t, [h, "i686-unknown-linux-gnu"]);
    }
}
