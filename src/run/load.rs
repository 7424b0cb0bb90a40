//! How many tasks may run at once. `-j N` is a fixed number. Without `-j` the run starts with
//! one task per CPU, and while every task slot is busy, work waits, and the machine still leaves
//! CPU idle (a quarter of a CPU, over 300 ms), it opens one more slot at a time, up to twice the
//! CPUs. Tests that wait rather than compute (sleeps, timeouts, I/O) leave CPUs idle that more
//! processes can use.
//!
//! Slots are never closed again during a run: once they are open, low idle shows they are in
//! use. The run's history remembers how many it ended with ([`super::history`]), and the next
//! run of the same targets starts with them and plans its batches for them.
//!
//! The idle is that of the CPUs this process may use (its affinity), read from `/proc/stat`.
//! Where that can't be read, slots stay at the starting number.

use std::time::Duration;

/// CPU time the kernel counted since boot, in its ticks: idle (with I/O wait) and all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuTimes {
    pub idle: u64,
    pub total: u64,
}

/// The CPU times of `cpus` (the CPUs this process may use: idle elsewhere is no room for its
/// tests), summed from their `cpuN` lines of `/proc/stat`; with none given, the whole machine's
/// `cpu` line. `None` off Linux or when it can't be read.
pub(crate) fn cpu_times(cpus: &[usize]) -> Option<CpuTimes> {
    parse_stat(&std::fs::read_to_string("/proc/stat").ok()?, cpus)
}

fn parse_stat(stat: &str, cpus: &[usize]) -> Option<CpuTimes> {
    let wanted = |label: &str| match label.strip_prefix("cpu") {
        Some("") => cpus.is_empty(),
        Some(n) => n.parse().is_ok_and(|n: usize| cpus.contains(&n)),
        None => false,
    };
    let mut sum: Option<CpuTimes> = None;
    for line in stat.lines() {
        let mut fields = line.split_whitespace();
        if !fields.next().is_some_and(wanted) {
            continue;
        }
        let t = parse_times(fields)?;
        let s = sum.get_or_insert(CpuTimes { idle: 0, total: 0 });
        s.idle += t.idle;
        s.total += t.total;
    }
    sum
}

/// A line's times: user nice system idle iowait irq softirq steal (guest time is already inside
/// user and nice). Steal is left out of the total: it is time the machine did not have.
fn parse_times<'a>(fields: impl Iterator<Item = &'a str>) -> Option<CpuTimes> {
    let v: Vec<u64> = fields
        .take(7)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 5 {
        return None;
    }
    Some(CpuTimes {
        idle: v[3] + v[4],
        total: v.iter().sum(),
    })
}

/// This machine's CPUs, as the OS offers them to this process (1 when unknown).
pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How long the machine is watched before a slot is opened.
pub(crate) const WINDOW: Duration = Duration::from_millis(300);

/// Idle worth another slot, on average over a window: a quarter of a CPU, and at least a
/// twentieth of the machine (on a large machine a little idle is noise, not waiting tests).
fn worth_a_slot(cpus: usize) -> f64 {
    (0.25f64).max(0.05 * cpus as f64)
}

/// The number of task slots and what decides it.
#[derive(Debug)]
pub(crate) struct Slots {
    now: usize,
    max: usize,
    cpus: usize,
    /// The reading at the start of the current window, taken while every slot was busy and work
    /// waited.
    start: Option<CpuTimes>,
}

impl Slots {
    /// `jobs` slots, or as many as the last like run ended with (`remembered`), which may grow
    /// to `max` while `cpus` CPUs idle.
    pub(crate) fn new(jobs: usize, max: usize, cpus: usize, remembered: Option<usize>) -> Self {
        let (jobs, max) = (jobs.max(1), max.max(jobs).max(1));
        Slots {
            now: remembered.unwrap_or(jobs).clamp(jobs, max),
            max,
            cpus: cpus.max(1),
            start: None,
        }
    }

    pub(crate) fn now(&self) -> usize {
        self.now
    }

    /// Takes a reading, made about every [`WINDOW`]. `saturated`: every slot is busy and work
    /// waits for one. A window counts only if it was saturated at both ends; when its idle
    /// reaches `worth_a_slot`, one more slot opens. Returns whether one did.
    pub(crate) fn observe(&mut self, reading: Option<CpuTimes>, saturated: bool) -> bool {
        if !saturated || self.now >= self.max {
            self.start = None;
            return false;
        }
        let Some(end) = reading else { return false };
        let Some(start) = self.start.replace(end) else {
            return false;
        };
        let total = end.total.saturating_sub(start.total);
        if total == 0 {
            return false;
        }
        let idle = end.idle.saturating_sub(start.idle) as f64 / total as f64 * self.cpus as f64;
        if idle < worth_a_slot(self.cpus) {
            return false;
        }
        self.now += 1;
        // The new slot's process changes the picture: the next window starts when it runs.
        self.start = None;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(idle: u64, total: u64) -> Option<CpuTimes> {
        Some(CpuTimes { idle, total })
    }

    #[test]
    fn reads_the_lines_of_the_cpus_asked_for_from_proc_stat() {
        let stat = "cpu  2182653 133522 324239 1385538 16126 0 4542 115862 0 0
cpu0 10 0 10 70 10 0 0 5 0 0
cpu1 20 0 20 50 0 0 10 0 0 0
cpu12 1 1 1 1 1 1 1 1 0 0
intr 1 2 3
";
        assert_eq!(
            parse_stat(stat, &[]),
            t(
                1385538 + 16126,
                2182653 + 133522 + 324239 + 1385538 + 16126 + 4542
            ),
            "the whole machine; steal left out"
        );
        assert_eq!(parse_stat(stat, &[1]), t(50, 100));
        assert_eq!(parse_stat(stat, &[0, 1]), t(130, 200));
        assert_eq!(parse_stat(stat, &[12]), t(2, 7), "cpu12 is not cpu1");
        assert_eq!(parse_stat(stat, &[5]), None, "no such CPU");
        assert_eq!(parse_stat("cpu 1 2 x 4 5", &[]), None);
        assert_eq!(parse_stat("cpu 1 2 3", &[]), None);
        if cfg!(target_os = "linux") {
            let now = cpu_times(&[]).expect("/proc/stat on Linux");
            assert!(now.total >= now.idle);
        }
    }

    #[test]
    fn a_slot_opens_only_after_a_busy_window_that_left_a_quarter_of_a_cpu_idle() {
        // Two CPUs, 100 ticks a second each: 60 ticks of a window.
        let mut s = Slots::new(2, 4, 2, None);
        assert!(!s.observe(t(0, 0), true), "a window needs two readings");
        assert!(
            !s.observe(t(6, 60), true),
            "6 of 60 ticks idle: a fifth of a CPU"
        );
        assert_eq!(s.now(), 2);
        assert!(s.observe(t(16, 120), true), "10 of 60: a third of a CPU");
        assert_eq!(s.now(), 3);
        // The next window starts after the new slot's task runs.
        assert!(!s.observe(t(60, 180), true));
        assert!(s.observe(t(90, 240), true));
        assert!(!s.observe(t(120, 300), true));
        assert!(!s.observe(t(150, 360), true), "at the most: 4");
        assert_eq!(s.now(), 4);
        // On 40 CPUs, a twentieth is 2 CPUs: 1.5 idle CPUs open nothing.
        let mut s = Slots::new(40, 80, 40, None);
        s.observe(t(0, 0), true);
        assert!(!s.observe(t(45, 1200), true));
        assert!(s.observe(t(105, 2400), true));
    }

    #[test]
    fn idle_while_work_did_not_wait_opens_nothing() {
        let mut s = Slots::new(2, 4, 2, None);
        assert!(!s.observe(t(0, 0), true));
        // Nothing waited at the end of this window (say, the last tests of the run).
        assert!(!s.observe(t(60, 60), false));
        // Nor at its start.
        assert!(!s.observe(t(120, 120), true));
        assert_eq!(s.now(), 2);
        assert!(s.observe(t(180, 180), true));
        // No reading of the machine: nothing opens.
        let mut s = Slots::new(2, 4, 2, None);
        for _ in 0..5 {
            assert!(!s.observe(None, true));
        }
        // A run starts with what the last like one ended with, within the bounds.
        assert_eq!(Slots::new(2, 4, 2, Some(3)).now(), 3);
        assert_eq!(Slots::new(2, 4, 2, Some(9)).now(), 4);
        assert_eq!(Slots::new(2, 4, 2, Some(1)).now(), 2);
        // `-j`: a fixed number.
        let mut s = Slots::new(2, 2, 2, None);
        s.observe(t(0, 0), true);
        assert!(!s.observe(t(60, 60), true));
        assert_eq!(s.now(), 2);
    }
}
