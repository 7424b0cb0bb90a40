//! Scheduling state of the run stage. The build stage streams test binaries in as cargo links
//! them; each is *prepared* (cache replay or listing), its tests split into shards by
//! [`super::schedule`] (from the durations of earlier runs: slow tests alone, the rest balanced
//! by expected time, the longest queued first; without them, the timings of the first small
//! shards plan the rest of the binary, half of what is left at a time), and the shards' results
//! gathered into one result per binary. A shard of one long test that is [`Placement::Shared`]
//! may run in one slot beyond the run's, unbound (not with `-j N`). Doctests start once the
//! build is over (they need cargo's build lock), one `cargo test --doc` at a time. Fail-fast and
//! interrupts stop new work; work never started is reported as not run. Tells what happens as
//! [`Event`]s (it never prints) and never spawns processes itself.
//!
//! One thread owns the run's state: the dispatcher alone holds the queue ([`super::queue`]), the
//! running set (keyed by seat) and the idle workers; it hands each task to a worker on that
//! worker's channel, and decides fail-fast, doctest gating and the release of a slot when the
//! task's outcome arrives. Workers only run what they are handed and report back; the stop
//! token in [`RunOptions::stop`] stops the run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::cache::Cache;
use super::executor::{self, Batch, Prepared, Selection};
use super::history::History;
use super::load::{CpuTimes, Slots, cpus};
use super::queue::{Queue, Seat, Shard, Task};
use super::schedule::Placement;
use super::{
    BinaryJob, BinaryRun, BuildEvent, DoctestJob, DoctestPackage, Event, RunOptions, RunResult,
    TestOutcome, TestResult,
};
use crate::build::{BuildResult, TestBinary};
use crate::ids::{BinaryId, BinaryKey, Lane, PackageId};
use crate::level::Level;
use crate::plan::Plan;

/// What the dispatcher hears: the build's stream, what the executors tell as they work, and
/// each finished task.
enum Message {
    Build(BuildEvent),
    Exec(Event),
    /// Worker `worker` finished the task that held `seat`.
    Done {
        worker: usize,
        seat: Seat,
        outcome: Outcome,
    },
}

/// What a task came to.
enum Outcome {
    Prepared(usize, Prepared),
    /// A batch's results, and how long it took.
    Batch(usize, Batch, Duration),
    Doctests(Vec<BinaryRun>, Vec<(PackageId, String)>),
}

/// A task handed to a worker: the task, the seat it holds, and its binary's job (with the
/// seat's CPU) for a binary's task.
struct Assignment {
    task: Task,
    seat: Seat,
    job: Option<BinaryJob>,
}

/// One binary's results as its tasks finish.
struct Binary {
    job: BinaryJob,
    run: BinaryRun,
    key: Option<String>,
    pending: usize,
    /// Tests waiting for the timings of the binary's batches ([`super::schedule::start`]);
    /// while there are any, they count as one of the `pending` tasks.
    held: Vec<String>,
    /// What its batches measured while it held tests back (none yet: `None`).
    sample: Option<super::schedule::Sample>,
    interrupted: bool,
    /// Its result has been handed on.
    done: bool,
}

/// What carries out a task: by default the real thing, test binaries and `cargo test --doc`
/// under the target's runner ([`Processes`]); the unit tests below script the outcomes instead
/// to check scheduling, gathering and fail-fast.
trait Execute: Sync {
    fn prepare(
        &self,
        job: &BinaryJob,
        cache: &Cache,
        opts: &RunOptions,
        known: executor::Known,
    ) -> Prepared {
        executor::prepare(job, cache, opts, known)
    }

    fn run_batch(
        &self,
        job: &BinaryJob,
        selection: Selection,
        opts: &RunOptions,
        events: &dyn Fn(Event),
    ) -> Batch {
        executor::run_batch(job, selection, opts, events)
    }

    fn run_doctests(
        &self,
        job: &DoctestJob,
        opts: &RunOptions,
        events: &dyn Fn(Event),
    ) -> Vec<BinaryRun> {
        executor::run_doctests(job, opts, events)
    }

    /// The CPU times of `cpus`, which decide whether another slot opens.
    fn cpu_times(&self, cpus: &[usize]) -> Option<CpuTimes> {
        super::load::cpu_times(cpus)
    }
}

/// The real executor.
struct Processes;

impl Execute for Processes {}

pub(crate) fn run(
    plan: &Plan,
    opts: &RunOptions,
    builds: Receiver<BuildEvent>,
    on_event: &dyn Fn(Event),
) -> RunResult {
    run_with(plan, opts, builds, on_event, &Processes)
}

fn run_with(
    plan: &Plan,
    opts: &RunOptions,
    builds: Receiver<BuildEvent>,
    on_event: &dyn Fn(Event),
    exec: &dyn Execute,
) -> RunResult {
    let cache = Cache::open(&opts.target_dir, opts.cache.as_ref());
    let history = History::open(&opts.target_dir);
    // The CPUs this process may use: those tasks are bound to, and whose idle opens slots.
    let allowed = crate::process::allowed_cpus();
    let run_kind = run_kind(plan, opts);
    let cpus = if allowed.is_empty() {
        cpus()
    } else {
        allowed.len()
    };
    let slots = Slots::new(opts.jobs, opts.max_jobs, cpus, history.slots(&run_kind));
    let workers = slots.now();
    let budget = budget(plan, &history, workers);
    // `-j N` is exactly N test processes; otherwise long tests may share the CPUs.
    let beyond = usize::from(opts.max_jobs > opts.jobs);
    let queue = Queue {
        fail_fast: opts.fail_fast,
        slots: workers,
        beyond,
        cpus: if opts.bind {
            allowed.iter().map(|&c| (c, 0)).collect()
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    let (tx, rx) = mpsc::channel::<Message>();
    let mut result = RunResult::default();
    std::thread::scope(|scope| {
        {
            let tx = tx.clone();
            scope.spawn(move || {
                for event in builds {
                    if tx.send(Message::Build(event)).is_err() {
                        return;
                    }
                }
            });
        }
        // As many workers as slots can open, and one for a shared task beyond them; each takes
        // the tasks the dispatcher hands it on its own channel.
        let mut hands = Vec::new();
        for id in 0..opts.max_jobs.max(workers) + beyond {
            let (task_tx, task_rx) = mpsc::channel::<Assignment>();
            hands.push(task_tx);
            let tx = tx.clone();
            let memory = Memory {
                cache: &cache,
                history: &history,
                budget,
            };
            scope.spawn(move || worker(id, task_rx, &tx, memory, opts, exec));
        }
        drop(tx);
        let mut d = Dispatcher {
            plan,
            opts,
            cache: &cache,
            history: &history,
            budget,
            workers,
            share: beyond > 0,
            idle: (0..hands.len()).rev().collect(),
            hands,
            queue,
            running: BTreeMap::new(),
            slots,
            allowed,
            exec,
            binaries: Vec::new(),
            seen: BTreeSet::new(),
            build_done: false,
            stopped: false,
            result: &mut result,
            on_event,
        };
        d.main_loop(&rx);
        if opts.max_jobs > opts.jobs {
            history.remember_slots(&run_kind, d.slots.now());
        }
        // Closing the workers' channels ends them.
        d.hands.clear();
    });
    cache.save();
    history.save();
    result.interrupted = opts.stop.is_stopped();
    result.partition = opts.partition;
    result
}

/// The targets whose tests the run runs.
fn tested(plan: &Plan) -> impl Iterator<Item = &crate::plan::TargetPlan> {
    plan.targets
        .iter()
        .filter(|t| t.level >= Level::Test && t.runner.is_some())
}

/// What makes runs alike for the slots they need: the targets that run tests, and the bounds
/// of the slots.
fn run_kind(plan: &Plan, opts: &RunOptions) -> String {
    let triples: Vec<&str> = tested(plan).map(|t| t.triple.as_str()).collect();
    format!("{} -j{}..{}", triples.join(" "), opts.jobs, opts.max_jobs)
}

/// The run's batch budget: the work its history expects of every binary it will run (each
/// selected, non-excluded package on each target that runs tests), shared among the workers;
/// never under the smallest batch worth a process start (cheap only when no target needs a
/// runner of its own).
fn budget(plan: &Plan, history: &History, workers: usize) -> Duration {
    let total = tested(plan)
        .flat_map(|t| {
            plan.members
                .iter()
                .filter(|(_, p)| !t.excluded.contains_key(&p.name))
                .map(|(id, _)| history.package_total(&t.lane(), id))
        })
        .sum();
    let native = tested(plan).all(|t| {
        t.runner
            .as_ref()
            .is_some_and(|r| r.kind() == crate::runner::RunnerKind::Native)
    });
    let floor = if native {
        super::schedule::MIN_NATIVE_BATCH
    } else {
        super::schedule::MIN_BATCH
    };
    super::schedule::budget(total, workers, floor)
}

/// What a worker reads and records beside its task: the result cache, the duration history
/// (and remembered listings), and the run's batch budget.
#[derive(Clone, Copy)]
struct Memory<'a> {
    cache: &'a Cache,
    history: &'a History,
    budget: Duration,
}

/// Runs the tasks it is handed, one at a time, and tells the dispatcher each one's outcome
/// (what the executor tells as it works goes to the dispatcher first, in order). It decides
/// nothing: the dispatcher owns the queue and the running set.
fn worker(
    id: usize,
    tasks: Receiver<Assignment>,
    tx: &mpsc::Sender<Message>,
    memory: Memory,
    opts: &RunOptions,
    exec: &dyn Execute,
) {
    let Memory {
        cache,
        history,
        budget,
    } = memory;
    let events = |e: Event| {
        let _ = tx.send(Message::Exec(e));
    };
    for Assignment { task, seat, job } in tasks {
        let outcome = match (task, job) {
            (Task::Prepare(i), Some(job)) => {
                let last_run = history.last_run(&job.key());
                let identity = executor::listing_identity(&job);
                let remembered = identity
                    .as_deref()
                    .and_then(|id| history.listing(&job.key(), id));
                let known = executor::Known {
                    last_run,
                    remembered,
                    budget,
                };
                let prepared = exec.prepare(&job, cache, opts, known);
                if let (Some(identity), Some(names)) = (identity, &prepared.listed) {
                    history.remember_listing(&job.key(), identity, names.clone());
                }
                Outcome::Prepared(i, prepared)
            }
            (Task::Shard(shard), Some(job)) => {
                let started = Instant::now();
                let mut batch = exec.run_batch(&job, shard.selection, opts, &events);
                if shard.placement == Placement::Shared {
                    batch.tests.iter_mut().for_each(|t| t.shared = true);
                }
                Outcome::Batch(shard.binary, batch, started.elapsed())
            }
            (Task::Doctest(job), _) => {
                let runs = exec.run_doctests(&job, opts, &events);
                let keys = job
                    .packages
                    .iter()
                    .map(|p| (p.id.clone(), p.key.clone()))
                    .collect();
                Outcome::Doctests(runs, keys)
            }
            (_, None) => unreachable!("a binary's task comes with its job"),
        };
        let done = Message::Done {
            worker: id,
            seat,
            outcome,
        };
        if tx.send(done).is_err() {
            return;
        }
    }
}

struct Dispatcher<'a> {
    plan: &'a Plan,
    opts: &'a RunOptions,
    cache: &'a Cache,
    history: &'a History,
    /// The most expected work a batch is planned to hold ([`super::schedule::budget`]).
    budget: Duration,
    /// The slots the run starts with, which its batches are planned for.
    workers: usize,
    /// Long tests may share the CPUs ([`Placement::Shared`]).
    share: bool,
    /// The work waiting, and the slots and CPUs of the work running: the dispatcher's alone.
    queue: Queue,
    /// Each worker's channel, and which of them wait for a task.
    hands: Vec<mpsc::Sender<Assignment>>,
    idle: Vec<usize>,
    /// The tasks running, by seat: the worker that has each.
    running: BTreeMap<u64, usize>,
    slots: Slots,
    /// The CPUs this process may use.
    allowed: Vec<usize>,
    exec: &'a dyn Execute,
    binaries: Vec<Binary>,
    seen: BTreeSet<BinaryKey>,
    build_done: bool,
    stopped: bool,
    result: &'a mut RunResult,
    on_event: &'a dyn Fn(Event),
}

impl Dispatcher<'_> {
    fn main_loop(&mut self, rx: &Receiver<Message>) {
        let mut watched = Instant::now();
        loop {
            self.assign();
            if self.build_done && self.queue.tasks.is_empty() && self.running.is_empty() {
                break;
            }
            if watched.elapsed() >= super::load::WINDOW {
                watched = Instant::now();
                self.watch_load();
            }
            // Woken by a message, or when a shared task may start beyond the slots.
            let wait = self
                .queue
                .wake_in(Instant::now())
                .map_or(Duration::from_millis(100), |w| {
                    w.min(Duration::from_millis(100))
                });
            match rx.recv_timeout(wait) {
                Ok(m) => self.handle(m),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.opts.stop.is_stopped() && !self.stopped {
                self.stop();
            }
        }
    }

    /// Hands queued tasks to idle workers while the queue gives them a slot.
    fn assign(&mut self) {
        while let Some(&worker) = self.idle.last() {
            let Some((task, seat)) = self.queue.take_slot() else {
                return;
            };
            let job = match &task {
                Task::Prepare(i) | Task::Shard(Shard { binary: i, .. }) => Some(BinaryJob {
                    cpu: seat.cpu,
                    ..self.binaries[*i].job.clone()
                }),
                Task::Doctest(_) => None,
            };
            self.idle.pop();
            self.running.insert(seat.id, worker);
            let _ = self.hands[worker].send(Assignment { task, seat, job });
        }
    }

    /// Opens another slot when the machine idles while work waits ([`Slots::observe`]).
    fn watch_load(&mut self) {
        let saturated = self.queue.saturated();
        let reading = if saturated {
            self.exec.cpu_times(&self.allowed)
        } else {
            None
        };
        if self.slots.observe(reading, saturated) {
            self.queue.slots = self.slots.now();
        }
    }

    /// Queues a task; [`Queue::take`] decides the order.
    fn push(&mut self, task: Task) {
        self.push_all(vec![task]);
    }

    /// Queues tasks at once, so that an idle worker chooses among all of them (the longest),
    /// not the first one queued.
    fn push_all(&mut self, tasks: Vec<Task>) {
        if self.stopped {
            for task in &tasks {
                self.record_not_run(task);
            }
            return;
        }
        self.queue.tasks.extend(tasks);
    }

    /// Stops new work: queued tasks are reported as not run.
    fn stop(&mut self) {
        self.stopped = true;
        let drained: Vec<Task> = self.queue.tasks.drain(..).collect();
        for t in drained {
            if let Task::Prepare(i) | Task::Shard(Shard { binary: i, .. }) = &t {
                self.binaries[*i].pending -= 1;
            }
            self.record_not_run(&t);
        }
        for b in self.binaries.iter_mut().filter(|b| !b.held.is_empty()) {
            b.held.clear();
            b.pending -= 1;
            let key = b.job.key();
            if !self.result.not_run.contains(&key) {
                self.result.not_run.push(key);
            }
        }
        for i in 0..self.binaries.len() {
            self.maybe_finish(i);
        }
    }

    fn record_not_run(&mut self, task: &Task) {
        match task {
            Task::Prepare(i) | Task::Shard(Shard { binary: i, .. }) => {
                let entry = self.binaries[*i].job.key();
                if !self.result.not_run.contains(&entry) {
                    self.result.not_run.push(entry);
                }
            }
            Task::Doctest(d) => self
                .result
                .not_run
                .extend(d.packages.iter().map(|p| BinaryKey {
                    triple: d.triple.clone(),
                    interpreted: d.interpreted,
                    package_id: p.id.clone(),
                    binary: BinaryId::Doc,
                })),
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Build(BuildEvent::Binary(b)) => self.add_binary(b),
            Message::Build(BuildEvent::Finished(build)) => {
                self.build_done = true;
                self.add_doctests(&build);
            }
            Message::Exec(event) => (self.on_event)(event),
            Message::Done {
                worker,
                seat,
                outcome,
            } => {
                self.running.remove(&seat.id);
                self.idle.push(worker);
                // Fail-fast is decided here, before anything else is handed out.
                let failed = match &outcome {
                    Outcome::Prepared(_, p) => p.error.is_some(),
                    Outcome::Batch(_, b, _) => {
                        b.error.is_some() || b.tests.iter().any(TestResult::failed)
                    }
                    Outcome::Doctests(runs, _) => runs.iter().any(BinaryRun::failed),
                };
                if failed && self.opts.fail_fast {
                    self.queue.halted = true;
                }
                if matches!(outcome, Outcome::Doctests(..)) {
                    self.queue.doctest_running = false;
                }
                self.outcome(outcome);
                // The slot is free only now, so that the work queued in answer (a binary's
                // shards) is there to be taken first.
                self.queue.release(seat);
            }
        }
    }

    fn outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Prepared(i, p) => self.prepared(i, p),
            Outcome::Batch(i, batch, took) => {
                // A failure stops new work at once, even while this binary's other shards wait
                // in the queue (the queue is halted already).
                let failed = batch.error.is_some() || batch.tests.iter().any(TestResult::failed);
                // What its tests and its process took plans the tests its binary held back.
                if !self.binaries[i].held.is_empty() {
                    let tests: Vec<Duration> = batch
                        .tests
                        .iter()
                        .filter(|t| !t.cached && t.outcome != TestOutcome::Ignored)
                        .map(|t| t.duration)
                        .collect();
                    let measured = super::schedule::Sample {
                        overhead: took.saturating_sub(tests.iter().sum()),
                        tests,
                    };
                    match &mut self.binaries[i].sample {
                        Some(sample) => sample.add(measured),
                        none => *none = Some(measured),
                    }
                }
                let b = &mut self.binaries[i];
                b.pending -= 1;
                b.interrupted |= batch.interrupted;
                b.run.tests.extend(batch.tests);
                if b.run.error.is_none() {
                    b.run.error = batch.error;
                }
                if failed && self.opts.fail_fast && !self.stopped {
                    self.stop();
                }
                // Unless a stop above already reported them not run.
                let b = &mut self.binaries[i];
                if let (false, Some(sample)) = (b.held.is_empty(), &b.sample) {
                    let held = std::mem::take(&mut b.held);
                    let release =
                        super::schedule::after_sample(held, sample, self.budget, self.workers);
                    // Tests still held keep counting as one pending task.
                    let holds = !release.held.is_empty();
                    if !holds {
                        b.pending -= 1;
                    }
                    b.held = release.held;
                    self.push_batches(i, release.batches, holds);
                }
                self.maybe_finish(i);
            }
            Outcome::Doctests(runs, keys) => {
                for run in runs {
                    if let Some((_, key)) = keys.iter().find(|(id, _)| *id == run.package_id)
                        && run.error.is_none()
                        && !self.opts.stop.is_stopped()
                    {
                        self.cache.store(key, &run.tests);
                    }
                    self.finished(run);
                }
            }
        }
    }

    fn add_binary(&mut self, b: TestBinary) {
        let Some(target) = self.plan.targets.iter().find(|t| {
            t.triple == b.triple && t.interpreted == b.interpreted && t.level >= Level::Test
        }) else {
            return;
        };
        let Some(runner) = &target.runner else { return };
        if !self.seen.insert(b.key()) {
            return;
        }
        // Only the selected packages are in the plan.
        let Some(pkg) = self.plan.members.get(&b.package_id) else {
            return;
        };
        if target.excluded.contains_key(&pkg.name) {
            return;
        }
        // Cargo's layout: `<profile dir>/deps/<test executable>`, binaries in `<profile dir>`.
        let deps = b.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let profile_dir = deps.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut env: Vec<(String, std::ffi::OsString)> =
            pkg.env.iter().map(|(k, v)| (k.clone(), v.into())).collect();
        env.push(("CARGO".to_owned(), self.opts.cargo.cargo.clone().into()));
        env.extend(runner.test_env(&b.triple).map(|(k, v)| (k, v.into())));
        if b.id.is_integration_test() {
            for bin in &pkg.bins {
                env.push((format!("CARGO_BIN_EXE_{bin}"), profile_dir.join(bin).into()));
            }
        }
        for (k, v, force) in &self.opts.config_env {
            if *force || std::env::var_os(k).is_none() {
                env.push((k.clone(), v.clone()));
            }
        }
        // The package's build script: `OUT_DIR` and its `cargo::rustc-env` variables.
        env.extend(b.script_env.iter().map(|(k, v)| (k.clone(), v.into())));
        // Cargo's loader path: the build scripts' link-search directories inside this
        // executable's profile directory (a shared library a build script built), then the
        // profile's `deps` and the profile directory, then the sysroot's libraries.
        let native = b
            .link_dirs
            .iter()
            .filter(|d| d.starts_with(&profile_dir) && !profile_dir.as_os_str().is_empty())
            .cloned()
            .collect::<Vec<_>>();
        // An interpreted target's native units (a proc-macro's tests) are nightly's.
        let sysroot = match self.opts.cargo.miri.as_ref().filter(|_| target.interpreted) {
            Some(m) => Some(m.toolchain_sysroot()),
            None => self.opts.sysroot.clone(),
        };
        let sysroot_libs = sysroot.iter().flat_map(|s| {
            [
                s.join("lib/rustlib").join(&b.triple).join("lib"),
                s.join("lib"),
            ]
        });
        let job = BinaryJob {
            triple: b.triple.clone(),
            interpreted: b.interpreted,
            package_id: b.package_id.clone(),
            package_name: pkg.name.clone(),
            binary: b.id.clone(),
            cwd: pkg.dir.clone(),
            env,
            lib_path: native
                .into_iter()
                .chain([profile_dir, deps])
                .chain(sysroot_libs)
                .collect(),
            path: b.path,
            harness: b.harness,
            runner: runner.clone(),
            skips: target.skips.clone(),
            panic_abort: target.cfg.panic_abort,
            cpu: None,
        };
        (self.on_event)(Event::Queued {
            lane: Lane {
                triple: job.triple.clone(),
                interpreted: job.interpreted,
            },
        });
        self.binaries.push(Binary {
            run: BinaryRun::new(job.key()),
            job,
            key: None,
            pending: 1,
            held: Vec::new(),
            sample: None,
            interrupted: false,
            done: false,
        });
        self.push(Task::Prepare(self.binaries.len() - 1));
    }

    fn prepared(&mut self, i: usize, p: Prepared) {
        let b = &mut self.binaries[i];
        b.pending -= 1;
        b.key = p.key;
        b.interrupted |= p.interrupted;
        b.run.tests.extend(p.known);
        b.run.error = p.error;
        let to_run = p.to_run;
        let runnable = b.run.error.is_none() && !b.interrupted;
        if runnable && p.whole {
            let history = self.history.expected(&b.job.key());
            b.pending += 1;
            self.push(Task::Shard(Shard {
                binary: i,
                selection: Selection::Whole,
                expected: history.values().sum(),
                placement: Placement::Slot,
                sampling: false,
            }));
        } else if runnable && !to_run.is_empty() {
            let job = &self.binaries[i].job;
            let history = self.history.expected(&job.key());
            let start = super::schedule::start(to_run, &history, self.budget, self.workers);
            let sampling = !start.held.is_empty();
            if sampling {
                self.binaries[i].held = start.held;
                self.binaries[i].pending += 1;
            }
            self.push_batches(i, start.batches, sampling);
        }
        self.maybe_finish(i);
    }

    /// Queues batches of binary `i` (`sampling`: their timings plan tests still held back); the
    /// queue hands out the longest work first, whichever binary it belongs to.
    fn push_batches(&mut self, i: usize, batches: Vec<super::schedule::Batch>, sampling: bool) {
        self.binaries[i].pending += batches.len();
        let tasks = batches
            .into_iter()
            .map(|b| {
                let placement = match b.placement {
                    Placement::Shared if self.share => Placement::Shared,
                    _ => Placement::Slot,
                };
                Task::Shard(Shard {
                    binary: i,
                    selection: Selection::Names(b.tests),
                    expected: b.expected,
                    placement,
                    sampling,
                })
            })
            .collect();
        self.push_all(tasks);
    }

    fn maybe_finish(&mut self, i: usize) {
        let b = &mut self.binaries[i];
        if b.pending > 0 || b.done {
            return;
        }
        b.done = true;
        let fresh = BinaryRun::new(b.run.key());
        let run = std::mem::replace(&mut b.run, fresh);
        // Cut short by an interrupt: the tests that were running have no result.
        if b.interrupted && !self.result.not_run.contains(&run.key()) {
            self.result.not_run.push(run.key());
        }
        let complete =
            !b.interrupted && run.error.is_none() && !self.result.not_run.contains(&run.key());
        if let Some(key) = b.key.as_deref().filter(|_| complete) {
            self.cache.store(key, &run.tests);
        }
        self.history.record(&run.key(), &run.tests);
        self.finished(run);
    }

    fn finished(&mut self, mut run: BinaryRun) {
        run.tests.sort_by(|a, b| a.name.cmp(&b.name));
        (self.on_event)(Event::BinaryFinished {
            package: self
                .plan
                .members
                .get(&run.package_id)
                .map_or_else(|| run.package_id.to_string(), |p| p.name.clone()),
            run: run.clone(),
        });
        let stop = self.opts.fail_fast && run.failed() && !self.stopped;
        self.result.runs.push(run);
        if stop {
            self.stop();
        }
    }

    fn add_doctests(&mut self, build: &BuildResult) {
        if !self.opts.doctests {
            return;
        }
        for target in self
            .plan
            .targets
            .iter()
            .filter(|t| t.level >= Level::Test && t.runner.is_some())
        {
            let built = |id: &str| {
                build
                    .packages
                    .get(&(target.lane(), id.into()))
                    .is_some_and(|p| p.failed.is_none() && p.reached >= Level::BuildTests)
            };
            let mut packages = Vec::new();
            for id in self.plan.packages.iter().filter(|id| built(id)) {
                let Some(p) = self.plan.members.get(id) else {
                    continue;
                };
                let Some(lib) = &p.lib else { continue };
                if !lib.doctest || (lib.proc_macro && target.triple != self.plan.host) {
                    continue;
                }
                if self
                    .opts
                    .partition
                    .is_some_and(|part| !part.owns(&p.name, &BinaryId::Doc, ""))
                {
                    continue;
                }
                let key = self.doctest_key(
                    &target.lane(),
                    target
                        .runner
                        .as_ref()
                        .map(|r| r.launcher.argv.join(" "))
                        .unwrap_or_default(),
                    id,
                    p,
                    build,
                    &target.skips,
                );
                match self.cache.load(&key) {
                    Some(entries) if entries.iter().all(|e| e.outcome.is_some()) => {
                        let mut run = BinaryRun::new(BinaryKey {
                            triple: target.triple.clone(),
                            interpreted: target.interpreted,
                            package_id: id.clone(),
                            binary: BinaryId::Doc,
                        });
                        run.tests = entries
                            .into_iter()
                            .map(|e| TestResult {
                                reason: e.reason,
                                cached: true,
                                ..TestResult::new(
                                    e.name,
                                    e.outcome.expect("checked"),
                                    Duration::from_millis(e.duration_ms),
                                )
                            })
                            .collect();
                        self.finished(run);
                    }
                    _ => packages.push(DoctestPackage {
                        id: id.clone(),
                        name: p.name.clone(),
                        crate_name: lib.crate_name.clone(),
                        key,
                    }),
                }
            }
            if !packages.is_empty() {
                // cargo hands its environment down to rustdoc and the doctests it runs.
                let runner = target.runner.as_ref().expect("filtered on a runner");
                let mut cargo_env = target.cargo_env.clone();
                cargo_env.extend(runner.test_env(&target.triple));
                self.push(Task::Doctest(DoctestJob {
                    triple: target.triple.clone(),
                    packages,
                    cargo_env,
                    skips: target.skips.clone(),
                    interpreted: target.interpreted,
                }));
            }
        }
    }

    /// Doctests key on the package's files, its test binaries on the triple (which embed the
    /// library and every dependency), the runner, the cargo flags and the skips.
    fn doctest_key(
        &self,
        lane: &Lane,
        runner: String,
        id: &str,
        pkg: &crate::plan::PlannedPackage,
        build: &BuildResult,
        skips: &std::collections::BTreeMap<String, String>,
    ) -> String {
        let mut parts = vec![
            "doc-v2".to_owned(),
            lane.to_string(),
            runner,
            self.cache.source_hash(&pkg.dir),
            self.cache.workspace_hash(),
            format!("{:?}", self.opts.cargo.features),
            format!("{:?}", self.opts.cargo.profile),
            skips.keys().cloned().collect::<Vec<_>>().join(","),
        ];
        let mut bins: Vec<&TestBinary> = build
            .binaries
            .iter()
            .filter(|b| b.triple == lane.triple && b.interpreted == lane.interpreted)
            .filter(|b| b.package_id == id)
            .collect();
        bins.sort_by(|a, b| a.id.cmp(&b.id));
        for b in bins {
            parts.push(self.cache.file_hash(&b.path).unwrap_or_default());
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        self.cache.key(&refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::TestOutcome;
    use std::sync::Mutex;

    const T: &str = "x86_64-unknown-linux-gnu";

    /// A scripted executor: every binary lists `tests` names; every test of the binary
    /// `test/fail` fails. It records every batch it ran.
    #[derive(Default)]
    struct Script {
        tests: usize,
        batches: Mutex<Vec<(BinaryId, Vec<String>)>>,
        /// Batches that take time, on a machine that reads as idle ([`Pace`]).
        pace: Option<Pace>,
        /// What each test is reported to have taken, at once (1 ms when not paced).
        each: Option<Duration>,
        /// Tripped by the first batch (a Ctrl-C while it runs).
        stop: Option<crate::process::StopToken>,
    }

    /// Each batch takes a quarter of a second (each of its tests timed so) on a machine that
    /// reads as idle throughout (say, tests that sleep); records when each batch started and the
    /// most batches that ran at once.
    #[derive(Default)]
    struct Pace {
        starts: Mutex<Vec<std::time::Instant>>,
        running: std::sync::atomic::AtomicUsize,
        most: std::sync::atomic::AtomicUsize,
        ticks: std::sync::atomic::AtomicU64,
    }

    impl Pace {
        /// How many batches started within `d` of the first.
        fn started_within(&self, d: Duration) -> usize {
            let starts = self.starts.lock().unwrap();
            starts
                .iter()
                .filter(|s| s.duration_since(starts[0]) < d)
                .count()
        }
    }

    impl Script {
        fn names(&self) -> Vec<String> {
            (0..self.tests).map(|i| format!("t{i:03}")).collect()
        }
    }

    impl Execute for Script {
        fn prepare(
            &self,
            _: &BinaryJob,
            _: &Cache,
            _: &RunOptions,
            _: executor::Known,
        ) -> Prepared {
            Prepared {
                to_run: self.names(),
                ..Default::default()
            }
        }

        fn run_batch(
            &self,
            job: &BinaryJob,
            selection: Selection,
            _: &RunOptions,
            _: &dyn Fn(Event),
        ) -> Batch {
            use std::sync::atomic::Ordering::SeqCst;
            if let Some(token) = &self.stop {
                token.stop();
            }
            let names = match selection {
                Selection::Whole => self.names(),
                Selection::Names(names) => names,
            };
            let took = match &self.pace {
                Some(pace) => {
                    pace.starts.lock().unwrap().push(std::time::Instant::now());
                    let now = pace.running.fetch_add(1, SeqCst) + 1;
                    pace.most.fetch_max(now, SeqCst);
                    std::thread::sleep(Duration::from_millis(250));
                    pace.running.fetch_sub(1, SeqCst);
                    Duration::from_millis(250)
                }
                None => self.each.unwrap_or(Duration::from_millis(1)),
            };
            self.batches
                .lock()
                .unwrap()
                .push((job.binary.clone(), names.clone()));
            let outcome = if job.binary == BinaryId::Test("fail".into()) {
                TestOutcome::Failed
            } else {
                TestOutcome::Passed
            };
            Batch {
                tests: names
                    .iter()
                    .map(|n| TestResult::new(n.clone(), outcome, took))
                    .collect(),
                ..Default::default()
            }
        }

        fn run_doctests(
            &self,
            _: &DoctestJob,
            _: &RunOptions,
            _: &dyn Fn(Event),
        ) -> Vec<BinaryRun> {
            Vec::new()
        }

        fn cpu_times(&self, cpus: &[usize]) -> Option<CpuTimes> {
            let Some(pace) = &self.pace else {
                return super::super::load::cpu_times(cpus);
            };
            let t = pace
                .ticks
                .fetch_add(100, std::sync::atomic::Ordering::SeqCst)
                + 100;
            Some(CpuTimes { idle: t, total: t })
        }
    }

    fn plan() -> Plan {
        Plan {
            host: T.into(),
            targets: vec![crate::plan::TargetPlan {
                triple: T.into(),
                level: Level::Test,
                required: None,
                runner: Some(crate::plan::RunnerSpec {
                    launcher: crate::runner::Launcher::native(),
                    description: "native".into(),
                }),
                linker: None,
                cargo_env: Vec::new(),
                downgrades: Vec::new(),
                excluded: Default::default(),
                skips: Default::default(),
                cfg: Default::default(),
                probes: Default::default(),
                interpreted: false,
            }],
            selection: crate::plan::Selection::Workspace,
            packages: vec!["pkg-id".into()],
            members: [(
                "pkg-id".into(),
                crate::plan::PlannedPackage {
                    name: "pkg".into(),
                    dir: std::env::temp_dir(),
                    env: Vec::new(),
                    bins: Vec::new(),
                    links: false,
                    lib: None,
                },
            )]
            .into(),
        }
    }

    fn options(jobs: usize, fail_fast: bool) -> RunOptions {
        RunOptions {
            jobs,
            max_jobs: jobs,
            bind: false,
            test_timeout: None,
            slow_after: None,
            retries: 0,
            fail_fast,
            cache: None,
            doctests: false,
            partition: None,
            cargo: Default::default(),
            sysroot: None,
            config_env: Vec::new(),
            full_output: None,
            // Set by `dispatch` to a temporary directory.
            target_dir: std::path::PathBuf::new(),
            stop: crate::process::StopToken::new(),
        }
    }

    /// Runs the binaries `ids` (in the order cargo "links" them) through the dispatcher.
    fn dispatch(script: &Script, ids: &[BinaryId], opts: &RunOptions) -> (RunResult, Vec<Event>) {
        dispatch_in(tempfile::tempdir().unwrap().path(), script, ids, opts)
    }

    /// [`dispatch`] in `dir` (its `target` is the target directory), with any executor.
    fn dispatch_in(
        dir: &Path,
        script: &dyn Execute,
        ids: &[BinaryId],
        opts: &RunOptions,
    ) -> (RunResult, Vec<Event>) {
        let opts = &RunOptions {
            target_dir: dir.join("target"),
            ..opts.clone()
        };
        let (tx, rx) = mpsc::channel();
        for id in ids {
            tx.send(BuildEvent::Binary(TestBinary {
                triple: T.into(),
                interpreted: false,
                package_id: "pkg-id".into(),
                id: id.clone(),
                path: dir.join(id.to_string()),
                harness: true,
                script_env: Vec::new(),
                link_dirs: Vec::new(),
            }))
            .unwrap();
        }
        tx.send(BuildEvent::Finished(Box::default())).unwrap();
        drop(tx);
        let events = Mutex::new(Vec::new());
        let result = run_with(
            &plan(),
            opts,
            rx,
            &|e| events.lock().unwrap().push(e),
            script,
        );
        (result, events.into_inner().unwrap())
    }

    #[test]
    fn a_long_binary_without_history_starts_small_and_plans_the_rest_from_what_it_took() {
        let script = Script {
            tests: 60,
            ..Default::default()
        };
        let (result, events) = dispatch(&script, &[BinaryId::Lib], &options(1, true));
        let batches = script.batches.into_inner().unwrap();
        // No history: four tests spread over the binary, alone. They took 1 ms each, so the
        // other 56 (56 ms, over the native floor of 20 ms but under a worker's share) are one
        // more process, not the batches of 8, 16, 24 and 8 tests that growing blindly would
        // start, and with one worker none is held back for balance.
        let sizes: Vec<usize> = batches.iter().map(|(_, n)| n.len()).collect();
        assert_eq!(sizes, [4, 56], "{sizes:?}");
        assert_eq!(batches[0].1, ["t007", "t022", "t037", "t052"]);
        let mut ran: Vec<String> = batches.into_iter().flat_map(|(_, n)| n).collect();
        ran.sort();
        ran.dedup();
        assert_eq!(ran.len(), 60, "every test once");
        assert_eq!(result.runs.len(), 1, "one result per binary");
        let names: Vec<&str> = result.runs[0]
            .tests
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names.len(), 60);
        assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
        let finished = events
            .iter()
            .filter(|e| matches!(e, Event::BinaryFinished { .. }))
            .count();
        assert_eq!(finished, 1);
        assert!(result.not_run.is_empty());

        // Tests that took seconds: the rest is spread over both workers, half of it at a time
        // (44 tests in two batches, then, once one of those has run, the last 44).
        let slow = Script {
            tests: 100,
            each: Some(Duration::from_secs(2)),
            ..Default::default()
        };
        let (result, _) = dispatch(&slow, &[BinaryId::Lib], &options(2, true));
        let mut sizes: Vec<usize> = slow
            .batches
            .into_inner()
            .unwrap()
            .iter()
            .map(|(_, n)| n.len())
            .collect();
        sizes.sort();
        assert_eq!(sizes, [4, 8, 22, 22, 22, 22], "{sizes:?}");
        assert_eq!(result.runs[0].tests.len(), 100);
    }

    #[test]
    fn held_tests_do_not_run_after_a_failure_with_fail_fast_and_are_reported_not_run() {
        let id = BinaryId::Test("fail".into());
        let script = Script {
            tests: 60,
            ..Default::default()
        };
        let (result, _) = dispatch(&script, std::slice::from_ref(&id), &options(1, true));
        let batches = script.batches.into_inner().unwrap();
        assert_eq!(batches.len(), 1, "{batches:?}");
        assert_eq!(result.not_run.len(), 1, "{:?}", result.not_run);
        assert_eq!(result.not_run[0].binary, id);
        assert_eq!(result.runs.len(), 1, "what ran is reported");
        assert_eq!(result.runs[0].tests.len(), 4);
    }

    /// The stop token passed in stops the run: what runs finishes, nothing more starts, and
    /// what did not run is reported so.
    #[test]
    fn a_tripped_stop_token_starts_nothing_more_and_reports_what_did_not_run() {
        let ids = [BinaryId::Test("a".into()), BinaryId::Test("b".into())];
        let token = crate::process::StopToken::new();
        let script = Script {
            tests: 3,
            stop: Some(token.clone()),
            ..Default::default()
        };
        let opts = RunOptions {
            stop: token,
            ..options(1, false)
        };
        let (result, _) = dispatch(&script, &ids, &opts);
        let batches = script.batches.into_inner().unwrap();
        assert_eq!(batches.len(), 1, "{batches:?}");
        assert!(result.interrupted);
        assert_eq!(result.not_run.len(), 1, "{:?}", result.not_run);
        assert_ne!(result.not_run[0].binary, batches[0].0);
    }

    #[test]
    fn fail_fast_stops_new_work_and_reports_what_did_not_run() {
        let ids = [
            BinaryId::Test("fail".into()),
            BinaryId::Test("other".into()),
        ];
        let script = Script {
            tests: 3,
            ..Default::default()
        };
        let (result, _) = dispatch(&script, &ids, &options(1, true));
        let batches = script.batches.into_inner().unwrap();
        assert_eq!(
            batches.len(),
            1,
            "nothing starts after the failure: {batches:?}"
        );
        assert_eq!(batches[0].0, ids[0]);
        assert_eq!(result.not_run.len(), 1, "{:?}", result.not_run);
        assert_eq!(result.not_run[0].binary, ids[1]);

        // Without fail-fast, everything runs.
        let script = Script {
            tests: 3,
            ..Default::default()
        };
        let (result, _) = dispatch(&script, &ids, &options(1, false));
        assert_eq!(script.batches.into_inner().unwrap().len(), 2);
        assert!(result.not_run.is_empty());
        assert_eq!(result.runs.len(), 2);
        assert!(result.runs.iter().any(BinaryRun::failed));
    }

    #[test]
    fn a_run_without_an_emulator_plans_batches_down_to_the_native_floor() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(dir.path());
        assert_eq!(
            budget(&plan(), &history, 2),
            super::super::schedule::MIN_NATIVE_BATCH
        );
        let mut emulated = plan();
        let runner = emulated.targets[0].runner.as_mut().unwrap();
        runner.launcher.argv = vec!["qemu-s390x".into()];
        runner.launcher.kind = crate::runner::RunnerKind::Qemu;
        assert_eq!(
            budget(&emulated, &history, 2),
            super::super::schedule::MIN_BATCH
        );
    }

    /// [`Script`]'s binaries of 20 tests (one batch each, nothing held back), paced ([`Pace`]).
    fn paced() -> Script {
        Script {
            tests: 20,
            pace: Some(Pace::default()),
            ..Default::default()
        }
    }

    fn pace(script: &Script) -> &Pace {
        script.pace.as_ref().expect("paced")
    }

    #[test]
    fn slots_open_while_work_waits_on_an_idle_machine_and_the_next_run_starts_with_them() {
        use std::sync::atomic::Ordering::SeqCst;
        let dir = tempfile::tempdir().unwrap();
        let grow = RunOptions {
            max_jobs: 3,
            ..options(1, false)
        };
        // Eight binaries: work waits while one slot runs them, a quarter of a second each.
        let ids: Vec<BinaryId> = (0..8).map(|i| BinaryId::Test(format!("t{i}"))).collect();
        let sleepy = paced();
        let (result, _) = dispatch_in(dir.path(), &sleepy, &ids, &grow);
        assert_eq!(result.runs.len(), 8);
        assert!(result.runs.iter().all(|r| r.tests.len() == 20));
        assert!(
            pace(&sleepy).most.load(SeqCst) > 1,
            "one slot to start, more opened"
        );
        let kind = format!("{T} -j1..3");
        let remembered = History::open(&dir.path().join("target")).slots(&kind);
        assert!(remembered.is_some_and(|n| n > 1), "{remembered:?}");

        // The next like run starts with them: as many batches start at once (a slot opens
        // at the soonest two windows, 600 ms, into a run).
        let again = paced();
        dispatch_in(dir.path(), &again, &ids, &grow);
        assert!(
            pace(&again).started_within(Duration::from_millis(150)) >= remembered.unwrap(),
            "{remembered:?}"
        );

        // `-j 1`: one at a time, however idle the machine.
        let fixed = paced();
        dispatch_in(
            tempfile::tempdir().unwrap().path(),
            &fixed,
            &ids,
            &options(1, false),
        );
        assert_eq!(pace(&fixed).most.load(SeqCst), 1);
    }
}
