//! Spawns and supervises the processes of one task, reporting each finished test as an event.
//!
//! *Prepare* a binary: list its tests through the runner (`--list`, trusted only with libtest's
//! closing count), then replay the cache's entry for it if the entry holds exactly those tests. *Run a batch*: one process with `--test-threads=1 --exact NAMES…`,
//! so each test is timed and a hung one can be killed with its whole process group; after a hang
//! or a crash the unfinished rest runs again in a fresh process; failed tests get `--retries`
//! more tries. *Doctests*: `cargo test --doc` for some packages of one target.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::cache::Cache;
use super::libtest::{self, Event, Parser, RawOutcome};
use super::{
    BinaryJob, BinaryRun, DoctestJob, Event as RunEvent, FailureStatus, RunFailure, RunOptions,
    TestOutcome, TestRef, TestResult,
};
use crate::capture::Capture;
use crate::ids::{BinaryId, PackageId};
use crate::process::{Next, Stream, Supervised, describe_status};

/// How long listing a binary's tests may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(120);
/// How much of a crashed process's output is kept.
const TAIL: usize = 4000;
/// How much of a binary's test list is read (names of a million tests fit).
const LIST_LIMIT: usize = 64 * 1024 * 1024;

/// Limits watched while a process runs.
#[derive(Debug, Clone, Default)]
struct Watch {
    /// Kill when the running test exceeds this.
    timeout: Option<Duration>,
    /// Report (once per test) a test running longer than this.
    slow: Option<Duration>,
    /// Kill when no test finished for this long (doctests, whose starts are not visible).
    idle: Option<Duration>,
    /// Keep this much of stdout's start instead of the usual 64 KiB head and tail (a listing,
    /// whose every line is needed).
    stdout_head: Option<usize>,
    /// Tripped, the process and everything it started are killed.
    stop: crate::process::StopToken,
}

/// `--full-output`: the file a process's whole output goes to as it arrives. A failed write
/// (a full disk) ends the log with a note in the captured output; the run goes on.
struct Log {
    path: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
    error: Option<String>,
}

impl Log {
    /// A new file `DIR/<triple>/<package>/<name>.<n>.log`; `None` without `--full-output`.
    fn open(opts: &RunOptions, triple: &str, package: &str, name: &str) -> Option<Log> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let dir = opts.full_output.as_ref()?.join(triple).join(package);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("{}.{n}.log", name.replace('/', "-")));
        let file = std::fs::create_dir_all(&dir).and_then(|()| std::fs::File::create(&path));
        Some(match file {
            Ok(f) => Log {
                path,
                file: Some(std::io::BufWriter::new(f)),
                error: None,
            },
            Err(e) => Log {
                error: Some(format!("cannot create {}: {e}", path.display())),
                path,
                file: None,
            },
        })
    }

    fn write(&mut self, data: &[u8]) {
        use std::io::Write;
        if let Some(f) = &mut self.file
            && let Err(e) = f.write_all(data)
        {
            self.error = Some(format!("writing {} failed: {e}", self.path.display()));
            self.file = None;
        }
    }

    /// Flushes; the path when the whole output is there, else why not.
    fn close(mut self) -> Result<PathBuf, String> {
        use std::io::Write;
        if let Some(mut f) = self.file.take()
            && let Err(e) = f.flush()
        {
            self.error = Some(format!("writing {} failed: {e}", self.path.display()));
        }
        match self.error {
            None => Ok(self.path),
            Some(e) => Err(e),
        }
    }
}

/// One supervised process: its events, output and how it ended.
struct Attempt {
    finished: Vec<(String, RawOutcome, Duration)>,
    /// The test that was running when the process ended or was killed, and whether it timed out.
    cut_short: Option<(String, Duration, bool)>,
    /// Killed because nothing finished within `Watch::idle`.
    idle_killed: Option<Duration>,
    /// The CPU time the process used, read once it ended and before it was reaped; `None`
    /// where it can't be read (a child reaped early because a grandchild held its pipes).
    cpu: Option<Duration>,
    /// Bytes written to stdout and stderr in all.
    total_bytes: u64,
    /// `--full-output`: the file with all of it, or why it is incomplete.
    log: Option<Result<PathBuf, String>>,
    parser: Parser,
    /// What the process wrote to stdout (all of its output when merged).
    stdout: String,
    /// Everything it wrote, for people: stdout, then stderr.
    output: String,
    status: String,
    /// The exit code, or the signal that killed it.
    exit: Result<i32, Option<i32>>,
    success: bool,
    clean_exit: bool,
    interrupted: bool,
    /// It exited while a descendant outside its process group held its output open.
    leaked: bool,
    /// Of a leaked process that ran several tests, those that were running when what it left
    /// started ([`blame`]); `None` when that could not be placed (then all of them are marked).
    leakers: Option<BTreeSet<String>>,
}

/// Runs `cmd`, streaming libtest events to `on_event`.
///
/// With `merge`, stderr joins stdout in one stream (needed where cargo's stderr headers order the
/// output, as for doctests); otherwise only stdout (libtest's protocol) is parsed, so a runner's
/// warnings on stderr cannot corrupt a result line, and stderr is kept for the evidence.
fn supervise(
    cmd: &mut Command,
    watch: Watch,
    merge: bool,
    mut log: Option<Log>,
    mut on_event: impl FnMut(&Event, &Parser),
) -> std::io::Result<Attempt> {
    // Only tests run one at a time have spans to place what a leaked process left behind
    // (libtest prints a test's line as it starts only then).
    let one_at_a_time = cmd.get_args().any(|a| a == "--test-threads=1");
    let mut child = Supervised::spawn(cmd, merge)?;
    let mut parser = Parser::default();
    // Bounded: whatever the process prints, only a head and a tail are held.
    let mut output = match watch.stdout_head {
        Some(head) => Capture::new(head, 0),
        None => Capture::for_output(),
    };
    let mut stderr = Capture::for_output();
    let mut finished = Vec::new();
    let mut timed_out = None;
    let mut idle_killed = None;
    let mut was_interrupted = false;
    let mut slow_reported: Option<String> = None;
    let mut last_progress = Instant::now();
    let mut starts: Vec<(String, Instant)> = Vec::new();
    loop {
        match child.next(Duration::from_millis(100)) {
            Next::Data(Stream::Stderr, data) => {
                log.iter_mut().for_each(|l| l.write(&data));
                stderr.push(&data);
            }
            Next::Data(Stream::Stdout, data) => {
                log.iter_mut().for_each(|l| l.write(&data));
                output.push(&data);
                let now = Instant::now();
                for e in parser.feed(&data, now) {
                    if note_finished(&e, &mut finished) {
                        last_progress = Instant::now();
                    }
                    if let Event::Started(name) = &e {
                        starts.push((name.clone(), now));
                    }
                    on_event(&e, &parser);
                }
            }
            Next::Idle => {}
            Next::Done => break,
        }
        if watch.stop.is_stopped() && !was_interrupted {
            was_interrupted = true;
            child.kill();
        }
        if let Some((name, start)) = parser.running() {
            let elapsed = start.elapsed();
            if let Some(limit) = watch.timeout
                && timed_out.is_none()
                && elapsed > limit
            {
                timed_out = Some((name.to_owned(), elapsed));
                child.kill();
            }
            if let Some(slow) = watch.slow
                && elapsed > slow
                && slow_reported.as_deref() != Some(name)
            {
                slow_reported = Some(name.to_owned());
                let e = Event::Slow {
                    name: name.to_owned(),
                    elapsed,
                };
                on_event(&e, &parser);
            }
        }
        if let Some(idle) = watch.idle
            && idle_killed.is_none()
            && last_progress.elapsed() > idle
        {
            idle_killed = Some(last_progress.elapsed());
            child.kill();
        }
    }
    for e in parser.finish(Instant::now()) {
        note_finished(&e, &mut finished);
        on_event(&e, &parser);
    }
    let cpu = child.cpu_time();
    let leaked = child.leaked();
    let leakers = (leaked && one_at_a_time)
        .then(|| blame(&starts, &child.leakers()))
        .flatten();
    let status = child.finish();
    let cut_short = match timed_out {
        Some((name, d)) => Some((name, d, true)),
        None => parser
            .running()
            .map(|(n, start)| (n.to_owned(), start.elapsed(), false)),
    };
    let stdout = output.text();
    Ok(Attempt {
        finished,
        cut_short,
        idle_killed,
        cpu,
        total_bytes: (output.total() + stderr.total()) as u64,
        log: log.map(Log::close),
        parser,
        output: if stderr.is_empty() {
            stdout.clone()
        } else {
            format!("{}\n[stderr]\n{}", stdout.trim_end(), stderr.text())
        },
        stdout,
        success: status.success(),
        clean_exit: status.code().is_some_and(|c| c == 0 || c == 101),
        status: describe_status(status),
        exit: status.code().ok_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            status.signal()
        }),
        interrupted: was_interrupted,
        leaked,
        leakers,
    })
}

/// The tests of a process run one at a time (`starts`: each test's start, in order) that were
/// running when a process it left behind started (`left`): those whose span comes within
/// [`BLAME_MARGIN`] of such a start. `None` when nothing can be placed.
fn blame(starts: &[(String, Instant)], left: &[Instant]) -> Option<BTreeSet<String>> {
    let mut blamed = BTreeSet::new();
    for at in left {
        let (from, to) = (
            at.checked_sub(BLAME_MARGIN).unwrap_or(*at),
            *at + BLAME_MARGIN,
        );
        for (i, (name, start)) in starts.iter().enumerate() {
            let end = starts.get(i + 1).map(|(_, next)| *next);
            if *start <= to && end.is_none_or(|end| end >= from) {
                blamed.insert(name.clone());
            }
        }
    }
    (!blamed.is_empty()).then_some(blamed)
}

/// How far a leftover process's start may be from where it is placed: `/proc` counts starts
/// in clock ticks (10 ms), the process's own and the leftover's, and a test's start is when
/// its line arrived.
const BLAME_MARGIN: Duration = Duration::from_millis(25);

/// Keeps a finished test's result; `true` when `e` was one.
fn note_finished(e: &Event, finished: &mut Vec<(String, RawOutcome, Duration)>) -> bool {
    match e {
        Event::Finished {
            name,
            outcome,
            duration,
        } => {
            finished.push((name.clone(), outcome.clone(), *duration));
            true
        }
        _ => false,
    }
}

fn tail(s: &str) -> String {
    let start = s.len().saturating_sub(TAIL);
    let start = (start..=s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    s[start..].trim().to_owned()
}

/// Why libtest ignored a `#[should_panic]` test on a `panic = "abort"` target.
const SHOULD_PANIC_ON_ABORT: &str = "#[should_panic] is not run on a panic = \"abort\" target: libtest ignores it there (catching the panic needs unwinding)";

/// A libtest result as a [`TestResult`], with the failure output the parser collected (a
/// `#[should_panic]` test that libtest ignored on a `panic_abort` target says why).
fn result_of(
    name: &str,
    raw: &RawOutcome,
    duration: Duration,
    parser: &Parser,
    panic_abort: bool,
) -> TestResult {
    let (outcome, reason, output) = match raw {
        RawOutcome::Ok => (TestOutcome::Passed, None, None),
        RawOutcome::Failed => (TestOutcome::Failed, None, parser.failure_output(name)),
        RawOutcome::Ignored(None) if panic_abort && parser.should_panic(name) => (
            TestOutcome::Ignored,
            Some(SHOULD_PANIC_ON_ABORT.to_owned()),
            None,
        ),
        RawOutcome::Ignored(r) => (TestOutcome::Ignored, r.clone(), None),
    };
    TestResult {
        output_bytes: output.as_ref().and(parser.failure_output_size(name)),
        duration: if outcome == TestOutcome::Ignored {
            Duration::ZERO
        } else {
            duration
        },
        output,
        reason,
        status: (outcome == TestOutcome::Failed).then_some(FailureStatus::Failed),
        ..TestResult::new(name.to_owned(), outcome, duration)
    }
}

/// The command starting `job`'s executable with `args`, built as every start of a test
/// executable is ([`crate::runner::TestCommand`]): the runner, the test's directory and
/// environment, cargo's loader path, a CPU for an emulated test.
fn runner_command(job: &BinaryJob, args: &[String]) -> Command {
    test_command(job, args).build()
}

fn test_command(job: &BinaryJob, args: &[String]) -> crate::runner::TestCommand {
    job.runner
        .launcher
        .command(&job.path)
        .args(args)
        .cwd(&job.cwd)
        .envs(&job.env)
        .lib_path(&job.lib_path)
        .cpu(job.cpu)
}

fn runner_display(job: &BinaryJob) -> String {
    test_command(job, &[]).program()
}

/// Miri's line saying it cannot interpret what the test did (`unsupported operation: can't call
/// foreign function …`), if it stopped for that.
pub(crate) fn miri_unsupported(output: &str) -> Option<String> {
    output
        .lines()
        .find(|l| l.contains("error: unsupported operation"))
        .map(|l| l.trim().to_owned())
}

/// `--test-timeout`, else for a test Miri interprets its default budget
/// ([`crate::discover::toolchain::Miri::TEST_BUDGET`]): it takes 10–1000× its native time.
fn budget(opts: &RunOptions, interpreted: bool) -> Option<Duration> {
    opts.test_timeout
        .or(interpreted.then_some(crate::discover::toolchain::Miri::TEST_BUDGET))
}

/// A test Miri stopped because it cannot interpret what it did is neither passed nor failed.
fn miri_verdict(t: &mut TestResult) {
    if t.outcome == TestOutcome::Failed
        && let Some(line) = t.output.as_deref().and_then(miri_unsupported)
    {
        t.outcome = TestOutcome::Unsupported;
        t.reason = Some(line);
        t.status = None;
    }
}

fn cannot_start(job: &BinaryJob, e: &std::io::Error) -> RunFailure {
    RunFailure::CannotStart {
        command: runner_display(job),
        error: e.to_string(),
    }
}

fn skipped(name: String, reason: &str) -> TestResult {
    TestResult {
        reason: Some(reason.to_owned()),
        ..TestResult::new(name, TestOutcome::Skipped, Duration::ZERO)
    }
}

/// What the run knows of a binary before it prepares it.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// What each of its tests took last time; `None` when it never ran here.
    pub last_run: Option<BTreeMap<String, Duration>>,
    /// The names this very executable listed under this runner last time
    /// ([`listing_identity`]).
    pub remembered: Option<Vec<String>>,
    /// The run's batch budget ([`super::schedule::budget`]).
    pub budget: Duration,
}

/// What must still run of a binary, and what is already known.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    /// Run the binary whole, unlisted (see [`prepare`]); `to_run` is then empty.
    pub whole: bool,
    pub to_run: Vec<String>,
    /// Policy skips and results replayed from the cache.
    pub known: Vec<TestResult>,
    /// The cache key to store the finished results under.
    pub key: Option<String>,
    /// The names the binary listed in this preparation (not when its listing was remembered).
    pub listed: Option<Vec<String>>,
    pub error: Option<RunFailure>,
    pub interrupted: bool,
}

/// What a binary's listing depends on: the executable file (its device, inode, size and
/// modification time: cargo writes a new file whenever it links one) and the runner it is
/// listed under (a runner that runs nothing lists nothing). Read from the file's metadata, not
/// its content, so a large executable costs nothing to recognise. `None` when it can't be read.
pub(crate) fn listing_identity(job: &BinaryJob) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(&job.path).ok()?;
    Some(format!(
        "{}:{}:{}:{}.{} {}",
        m.dev(),
        m.ino(),
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        job.runner.launcher.argv.join(" ")
    ))
}

/// The binary's cache key: its content, runner, package files and triple.
pub(crate) fn binary_key(job: &BinaryJob, cache: &Cache) -> Option<String> {
    if !cache.enabled() {
        return None;
    }
    let content = cache.file_hash(&job.path).ok()?;
    let runner_env: Vec<String> = job
        .runner
        .launcher
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(
            job.env
                .iter()
                .map(|(k, v)| format!("{k}={}", v.to_string_lossy())),
        )
        .collect();
    Some(cache.key(&[
        "bin-v3",
        &job.triple,
        &content,
        &job.runner.launcher.argv.join(" "),
        &runner_env.join(" "),
        &cache.source_hash(&job.cwd),
        &cache.workspace_hash(),
    ]))
}

/// What to run of a binary. A binary that its duration history says is one short batch, with
/// nothing to replay from the cache, no policy skips and no partition, is run whole without
/// listing it first: one process (one emulator start) instead of two, trusted only when
/// libtest's own counts vouch for every result ([`Parser::ran_all`]); otherwise it is listed
/// then and what did not finish runs by name. A remembered listing ([`Known::remembered`]) is
/// used instead of listing again.
pub(crate) fn prepare(job: &BinaryJob, cache: &Cache, opts: &RunOptions, known: Known) -> Prepared {
    let Known {
        last_run,
        remembered,
        budget,
    } = known;
    let key = binary_key(job, cache);
    if !job.harness {
        // Nothing to list: the target is its one test.
        let prepared = prepare_all(job, cache, key, Some(vec![plain_name(job)]));
        return partitioned(prepared, job, opts);
    }
    // Known here, and at most one batch (a binary without tests makes none).
    let one_short_batch = last_run.as_ref().is_some_and(|h| {
        super::schedule::batches(h.keys().cloned().collect(), h, budget, opts.jobs).len() <= 1
    });
    if one_short_batch
        && opts.partition.is_none()
        && job.skips.is_empty()
        && key.as_deref().is_none_or(|k| cache.load(k).is_none())
    {
        return Prepared {
            whole: true,
            key,
            ..Default::default()
        };
    }
    let prepared = prepare_all(job, cache, key, remembered);
    partitioned(prepared, job, opts)
}

/// Keeps only this invocation's slice of the tests (`--partition`).
fn partitioned(mut prepared: Prepared, job: &BinaryJob, opts: &RunOptions) -> Prepared {
    if let Some(p) = opts.partition {
        // A slice's results would make a cache entry that hides the other slices' tests.
        prepared.key = None;
        let mine = |name: &str| p.owns(&job.package_name, &job.binary, name);
        prepared.to_run.retain(|n| mine(n));
        prepared.known.retain(|t| mine(&t.name));
    }
    prepared
}

/// A binary's test names, through its runner.
enum Listing {
    Names(Vec<String>),
    Interrupted,
    Failed(RunFailure),
}

fn list(job: &BinaryJob) -> Listing {
    let list = supervise(
        &mut runner_command(job, &["--list".into()]),
        Watch {
            timeout: Some(LIST_TIMEOUT),
            stdout_head: Some(LIST_LIMIT),
            ..Default::default()
        },
        false,
        None,
        |_, _| {},
    );
    match list {
        Ok(a) if a.interrupted => Listing::Interrupted,
        Ok(a) if a.clean_exit => match libtest::parse_list(&a.stdout) {
            Ok(names) => Listing::Names(names),
            Err(problem) => Listing::Failed(RunFailure::BadListing {
                binary: job.binary.clone(),
                runner: runner_display(job),
                problem: problem.to_string(),
                output: tail(&a.output),
            }),
        },
        Ok(a) => {
            let output = tail(&a.output);
            // 127: the dynamic loader could not start it. Say where it was told to look.
            let loader_path = (a.exit == Ok(127) && !job.lib_path.is_empty()).then(|| {
                let dirs: Vec<String> = job
                    .lib_path
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect();
                dirs.join(":")
            });
            Listing::Failed(RunFailure::CannotList {
                binary: job.binary.clone(),
                status: a.status.to_string(),
                output,
                loader_path,
            })
        }
        Err(e) => Listing::Failed(cannot_start(job, &e)),
    }
}

fn prepare_all(
    job: &BinaryJob,
    cache: &Cache,
    key: Option<String>,
    remembered: Option<Vec<String>>,
) -> Prepared {
    let mut prepared = Prepared {
        key,
        ..Default::default()
    };
    // Listed every time, cache or not, unless this executable listed its tests under this
    // runner before: a cache entry is trusted only when it holds exactly the tests the binary
    // lists now.
    let listing = match remembered {
        Some(names) => Listing::Names(names),
        None => match list(job) {
            Listing::Names(names) => {
                prepared.listed = Some(names.clone());
                Listing::Names(names)
            }
            other => other,
        },
    };
    let names = match listing {
        Listing::Names(names) => names,
        Listing::Interrupted => {
            prepared.interrupted = true;
            return prepared;
        }
        Listing::Failed(why) => {
            prepared.error = Some(why);
            return prepared;
        }
    };
    let cached = prepared
        .key
        .as_deref()
        .and_then(|k| cache.load(k))
        .filter(|entries| {
            let cached: BTreeSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            let listed: BTreeSet<&str> = names.iter().map(String::as_str).collect();
            entries.len() == names.len() && cached == listed
        });
    if let Some(entries) = cached {
        for e in entries {
            match (crate::policy::skip_reason(&job.skips, &e.name), e.outcome) {
                (Some(reason), _) => prepared.known.push(skipped(e.name, reason)),
                (None, Some(outcome)) => prepared.known.push(TestResult {
                    reason: e.reason,
                    cached: true,
                    ..TestResult::new(e.name, outcome, Duration::from_millis(e.duration_ms))
                }),
                (None, None) => prepared.to_run.push(e.name),
            }
        }
        return prepared;
    }
    for name in names {
        match crate::policy::skip_reason(&job.skips, &name) {
            Some(reason) => prepared.known.push(skipped(name, reason)),
            None => prepared.to_run.push(name),
        }
    }
    prepared
}

/// Which tests of a binary a batch runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// All of them, unlisted: libtest's counts must vouch for the results.
    Whole,
    /// These, by exact name.
    Names(Vec<String>),
}

/// The results of one batch of a binary's tests.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub tests: Vec<TestResult>,
    pub error: Option<RunFailure>,
    pub interrupted: bool,
}

/// Runs `names` of one binary; every name gets a result unless the binary cannot run at all.
pub(crate) fn run_batch(
    job: &BinaryJob,
    selection: Selection,
    opts: &RunOptions,
    events: &dyn Fn(RunEvent),
) -> Batch {
    let mut batch = attempt_all(job, selection, opts, events);
    if batch.interrupted || opts.retries == 0 {
        for t in &batch.tests {
            emit(job, events, t);
        }
        return batch;
    }
    // Retries: a failed test runs alone again; passing on a retry makes it flaky.
    for t in &mut batch.tests {
        let mut attempts = 1;
        while t.failed() && attempts <= opts.retries && !opts.stop.is_stopped() {
            attempts += 1;
            let retry = attempt_all(job, Selection::Names(vec![t.name.clone()]), opts, events);
            if let Some(r) = retry.tests.into_iter().next()
                && r.outcome == TestOutcome::Passed
            {
                let first_failure = t.output.take();
                *t = TestResult {
                    flaky: true,
                    output: first_failure,
                    ..r
                };
            }
        }
        t.attempts = attempts;
        emit(job, events, t);
    }
    batch
}

fn emit(job: &BinaryJob, events: &dyn Fn(RunEvent), t: &TestResult) {
    events(RunEvent::TestFinished {
        test: test_ref(job, &t.name),
        result: t.clone(),
    });
}

fn test_ref(job: &BinaryJob, test: &str) -> TestRef {
    TestRef {
        target: job.triple.clone(),
        interpreted_by: super::interpreted_by(job.interpreted),
        package_id: job.package_id.clone(),
        package: job.package_name.clone(),
        binary: job.binary.clone(),
        test: test.to_owned(),
    }
}

/// The one test of a `harness = false` target: the target's name.
pub(crate) fn plain_name(job: &BinaryJob) -> String {
    match &job.binary {
        BinaryId::Bin(n) | BinaryId::Test(n) | BinaryId::Example(n) | BinaryId::Bench(n) => {
            n.clone()
        }
        BinaryId::Lib | BinaryId::Doc => job.binary.to_string(),
    }
}

/// Runs a `harness = false` target as `cargo test` does: without arguments, judged by its exit
/// status alone (whatever it prints). `--test-timeout` bounds the whole process.
fn run_plain(job: &BinaryJob, opts: &RunOptions, events: &dyn Fn(RunEvent)) -> Batch {
    let name = plain_name(job);
    let mut batch = Batch::default();
    events(RunEvent::TestStarted(test_ref(job, &name)));
    let watch = Watch {
        idle: budget(opts, job.runner.kind() == crate::runner::RunnerKind::Miri),
        stop: opts.stop.clone(),
        ..Default::default()
    };
    let log = Log::open(
        opts,
        &job.triple,
        &job.package_name,
        &job.binary.to_string(),
    );
    let started = Instant::now();
    let attempt = match supervise(&mut runner_command(job, &[]), watch, false, log, |_, _| {}) {
        Ok(a) => a,
        Err(e) => {
            batch.error = Some(cannot_start(job, &e));
            return batch;
        }
    };
    if attempt.interrupted {
        batch.interrupted = true;
        return batch;
    }
    let duration = started.elapsed();
    let (outcome, status, what) = match (attempt.idle_killed, attempt.exit) {
        (Some(d), _) => (
            TestOutcome::TimedOut,
            Some(FailureStatus::TimedOut),
            Some(format!(
                "timed out after {:.1}s (--test-timeout); the test binary and everything it started were killed",
                d.as_secs_f64()
            )),
        ),
        (None, Ok(0)) => (TestOutcome::Passed, None, None),
        (None, Ok(code)) => (
            TestOutcome::Failed,
            Some(FailureStatus::Exited { code }),
            Some(format!("harness = false target ended ({})", attempt.status)),
        ),
        (None, Err(signal)) => (
            TestOutcome::Failed,
            Some(FailureStatus::Signaled {
                signal: signal.unwrap_or(0),
            }),
            Some(format!("harness = false target ended ({})", attempt.status)),
        ),
    };
    let mut t = TestResult {
        output: what.map(|w| format!("{w}\n{}", tail(&attempt.output))),
        output_bytes: status.map(|_| attempt.total_bytes),
        status,
        cpu: attempt.cpu,
        ..TestResult::new(name, outcome, duration)
    };
    if t.failed() {
        attach_log(&mut t, &attempt);
    }
    t.leaked = attempt.leaked;
    batch.tests.push(t);
    batch
}

/// Runs the selected tests in as few processes as crashes and hangs allow.
fn attempt_all(
    job: &BinaryJob,
    selection: Selection,
    opts: &RunOptions,
    events: &dyn Fn(RunEvent),
) -> Batch {
    if !job.harness {
        return run_plain(job, opts, events);
    }
    let mut batch = Batch::default();
    let watch = Watch {
        timeout: budget(opts, job.runner.kind() == crate::runner::RunnerKind::Miri),
        slow: opts.slow_after,
        stop: opts.stop.clone(),
        ..Default::default()
    };
    let (mut whole, mut remaining) = match selection {
        Selection::Whole => (true, Vec::new()),
        Selection::Names(names) => (false, names),
    };
    while whole || !remaining.is_empty() {
        let mut args = vec!["--test-threads=1".to_owned()];
        if !whole {
            args.push("--exact".to_owned());
            args.extend(remaining.iter().cloned());
        }
        let on_event = |e: &Event, _: &Parser| match e {
            Event::Slow { name, elapsed } => {
                events(RunEvent::Slow {
                    test: test_ref(job, name),
                    elapsed: *elapsed,
                });
            }
            Event::Started(name) => {
                events(RunEvent::TestStarted(test_ref(job, name)));
            }
            _ => {}
        };
        let log = Log::open(
            opts,
            &job.triple,
            &job.package_name,
            &job.binary.to_string(),
        );
        let attempt = match supervise(
            &mut runner_command(job, &args),
            watch.clone(),
            false,
            log,
            on_event,
        ) {
            Ok(a) => a,
            Err(e) => {
                batch.error = Some(cannot_start(job, &e));
                return batch;
            }
        };
        let mut done: BTreeMap<String, TestResult> = attempt
            .finished
            .iter()
            .map(|(name, raw, d)| {
                let mut t = result_of(name, raw, *d, &attempt.parser, job.panic_abort);
                if job.runner.kind() == crate::runner::RunnerKind::Miri {
                    miri_verdict(&mut t);
                }
                (name.clone(), t)
            })
            .collect();
        if attempt.interrupted {
            batch.tests.extend(done.into_values());
            batch.interrupted = true;
            return batch;
        }
        let exited_zero = attempt.exit == Ok(0)
            && attempt
                .cut_short
                .as_ref()
                .is_some_and(|(_, _, timed_out)| !timed_out);
        if let Some((name, duration, _)) = attempt.cut_short.as_ref().filter(|_| exited_zero) {
            // The test ended its process with status 0 (`std::process::exit(0)`): `cargo test`
            // judges the executable by that status and counts it passed, as does a process per
            // test (nextest). So does cargo-xtest; the tests after it still run.
            done.insert(
                name.clone(),
                TestResult {
                    reason: Some(
                        "ended its process with exit status 0 before libtest reported it (cargo test counts that as passed)".to_owned(),
                    ),
                    ..TestResult::new(name.clone(), TestOutcome::Passed, *duration)
                },
            );
        } else if let Some((name, duration, timed_out)) = &attempt.cut_short {
            let (outcome, status, what) = if *timed_out {
                (
                    TestOutcome::TimedOut,
                    FailureStatus::TimedOut,
                    format!(
                        "timed out after {:.1}s (--test-timeout); the test binary and everything it started were killed",
                        duration.as_secs_f64()
                    ),
                )
            } else {
                (
                    TestOutcome::Failed,
                    match attempt.exit {
                        Ok(code) => FailureStatus::Exited { code },
                        Err(signal) => FailureStatus::Signaled {
                            signal: signal.unwrap_or(0),
                        },
                    },
                    format!(
                        "the test binary ended ({}) while this test was running",
                        attempt.status
                    ),
                )
            };
            // A process that aborted (panic = "abort" targets such as WASI) never printed the
            // panic libtest captured: run that test alone with --nocapture to get its message.
            // Miri's own report (undefined behaviour, an unsupported operation) is in the
            // output already.
            let miri = job.runner.kind() == crate::runner::RunnerKind::Miri;
            let panic = match timed_out {
                false if !miri && !attempt.output.contains("panicked at") => {
                    panic_message(job, name, watch.clone())
                }
                _ => None,
            };
            let unsupported = miri.then(|| miri_unsupported(&attempt.output)).flatten();
            done.insert(
                name.clone(),
                TestResult {
                    output: Some(format!(
                        "{what}\n{}{}",
                        panic.map(|p| format!("{p}\n")).unwrap_or_default(),
                        tail(&attempt.output)
                    )),
                    output_bytes: Some(attempt.total_bytes),
                    status: unsupported.is_none().then_some(status),
                    reason: unsupported.clone(),
                    ..TestResult::new(
                        name.clone(),
                        if unsupported.is_some() {
                            TestOutcome::Unsupported
                        } else {
                            outcome
                        },
                        *duration,
                    )
                },
            );
        }
        for t in done.values_mut().filter(|t| t.failed()) {
            attach_log(t, &attempt);
        }
        // Marked on the tests that were running when what it left started, where that can be
        // placed; else on all of them: one of them started it.
        if attempt.leaked {
            done.values_mut()
                .filter(|t| attempt.leakers.as_ref().is_none_or(|l| l.contains(&t.name)))
                .for_each(|t| t.leaked = true);
        }
        // A process that ran one test: its CPU time is that test's.
        if done.len() == 1 {
            done.values_mut().for_each(|t| t.cpu = attempt.cpu);
        }
        if whole {
            whole = false;
            let vouched = attempt.clean_exit
                && attempt.cut_short.is_none()
                && attempt.parser.ran_all(attempt.finished.len());
            batch.tests.extend(done.into_values());
            if vouched {
                return batch;
            }
            // It crashed, hung or printed no counts to trust: list it now, and run by name
            // what has no result yet (a runner that runs nothing fails here, as in `prepare`).
            match list(job) {
                Listing::Names(names) => {
                    let have: BTreeSet<&str> =
                        batch.tests.iter().map(|t| t.name.as_str()).collect();
                    remaining = names
                        .into_iter()
                        .filter(|n| !have.contains(n.as_str()))
                        .collect();
                }
                Listing::Interrupted => batch.interrupted = true,
                Listing::Failed(why) => batch.error = Some(why),
            }
            continue;
        }
        if done.is_empty() {
            batch.error = Some(RunFailure::NoTestRan {
                binary: job.binary.clone(),
                status: attempt.status.to_string(),
                output: tail(&attempt.output),
            });
            return batch;
        }
        remaining.retain(|n| !done.contains_key(n));
        batch.tests.extend(done.into_values());
        if !attempt.clean_exit && attempt.cut_short.is_none() && !remaining.is_empty() {
            batch.error = Some(RunFailure::EndedEarly {
                binary: job.binary.clone(),
                status: attempt.status.to_string(),
                output: tail(&attempt.output),
            });
            return batch;
        }
    }
    batch
}

/// The panic message of a test whose process ended (aborted) while it ran, from one more run of
/// it alone with `--nocapture`: its `panicked at` line and what follows it (the assertion).
fn panic_message(job: &BinaryJob, name: &str, watch: Watch) -> Option<String> {
    let args = [
        "--test-threads=1".to_owned(),
        "--exact".to_owned(),
        name.to_owned(),
        "--nocapture".to_owned(),
    ];
    let attempt = supervise(
        &mut runner_command(job, &args),
        watch,
        true,
        None,
        |_, _| {},
    )
    .ok()?;
    let lines: Vec<&str> = attempt.output.lines().collect();
    let at = lines.iter().position(|l| l.contains("panicked at"))?;
    let end = lines[at + 1..]
        .iter()
        .position(|l| l.starts_with("note:") || l.starts_with("stack backtrace") || l.is_empty())
        .map_or(lines.len(), |n| at + 1 + n.min(8));
    Some(lines[at..end].join("\n"))
}

/// A failed test's pointer to its process's complete output (`--full-output`), or a note of
/// why that file is incomplete.
fn attach_log(t: &mut TestResult, attempt: &Attempt) {
    match &attempt.log {
        Some(Ok(path)) => t.output_file = Some(path.clone()),
        Some(Err(why)) => {
            let out = t.output.get_or_insert_with(String::new);
            out.push_str(&format!("\n[--full-output: {why}]"));
        }
        None => {}
    }
}

/// Runs one target's doctests through cargo (which hands rustdoc the runner and linker).
/// rustdoc compiles doctests in parallel, so no per-test start is visible: `--test-timeout`
/// bounds the time without any doctest finishing.
pub(crate) fn run_doctests(
    job: &DoctestJob,
    opts: &RunOptions,
    events: &dyn Fn(RunEvent),
) -> Vec<BinaryRun> {
    let mut cmd = opts.cargo.command_for("test", job.interpreted);
    cmd.args(["--doc", "--no-fail-fast"])
        .args(opts.cargo.target_args(&job.triple, job.interpreted));
    for id in job.packages.iter().map(|p| &p.id) {
        cmd.arg("--package").arg(id);
    }
    cmd.arg("--");
    // rustdoc takes exact names; patterns apply to test binaries only (the README says so).
    let exact: Vec<&String> = job.skips.keys().filter(|k| !k.contains('*')).collect();
    for name in &exact {
        cmd.arg("--skip").arg(name);
    }
    if !exact.is_empty() {
        cmd.arg("--exact");
    }
    cmd.envs(job.cargo_env.iter().map(|(k, v)| (k, v)));
    let crate_to_id: BTreeMap<&str, &str> = job
        .packages
        .iter()
        .map(|p| (p.crate_name.as_str(), p.id.as_str()))
        .collect();
    let mut runs: BTreeMap<PackageId, BinaryRun> = BTreeMap::new();
    let mut current: Option<PackageId> = None;
    let mut suites = BTreeSet::new();
    let watch = Watch {
        idle: budget(opts, job.interpreted),
        stop: opts.stop.clone(),
        ..Default::default()
    };
    let log = Log::open(opts, &job.triple, "doctests", "cargo-test-doc");
    let attempt = supervise(&mut cmd, watch, true, log, |event, parser| match event {
        Event::Suite(krate) => {
            current = crate_to_id.get(krate.as_str()).map(|s| PackageId::from(*s));
            suites.extend(current.clone());
        }
        Event::Finished {
            name,
            outcome,
            duration,
        } => {
            let Some(id) = &current else { return };
            let result = result_of(name, outcome, *duration, parser, false);
            let package = job.packages.iter().find(|p| p.id == *id);
            events(RunEvent::TestFinished {
                test: TestRef {
                    target: job.triple.clone(),
                    interpreted_by: super::interpreted_by(job.interpreted),
                    package_id: id.clone(),
                    package: package.map_or_else(|| id.to_string(), |p| p.name.clone()),
                    binary: BinaryId::Doc,
                    test: name.clone(),
                },
                result: result.clone(),
            });
            runs.entry(id.clone())
                .or_insert_with(|| BinaryRun::new(job.doc_key(id)))
                .tests
                .push(result);
        }
        Event::Started(_) | Event::Slow { .. } => {}
    });
    match attempt {
        Ok(a) => {
            // Failure output is printed after the suite's results: attach it now.
            for run in runs.values_mut() {
                for t in &mut run.tests {
                    if t.outcome == TestOutcome::Failed && t.output.is_none() {
                        t.output = a.parser.failure_output(&t.name);
                        t.output_bytes = a.parser.failure_output_size(&t.name);
                    }
                    // Known only now, from the failure's output (the live line said failed).
                    if job.interpreted {
                        miri_verdict(t);
                    }
                    if t.failed() {
                        attach_log(t, &a);
                    }
                }
            }
            if let (Some(idle), Some(id)) = (a.idle_killed, &current) {
                runs.entry(id.clone())
                    .or_insert_with(|| BinaryRun::new(job.doc_key(id)))
                    .error = Some(RunFailure::DoctestsTimedOut {
                    idle,
                    output: tail(&a.output),
                });
            }
            if !a.success && !a.interrupted && a.idle_killed.is_none() {
                for id in job
                    .packages
                    .iter()
                    .map(|p| &p.id)
                    .filter(|id| !suites.contains(*id))
                {
                    runs.entry(id.clone())
                        .or_insert_with(|| BinaryRun::new(job.doc_key(id)))
                        .error = Some(RunFailure::DoctestsNotRun {
                        status: a.status.to_string(),
                        output: tail(&a.output),
                    });
                }
            }
        }
        Err(e) => {
            for id in job.packages.iter().map(|p| &p.id) {
                let mut run = BinaryRun::new(job.doc_key(id));
                run.error = Some(RunFailure::CannotRunDoctests {
                    error: e.to_string(),
                });
                runs.insert(id.clone(), run);
            }
        }
    }
    runs.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{Runner, Source};
    use crate::runner::RunnerKind;

    #[test]
    fn a_leftover_is_blamed_on_the_tests_running_when_it_started() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let starts: Vec<(String, Instant)> = [("a", 0), ("b", 100), ("c", 400), ("d", 410)]
            .into_iter()
            .map(|(n, at)| (n.to_owned(), ms(at)))
            .collect();
        let names = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
        // Well inside b's span.
        assert_eq!(blame(&starts, &[ms(250)]), names(&["b"]));
        // Within the margin of c's start: b or c; c (10 ms long) and d both within it of 430.
        assert_eq!(blame(&starts, &[ms(380)]), names(&["b", "c"]));
        assert_eq!(blame(&starts, &[ms(430)]), names(&["c", "d"]));
        // The last test runs to the end; two leftovers blame two tests.
        assert_eq!(blame(&starts, &[ms(5000), ms(50)]), names(&["a", "d"]));
        // Nothing to place it by: unknown.
        assert_eq!(blame(&starts, &[]), None);
        assert_eq!(blame(&[], &[ms(50)]), None);
    }

    /// The run probe proves the command the run uses: the same runner program, arguments and
    /// environment before the executable, from the same [`crate::runner::TestCommand`] builder.
    #[test]
    fn the_probe_and_the_run_start_executables_the_same_way() {
        let runners = [
            Runner::Native,
            Runner::Command {
                argv: vec![
                    "qemu-s390x".into(),
                    "-L".into(),
                    "/usr/s390x-linux-gnu".into(),
                ],
                env: Vec::new(),
                source: Source::AutoDetected,
                kind: RunnerKind::Qemu,
            },
            Runner::Command {
                argv: Vec::new(),
                env: vec![("QEMU_LD_PREFIX".into(), "/usr/s390x-linux-gnu".into())],
                source: Source::AutoDetected,
                kind: RunnerKind::Qemu,
            },
            Runner::Command {
                argv: vec!["wine".into()],
                env: vec![("WINEPREFIX".into(), "/t/xtest/wine/x".into())],
                source: Source::AutoDetected,
                kind: RunnerKind::Wine,
            },
            Runner::Command {
                argv: crate::discover::toolchain::WASMTIME_ARGV
                    .iter()
                    .map(|a| (*a).to_owned())
                    .collect(),
                env: Vec::new(),
                source: Source::AutoDetected,
                kind: RunnerKind::Wasmtime,
            },
        ];
        for runner in runners {
            let exe = std::path::Path::new("/t/deps/it-1");
            let probe = crate::discover::probe::run_probe_command(&runner, exe);
            let job = BinaryJob {
                triple: "s390x-unknown-linux-gnu".into(),
                interpreted: false,
                package_id: "p".into(),
                package_name: "p".into(),
                binary: BinaryId::Lib,
                path: exe.to_owned(),
                harness: true,
                cwd: PathBuf::from("/t/deps"),
                env: Vec::new(),
                lib_path: Vec::new(),
                runner: crate::plan::runner_spec(&runner),
                skips: BTreeMap::new(),
                panic_abort: false,
                cpu: None,
            };
            let run = test_command(
                &job,
                &["--exact".into(), "probe".into(), "--test-threads=1".into()],
            );
            assert_eq!(probe.argv(), run.argv(), "{runner:?}");
            assert_eq!(probe.env(), run.env(), "{runner:?}");
            assert_eq!(probe.to_string(), run.to_string());
        }
    }
}
