//! The subcommands, one file each, around one shared start: [`prepare`] opens the session
//! (host, workspace, policy, cargo's config, triples) and plans once; the output checks before
//! any work and the summary-then-files finish are shared here too.

mod archive;
mod ci;
mod doctor;
mod help;
mod merge;
mod plan;
mod verify;

use crate::cli::{self, CommonArgs, Xtest};
use crate::discover::{Discovery, FeatureArgs};
use crate::error::{Error, Result};
use crate::session::{Needs, Session};
use crate::{build, fsutil, level, report, run};

/// Runs the subcommand the command line names (none: verify).
pub(crate) fn execute(cli: &Xtest) -> Result<i32> {
    match &cli.command {
        Some(cli::Command::Doctor(args)) => doctor::doctor(args),
        Some(cli::Command::Setup(args)) => doctor::setup(args),
        Some(cli::Command::Merge(args)) => merge::merge(args),
        Some(cli::Command::Ci(cli::CiCommand::Github(args))) => ci::ci_github(args),
        Some(cli::Command::Archive(args)) => archive::archive(args),
        Some(cli::Command::Run(args)) => archive::run_archive(args),
        Some(cli::Command::Plan(args)) => plan::plan(args),
        Some(cli::Command::Completions(args)) => help::completions(args),
        Some(cli::Command::Man(args)) => help::man(args),
        None => verify::verify(&cli.verify),
    }
}

/// Discovery and planning, shared by `plan`, `archive` and verification.
pub(crate) fn prepare(
    common: &CommonArgs,
) -> Result<(Discovery, crate::plan::Plan, build::CargoOptions)> {
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
    let request = crate::plan::Request {
        targets: common.targets.clone(),
        packages: common.packages.clone(),
        workspace: common.workspace,
        exclude: common.exclude.clone(),
        max_level: common.level,
    };
    let targets = session.toolchains(
        request.max_level.unwrap_or(level::Level::Test),
        common.reprobe,
        common.interpret(),
    )?;
    let host_needs_target = !session.config.build_targets().is_empty();
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
    let plan = crate::plan::plan(&discovery, &policy, &request)?;
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
        host_needs_target,
        jobs: common.jobs,
        extra,
        stop: crate::process::StopToken::signals(),
        miri: discovery.targets.iter().find_map(|t| t.miri.clone()),
    };
    Ok((discovery, plan, cargo))
}

/// `--full-output DIR` exists (created) and takes files, before any work.
pub(crate) fn check_full_output(tests: &cli::TestArgs) -> Result<()> {
    let Some(dir) = &tests.full_output else {
        return Ok(());
    };
    std::fs::create_dir_all(dir)
        .and_then(|()| tempfile::tempfile_in(dir).map(drop))
        .map_err(|e| {
            Error::bad_input_from(
                format!("--full-output {}: cannot write there", dir.display()),
                e,
            )
            .with_fix("give a writable directory")
        })
}

/// Every output path is checked before any work starts, so a typo costs seconds, not a run.
pub(crate) fn check_outputs(out: &cli::OutputArgs) -> Result<()> {
    for (path, what) in [
        (&out.report, "report"),
        (&out.junit, "JUnit report"),
        (&out.markdown, "Markdown report"),
    ] {
        if let Some(p) = path {
            fsutil::check_writable(p, what)?;
        }
    }
    Ok(())
}

/// The summary first, so that results are never lost to a file that cannot be written; then
/// every output file (each one tried, the first failure returned: exit 3).
pub(crate) fn finish(report: &report::Report, out: &cli::OutputArgs) -> Result<i32> {
    match out.message_format {
        cli::MessageFormat::Human => anstream::print!("{}", report::terminal::render(report)),
        cli::MessageFormat::Json => report::stream::Stream::default().finish(report),
    }
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

/// `-j N`, else one per CPU.
pub(crate) fn jobs(requested: Option<usize>) -> usize {
    requested.unwrap_or_else(run::load::cpus)
}

/// How many tests processes may run at once: `-j N` exactly, else up to two per CPU while
/// the CPU idles ([`run::load`]).
pub(crate) fn max_jobs(requested: Option<usize>) -> usize {
    requested.unwrap_or_else(|| 2 * run::load::cpus())
}
