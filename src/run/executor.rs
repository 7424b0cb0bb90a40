//! Spawns and supervises the processes of one job, reporting each finished test as an event.
//!
//! A binary job lists its tests through the runner (`--list --format terse`), then runs them in
//! one process with `--test-threads=1 --exact NAMES…`. A test that hangs past the timeout is
//! killed with its whole process group and marked timed-out; a test during which the binary
//! crashed is marked failed; either way the unfinished rest of the batch runs again in a fresh
//! process. A doctest job runs `cargo test --doc` for its packages on one target.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::libtest::{self, Event, Parser, RawOutcome};
use super::{BinaryJob, BinaryRun, DoctestJob, ExecEvent, RunOptions, TestOutcome, TestResult};
use crate::process::{Next, Stream, Supervised, describe_status, interrupted};

/// How long listing a binary's tests may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(120);
/// How much of a crashed process's output is kept.
const TAIL: usize = 4000;

/// One supervised process: its events, output and how it ended.
struct Attempt {
    finished: Vec<(String, RawOutcome, Duration)>,
    /// The test that was running when the process ended or was killed, and whether it timed out.
    cut_short: Option<(String, Duration, bool)>,
    parser: Parser,
    /// What the process wrote to stdout (all of its output when merged).
    stdout: String,
    /// Everything it wrote, for people: stdout, then stderr.
    output: String,
    status: String,
    success: bool,
    clean_exit: bool,
    interrupted: bool,
}

/// Runs `cmd`, streaming libtest events to `on_event`, killing it when the running test exceeds
/// `timeout`.
///
/// With `merge`, stderr joins stdout in one stream (needed where cargo's stderr headers order the
/// output, as for doctests); otherwise only stdout (libtest's protocol) is parsed, so a runner's
/// warnings on stderr cannot corrupt a result line, and stderr is kept for the evidence.
fn supervise(
    cmd: &mut Command,
    timeout: Option<Duration>,
    merge: bool,
    mut on_event: impl FnMut(&Event, &Parser),
) -> std::io::Result<Attempt> {
    let mut child = Supervised::spawn(cmd, merge)?;
    let mut parser = Parser::default();
    let mut output = Vec::new();
    let mut stderr = Vec::new();
    let mut finished = Vec::new();
    let mut timed_out = None;
    let mut was_interrupted = false;
    let mut handle = |events: Vec<Event>, parser: &Parser, finished: &mut Vec<_>| {
        for e in events {
            if let Event::Finished {
                name,
                outcome,
                duration,
            } = &e
            {
                finished.push((name.clone(), outcome.clone(), *duration));
            }
            on_event(&e, parser);
        }
    };
    loop {
        match child.next(Duration::from_millis(100)) {
            Next::Data(Stream::Stderr, data) => stderr.extend_from_slice(&data),
            Next::Data(Stream::Stdout, data) => {
                output.extend_from_slice(&data);
                let events = parser.feed(&data, Instant::now());
                handle(events, &parser, &mut finished);
            }
            Next::Idle => {}
            Next::Done => break,
        }
        if interrupted() {
            was_interrupted = true;
            child.kill();
        }
        if let (Some(limit), Some((name, start))) = (timeout, parser.running())
            && timed_out.is_none()
            && start.elapsed() > limit
        {
            timed_out = Some((name.to_owned(), start.elapsed()));
            child.kill();
        }
    }
    let events = parser.finish(Instant::now());
    handle(events, &parser, &mut finished);
    let status = child.finish();
    let cut_short = match timed_out {
        Some((name, d)) => Some((name, d, true)),
        None => parser
            .running()
            .map(|(n, start)| (n.to_owned(), start.elapsed(), false)),
    };
    Ok(Attempt {
        finished,
        cut_short,
        parser,
        stdout: String::from_utf8_lossy(&output).into_owned(),
        output: if stderr.is_empty() {
            String::from_utf8_lossy(&output).into_owned()
        } else {
            format!(
                "{}\n[stderr]\n{}",
                String::from_utf8_lossy(&output).trim_end(),
                String::from_utf8_lossy(&stderr)
            )
        },
        success: status.success(),
        clean_exit: status.code().is_some_and(|c| c == 0 || c == 101),
        status: describe_status(status),
        interrupted: was_interrupted,
    })
}

fn tail(s: &str) -> String {
    let start = s.len().saturating_sub(TAIL);
    let start = (start..=s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    s[start..].trim().to_owned()
}

fn runner_command(job: &BinaryJob, args: &[String]) -> Command {
    let (program, pre) = match job.runner.argv.split_first() {
        Some((p, rest)) => (p.clone(), rest.to_vec()),
        None => (job.path.to_string_lossy().into_owned(), Vec::new()),
    };
    let mut cmd = Command::new(program);
    cmd.args(pre);
    if !job.runner.argv.is_empty() {
        cmd.arg(&job.path);
    }
    cmd.args(args)
        .current_dir(&job.cwd)
        .envs(job.runner.env.iter().map(|(k, v)| (k, v)))
        .env("CARGO_MANIFEST_DIR", &job.cwd)
        .env("CARGO_PKG_NAME", &job.package_name)
        .env("CARGO_PKG_VERSION", &job.package_version);
    let inherited = std::env::var_os("LD_LIBRARY_PATH");
    let dirs = job
        .lib_path
        .iter()
        .cloned()
        .chain(inherited.iter().flat_map(std::env::split_paths));
    if let Ok(joined) = std::env::join_paths(dirs) {
        cmd.env("LD_LIBRARY_PATH", joined);
    }
    cmd
}

pub fn run_binary(job: &BinaryJob, opts: &RunOptions, events: &Sender<ExecEvent>) -> BinaryRun {
    let mut run = BinaryRun {
        triple: job.triple.clone(),
        package_id: job.package_id.clone(),
        binary: job.binary.clone(),
        tests: Vec::new(),
        error: None,
    };
    let list = supervise(
        &mut runner_command(job, &["--list".into(), "--format".into(), "terse".into()]),
        Some(LIST_TIMEOUT),
        false,
        |_, _| {},
    );
    let names = match list {
        Ok(a) if a.clean_exit => libtest::parse_list(&a.stdout),
        Ok(a) if a.interrupted => return run,
        Ok(a) => {
            run.error = Some(format!(
                "cannot list the tests of {} ({}): {}",
                job.binary,
                a.status,
                tail(&a.output)
            ));
            return run;
        }
        Err(e) => {
            run.error = Some(format!("cannot start {}: {e}", runner_display(job)));
            return run;
        }
    };
    let emit = |result: TestResult, run: &mut BinaryRun| {
        let _ = events.send(ExecEvent::TestFinished {
            triple: job.triple.clone(),
            package: job.package_id.clone(),
            binary: job.binary.clone(),
            result: result.clone(),
        });
        run.tests.push(result);
    };
    let mut remaining: Vec<String> = Vec::new();
    for name in names {
        match job.skips.get(&name) {
            Some(reason) => emit(
                TestResult {
                    name,
                    outcome: TestOutcome::Ignored,
                    duration: Duration::ZERO,
                    output: None,
                    reason: Some(format!("skipped by policy: {reason}")),
                },
                &mut run,
            ),
            None => remaining.push(name),
        }
    }
    while !remaining.is_empty() {
        let mut args = vec!["--test-threads=1".to_owned(), "--exact".to_owned()];
        args.extend(remaining.iter().cloned());
        let attempt = match supervise(
            &mut runner_command(job, &args),
            opts.test_timeout,
            false,
            |_, _| {},
        ) {
            Ok(a) => a,
            Err(e) => {
                run.error = Some(format!("cannot start {}: {e}", runner_display(job)));
                return run;
            }
        };
        let mut done: BTreeMap<String, TestResult> = BTreeMap::new();
        for (name, outcome, duration) in &attempt.finished {
            let (outcome, reason, output) = match outcome {
                RawOutcome::Ok => (TestOutcome::Passed, None, None),
                RawOutcome::Failed => (
                    TestOutcome::Failed,
                    None,
                    attempt.parser.failure_output(name).map(str::to_owned),
                ),
                RawOutcome::Ignored(r) => (TestOutcome::Ignored, r.clone(), None),
            };
            let duration = if outcome == TestOutcome::Ignored {
                &Duration::ZERO
            } else {
                duration
            };
            done.insert(
                name.clone(),
                TestResult {
                    name: name.clone(),
                    outcome,
                    duration: *duration,
                    output,
                    reason,
                },
            );
        }
        if attempt.interrupted {
            for (_, r) in done {
                emit(r, &mut run);
            }
            return run;
        }
        if let Some((name, duration, timed_out)) = &attempt.cut_short {
            let (outcome, what) = if *timed_out {
                (
                    TestOutcome::TimedOut,
                    format!(
                        "timed out after {:.1}s (--test-timeout); the test binary and everything it started were killed",
                        duration.as_secs_f64()
                    ),
                )
            } else {
                (
                    TestOutcome::Failed,
                    format!(
                        "the test binary ended ({}) while this test was running",
                        attempt.status
                    ),
                )
            };
            done.insert(
                name.clone(),
                TestResult {
                    name: name.clone(),
                    outcome,
                    duration: *duration,
                    output: Some(format!("{what}\n{}", tail(&attempt.output))),
                    reason: None,
                },
            );
        }
        if done.is_empty() {
            run.error = Some(format!(
                "{} ended ({}) without running a test: {}",
                job.binary,
                attempt.status,
                tail(&attempt.output)
            ));
            return run;
        }
        remaining.retain(|n| !done.contains_key(n));
        for (_, r) in done {
            emit(r, &mut run);
        }
        if !attempt.clean_exit && attempt.cut_short.is_none() && !remaining.is_empty() {
            run.error = Some(format!(
                "{} ended ({}) before running every test: {}",
                job.binary,
                attempt.status,
                tail(&attempt.output)
            ));
            return run;
        }
    }
    run
}

fn runner_display(job: &BinaryJob) -> String {
    job.runner
        .argv
        .first()
        .cloned()
        .unwrap_or_else(|| job.path.display().to_string())
}

/// Runs one target's doctests through cargo (which hands rustdoc the runner and linker).
pub fn run_doctests(
    job: &DoctestJob,
    opts: &RunOptions,
    events: &Sender<ExecEvent>,
) -> Vec<BinaryRun> {
    let mut cmd = opts.cargo.command("test");
    cmd.args(["--doc", "--no-fail-fast", "--target", &job.triple]);
    for (id, _) in &job.packages {
        cmd.arg("--package").arg(id);
    }
    cmd.arg("--").arg("--test-threads=1");
    for name in job.skips.keys() {
        cmd.arg("--skip").arg(name);
    }
    if !job.skips.is_empty() {
        cmd.arg("--exact");
    }
    cmd.envs(job.cargo_env.iter().map(|(k, v)| (k, v)));
    let crate_to_id: BTreeMap<&str, &str> = job
        .packages
        .iter()
        .map(|(id, krate)| (krate.as_str(), id.as_str()))
        .collect();
    let mut runs: BTreeMap<String, BinaryRun> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut suites = std::collections::BTreeSet::new();
    let attempt = supervise(
        &mut cmd,
        opts.test_timeout,
        true,
        |event, parser| match event {
            Event::Suite(krate) => {
                current = crate_to_id.get(krate.as_str()).map(|s| (*s).to_owned());
                suites.extend(current.clone());
            }
            Event::Finished {
                name,
                outcome,
                duration,
            } => {
                let Some(id) = &current else { return };
                let (outcome, reason, output) = match outcome {
                    RawOutcome::Ok => (TestOutcome::Passed, None, None),
                    RawOutcome::Failed => (
                        TestOutcome::Failed,
                        None,
                        parser.failure_output(name).map(str::to_owned),
                    ),
                    RawOutcome::Ignored(r) => (TestOutcome::Ignored, r.clone(), None),
                };
                let result = TestResult {
                    name: name.clone(),
                    outcome,
                    duration: *duration,
                    output,
                    reason,
                };
                let _ = events.send(ExecEvent::TestFinished {
                    triple: job.triple.clone(),
                    package: id.clone(),
                    binary: "doc".to_owned(),
                    result: result.clone(),
                });
                runs.entry(id.clone())
                    .or_insert_with(|| doc_run(&job.triple, id))
                    .tests
                    .push(result);
            }
            Event::Started(_) => {}
        },
    );
    // Failure output is printed after the suite's results: attach it now.
    match attempt {
        Ok(a) => {
            for run in runs.values_mut() {
                for t in &mut run.tests {
                    if t.outcome == TestOutcome::Failed && t.output.is_none() {
                        t.output = a.parser.failure_output(&t.name).map(str::to_owned);
                    }
                }
            }
            if let (Some((name, duration, timed_out)), Some(id)) = (&a.cut_short, &current) {
                runs.entry(id.clone())
                    .or_insert_with(|| doc_run(&job.triple, id))
                    .tests
                    .push(TestResult {
                        name: name.clone(),
                        outcome: if *timed_out {
                            TestOutcome::TimedOut
                        } else {
                            TestOutcome::Failed
                        },
                        duration: *duration,
                        output: Some(tail(&a.output)),
                        reason: None,
                    });
            }
            if !a.success && !a.interrupted {
                for (id, _) in job.packages.iter().filter(|(id, _)| !suites.contains(id)) {
                    let run = runs
                        .entry(id.clone())
                        .or_insert_with(|| doc_run(&job.triple, id));
                    run.error = Some(format!(
                        "doctests did not run (cargo test --doc: {}): {}",
                        a.status,
                        tail(&a.output)
                    ));
                }
            }
        }
        Err(e) => {
            for (id, _) in &job.packages {
                let mut run = doc_run(&job.triple, id);
                run.error = Some(format!("cannot run cargo test --doc: {e}"));
                runs.insert(id.clone(), run);
            }
        }
    }
    runs.into_values().collect()
}

fn doc_run(triple: &str, id: &str) -> BinaryRun {
    BinaryRun {
        triple: triple.to_owned(),
        package_id: id.to_owned(),
        binary: "doc".to_owned(),
        tests: Vec::new(),
        error: None,
    }
}
