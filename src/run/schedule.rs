//! How one binary's tests are grouped into batches (one process, one emulator start each, tests
//! run one at a time with `--exact`), so that no worker waits behind a batch of slow tests:
//!
//! - **With history** (what each test took last time): a test that ran long runs alone; the
//!   rest are packed, longest first, into batches of about equal expected time (about two per
//!   worker, none planned under [`MIN_BATCH`]); batches come out longest first.
//! - **Without history**: a small binary is one batch (another emulator start would cost more
//!   than it could save); a large one starts with small batches that grow, so a slow test found
//!   early holds up little, and the later, larger batches keep emulator starts few.
//!
//! Pure: no I/O, no processes; the dispatcher queues what this returns.

use std::collections::BTreeMap;
use std::time::Duration;

/// Fewest tests worth more than one process when nothing is known about them.
pub const MIN_SPLIT: usize = 24;
/// A test expected to take at least this long runs in a process of its own.
pub const LONG: Duration = Duration::from_secs(1);
/// Batches are not planned shorter than this: a process start under QEMU (with libtest's
/// `--exact` filter) costs 30–50 ms, so a shorter batch spends more on starting than it gains
/// in balance.
pub const MIN_BATCH: Duration = Duration::from_millis(500);
/// What an unknown test is assumed to take when nothing else in its binary is known.
const UNKNOWN: Duration = Duration::from_millis(10);

/// One planned batch: the tests, in the order they run, and their expected time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub tests: Vec<String>,
    pub expected: Duration,
}

/// Splits `tests` into batches for `jobs` workers, using `history` (a test's last duration).
pub fn batches(
    tests: Vec<String>,
    history: &BTreeMap<String, Duration>,
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
    let total: Duration = timed.iter().map(|(_, d)| *d).sum();
    // About two batches per worker: enough to balance, few enough that starts stay cheap.
    let budget = (total / (2 * jobs as u32)).max(MIN_BATCH);
    let mut out: Vec<Batch> = Vec::new();
    let mut open: Vec<Batch> = Vec::new();
    for (test, d) in timed {
        if d >= LONG {
            out.push(Batch {
                tests: vec![test],
                expected: d,
            });
            continue;
        }
        // First fit, longest first: each batch fills up to the budget.
        match open.iter_mut().find(|b| b.expected + d <= budget) {
            Some(b) => {
                b.tests.push(test);
                b.expected += d;
            }
            None => open.push(Batch {
                tests: vec![test],
                expected: d,
            }),
        }
    }
    out.extend(open);
    out.sort_by_key(|b| std::cmp::Reverse(b.expected));
    out
}

/// Nothing known: one batch for a small binary; else batches of 4, 8, 16, … tests, up to a
/// size that still leaves every worker a few batches.
fn growing(tests: Vec<String>, jobs: usize) -> Vec<Batch> {
    let n = tests.len();
    if n <= MIN_SPLIT {
        return vec![Batch {
            tests,
            expected: UNKNOWN * n as u32,
        }];
    }
    let cap = n.div_ceil(4 * jobs).max(MIN_SPLIT);
    let mut out = Vec::new();
    let mut size = 4;
    let mut rest = tests.into_iter().peekable();
    while rest.peek().is_some() {
        let batch: Vec<String> = rest.by_ref().take(size).collect();
        out.push(Batch {
            expected: UNKNOWN * batch.len() as u32,
            tests: batch,
        });
        size = (size * 2).min(cap);
    }
    out
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
        let b = batches(names(20), &BTreeMap::new(), 2);
        assert_eq!(b.len(), 1);
        let b = batches(names(1000), &BTreeMap::new(), 2);
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
    fn slow_tests_run_alone_and_come_first() {
        let tests = names(200);
        let mut history: BTreeMap<String, Duration> = tests
            .iter()
            .map(|t| (t.clone(), Duration::from_millis(5)))
            .collect();
        for slow in ["t0003", "t0100", "t0150"] {
            history.insert(slow.to_owned(), Duration::from_secs(90));
        }
        let b = batches(tests, &history, 2);
        for (i, slow) in [(0, "t0003"), (1, "t0100"), (2, "t0150")] {
            assert_eq!(b[i].tests, [slow], "{b:?}");
        }
        // The 197 quick tests (≈1 s) need no more than a few processes.
        assert!(b.len() <= 3 + 2, "{}", b.len());
        assert_eq!(all(&b), names(200));
        assert!(b.windows(2).all(|w| w[0].expected >= w[1].expected));
    }

    #[test]
    fn batches_are_balanced_by_expected_time_not_count() {
        // Skewed: a tenth of the tests take 400 ms, the rest 2 ms.
        let tests = names(400);
        let history: BTreeMap<String, Duration> = tests
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let ms = if i % 10 == 0 { 400 } else { 2 };
                (t.clone(), Duration::from_millis(ms))
            })
            .collect();
        let total: Duration = history.values().sum();
        let b = batches(tests, &history, 2);
        let budget = (total / 4).max(MIN_BATCH);
        let longest = Duration::from_millis(400);
        for batch in &b {
            assert!(
                batch.expected <= budget.max(longest),
                "{batch:?} over {budget:?}"
            );
        }
        // Balanced: the heaviest batch is within one test of the lightest full one.
        let heavy = b.first().unwrap().expected;
        assert!(heavy <= budget, "{heavy:?}");
        assert!(
            b.len() >= 4,
            "enough batches for 2 workers to balance: {}",
            b.len()
        );
        assert_eq!(all(&b), names(400));
    }

    #[test]
    fn new_tests_count_as_typical_ones() {
        let tests = names(30);
        let history: BTreeMap<String, Duration> = tests[..29]
            .iter()
            .map(|t| (t.clone(), Duration::from_millis(3)))
            .collect();
        let b = batches(tests, &history, 2);
        assert_eq!(b.len(), 1, "30 × 3 ms is below one batch's worth: {b:?}");
        assert_eq!(b[0].expected, Duration::from_millis(90));
    }
}
