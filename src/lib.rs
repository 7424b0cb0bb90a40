//! cargo-xtest: verify a Cargo workspace on every target at the strongest level this host can
//! honestly reach — `check` < `build` < `build-tests` < `test` (native or emulated).
//!
//! The pipeline, one module per stage, each handing one data type to the next:
//! [`discover`] ([`discover::Discovery`]) → [`plan`] ([`plan::Plan`]) → [`build`]
//! ([`build::BuildResult`]) → [`run`] ([`run::RunResult`]) → [`report`] ([`report::Report`]).
//! [`process`] holds all OS process handling; [`targets`] is the target knowledge base.

pub mod archive;
pub mod build;
pub mod capture;
pub mod cause;
pub mod ci;
pub mod cli;
pub mod diagnose;
pub mod discover;
pub mod doctor;
pub mod error;
pub mod fixes;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub mod ids;
pub mod level;
pub mod plan;
pub mod policy;
pub mod process;
pub mod report;
pub mod run;
pub mod session;
pub mod shell;
pub mod targets;

use cli::{Color, CommonArgs, Xtest};
use discover::{Discovery, FeatureArgs, Host, Workspace};
use error::{Error, Result};
use session::{Needs, Session};

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = cli::parse();
    anstream::ColorChoice::write_global(match cli.color {
        Color::Auto => anstream::ColorChoice::Auto,
        Color::Always => anstream::ColorChoice::Always,
        Color::Never => anstream::ColorChoice::Never,
    });
    process::install_signal_handlers();
    match execute(&cli) {
        Ok(code) => code,
        Err(e) => {
            shell::error(&e);
            e.exit_code()
        }
    }
}

/// Discovery and planning, shared by `plan`, `archive` and verification.
fn prepare(common: &CommonArgs) -> Result<(Discovery, plan::Plan, build::CargoOptions)> {
    let features = FeatureArgs {
        features: common.features(),
        all_features: common.all_features,
        no_default_features: common.no_default_features,
    };
    let session = Session::open(
        common.manifest_path.as_deref(),
        &features,
        &common.targets,
        Needs::Workspace,
    )?;
    let request = plan::Request {
        targets: common.targets.clone(),
        packages: common.packages.clone(),
        exclude: common.exclude.clone(),
        max_level: common.level,
    };
    let targets = session.toolchains(
        request.max_level.unwrap_or(level::Level::Test),
        common.reprobe,
    )?;
    let Session {
        host,
        workspace,
        policy,
        config,
        ..
    } = session;
    let workspace = workspace.expect("opened with Needs::Workspace");
    let discovery = Discovery {
        host,
        workspace,
        targets,
        config_env: config.env(),
    };
    let plan = plan::plan(&discovery, &policy, &request)?;
    let mut extra = Vec::new();
    for (on, flag) in [
        (common.locked, "--locked"),
        (common.offline, "--offline"),
        (common.frozen, "--frozen"),
    ] {
        if on {
            extra.push(flag.to_owned());
        }
    }
    let cargo = build::CargoOptions {
        cargo: discovery.host.cargo.clone(),
        manifest_path: discovery.workspace.manifest_path.clone(),
        features,
        profile: match (&common.profile, common.release) {
            (Some(name), _) => build::Profile::Named(name.clone()),
            (None, true) => build::Profile::Release,
            (None, false) => build::Profile::Default,
        },
        host: discovery.host.triple.clone(),
        jobs: common.jobs,
        extra,
    };
    Ok((discovery, plan, cargo))
}

/// The host, and the toolchains of the targets `doctor`/`setup` examine. Works outside a
/// workspace too (then without a policy), unless `--manifest-path` names one.
fn examine_host(
    args: &cli::HostArgs,
) -> Result<(Host, Vec<discover::TargetToolchain>, Option<Workspace>)> {
    let session = Session::open(
        args.manifest_path.as_deref(),
        &FeatureArgs::default(),
        &args.targets,
        Needs::WorkspaceIfAny,
    )?;
    let toolchains = session.toolchains(level::Level::Test, args.reprobe)?;
    Ok((session.host, toolchains, session.workspace))
}

fn doctor(args: &cli::HostArgs) -> Result<i32> {
    let (host, toolchains, _) = examine_host(args)?;
    let exams: Vec<_> = toolchains
        .iter()
        .map(|t| doctor::examine(&host, t))
        .collect();
    let fixer = fixes::Fixer::new(&host);
    anstream::print!("{}", doctor::render(&host, &fixer, &exams));
    Ok(if exams.iter().all(doctor::Examination::healthy) {
        error::EXIT_OK
    } else {
        error::EXIT_FAILED
    })
}

fn setup(args: &cli::SetupArgs) -> Result<i32> {
    let (host, mut toolchains, workspace) = examine_host(&args.host)?;
    let fixer = fixes::Fixer::new(&host);
    let exams: Vec<_> = toolchains
        .iter()
        .map(|t| doctor::examine(&host, t))
        .collect();
    let commands = doctor::fix_commands(&host, &fixer, &exams);
    if commands.is_empty() {
        shell::status("Setup", "nothing to install");
    } else if args.yes {
        doctor::run_commands(&commands)?;
        // Discover again: the config must record what is there now.
        let (_, fresh, _) = examine_host(&args.host)?;
        toolchains = fresh;
    } else {
        shell::status("Setup", "would run (pass --yes to run them):");
        for c in &commands {
            anstream::println!("{}", c.join(" "));
        }
    }
    for a in doctor::advice(&host, &fixer, &exams) {
        shell::warn(format!("by hand: {a}"));
    }
    if args.write_config {
        let root = match &workspace {
            Some(ws) => ws.root.clone(),
            None => std::env::current_dir()
                .map_err(|e| Error::internal(format!("cannot read the current directory: {e}")))?,
        };
        let change = doctor::write_config(&root, &toolchains)?;
        for k in &change.written {
            shell::status("Wrote", format!("{k} in {}", change.path.display()));
        }
        for k in &change.kept {
            shell::status(
                "Kept",
                format!("{k} (already set in {})", change.path.display()),
            );
        }
        if let Some(b) = &change.backup {
            shell::status("Backup", b.display());
        }
        if change.written.is_empty() {
            shell::status(
                "Setup",
                format!(
                    "{} already has every detected setting",
                    change.path.display()
                ),
            );
        }
    }
    Ok(error::EXIT_OK)
}

fn execute(cli: &Xtest) -> Result<i32> {
    match &cli.command {
        Some(cli::Command::Doctor(args)) => return doctor(args),
        Some(cli::Command::Setup(args)) => return setup(args),
        Some(cli::Command::Merge(args)) => return merge(args),
        Some(cli::Command::Ci(cli::CiCommand::Github(args))) => return ci_github(args),
        Some(cli::Command::Archive(args)) => return archive(args),
        Some(cli::Command::Run(args)) => return run_archive(args),
        _ => {}
    }
    if let Some(cli::Command::Plan(args)) = &cli.command {
        let (discovery, plan, _) = prepare(&args.common)?;
        let text = match args.format {
            cli::PlanFormat::Text => report::terminal::render_plan(&plan, &discovery.workspace),
            cli::PlanFormat::Json => report::plan_json(&plan, &discovery.workspace)?,
            cli::PlanFormat::GithubMatrix => report::github_matrix(&plan, args.shards)?,
        };
        anstream::println!("{text}");
        return Ok(error::EXIT_OK);
    }
    let args = &cli.verify;
    check_outputs(&args.out)?;
    check_full_output(&args.tests)?;
    let (discovery, plan, cargo) = prepare(&args.common)?;
    for t in &plan.targets {
        let how = t
            .runner
            .as_ref()
            .map(|r| format!(" ({})", r.description))
            .unwrap_or_default();
        shell::status("Planned", format!("{} at {}{how}", t.triple, t.level));
        for d in &t.downgrades {
            shell::warn(format!(
                "{}: {} -> {}: {} (fix: {})",
                t.triple, d.from, d.to, d.reason, d.fix
            ));
        }
    }
    let jobs = args.common.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let run_options = run::RunOptions {
        jobs,
        test_timeout: args.tests.test_timeout,
        slow_after: args.tests.slow_after(),
        retries: args.tests.retries,
        fail_fast: !args.tests.no_fail_fast,
        cache: !args.no_cache,
        doctests: !args.no_doctests,
        partition: args.partition,
        cargo: cargo.clone(),
        sysroot: Some(discovery.host.sysroot.clone()),
        config_env: discovery.config_env.clone(),
        full_output: args.tests.full_output.clone(),
    };
    let live = report::live::Live::start(
        &plan
            .targets
            .iter()
            .map(|t| t.triple.clone())
            .collect::<Vec<_>>(),
    );
    // Build and run as a pipeline: each test binary starts as soon as cargo has linked it.
    let (tx, rx) = std::sync::mpsc::channel();
    let (built, ran) = std::thread::scope(|scope| {
        let ws = &discovery.workspace;
        let plan = &plan;
        let cargo = &cargo;
        let live = &live;
        let builder = scope.spawn(move || {
            let on_event = |e: build::Event| {
                live.build(&e);
                if let build::Event::Binary(b) = e {
                    let _ = tx.send(run::BuildEvent::Binary(b));
                }
            };
            let built = build::build(plan, ws, cargo, &on_event);
            if let Ok(b) = &built {
                let _ = tx.send(run::BuildEvent::Finished(Box::new(b.clone())));
            }
            built
        });
        let ran = run::run(plan, ws, &run_options, rx, &|e| live.run(&e));
        (builder.join().expect("build thread"), ran)
    });
    live.finish();
    let built = built?;
    let diagnoser = diagnose::Diagnoser::new(&discovery.host, &plan)?;
    let report = report::Report::assemble(&plan, &discovery.workspace, &built, &ran, &diagnoser);
    finish(&report, &args.out)
}

/// `--full-output DIR` exists (created) and takes files, before any work.
fn check_full_output(tests: &cli::TestArgs) -> Result<()> {
    let Some(dir) = &tests.full_output else {
        return Ok(());
    };
    std::fs::create_dir_all(dir)
        .and_then(|()| tempfile::tempfile_in(dir).map(drop))
        .map_err(|e| {
            Error::bad_input(format!(
                "--full-output {}: cannot write there: {e}; give a writable directory",
                dir.display()
            ))
        })
}

/// Every output path is checked before any work starts, so a typo costs seconds, not a run.
fn check_outputs(out: &cli::OutputArgs) -> Result<()> {
    for (path, what) in [
        (&out.report, "report"),
        (&out.junit, "JUnit report"),
        (&out.markdown, "Markdown report"),
    ] {
        if let Some(p) = path {
            fsutil::check_writable(p, what).map_err(Error::bad_input)?;
        }
    }
    Ok(())
}

/// The summary first, so that results are never lost to a file that cannot be written; then
/// every output file (each one tried, the first failure returned: exit 3).
fn finish(report: &report::Report, out: &cli::OutputArgs) -> Result<i32> {
    anstream::print!("{}", report::terminal::render(report));
    let mut first_error = None;
    let mut keep = |r: Result<()>| {
        if let Err(e) = r {
            first_error.get_or_insert(e);
        }
    };
    if let Some(path) = &out.report {
        keep(report.write_json(path));
    }
    if let Some(path) = &out.junit {
        keep(report::junit::write(report, path));
    }
    keep(report::markdown::write(report, out.markdown.as_deref()));
    match first_error {
        Some(e) => Err(e),
        None => Ok(report.exit_code()),
    }
}

fn ci_github(args: &cli::CiGithubArgs) -> Result<i32> {
    let session = Session::open(
        args.host.manifest_path.as_deref(),
        &FeatureArgs::default(),
        &args.host.targets,
        Needs::Workspace,
    )?;
    let (host, ws, policy, triples) = (
        &session.host,
        session.workspace(),
        &session.policy,
        &session.triples,
    );
    let root = ci::repo_root(ws);
    let manifest = ws
        .manifest_path
        .strip_prefix(&root)
        .ok()
        .filter(|rel| *rel != std::path::Path::new("Cargo.toml"))
        .map(|rel| rel.display().to_string());
    let text = ci::render(&ci::WorkflowSpec {
        targets: ci::targets(triples, &host.triple, policy),
        shards: args.shards,
        manifest,
        install: &args.install,
    });
    match args.output.as_deref() {
        Some(p) if p == std::path::Path::new("-") => anstream::print!("{text}"),
        other => {
            let path = other
                .map(std::path::Path::to_path_buf)
                .unwrap_or_else(|| root.join(".github/workflows/xtest.yml"));
            if ci::write(&path, &text, args.force)? {
                shell::status("Wrote", path.display());
            } else {
                shell::status("Unchanged", path.display());
            }
        }
    }
    Ok(error::EXIT_OK)
}

fn archive(args: &cli::ArchiveArgs) -> Result<i32> {
    if args.common.targets.len() != 1 {
        return Err(Error::bad_input(
            "archive needs exactly one --target (one archive per target)",
        ));
    }
    fsutil::check_writable(&args.output, "archive").map_err(Error::bad_input)?;
    let mut common = args.common.clone();
    common.level = Some(level::Level::BuildTests);
    let (discovery, plan, cargo) = prepare(&common)?;
    let target = &plan.targets[0];
    if target.level < level::Level::BuildTests {
        let why: Vec<String> = target
            .downgrades
            .iter()
            .map(|d| format!("{} (fix: {})", d.reason, d.fix))
            .collect();
        return Err(Error::bad_input(format!(
            "cannot build the test binaries for {} on this host: {}",
            target.triple,
            why.join("; ")
        )));
    }
    let live = report::live::Live::plain();
    let built = build::build(&plan, &discovery.workspace, &cargo, &|e| live.build(&e))?;
    let manifest = archive::create(
        &plan,
        &discovery.workspace,
        &built,
        &target.triple,
        &discovery.host.sysroot,
        &args.output,
    )?;
    let binaries: usize = manifest.packages.iter().map(|p| p.binaries.len()).sum();
    shell::status(
        "Archived",
        format!(
            "{binaries} test binaries of {} packages for {} into {}",
            manifest.packages.len(),
            target.triple,
            args.output.display()
        ),
    );
    let failed: Vec<&str> = manifest
        .packages
        .iter()
        .filter(|p| p.failed.is_some())
        .map(|p| p.name.as_str())
        .collect();
    if failed.is_empty() {
        Ok(error::EXIT_OK)
    } else {
        shell::warn(format!(
            "did not build (recorded in the archive): {}",
            failed.join(", ")
        ));
        Ok(error::EXIT_FAILED)
    }
}

fn run_archive(args: &cli::RunArchiveArgs) -> Result<i32> {
    check_outputs(&args.out)?;
    check_full_output(&args.tests)?;
    let temp;
    let dir = match &args.extract_to {
        Some(d) => {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::bad_input(format!("cannot create {}: {e}", d.display())))?;
            if std::fs::read_dir(d).is_ok_and(|mut entries| entries.next().is_some()) {
                return Err(Error::bad_input(format!(
                    "--extract-to {} is not empty; give a new or empty directory",
                    d.display()
                )));
            }
            d.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("cargo-xtest-run-")
                .tempdir()
                .map_err(|e| {
                    Error::internal(format!(
                        "cannot create a directory in {}: {e}",
                        std::env::temp_dir().display()
                    ))
                })?;
            process::remove_on_hard_stop(temp.path());
            temp.path().to_path_buf()
        }
    };
    let manifest = archive::extract(
        &args.archive,
        &dir,
        archive::Limits::with_total(args.max_unpacked),
    )?;
    let host = Host::without_toolchain();
    let cwd = std::env::current_dir()
        .map_err(|e| Error::internal(format!("cannot read the current directory: {e}")))?;
    let config = discover::CargoConfig::load(&cwd)?;
    let triple = manifest.triple.clone();
    let fixer = fixes::Fixer::new(&host);
    let (level, runner, downgrades) =
        match discover::TargetToolchain::runner_only(&host, &config, &triple) {
            Ok(r) => (level::Level::Test, Some(plan::runner_spec(&r)), Vec::new()),
            Err(problem) => {
                let tc = discover::TargetToolchain {
                    triple: triple.clone(),
                    info: targets::lookup(&triple),
                    cfg: diagnose::cfg_of(&triple),
                    std_installed: true,
                    linker: None,
                    c_compiler: None,
                    emulator: None,
                    binfmt: false,
                    sysroot: None,
                    runner: Err(problem.clone()),
                    probes: Default::default(),
                };
                let (reason, fix) = fixer.runner_problem(&tc, &problem);
                let cause = match problem {
                    discover::RunnerProblem::NoSysroot { .. } => {
                        cause::Cause::EmulatorSysrootMissing
                    }
                    _ => cause::Cause::EmulatorMissing,
                };
                let d = plan::Downgrade {
                    from: level::Level::Test,
                    to: level::Level::BuildTests,
                    cause,
                    reason,
                    fix,
                    evidence: None,
                };
                (level::Level::BuildTests, None, vec![d])
            }
        };
    let workspace = archive::workspace(&manifest, &dir);
    let plan = plan::Plan {
        host: host.triple.clone(),
        targets: vec![plan::TargetPlan {
            triple: triple.clone(),
            level,
            required: None,
            runner,
            linker: None,
            cargo_env: Vec::new(),
            downgrades,
            excluded: manifest.excluded.clone(),
            skips: manifest.skips.clone(),
            cfg: diagnose::cfg_of(&triple),
            probes: Default::default(),
        }],
        packages: manifest.packages.iter().map(|p| p.id.clone()).collect(),
    };
    let built = archive::build_result(&manifest, &dir);
    let (tx, rx) = std::sync::mpsc::channel();
    for b in &built.binaries {
        let _ = tx.send(run::BuildEvent::Binary(b.clone()));
    }
    let _ = tx.send(run::BuildEvent::Finished(Box::new(built.clone())));
    drop(tx);
    let live = report::live::Live::start(std::slice::from_ref(&triple));
    let ran = run::run(
        &plan,
        &workspace,
        &run::RunOptions {
            jobs: args.jobs.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            }),
            test_timeout: args.tests.test_timeout,
            slow_after: args.tests.slow_after(),
            retries: args.tests.retries,
            fail_fast: !args.tests.no_fail_fast,
            cache: false,
            doctests: false,
            partition: None,
            cargo: build::CargoOptions::default(),
            sysroot: (!manifest.sysroot_libs.is_empty()).then(|| dir.join("sysroot")),
            config_env: Vec::new(),
            full_output: args.tests.full_output.clone(),
        },
        rx,
        &|e| live.run(&e),
    );
    live.finish();
    let diagnoser = diagnose::Diagnoser::new(&host, &plan)?;
    let report = report::Report::assemble(&plan, &workspace, &built, &ran, &diagnoser);
    finish(&report, &args.out)
}

fn merge(args: &cli::MergeArgs) -> Result<i32> {
    check_outputs(&args.out)?;
    let inputs = args
        .reports
        .iter()
        .map(|p| report::merge::read(p).map(|r| (p.clone(), r)))
        .collect::<Result<Vec<_>>>()?;
    let merged = report::merge::merge(inputs);
    finish(&merged, &args.out)
}
