//! `cargo xtest` (no subcommand): plan, build and run as a pipeline (each test binary starts as
//! cargo links it), diagnose, report.

use super::{check_full_output, check_outputs, finish, jobs, max_jobs, prepare};
use crate::cli;
use crate::error::Result;
use crate::{build, diagnose, report, run, shell};

pub(super) fn verify(args: &cli::VerifyArgs) -> Result<i32> {
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
    let run_options = run::RunOptions {
        jobs: jobs(args.common.jobs),
        max_jobs: max_jobs(args.common.jobs),
        bind: !args.tests.no_cpu_binding,
        test_timeout: args.tests.test_timeout,
        slow_after: args.tests.slow_after(),
        retries: args.tests.retries,
        fail_fast: !args.tests.no_fail_fast,
        cache: cache_scope(args, &discovery.workspace.root),
        doctests: !args.no_doctests,
        partition: args.partition,
        cargo: cargo.clone(),
        sysroot: Some(discovery.host.sysroot.clone()),
        config_env: discovery.config_env.clone(),
        full_output: args.tests.full_output.clone(),
        target_dir: discovery.workspace.target_dir.clone(),
        stop: crate::process::StopToken::signals(),
    };
    let live = report::live::Live::start(
        &plan
            .targets
            .iter()
            .map(|t| t.triple.to_string())
            .collect::<Vec<_>>(),
        args.out.message_format == cli::MessageFormat::Json,
    );
    live.plan(&plan);
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
        let ran = run::run(plan, &run_options, rx, &|e| live.run(&e));
        (builder.join().expect("build thread"), ran)
    });
    live.finish();
    let built = built?;
    let diagnoser = diagnose::Diagnoser::new(&discovery.host, &plan)?;
    let report = report::Report::assemble(&plan, &built, &ran, &diagnoser);
    finish(&report, &args.out)
}

/// The result cache for this run: on unless `--no-cache`, or `CI=true` without `--cache`; keyed
/// on the workspace's files less the ones this run writes.
fn cache_scope(
    args: &cli::VerifyArgs,
    workspace_root: &std::path::Path,
) -> Option<run::cache::CacheScope> {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    if args.no_cache || (ci && !args.cache) {
        return None;
    }
    let written = [
        &args.out.report,
        &args.out.junit,
        &args.out.markdown,
        &args.tests.full_output,
    ];
    Some(run::cache::CacheScope {
        workspace_root: workspace_root.to_owned(),
        exclude: written
            .into_iter()
            .flatten()
            .filter_map(|p| std::path::absolute(p).ok())
            .collect(),
    })
}
