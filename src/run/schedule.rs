//! How one binary's tests are grouped into batches (one process, one emulator start each, tests
//! run one at a time with `--exact`), so that no worker waits behind a batch of slow tests and
//! no emulator starts more often than balance needs:
//!
//! - **With history** (what each test took last time): the run has one [`budget`], the work the
//!   history expects of the whole run shared among the workers. A test that ran long (a second
//!   or more, and a quarter of a budget) runs alone; the rest of a binary is split into as few
//!   batches of about equal expected time as the budget allows (twice as many when their tests
//!   are too coarse to come out even), the quick tests in runs of neighbouring names, so a
//!   binary that is a small part of the run starts once and one that is most of it is spread
//!   over the workers; batches come out longest first. When a binary has more such long tests
//!   than there are workers and whole tests can't be split evenly among them, they are
//!   [`Placement::Shared`]: one more of them runs at a time than there are workers, and the OS
//!   shares the CPUs.
//! - **Without history**: a small binary is one batch (another emulator start would cost more
//!   than it could save); a large one starts with small batches, one for each worker (4, 8, …
//!   tests, spread evenly over its names, so that they sample all of it and not only its first
//!   module), and the rest of its tests wait until the first of them has run ([`start`]). Then
//!   they are planned as if the history knew each of them to take the mean of what the
//!   binary's tests that ran took ([`after_sample`]): a binary of a thousand 1 ms tests runs in
//!   a couple of processes, not a dozen, and one whose first tests took seconds is spread over
//!   the workers, half of what is left at a time, each release planned when a batch before it
//!   has run, so that its last batches are its smallest and a few slow tests among quick ones
//!   don't make one big batch the long pole. Under QEMU each process start translates the
//!   harness again (for `bytes`'s `test_buf` on s390x, whose 876 tests take about 1 CPU-s
//!   together, each more batch costs 0.15–0.4 CPU-s, depending on the machine).
//!
//! Pure: no I/O, no processes; the dispatcher queues what this returns.

use std::collections::BTreeMap;
use std::time::Duration;

/// Fewest tests worth more than one process when nothing is known about them.
pub(crate) const MIN_SPLIT: usize = 24;
/// A test expected to take at least this long (and a quarter of a [`budget`]) runs in a process
/// of its own; tests this long are placed one by one when batches are evened out.
pub(crate) const LONG: Duration = Duration::from_secs(1);
/// Batches are not planned shorter than this: a process start under QEMU (with libtest's
/// `--exact` filter) costs 30–300 ms, so a shorter batch spends more on starting than it gains
/// in balance.
pub(crate) const MIN_BATCH: Duration = Duration::from_millis(500);
/// The floor of a run's [`budget`] when every target runs its tests natively: a process start
/// there costs a millisecond or two, so a binary of thousands of sub-millisecond tests is still
/// worth spreading over the workers, as libtest's threads spread it under `cargo test`.
pub(crate) const MIN_NATIVE_BATCH: Duration = Duration::from_millis(20);
/// What an unknown test is assumed to take when nothing else in its binary is known.
const UNKNOWN: Duration = Duration::from_millis(10);

/// One planned batch: its tests (libtest runs them in name order), their expected time, and
/// how it takes a CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    pub tests: Vec<String>,
    pub expected: Duration,
    pub placement: Placement,
}

/// How a batch takes a CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Placement {
    /// In one of the run's slots, bound to a CPU where tasks are bound.
    #[default]
    Slot,
    /// One long test among more of them than there are workers, which whole tests can't split
    /// evenly (three 50 s tests on two workers take 100 s one after another): it may run in one
    /// slot beyond the run's, unbound, so that the OS shares the CPUs among the long tests
    /// (75 s for those three). It starts there once no running test is expected to have more
    /// left than it takes, so that it ends with the longest rather than after it.
    Shared,
}

/// The most expected work a batch is planned to hold: what the whole run is expected to take
/// (the history's durations of every binary it will run) shared among `jobs` workers, so that
/// every worker can be kept busy by batches of about equal size, and never under `floor`
/// ([`MIN_BATCH`], or [`MIN_NATIVE_BATCH`] for a run without an emulator).
pub(crate) fn budget(run_total: Duration, jobs: usize, floor: Duration) -> Duration {
    (run_total / jobs.max(1) as u32).max(floor)
}

/// How a binary's tests start: its first batches, and the tests `held` back until one of them
/// has run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Start {
    pub batches: Vec<Batch>,
    pub held: Vec<String>,
}

/// The first batches of a binary (see the module's header): every batch at once when the
/// history knows any of its tests ([`batches`]), or when it is small; else the first `jobs` of
/// its growing batches (4, 8, … tests), each spread evenly over the binary's name order
/// ([`spread`]) so that what they measure stands for the whole binary, the rest held, in name
/// order, for [`after_sample`].
pub(crate) fn start(
    tests: Vec<String>,
    history: &BTreeMap<String, Duration>,
    budget: Duration,
    jobs: usize,
) -> Start {
    let jobs = jobs.max(1);
    if tests.len() <= MIN_SPLIT || tests.iter().any(|t| history.contains_key(t)) {
        return Start {
            batches: batches(tests, history, budget, jobs),
            held: Vec::new(),
        };
    }
    let first = spread(tests.len(), jobs);
    let mut batches: Vec<Vec<String>> = vec![Vec::new(); jobs];
    let mut held = Vec::new();
    for (test, batch) in tests.into_iter().zip(first) {
        match batch {
            Some(b) => batches[b].push(test),
            None => held.push(test),
        }
    }
    let batches = batches
        .into_iter()
        .filter(|b| !b.is_empty())
        .map(|tests| Batch {
            expected: UNKNOWN * tests.len() as u32,
            tests,
            placement: Placement::Slot,
        })
        .collect();
    Start { batches, held }
}

/// Which of a binary's `n` tests (by position in name order) go into its first `jobs` batches,
/// and which batch: [`growing`]'s sizes (4, 8, … tests), each batch's tests evenly spaced over
/// the whole binary and the batches interleaved, never one test in two. Tests near one another
/// in name order are often alike (one module of property tests, say), so first batches taken
/// from the start would measure only the first module.
fn spread(n: usize, jobs: usize) -> Vec<Option<usize>> {
    let mut first = vec![None; n];
    let mut left = n;
    for (b, size) in growing_sizes(n, jobs).take(jobs).enumerate() {
        let size_b = size.min(left);
        if size_b == 0 {
            break;
        }
        for i in 0..size_b {
            // The i-th of size_b equal parts of the binary, at an offset of its own for each
            // batch: (2·jobs·i + 2b + 1) / (2·jobs·size_b) of the way through, below n.
            let mut at = (2 * jobs * i + 2 * b + 1) * n / (2 * jobs * size_b);
            while first[at].is_some() {
                at = (at + 1) % n;
            }
            first[at] = Some(b);
        }
        left -= size_b;
    }
    first
}

/// What a binary's batches measured so far: what each of their tests took, and what a process
/// took beyond them (starting, under an emulator translating the harness, exiting: the least
/// of its batches').
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sample {
    pub tests: Vec<Duration>,
    pub overhead: Duration,
}

impl Sample {
    /// What one more batch measured, added to what the others did.
    pub(crate) fn add(&mut self, batch: Sample) {
        self.overhead = self.overhead.min(batch.overhead);
        self.tests.extend(batch.tests);
    }
}

/// A batch is planned at least this many times as long as the process start its binary's first
/// batch measured, so that starting is at most a fifth of it.
const START_SHARE: u32 = 4;

/// What [`after_sample`] releases of the tests a binary held back: batches to queue now, and
/// the tests still held for what those will measure.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Release {
    pub batches: Vec<Batch>,
    pub held: Vec<String>,
}

/// The tests [`start`] held back, planned each time a batch of their binary has run: each is
/// expected to take the mean of what the binary's tests that ran took, and they are split as
/// [`batches`] splits known tests, with a budget of at least their share of a worker (the rest
/// of the run is not known yet) and [`START_SHARE`] times the measured start. A mean says
/// nothing of a few slow tests among quick ones, and a batch of half the binary that holds them
/// would be the long pole: while the held tests are worth two rounds of a batch per worker
/// (and there are several workers), only the first half of them (in name order) is released,
/// the rest held for the next batch's timings, so the binary's last batches are its smallest.
/// Nothing measured (no test ran): growing batches.
pub(crate) fn after_sample(
    held: Vec<String>,
    sample: &Sample,
    budget: Duration,
    jobs: usize,
) -> Release {
    let jobs = jobs.max(1);
    if held.is_empty() {
        return Release::default();
    }
    if sample.tests.is_empty() {
        return Release {
            batches: growing(held, jobs),
            held: Vec::new(),
        };
    }
    let mean = sample.tests.iter().sum::<Duration>() / sample.tests.len() as u32;
    let floor = budget.max(sample.overhead * START_SHARE);
    let (now, later) = if jobs > 1
        && held.len() > 2 * MIN_SPLIT
        && mean * held.len() as u32 > floor * (2 * jobs) as u32
    {
        let mut now = held;
        let later = now.split_off(now.len() / 2);
        (now, later)
    } else {
        (held, Vec::new())
    };
    let history: BTreeMap<String, Duration> = now.iter().map(|t| (t.clone(), mean)).collect();
    let budget = floor.max(mean * now.len() as u32 / jobs as u32);
    Release {
        batches: batches(now, &history, budget, jobs),
        held: later,
    }
}

/// Splits `tests` into batches no larger than `budget` (see [`budget`]) where their durations
/// allow, using `history` (a test's last duration); with no history for any of them, into
/// growing batches for `jobs` workers.
pub(crate) fn batches(
    tests: Vec<String>,
    history: &BTreeMap<String, Duration>,
    budget: Duration,
    jobs: usize,
) -> Vec<Batch> {
    let jobs = jobs.max(1);
    if tests.is_empty() {
        return Vec::new();
    }
    let known: Vec<Duration> = tests
        .iter()
        .filter_map(|t| history.get(t).copied())
        .collect();
    if known.is_empty() {
        return growing(tests, jobs);
    }
    // A new test is assumed to be like the binary's typical (median) test.
    let mut sorted = known.clone();
    sorted.sort();
    let typical = sorted[sorted.len() / 2];
    let mut timed: Vec<(String, Duration)> = tests
        .into_iter()
        .map(|t| {
            let d = history.get(&t).copied().unwrap_or(typical);
            (t, d)
        })
        .collect();
    // Longest first; ties by name, so the plan is deterministic.
    timed.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    // A test that is a large part of a worker's share runs alone: the workers balance such
    // tests one by one. Under an emulator every process translates the code its tests reach
    // once more, so tests short beside the share are grouped, even when they take seconds.
    let alone_at = LONG.max(budget / 4);
    let (long, rest): (Vec<_>, Vec<_>) = timed.into_iter().partition(|(_, d)| *d >= alone_at);
    let rest_total: Duration = rest.iter().map(|(_, d)| *d).sum();
    let lengths: Vec<Duration> = long.iter().map(|(_, d)| *d).collect();
    let placement = if share(&lengths, rest_total, jobs) {
        Placement::Shared
    } else {
        Placement::Slot
    };
    let mut out: Vec<Batch> = long
        .into_iter()
        .map(|(test, d)| Batch {
            tests: vec![test],
            expected: d,
            placement,
        })
        .collect();
    if !rest.is_empty() {
        // As few batches as the budget allows, twice as many when their tests are too coarse
        // for so few to come out even.
        let total = rest_total;
        let fewest = total
            .as_nanos()
            .div_ceil(budget.as_nanos().max(1))
            .clamp(1, rest.len() as u128) as usize;
        let grain = rest
            .iter()
            .map(|(_, d)| *d)
            .filter(|d| *d < LONG)
            .max()
            .unwrap_or_default();
        let mut plan = even(&rest, fewest);
        if !balanced(&plan, grain) && fewest * 2 <= rest.len() {
            plan = even(&rest, fewest * 2);
        }
        out.extend(plan);
    }
    out.sort_by_key(|b| std::cmp::Reverse(b.expected));
    out
}

/// Whether `long` tests, each alone in a process, are better shared out than taken in turns:
/// there are more of them than `jobs` workers, and running one more of them at a time than
/// there are workers when that one would end with the longest ([`shared_end`]), the OS sharing
/// the CPUs, is expected to end at least a twentieth sooner than the workers taking them one by
/// one, longest first (`rest`, the binary's other work, fills what CPU they leave in both).
pub(crate) fn share(long: &[Duration], rest: Duration, jobs: usize) -> bool {
    let jobs = jobs.max(1);
    if long.len() <= jobs {
        return false;
    }
    let secs: Vec<f64> = long.iter().map(Duration::as_secs_f64).collect();
    let rest = rest.as_secs_f64();
    shared_end(&secs, rest, jobs) < 0.95 * in_turns_end(&secs, rest, jobs)
}

/// When `long` (seconds) end taken by `jobs` workers one by one, longest first, each into the
/// worker that is free first, with `rest` spread over the CPU time they leave.
fn in_turns_end(long: &[f64], rest: f64, jobs: usize) -> f64 {
    let mut sorted = long.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let mut loads = vec![0.0f64; jobs];
    for d in sorted {
        let free = loads
            .iter_mut()
            .min_by(|a, b| a.total_cmp(b))
            .expect("one worker");
        *free += d;
    }
    let busiest = loads.iter().copied().fold(0.0, f64::max);
    busiest.max((long.iter().sum::<f64>() + rest) / jobs as f64)
}

/// When `long` (seconds) end as the dispatcher runs shared tests: longest first, in the `jobs`
/// slots, and one more beyond them once no running test has more left than that one takes (so
/// that it and the longest end together), the CPUs shared evenly among those running (each gets
/// `jobs / n` of one while `n > jobs`); `rest` takes what CPU they leave.
fn shared_end(long: &[f64], rest: f64, jobs: usize) -> f64 {
    let mut waiting = long.to_vec();
    waiting.sort_by(|a, b| a.total_cmp(b));
    let cpus = jobs as f64;
    let (mut running, mut rest, mut now) = (Vec::<f64>::new(), rest, 0.0);
    loop {
        while let Some(&next) = waiting.last() {
            let admit = running.len() < jobs
                || (running.len() == jobs && running.iter().all(|r| *r <= next + 1e-9));
            if !admit {
                break;
            }
            running.push(next);
            waiting.pop();
        }
        if running.is_empty() && rest <= 0.0 {
            return now;
        }
        let speed = (cpus / running.len().max(1) as f64).min(1.0);
        let spare = cpus - speed * running.len() as f64;
        let left = |f: fn(f64, f64) -> f64, from: f64| running.iter().copied().fold(from, f);
        let to_first = left(f64::min, f64::INFINITY) / speed;
        let to_admit = match waiting.last() {
            Some(next) if running.len() == jobs => (left(f64::max, 0.0) - next) / speed,
            _ => f64::INFINITY,
        };
        let to_rest = if spare > 0.0 && rest > 0.0 {
            rest / spare
        } else {
            f64::INFINITY
        };
        let step = to_first.min(to_admit).min(to_rest);
        for d in &mut running {
            *d -= step * speed;
        }
        running.retain(|d| *d > 1e-9);
        rest = (rest - step * spare).max(0.0);
        if rest < 1e-9 {
            rest = 0.0;
        }
        now += step;
    }
}

/// `tests` (longest first) in `parts` batches of about equal expected time: tests of a second or
/// more go one by one into the lightest batch; the quick rest tops the batches up to an equal
/// share, each a run of neighbouring names (libtest runs a batch in name order, and neighbours
/// share the code an emulator translates once per process).
fn even(tests: &[(String, Duration)], parts: usize) -> Vec<Batch> {
    let mut out = vec![
        Batch {
            tests: Vec::new(),
            expected: Duration::ZERO,
            placement: Placement::Slot,
        };
        parts.max(1)
    ];
    let (slow, mut quick): (Vec<_>, Vec<_>) = tests.iter().partition(|(_, d)| *d >= LONG);
    for (test, d) in slow {
        let lightest = out
            .iter_mut()
            .min_by_key(|b| b.expected)
            .expect("at least one batch");
        lightest.tests.push(test.clone());
        lightest.expected += *d;
    }
    let total: Duration = tests.iter().map(|(_, d)| *d).sum();
    let share = total / out.len() as u32;
    quick.sort_by(|a, b| a.0.cmp(&b.0));
    let mut quick = quick.into_iter().peekable();
    let last = out.len() - 1;
    for (i, batch) in out.iter_mut().enumerate() {
        while let Some((test, d)) =
            quick.next_if(|(_, d)| i == last || batch.expected + *d / 2 <= share)
        {
            batch.tests.push(test.clone());
            batch.expected += *d;
        }
    }
    out.retain(|b| !b.tests.is_empty());
    out
}

/// The batches come out even: the heaviest within a tenth of the mean, or within `grain` (the
/// longest quick test, the most that topping up in runs of names can leave over), of the
/// lightest.
fn balanced(batches: &[Batch], grain: Duration) -> bool {
    let (Some(max), Some(min)) = (
        batches.iter().map(|b| b.expected).max(),
        batches.iter().map(|b| b.expected).min(),
    ) else {
        return true;
    };
    let mean = batches.iter().map(|b| b.expected).sum::<Duration>() / batches.len() as u32;
    max - min <= (mean / 10).max(grain)
}

/// Nothing known: one batch for a small binary; else batches of 4, 8, 16, … tests, up to a
/// size that still leaves every worker a few batches.
fn growing(tests: Vec<String>, jobs: usize) -> Vec<Batch> {
    let n = tests.len();
    if n <= MIN_SPLIT {
        return vec![Batch {
            tests,
            expected: UNKNOWN * n as u32,
            placement: Placement::Slot,
        }];
    }
    let mut out = Vec::new();
    let mut rest = tests.into_iter().peekable();
    for size in growing_sizes(n, jobs) {
        if rest.peek().is_none() {
            break;
        }
        let batch: Vec<String> = rest.by_ref().take(size).collect();
        out.push(Batch {
            expected: UNKNOWN * batch.len() as u32,
            tests: batch,
            placement: Placement::Slot,
        });
    }
    out
}

/// The sizes of growing batches for a binary of `n` tests: 4, 8, 16, … tests, up to a quarter
/// of a worker's share (and at least [`MIN_SPLIT`]); endless, the caller stops.
fn growing_sizes(n: usize, jobs: usize) -> impl Iterator<Item = usize> {
    let cap = n.div_ceil(4 * jobs).max(MIN_SPLIT);
    std::iter::successors(Some(4), move |size| Some((size * 2).min(cap)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i:04}")).collect()
    }

    fn all(batches: &[Batch]) -> Vec<String> {
        let mut v: Vec<String> = batches.iter().flat_map(|b| b.tests.clone()).collect();
        v.sort();
        v
    }

    #[test]
    fn without_history_small_binaries_are_one_batch_and_large_ones_grow() {
        let b = batches(names(20), &BTreeMap::new(), MIN_BATCH, 2);
        assert_eq!(b.len(), 1);
        let b = batches(names(1000), &BTreeMap::new(), MIN_BATCH, 2);
        let sizes: Vec<usize> = b.iter().map(|b| b.tests.len()).collect();
        assert_eq!(&sizes[..5], [4, 8, 16, 32, 64], "{sizes:?}");
        // Growing, then capped; only the last (the remainder) may be smaller.
        assert!(
            sizes[..sizes.len() - 1].windows(2).all(|w| w[0] <= w[1]),
            "{sizes:?}"
        );
        assert!(
            *sizes.iter().max().unwrap() <= 125,
            "cap = 1000 / (4 × 2): {sizes:?}"
        );
        assert!(b.len() >= 8, "every worker gets several: {sizes:?}");
        assert_eq!(all(&b), names(1000), "every test exactly once");
    }

    #[test]
    fn without_history_a_large_binary_starts_one_small_batch_per_worker_and_holds_the_rest() {
        let s = start(names(1000), &BTreeMap::new(), MIN_BATCH, 2);
        let sizes: Vec<usize> = s.batches.iter().map(|b| b.tests.len()).collect();
        assert_eq!(sizes, [4, 8]);
        // Each first batch samples the whole binary, not its first names: one of its tests in
        // every quarter (the first batch) or eighth (the second) of the name order.
        for b in &s.batches {
            let parts = b.tests.len();
            let mut seen: Vec<usize> = b
                .tests
                .iter()
                .map(|t| t[1..].parse::<usize>().unwrap() * parts / 1000)
                .collect();
            seen.dedup();
            assert_eq!(seen, (0..parts).collect::<Vec<_>>(), "{:?}", b.tests);
        }
        // The rest is held in name order, and every test is in exactly one place.
        let mut every: Vec<String> = s.held.clone();
        assert!(every.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(every.len(), 988);
        every.extend(s.batches.iter().flat_map(|b| b.tests.clone()));
        every.sort();
        assert_eq!(every, names(1000));
        // However many workers and however few tests, no test is lost or doubled.
        for (n, jobs) in [(25, 1), (25, 2), (25, 64), (37, 3), (100, 7), (1000, 16)] {
            let s = start(names(n), &BTreeMap::new(), MIN_BATCH, jobs);
            let mut every: Vec<String> = s.held.clone();
            every.extend(s.batches.iter().flat_map(|b| b.tests.clone()));
            every.sort();
            assert_eq!(every, names(n), "{n} tests, {jobs} workers");
            assert!(s.batches.len() <= jobs && s.batches.iter().all(|b| !b.tests.is_empty()));
        }
        // Small, or known in part: everything at once, as `batches` plans it.
        let small = start(names(20), &BTreeMap::new(), MIN_BATCH, 2);
        assert_eq!((small.batches.len(), small.held.len()), (1, 0));
        let one_known = timed(|_| 5, 1);
        let known = start(names(1000), &one_known, MIN_BATCH, 2);
        assert!(known.held.is_empty());
        assert_eq!(
            known.batches,
            batches(names(1000), &one_known, MIN_BATCH, 2)
        );
    }

    #[test]
    fn held_tests_are_planned_from_what_the_first_batch_took() {
        let ms = Duration::from_millis;
        let held = names(1000)[12..].to_vec();
        // `bytes`'s test_buf under qemu-s390x: tests of about 1 ms; 988 ms of them on two
        // workers make two batches, not the nine that growing blindly would start.
        let took = |tests: &[Duration], overhead: Duration| Sample {
            tests: tests.to_vec(),
            overhead,
        };
        let quick = after_sample(
            held.clone(),
            &took(&[ms(1), ms(2), ms(1), ms(0)], ms(50)),
            MIN_BATCH,
            2,
        );
        assert!(
            quick.held.is_empty(),
            "not worth holding any back: {quick:?}"
        );
        let quick = quick.batches;
        assert_eq!(quick.len(), 2, "{quick:?}");
        assert_eq!(all(&quick), held);
        // The same tests in a binary whose start took 400 ms: a batch of 988 ms is no longer
        // worth a second one.
        let costly = after_sample(
            held.clone(),
            &took(&[ms(1), ms(2), ms(1), ms(0)], ms(400)),
            MIN_BATCH,
            2,
        )
        .batches;
        assert_eq!(costly.len(), 1, "{costly:?}");
        // Natively, a few milliseconds in all are one batch.
        let native = after_sample(
            held.clone(),
            &took(&[Duration::ZERO; 4], ms(1)),
            MIN_NATIVE_BATCH,
            2,
        )
        .batches;
        assert_eq!(native.len(), 1);
        // Tests of seconds: spread evenly over the workers, half of them at a time, so that a
        // few slow ones among them can't make one batch of half the binary the long pole. Each
        // batch that runs plans the next release, until what is left is not worth holding.
        let sample = took(&[ms(2000), ms(1000)], ms(400));
        let slow = after_sample(held.clone(), &sample, MIN_BATCH, 2);
        let sizes: Vec<usize> = slow.batches.iter().map(|b| b.tests.len()).collect();
        assert_eq!(sizes, [247, 247]);
        assert_eq!(slow.held, held[494..]);
        let mut released = slow.batches;
        let mut rounds = vec![sizes];
        let mut left = slow.held;
        while !left.is_empty() {
            let next = after_sample(left, &sample, MIN_BATCH, 2);
            rounds.push(next.batches.iter().map(|b| b.tests.len()).collect());
            released.extend(next.batches);
            left = next.held;
        }
        assert_eq!(all(&released), held, "every held test exactly once");
        assert!(
            rounds
                .windows(2)
                .all(|w| w[1].iter().max() <= w[0].iter().max()),
            "batches shrink toward the end: {rounds:?}"
        );
        let last = rounds.last().unwrap();
        assert!(last.iter().all(|&n| n <= MIN_SPLIT), "{rounds:?}");
        // A few tests of seconds each, a large part of a worker's share: alone.
        let few = after_sample(
            names(6),
            &took(&[Duration::from_secs(30)], ms(400)),
            MIN_BATCH,
            2,
        )
        .batches;
        assert_eq!(few.len(), 6, "{few:?}");
        // Nothing measured (the batch ran no test): growing batches, as without a sample.
        let blind = after_sample(held.clone(), &Sample::default(), MIN_BATCH, 2);
        assert_eq!(blind.batches, growing(held, 2));
        assert!(blind.held.is_empty());
    }

    fn timed(ms: impl Fn(usize) -> u64, n: usize) -> BTreeMap<String, Duration> {
        names(n)
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, Duration::from_millis(ms(i))))
            .collect()
    }

    #[test]
    fn slow_tests_run_alone_and_come_first() {
        let mut history = timed(|_| 5, 200);
        for slow in ["t0003", "t0100", "t0150"] {
            history.insert(slow.to_owned(), Duration::from_secs(90));
        }
        let total: Duration = history.values().sum();
        let b = batches(names(200), &history, budget(total, 2, MIN_BATCH), 2);
        for (i, slow) in [(0, "t0003"), (1, "t0100"), (2, "t0150")] {
            assert_eq!(b[i].tests, [slow], "{b:?}");
        }
        // The 197 quick tests (≈1 s) are one process.
        assert_eq!(b.len(), 4, "{b:?}");
        assert_eq!(all(&b), names(200));
        assert!(b.windows(2).all(|w| w[0].expected >= w[1].expected));
    }

    #[test]
    fn tests_long_beside_a_workers_share_run_alone_so_the_workers_can_balance_them() {
        // memchr's unit tests on the host: five property tests of 4–8 s and 137 quick ones. In
        // one batch of neighbours, the 6.3 s and 5.5 s tests would make a piece of 11.8 s.
        let mut history = timed(|_| 1, 142);
        for (name, ms) in [
            ("t0000", 8029),
            ("t0001", 6268),
            ("t0002", 5532),
            ("t0003", 4657),
            ("t0004", 3891),
        ] {
            history.insert(name.to_owned(), Duration::from_millis(ms));
        }
        let total: Duration = history.values().sum();
        let b = batches(names(142), &history, budget(total, 2, MIN_BATCH), 2);
        assert_eq!(b.len(), 6, "{b:?}");
        for (i, batch) in b.iter().take(5).enumerate() {
            assert_eq!(
                batch.tests,
                [format!("t{i:04}")],
                "longest first, alone: {b:?}"
            );
        }
        assert_eq!(b[5].tests.len(), 137);
        assert_eq!(all(&b), names(142));
    }

    #[test]
    fn more_long_tests_than_workers_that_turns_cannot_even_out_are_shared() {
        let s = Duration::from_secs_f64;
        // memchr's property tests under qemu-aarch64 (69.5, 52.6 and 48.1 s, 4 s of others) on
        // two workers: in turns 100.7 s; shared, the third starting 21.4 s in, 87.1 s.
        let aarch64 = [s(69.5), s(52.6), s(48.1)];
        assert!(share(&aarch64, s(4.0), 2));
        let mut history = timed(|_| 40, 100);
        for (name, d) in ["t0010", "t0020", "t0030"].into_iter().zip(aarch64) {
            history.insert(name.to_owned(), d);
        }
        let total: Duration = history.values().sum();
        let b = batches(names(100), &history, budget(total, 2, MIN_BATCH), 2);
        let shared: Vec<&Batch> = b
            .iter()
            .filter(|b| b.placement == Placement::Shared)
            .collect();
        assert_eq!(shared.len(), 3, "{b:?}");
        assert!(shared.iter().all(|b| b.tests.len() == 1), "{b:?}");
        assert_eq!(all(&b), names(100));
        // Three equal tests: 100 s in turns, 75 s shared.
        assert!(share(&[s(50.0); 3], s(0.0), 2));
        // memchr on the host: five tests of 3.9–8.0 s; 15.7 s in turns, 14.65 s shared.
        assert!(share(&[s(8.0), s(6.3), s(5.5), s(4.7), s(3.9)], s(0.1), 2));
    }

    #[test]
    fn long_tests_that_turns_balance_take_slots() {
        let s = Duration::from_secs_f64;
        // No more long tests than workers: each has a worker to itself.
        assert!(!share(&[s(60.0), s(50.0)], s(10.0), 2));
        assert!(!share(&[s(60.0)], s(0.0), 1));
        // Ten of 5 s come out even in turns (25.5 s with the rest); shared, three at a time,
        // they would end at 27.5 s.
        assert!(!share(&[s(5.0); 10], s(1.0), 2));
        // One long test beside much quick work: the quick work fills the other worker.
        assert!(!share(&[s(10.0), s(2.0), s(2.0)], s(20.0), 2));
        let mut history = timed(|_| 5, 200);
        history.insert("t0003".to_owned(), Duration::from_secs(90));
        history.insert("t0100".to_owned(), Duration::from_secs(90));
        let total: Duration = history.values().sum();
        let b = batches(names(200), &history, budget(total, 2, MIN_BATCH), 2);
        assert!(b.iter().all(|b| b.placement == Placement::Slot), "{b:?}");
    }

    #[test]
    fn tests_of_seconds_short_beside_the_share_are_grouped_into_even_batches() {
        // memchr's property tests under QEMU: 60 tests of 1.5–4.4 s, on 2 workers. Alone, each
        // would be an emulator start that translates the code again.
        let history = timed(|i| 1500 + (i as u64 * 49) % 2900, 60);
        let total: Duration = history.values().sum();
        let b = batches(names(60), &history, budget(total, 2, MIN_BATCH), 2);
        assert!(b.len() <= 4, "{} batches: {b:?}", b.len());
        let (max, min) = (b[0].expected, b[b.len() - 1].expected);
        assert!(max - min <= total / b.len() as u32 / 10, "even: {b:?}");
        assert_eq!(all(&b), names(60));
    }

    #[test]
    fn batches_too_coarse_to_come_out_even_are_doubled() {
        // Five tests of 4.9 s, none a quarter of a 20 s budget: two batches would be 14.7 and
        // 9.8 s; four are 9.8, 4.9, 4.9 and 4.9 s, which two workers can balance.
        let history = timed(|_| 4900, 5);
        let b = batches(names(5), &history, Duration::from_secs(20), 2);
        let mut sizes: Vec<usize> = b.iter().map(|b| b.tests.len()).collect();
        sizes.sort();
        assert_eq!(sizes, [1, 1, 1, 2], "{b:?}");
        assert_eq!(all(&b), names(5));
        // Fine-grained tests come out even in the fewest batches: no doubling.
        let history = timed(|_| 40, 500);
        let b = batches(names(500), &history, Duration::from_secs(10), 2);
        assert_eq!(b.len(), 2, "{b:?}");
    }

    #[test]
    fn a_binary_that_is_most_of_the_run_is_spread_in_equal_batches() {
        // Skewed: a tenth of the tests take 400 ms, the rest 2 ms; this binary is the run.
        let history = timed(|i| if i % 10 == 0 { 400 } else { 2 }, 400);
        let total: Duration = history.values().sum();
        let b = batches(names(400), &history, budget(total, 2, MIN_BATCH), 2);
        assert_eq!(b.len(), 2, "one batch per worker: {b:?}");
        let (heavy, light) = (b[0].expected, b[1].expected);
        assert!(
            heavy - light <= Duration::from_millis(400),
            "balanced within one test: {heavy:?} {light:?}"
        );
        assert_eq!(heavy + light, total);
        assert_eq!(all(&b), names(400));
        // Each batch is a run of neighbouring names.
        let mut runs: Vec<&Batch> = b.iter().collect();
        runs.sort_by(|x, y| x.tests[0].cmp(&y.tests[0]));
        assert!(
            runs[0].tests.windows(2).all(|w| w[0] < w[1])
                && runs[0].tests.last() < runs[1].tests.first(),
            "{runs:?}"
        );
    }

    #[test]
    fn a_binary_that_is_a_small_part_of_the_run_starts_once() {
        // 100 × 20 ms = 2 s, in a run expected to take 40 s on 2 workers.
        let history = timed(|_| 20, 100);
        let b = batches(
            names(100),
            &history,
            budget(Duration::from_secs(40), 2, MIN_BATCH),
            2,
        );
        assert_eq!(b.len(), 1, "{b:?}");
        assert_eq!(b[0].expected, Duration::from_secs(2));
        // Alone on 2 workers, the same binary is split in two.
        let b = batches(
            names(100),
            &history,
            budget(Duration::from_secs(2), 2, MIN_BATCH),
            2,
        );
        assert_eq!(b.len(), 2, "{b:?}");
    }

    #[test]
    fn the_budget_shares_the_run_among_workers_and_has_a_floor() {
        assert_eq!(
            budget(Duration::from_secs(40), 2, MIN_BATCH),
            Duration::from_secs(20)
        );
        assert_eq!(budget(Duration::from_millis(300), 2, MIN_BATCH), MIN_BATCH);
        assert_eq!(
            budget(Duration::from_secs(4), 0, MIN_BATCH),
            Duration::from_secs(4)
        );
    }

    #[test]
    fn thousands_of_sub_millisecond_tests_are_spread_natively_and_kept_whole_under_an_emulator() {
        // pulldown-cmark's spec binary on the host: 1,154 tests of about 95 µs, 110 ms in all.
        let tests = names(1154);
        let history: BTreeMap<String, Duration> = tests
            .iter()
            .map(|t| (t.clone(), Duration::from_micros(95)))
            .collect();
        let total: Duration = history.values().sum();
        let native = batches(
            tests.clone(),
            &history,
            budget(total, 2, MIN_NATIVE_BATCH),
            2,
        );
        assert_eq!(native.len(), 2, "a process start is cheap: {native:?}");
        let emulated = batches(tests, &history, budget(total, 2, MIN_BATCH), 2);
        assert_eq!(emulated.len(), 1, "an emulator start is not: {emulated:?}");
    }

    #[test]
    fn new_tests_count_as_typical_ones() {
        let tests = names(30);
        let history: BTreeMap<String, Duration> = tests[..29]
            .iter()
            .map(|t| (t.clone(), Duration::from_millis(3)))
            .collect();
        let b = batches(tests, &history, MIN_BATCH, 2);
        assert_eq!(b.len(), 1, "30 × 3 ms is below one batch's worth: {b:?}");
        assert_eq!(b[0].expected, Duration::from_millis(90));
    }
}
