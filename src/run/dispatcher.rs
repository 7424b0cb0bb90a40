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

use std::collections::{BTreeSet, VecDeque};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::cache::Cache;
use super::executor::{self, Batch, Prepared, Selection};
use super::history::History;
use super::load::{CpuTimes, Slots, cpus};
use super::schedule::Placement;
use super::{
    BinaryJob, BinaryRun, BuildEvent, DoctestJob, DoctestPackage, Event, RunOptions, RunResult,
    TestOutcome, TestResult,
};
use crate::build::{BuildResult, TestBinary};
use crate::ids::{BinaryId, BinaryKey};
use crate::level::Level;
use crate::plan::Plan;

#[derive(Debug)]
enum Task {
    Prepare(usize),
    Shard(Shard),
    Doctest(DoctestJob),
}

/// A batch of a binary's tests, with the time it is expected to take and how it takes a CPU.
#[derive(Debug)]
struct Shard {
    /// The binary's index in the dispatcher.
    binary: usize,
    selection: Selection,
    expected: Duration,
    placement: Placement,
    /// A batch of a binary that holds tests back until one of its batches has run
    /// ([`super::schedule::start`]): what it measures plans them.
    sampling: bool,
}

/// How long a target's doctests are taken to be when they compete with batches: rustdoc
/// compiles each doctest as its own program, so they are rarely short.
const DOCTEST_EXPECTED: Duration = Duration::from_secs(10);

impl Task {
    /// What to take first: listings (cheap, and they reveal the work), then the first batches
    /// of binaries that hold tests back for their timings (as cheap, and they reveal the rest),
    /// then the longest batch of any binary, so that no long batch starts last while the other
    /// workers idle. Doctests: with fail-fast, last, as `cargo test` runs them, so that a
    /// failure stops them from starting; without it everything runs anyway, and they are long
    /// work to start early.
    fn priority(&self, fail_fast: bool) -> (u8, Duration) {
        match self {
            Task::Prepare(_) => (3, Duration::ZERO),
            Task::Shard(s) if s.sampling => (2, s.expected),
            Task::Shard(s) => (1, s.expected),
            Task::Doctest(_) if fail_fast => (0, Duration::ZERO),
            Task::Doctest(_) => (1, DOCTEST_EXPECTED),
        }
    }

    /// How long a batch is expected to take; zero for other work, which no task waits on.
    fn expected(&self) -> Duration {
        match self {
            Task::Shard(s) => s.expected,
            _ => Duration::ZERO,
        }
    }

    fn shared(&self) -> bool {
        matches!(self, Task::Shard(s) if s.placement == Placement::Shared)
    }
}

/// What a running task holds: its CPU (when tasks are bound) and its place among the running
/// work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seat {
    cpu: Option<usize>,
    id: u64,
}

#[derive(Default)]
struct Queue {
    tasks: VecDeque<Task>,
    /// Fail-fast is on: doctests wait for every batch.
    fail_fast: bool,
    doctest_running: bool,
    /// How many tasks may run at once ([`super::load::Slots`]).
    slots: usize,
    /// How many [`Placement::Shared`] tasks may run beyond the slots: one, unless `-j` fixed
    /// the number of test processes.
    beyond: usize,
    /// The running tasks: seat, start and expected time ([`Task::expected`]).
    work: Vec<(u64, Instant, Duration)>,
    next_seat: u64,
    /// The CPUs tasks are given ([`RunOptions::bind`]), each with the number of running tasks
    /// that have it; empty when tasks are not bound.
    cpus: Vec<(usize, usize)>,
    /// Where the search for the next task's CPU starts.
    next_cpu: usize,
    /// Fail-fast tripped: a worker saw a failure; nothing more is taken.
    halted: bool,
    closed: bool,
}

impl Queue {
    /// A task for a worker, if a slot is free, with the least busy CPU (when tasks are bound);
    /// or a [`Placement::Shared`] one in the one slot beyond them, unbound, once no running
    /// batch is expected to have more left than it takes (started sooner, it would slow the
    /// longest, and end after it with a CPU idle; started then, the two end together).
    fn take_slot(&mut self) -> Option<(Task, Seat)> {
        self.take_slot_at(Instant::now())
    }

    fn take_slot_at(&mut self, now: Instant) -> Option<(Task, Seat)> {
        if self.running() >= self.slots + self.beyond {
            return None;
        }
        let beyond = self.running() >= self.slots;
        if beyond && self.beyond_in(now)? > Duration::ZERO {
            return None;
        }
        let task = self.take(beyond)?;
        let id = self.next_seat;
        self.next_seat += 1;
        self.work.push((id, now, task.expected()));
        if task.shared() {
            // Bound, the long tests would share one CPU in pairs while another had one alone.
            return Some((task, Seat { cpu: None, id }));
        }
        // Among the least busy, the next one after the CPU given last: with fewer slots than
        // CPUs, the work moves round them rather than staying on the first ones.
        let n = self.cpus.len();
        let cpu = (0..n)
            .map(|k| (self.next_cpu + k) % n)
            .min_by_key(|&i| self.cpus[i].1)
            .map(|i| {
                self.cpus[i].1 += 1;
                self.next_cpu = i + 1;
                self.cpus[i].0
            });
        Some((task, Seat { cpu, id }))
    }

    /// How long until the next shared task may start beyond the slots: when no running batch
    /// is expected to have more left than it takes. `None` when none waits.
    fn beyond_in(&self, now: Instant) -> Option<Duration> {
        let next = self.tasks[self.best(true)?].expected();
        Some(
            self.work
                .iter()
                .map(|(_, start, expected)| {
                    expected
                        .saturating_sub(now.saturating_duration_since(*start))
                        .saturating_sub(next)
                })
                .max()
                .unwrap_or_default(),
        )
    }

    /// How long a worker with nothing to take may wait before a task may be taken without a
    /// slot freeing up (a shared one beyond the slots); `None`: until woken.
    fn wake_in(&self, now: Instant) -> Option<Duration> {
        if self.halted || self.running() != self.slots || self.beyond == 0 {
            return None;
        }
        self.beyond_in(now)
    }

    /// A task is over: its slot, CPU and place among the running work are free.
    fn release(&mut self, seat: Seat) {
        if let Some(e) = self.cpus.iter_mut().find(|(c, _)| Some(*c) == seat.cpu) {
            e.1 -= 1;
        }
        self.work.retain(|(id, _, _)| *id != seat.id);
    }

    /// How many tasks run.
    fn running(&self) -> usize {
        self.work.len()
    }

    /// Every slot is busy and a task waits that a free slot could take.
    fn saturated(&self) -> bool {
        self.running() >= self.slots
            && self
                .tasks
                .iter()
                .any(|t| !(self.doctest_running && matches!(t, Task::Doctest(_))))
    }

    /// The next task to run (with `shared_only`, the next [`Placement::Shared`] one).
    fn take(&mut self, shared_only: bool) -> Option<Task> {
        if self.halted {
            return None;
        }
        let pos = self.best(shared_only)?;
        let task = self.tasks.remove(pos)?;
        if matches!(task, Task::Doctest(_)) {
            self.doctest_running = true;
        }
        Some(task)
    }

    /// Where the next task to run is: the highest priority, among equals the one queued first
    /// (with `shared_only`, among the [`Placement::Shared`] ones).
    fn best(&self, shared_only: bool) -> Option<usize> {
        self.tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| !(self.doctest_running && matches!(t, Task::Doctest(_))))
            .filter(|(_, t)| !shared_only || t.shared())
            .max_by(|(i, a), (j, b)| {
                a.priority(self.fail_fast)
                    .cmp(&b.priority(self.fail_fast))
                    .then(j.cmp(i))
            })
            .map(|(i, _)| i)
    }
}

/// A message, with the acknowledgement a worker waits for when it carries a task's result.
type Envelope = (Message, Option<mpsc::Sender<()>>);

enum Message {
    Build(BuildEvent),
    Exec(Event),
    Prepared(usize, Prepared),
    /// A batch's results, and how long it took.
    Batch(usize, Batch, Duration),
    Doctests(Vec<BinaryRun>, Vec<(String, String)>),
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
        events: &mpsc::Sender<Event>,
    ) -> Batch {
        executor::run_batch(job, selection, opts, events)
    }

    fn run_doctests(
        &self,
        job: &DoctestJob,
        opts: &RunOptions,
        events: &mpsc::Sender<Event>,
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
    let queue = Arc::new((
        Mutex::new(Queue {
            fail_fast: opts.fail_fast,
            slots: workers,
            beyond,
            cpus: if opts.bind {
                allowed.iter().map(|&c| (c, 0)).collect()
            } else {
                Vec::new()
            },
            ..Default::default()
        }),
        Condvar::new(),
    ));
    let (tx, rx) = mpsc::channel::<Envelope>();
    let mut result = RunResult::default();
    std::thread::scope(|scope| {
        {
            let tx = tx.clone();
            scope.spawn(move || {
                for event in builds {
                    if tx.send((Message::Build(event), None)).is_err() {
                        return;
                    }
                }
            });
        }
        let shared: Arc<Mutex<Vec<BinaryJob>>> = Arc::new(Mutex::new(Vec::new()));
        // As many workers as slots can open, and one for a shared task beyond them.
        for _ in 0..opts.max_jobs.max(workers) + beyond {
            let queue = Arc::clone(&queue);
            let tx = tx.clone();
            let shared = Arc::clone(&shared);
            let memory = Memory {
                cache: &cache,
                history: &history,
                budget,
            };
            scope.spawn(move || worker(&queue, &tx, &shared, memory, opts, exec));
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
            queue: &queue,
            shared: &shared,
            slots,
            allowed,
            exec,
            binaries: Vec::new(),
            seen: BTreeSet::new(),
            outstanding: 0,
            build_done: false,
            stopped: false,
            result: &mut result,
            on_event,
        };
        d.main_loop(&rx);
        if opts.max_jobs > opts.jobs {
            history.remember_slots(&run_kind, d.slots.now());
        }
    });
    cache.save();
    history.save();
    result.interrupted = crate::process::interrupted();
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
                .map(|(id, _)| history.package_total(&t.triple, id))
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

fn worker(
    queue: &(Mutex<Queue>, Condvar),
    tx: &mpsc::Sender<Envelope>,
    shared: &Mutex<Vec<BinaryJob>>,
    memory: Memory,
    opts: &RunOptions,
    exec: &dyn Execute,
) {
    let Memory {
        cache,
        history,
        budget,
    } = memory;
    let (lock, cvar) = queue;
    loop {
        let (task, seat) = {
            let mut q = lock.lock().expect("queue");
            loop {
                if q.closed {
                    return;
                }
                if let Some(t) = q.take_slot() {
                    break t;
                }
                q = match q.wake_in(Instant::now()) {
                    Some(wait) => cvar.wait_timeout(q, wait).expect("queue").0,
                    None => cvar.wait(q).expect("queue"),
                };
            }
        };
        let cpu = seat.cpu;
        let (etx, erx) = mpsc::channel();
        let forward = {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for e in erx {
                    let _ = tx.send((Message::Exec(e), None));
                }
            })
        };
        // The binary's job, with the CPU this task was given.
        let job = |i: usize| BinaryJob {
            cpu,
            ..shared.lock().expect("jobs")[i].clone()
        };
        let message = match task {
            Task::Prepare(i) => {
                let job = job(i);
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
                Message::Prepared(i, prepared)
            }
            Task::Shard(shard) => {
                let job = job(shard.binary);
                let started = Instant::now();
                let mut batch = exec.run_batch(&job, shard.selection, opts, &etx);
                if shard.placement == Placement::Shared {
                    batch.tests.iter_mut().for_each(|t| t.shared = true);
                }
                Message::Batch(shard.binary, batch, started.elapsed())
            }
            Task::Doctest(job) => {
                let runs = exec.run_doctests(&job, opts, &etx);
                lock.lock().expect("queue").doctest_running = false;
                cvar.notify_all();
                let keys = job
                    .packages
                    .iter()
                    .map(|p| (p.id.clone(), p.key.clone()))
                    .collect();
                Message::Doctests(runs, keys)
            }
        };
        drop(etx);
        let _ = forward.join();
        // Fail-fast is decided here, before this worker can take another task.
        let failed = match &message {
            Message::Prepared(_, p) => p.error.is_some(),
            Message::Batch(_, b, _) => b.error.is_some() || b.tests.iter().any(TestResult::failed),
            Message::Doctests(runs, _) => runs.iter().any(BinaryRun::failed),
            _ => false,
        };
        if failed && opts.fail_fast {
            lock.lock().expect("queue").halted = true;
        }
        // Wait until the dispatcher has handled this result, so the work it queues in answer
        // (a binary's shards) comes before whatever else is queued.
        let (ack, acked) = mpsc::channel();
        let handled = tx.send((message, Some(ack))).is_ok() && acked.recv().is_ok();
        // The slot is free only now, so that the work queued in answer is there to be taken.
        lock.lock().expect("queue").release(seat);
        cvar.notify_all();
        if !handled {
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
    queue: &'a (Mutex<Queue>, Condvar),
    shared: &'a Mutex<Vec<BinaryJob>>,
    slots: Slots,
    /// The CPUs this process may use.
    allowed: Vec<usize>,
    exec: &'a dyn Execute,
    binaries: Vec<Binary>,
    seen: BTreeSet<BinaryKey>,
    /// Tasks queued or running whose result has not been handled yet.
    outstanding: usize,
    build_done: bool,
    stopped: bool,
    result: &'a mut RunResult,
    on_event: &'a dyn Fn(Event),
}

impl Dispatcher<'_> {
    fn main_loop(&mut self, rx: &Receiver<Envelope>) {
        let mut watched = Instant::now();
        loop {
            if self.build_done && self.outstanding == 0 {
                break;
            }
            if watched.elapsed() >= super::load::WINDOW {
                watched = Instant::now();
                self.watch_load();
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok((m, ack)) => {
                    self.handle(m);
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if crate::process::interrupted() && !self.stopped {
                self.stop();
            }
        }
        let (lock, cvar) = self.queue;
        lock.lock().expect("queue").closed = true;
        cvar.notify_all();
    }

    /// Opens another slot when the machine idles while work waits ([`Slots::observe`]).
    fn watch_load(&mut self) {
        let (lock, cvar) = self.queue;
        let saturated = lock.lock().expect("queue").saturated();
        let reading = if saturated {
            self.exec.cpu_times(&self.allowed)
        } else {
            None
        };
        if self.slots.observe(reading, saturated) {
            lock.lock().expect("queue").slots = self.slots.now();
            cvar.notify_all();
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
        self.outstanding += tasks.len();
        let (lock, cvar) = self.queue;
        lock.lock().expect("queue").tasks.extend(tasks);
        cvar.notify_all();
    }

    /// Stops new work: queued tasks are reported as not run.
    fn stop(&mut self) {
        self.stopped = true;
        let drained: Vec<Task> = self
            .queue
            .0
            .lock()
            .expect("queue")
            .tasks
            .drain(..)
            .collect();
        for t in drained {
            self.outstanding -= 1;
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
            Message::Prepared(i, p) => {
                self.outstanding -= 1;
                self.prepared(i, p);
            }
            Message::Batch(i, batch, took) => {
                self.outstanding -= 1;
                // A failure stops new work at once, even while this binary's other shards wait
                // in the queue (a worker has already halted it).
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
            Message::Doctests(runs, keys) => {
                self.outstanding -= 1;
                for run in runs {
                    if let Some((_, key)) = keys.iter().find(|(id, _)| *id == run.package_id)
                        && run.error.is_none()
                        && !crate::process::interrupted()
                    {
                        self.cache.store(key, &run.tests);
                    }
                    self.finished(run);
                }
            }
        }
    }

    fn add_binary(&mut self, b: TestBinary) {
        let Some(target) = self
            .plan
            .targets
            .iter()
            .find(|t| t.triple == b.triple && t.level >= Level::Test)
        else {
            return;
        };
        let Some(runner) = &target.runner else { return };
        if !self.seen.insert(BinaryKey {
            triple: b.triple.clone(),
            package_id: b.package_id.clone(),
            binary: b.id.clone(),
        }) {
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
        let sysroot_libs = self.opts.sysroot.iter().flat_map(|s| {
            [
                s.join("lib/rustlib").join(&b.triple).join("lib"),
                s.join("lib"),
            ]
        });
        let job = BinaryJob {
            triple: b.triple.clone(),
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
        self.shared.lock().expect("jobs").push(job.clone());
        (self.on_event)(Event::Queued {
            triple: job.triple.clone(),
        });
        self.binaries.push(Binary {
            run: BinaryRun::new(&job.triple, &job.package_id, job.binary.clone()),
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
        let fresh = BinaryRun::new(&b.run.triple, &b.run.package_id, b.run.binary.clone());
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
                .map_or_else(|| run.package_id.clone(), |p| p.name.clone()),
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
                    .get(&(target.triple.clone(), id.to_owned()))
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
                    &target.triple,
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
                        let mut run = BinaryRun::new(&target.triple, id, BinaryId::Doc);
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
                }));
            }
        }
    }

    /// Doctests key on the package's files, its test binaries on the triple (which embed the
    /// library and every dependency), the runner, the cargo flags and the skips.
    fn doctest_key(
        &self,
        triple: &str,
        runner: String,
        id: &str,
        pkg: &crate::plan::PlannedPackage,
        build: &BuildResult,
        skips: &std::collections::BTreeMap<String, String>,
    ) -> String {
        let mut parts = vec![
            "doc-v2".to_owned(),
            triple.to_owned(),
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
            .filter(|b| b.triple == triple && b.package_id == id)
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
            _: &mpsc::Sender<Event>,
        ) -> Batch {
            use std::sync::atomic::Ordering::SeqCst;
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
            _: &mpsc::Sender<Event>,
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
            }],
            selection: crate::plan::Selection::Workspace,
            packages: vec!["pkg-id".into()],
            members: [(
                "pkg-id".to_owned(),
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

    fn shard(i: usize, ms: u64) -> Task {
        Task::Shard(Shard {
            binary: i,
            selection: Selection::Names(vec![format!("t{i}")]),
            expected: Duration::from_millis(ms),
            placement: Placement::Slot,
            sampling: false,
        })
    }

    fn doctest() -> Task {
        Task::Doctest(DoctestJob {
            triple: "t".into(),
            packages: Vec::new(),
            cargo_env: Vec::new(),
            skips: Default::default(),
        })
    }

    fn order(q: &mut Queue) -> Vec<String> {
        std::iter::from_fn(|| q.take(false))
            .map(|t| match t {
                Task::Prepare(i) => format!("prepare {i}"),
                Task::Shard(s) => format!("shard {} {}ms", s.binary, s.expected.as_millis()),
                Task::Doctest(_) => "doctest".to_owned(),
            })
            .collect()
    }

    #[test]
    fn listings_first_then_the_longest_work_whichever_binary_it_belongs_to() {
        let mut q = Queue {
            fail_fast: true,
            ..Default::default()
        };
        for t in [
            shard(0, 300),
            Task::Prepare(7),
            shard(1, 40_000),
            doctest(),
            shard(2, 300),
            Task::Prepare(8),
            shard(3, 12_000),
        ] {
            q.tasks.push_back(t);
        }
        assert_eq!(
            order(&mut q),
            [
                "prepare 7",
                "prepare 8",
                "shard 1 40000ms",
                "shard 3 12000ms",
                "shard 0 300ms",
                "shard 2 300ms",
                "doctest",
            ]
        );
        // Without fail-fast the doctests are long work like any other, started early.
        let mut q = Queue::default();
        q.tasks
            .extend([shard(0, 300), doctest(), shard(1, 40_000), Task::Prepare(7)]);
        assert_eq!(
            order(&mut q),
            ["prepare 7", "shard 1 40000ms", "doctest", "shard 0 300ms"]
        );
        // The first batch of a binary that holds tests back for its timings comes before any
        // other batch: its 40 ms of unknown tests may hide the run's longest test.
        let mut q = Queue::default();
        let first = match shard(2, 40) {
            Task::Shard(s) => Task::Shard(Shard {
                sampling: true,
                ..s
            }),
            t => t,
        };
        q.tasks
            .extend([shard(1, 40_000), first, Task::Prepare(7), shard(0, 300)]);
        assert_eq!(
            order(&mut q),
            [
                "prepare 7",
                "shard 2 40ms",
                "shard 1 40000ms",
                "shard 0 300ms"
            ]
        );
    }

    #[test]
    fn one_doctest_run_at_a_time_and_nothing_after_a_halt() {
        let mut q = Queue {
            fail_fast: true,
            ..Default::default()
        };
        q.tasks.extend([doctest(), doctest(), shard(0, 5)]);
        assert!(
            matches!(q.take(false), Some(Task::Shard(..))),
            "batches before doctests"
        );
        assert!(matches!(q.take(false), Some(Task::Doctest(_))));
        assert!(
            q.take(false).is_none(),
            "the second doctest waits for the first"
        );
        q.doctest_running = false;
        assert!(matches!(q.take(false), Some(Task::Doctest(_))));
        q.tasks.push_back(shard(1, 5));
        q.halted = true;
        assert!(q.take(false).is_none(), "fail-fast: nothing more is taken");
    }

    /// A queued shard of one test of `secs`, shared.
    fn shared(i: usize, secs: u64) -> Task {
        match shard(i, secs * 1000) {
            Task::Shard(s) => Task::Shard(Shard {
                placement: Placement::Shared,
                ..s
            }),
            t => t,
        }
    }

    /// A shard's binary and placement, and the CPU it was given.
    type Given = (usize, Placement, Option<usize>);

    /// What a task taken was given, and its seat.
    fn taken(t: Option<(Task, Seat)>) -> Option<(Given, Seat)> {
        t.map(|(t, seat)| match t {
            Task::Shard(s) => ((s.binary, s.placement, seat.cpu), seat),
            _ => panic!("a shard"),
        })
    }

    #[test]
    fn shared_long_tests_run_one_beyond_the_slots_unbound() {
        let mut q = Queue {
            slots: 2,
            beyond: 1,
            cpus: vec![(0, 0), (1, 0)],
            ..Default::default()
        };
        q.tasks.extend([
            shard(9, 100),
            shared(0, 60),
            shared(1, 60),
            shared(2, 60),
            shared(3, 60),
        ]);
        // The two slots, then one beyond them; none bound.
        let mut seats = Vec::new();
        for i in 0..3 {
            let (what, seat) = taken(q.take_slot()).expect("a task");
            assert_eq!(what, (i, Placement::Shared, None), "{i}");
            seats.push(seat);
        }
        assert!(q.take_slot().is_none(), "one beyond the slots, no more");
        // A shared task ends: the next shared one takes its place, beyond the slots again.
        q.release(seats.remove(0));
        let (what, seat) = taken(q.take_slot()).expect("a task");
        assert_eq!(what, (3, Placement::Shared, None));
        seats.push(seat);
        // Only a batch that takes a slot is left: it waits for a slot, and is bound.
        assert!(q.take_slot().is_none());
        q.release(seats.remove(0));
        assert!(q.take_slot().is_none(), "two running: the slots are full");
        q.release(seats.remove(0));
        let (what, _) = taken(q.take_slot()).expect("a task");
        assert_eq!(what, (9, Placement::Slot, Some(0)));
    }

    #[test]
    fn a_shared_test_starts_beyond_the_slots_when_it_would_end_with_the_longest() {
        // memchr's three property tests under qemu-aarch64 (85, 64 and 62 s in one run).
        let mut q = Queue {
            slots: 2,
            beyond: 1,
            ..Default::default()
        };
        q.tasks
            .extend([shared(0, 85), shared(1, 64), shared(2, 62)]);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(q.take_slot_at(t0).is_some());
        assert!(q.take_slot_at(t0).is_some());
        // The 85 s test has more left than 62 s until 23 s in.
        assert_eq!(q.wake_in(at(0)), Some(Duration::from_secs(23)));
        assert!(
            q.take_slot_at(at(10)).is_none(),
            "it would end after the longest"
        );
        assert_eq!(q.wake_in(at(10)), Some(Duration::from_secs(13)));
        let (what, _) = taken(q.take_slot_at(at(23))).expect("now it ends with it");
        assert_eq!(what, (2, Placement::Shared, None));
        assert_eq!(q.wake_in(at(23)), None, "nothing waits");
        // With `-j N` (no room beyond the slots) it waits for a slot however long.
        let mut q = Queue {
            slots: 2,
            ..Default::default()
        };
        q.tasks
            .extend([shared(0, 85), shared(1, 64), shared(2, 62)]);
        let (_, first) = taken(q.take_slot_at(t0)).unwrap();
        assert!(q.take_slot_at(t0).is_some());
        assert_eq!(q.wake_in(at(0)), None);
        assert!(q.take_slot_at(at(60)).is_none());
        q.release(first);
        assert!(q.take_slot_at(at(85)).is_some(), "a slot is free");
    }

    #[test]
    fn a_task_gets_the_least_busy_cpu_and_frees_it_when_done() {
        let mut q = Queue {
            slots: 3,
            cpus: vec![(4, 0), (7, 0)],
            ..Default::default()
        };
        q.tasks
            .extend([shard(0, 5), shard(1, 5), shard(2, 5), shard(3, 5)]);
        let take = |q: &mut Queue| {
            let (what, seat) = taken(q.take_slot()).expect("a task");
            (what.2, seat)
        };
        let (four, _) = take(&mut q);
        let (seven, on_seven) = take(&mut q);
        let (third, on_four) = take(&mut q);
        assert_eq!((four, seven), (Some(4), Some(7)));
        assert_eq!(third, Some(4), "more slots than CPUs: shared");
        assert!(q.take_slot().is_none(), "every slot is busy");
        assert!(q.saturated());
        q.release(on_seven);
        assert!(!q.saturated(), "a slot is free");
        let (what, _) = taken(q.take_slot()).unwrap();
        assert_eq!(what.2, Some(7), "the CPU left free");
        q.release(on_four);
        assert!(!q.saturated(), "nothing waits");
        // Fewer slots than CPUs: round them.
        let mut q = Queue {
            slots: 1,
            cpus: vec![(0, 0), (1, 0), (2, 0)],
            ..Default::default()
        };
        let mut given = Vec::new();
        for i in 0..4 {
            q.tasks.push_back(shard(i, 5));
            let (_, seat) = q.take_slot().unwrap();
            given.push(seat.cpu.unwrap());
            q.release(seat);
        }
        assert_eq!(given, [0, 1, 2, 0]);
        // Unbound: slots only.
        let mut q = Queue {
            slots: 1,
            ..Default::default()
        };
        q.tasks.extend([shard(0, 5), shard(1, 5)]);
        assert_eq!(q.take_slot().map(|(_, s)| s.cpu), Some(None));
        assert!(q.take_slot().is_none());
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
