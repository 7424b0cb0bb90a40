//! The run's queue of work: what waits (listings, batches, doctests), in the order it is taken
//! (listings first, then the longest work, doctests last under fail-fast), and what runs
//! (slots, the seat and CPU each task holds). Owned by the dispatcher alone
//! ([`super::dispatcher`]), which hands what it gives out to its workers.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::DoctestJob;
use super::executor::Selection;
use super::schedule::Placement;

#[derive(Debug)]
pub(super) enum Task {
    Prepare(usize),
    Shard(Shard),
    Doctest(DoctestJob),
}

/// A batch of a binary's tests, with the time it is expected to take and how it takes a CPU.
#[derive(Debug)]
pub(super) struct Shard {
    /// The binary's index in the dispatcher.
    pub(super) binary: usize,
    pub(super) selection: Selection,
    pub(super) expected: Duration,
    pub(super) placement: Placement,
    /// A batch of a binary that holds tests back until one of its batches has run
    /// ([`super::schedule::start`]): what it measures plans them.
    pub(super) sampling: bool,
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
pub(super) struct Seat {
    pub(super) cpu: Option<usize>,
    pub(super) id: u64,
}

#[derive(Default)]
pub(super) struct Queue {
    pub(super) tasks: VecDeque<Task>,
    /// Fail-fast is on: doctests wait for every batch.
    pub(super) fail_fast: bool,
    pub(super) doctest_running: bool,
    /// How many tasks may run at once ([`super::load::Slots`]).
    pub(super) slots: usize,
    /// How many [`Placement::Shared`] tasks may run beyond the slots: one, unless `-j` fixed
    /// the number of test processes.
    pub(super) beyond: usize,
    /// The running tasks: seat, start and expected time ([`Task::expected`]).
    pub(super) work: Vec<(u64, Instant, Duration)>,
    pub(super) next_seat: u64,
    /// The CPUs tasks are given ([`RunOptions::bind`]), each with the number of running tasks
    /// that have it; empty when tasks are not bound.
    pub(super) cpus: Vec<(usize, usize)>,
    /// Where the search for the next task's CPU starts.
    pub(super) next_cpu: usize,
    /// Fail-fast tripped: a worker saw a failure; nothing more is taken.
    pub(super) halted: bool,
}

impl Queue {
    /// A task for a worker, if a slot is free, with the least busy CPU (when tasks are bound);
    /// or a [`Placement::Shared`] one in the one slot beyond them, unbound, once no running
    /// batch is expected to have more left than it takes (started sooner, it would slow the
    /// longest, and end after it with a CPU idle; started then, the two end together).
    pub(super) fn take_slot(&mut self) -> Option<(Task, Seat)> {
        self.take_slot_at(Instant::now())
    }

    pub(super) fn take_slot_at(&mut self, now: Instant) -> Option<(Task, Seat)> {
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
    pub(super) fn wake_in(&self, now: Instant) -> Option<Duration> {
        if self.halted || self.running() != self.slots || self.beyond == 0 {
            return None;
        }
        self.beyond_in(now)
    }

    /// A task is over: its slot, CPU and place among the running work are free.
    pub(super) fn release(&mut self, seat: Seat) {
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
    pub(super) fn saturated(&self) -> bool {
        self.running() >= self.slots
            && self
                .tasks
                .iter()
                .any(|t| !(self.doctest_running && matches!(t, Task::Doctest(_))))
    }

    /// The next task to run (with `shared_only`, the next [`Placement::Shared`] one).
    pub(super) fn take(&mut self, shared_only: bool) -> Option<Task> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
            interpreted: false,
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
}
