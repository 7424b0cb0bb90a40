//! `cargo xtest archive` (build one target's test binaries and pack them with what they read)
//! and `cargo xtest run --archive` (run them elsewhere: no cargo, no sources).

use super::{check_full_output, check_outputs, finish, jobs, max_jobs, prepare};
use crate::cli;
use crate::discover::{self, Host};
use crate::error::{self, Context, Error, Result};
use crate::{
    archive, build, diagnose, fixes, fsutil, level, plan, process, report, run, shell, targets,
};

pub(super) fn archive(args: &cli::ArchiveArgs) -> Result<i32> {
    if args.common.targets.len() != 1 {
        return Err(Error::bad_input(
            "archive needs exactly one --target (one archive per target)",
        ));
    }
    fsutil::check_writable(&args.output, "archive")?;
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

pub(super) fn run_archive(args: &cli::RunArchiveArgs) -> Result<i32> {
    check_outputs(&args.out)?;
    check_full_output(&args.tests)?;
    let temp;
    let dir = match &args.extract_to {
        Some(d) => {
            std::fs::create_dir_all(d).or_bad_input(|| format!("cannot create {}", d.display()))?;
            if std::fs::read_dir(d).is_ok_and(|mut entries| entries.next().is_some()) {
                return Err(Error::bad_input(format!(
                    "--extract-to {} is not empty; give a new or empty directory",
                    d.display()
                )));
            }
            // Resolved once: the tests run in their package directories, where a relative path
            // would name something else.
            std::path::absolute(d).or_bad_input(|| format!("cannot resolve {}", d.display()))?
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("cargo-xtest-run-")
                .tempdir()
                .or_internal(|| {
                    format!(
                        "cannot create a directory in {}",
                        std::env::temp_dir().display()
                    )
                })?;
            process::remove_on_hard_stop(temp.path());
            temp.path().to_path_buf()
        }
    };
    let manifest = archive::extract(
        &args.archive,
        &dir,
        archive::Limits {
            entries: args.max_entries,
            ..archive::Limits::with_total(args.max_unpacked)
        },
    )?;
    let host = Host::without_toolchain();
    let cwd =
        std::env::current_dir().or_internal(|| "cannot read the current directory".to_owned())?;
    let config = discover::CargoConfig::load(&cwd)?;
    let triple = manifest.triple.clone();
    let fixer = fixes::Fixer::new(&host);
    let (level, runner, downgrades) = match discover::TargetToolchain::runner_only(
        &host,
        &config,
        &triple,
        &discover::toolchain::state_dir(None),
    ) {
        Ok(r) => {
            prepare_wine(&r, &triple);
            (level::Level::Test, Some(plan::runner_spec(&r)), Vec::new())
        }
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
                miri: None,
            };
            let (reason, fix) = fixer.runner_problem(&tc, &problem);
            let cause = problem.cause();
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
            interpreted: false,
        }],
        selection: plan::Selection::Packages,
        packages: manifest.packages.iter().map(|p| p.id.clone()).collect(),
        members: archive::members(&manifest, &dir),
    };
    let built = archive::build_result(&manifest, &dir);
    let (tx, rx) = std::sync::mpsc::channel();
    for b in &built.binaries {
        let _ = tx.send(run::BuildEvent::Binary(b.clone()));
    }
    let _ = tx.send(run::BuildEvent::Finished(Box::new(built.clone())));
    drop(tx);
    let live = report::live::Live::start(
        &[triple.to_string()],
        args.out.message_format == cli::MessageFormat::Json,
    );
    live.plan(&plan);
    let ran = run::run(
        &plan,
        &run::RunOptions {
            jobs: jobs(args.jobs),
            max_jobs: max_jobs(args.jobs),
            bind: !args.tests.no_cpu_binding,
            test_timeout: args.tests.test_timeout,
            slow_after: args.tests.slow_after(),
            retries: args.tests.retries,
            fail_fast: !args.tests.no_fail_fast,
            cache: None,
            doctests: false,
            partition: None,
            cargo: build::CargoOptions::default(),
            sysroot: (!manifest.sysroot_libs.is_empty()).then(|| dir.join("sysroot")),
            config_env: Vec::new(),
            full_output: args.tests.full_output.clone(),
            target_dir: dir.join("target"),
            stop: process::StopToken::signals(),
        },
        rx,
        &|e| live.run(&e),
    );
    live.finish();
    let diagnoser = diagnose::Diagnoser::new(&host, &plan)?;
    let report = report::Report::assemble(&plan, &built, &ran, &diagnoser);
    finish(&report, &args.out)
}

/// Wine's prefix, as the run probe prepares it on a machine that builds (`run --archive` runs
/// no probes): created once, with the `ProcessPrng` DLL Rust's std needs where this Wine lacks
/// it, built with the target's mingw gcc. Without one, the tests say which DLL is missing.
fn prepare_wine(runner: &discover::Runner, triple: &str) {
    let discover::Runner::Command {
        argv,
        env,
        source: discover::Source::AutoDetected,
        kind: crate::runner::RunnerKind::Wine,
    } = runner
    else {
        return;
    };
    let Some(wine) = argv.first() else { return };
    let gcc = targets::lookup(triple)
        .and_then(|i| i.linkers.first())
        .and_then(|l| which::which(l).ok());
    let Some(gcc) = gcc else {
        crate::shell::warn(format!(
            "{triple}: no mingw gcc to build the DLL Rust's std needs for this Wine; tests may not start (wine-dll-missing)"
        ));
        return;
    };
    if let Err(e) = discover::wine::prepare_prefix(wine, env, &gcc) {
        crate::shell::warn(format!("{triple}: cannot prepare Wine's prefix: {e}"));
    }
}
