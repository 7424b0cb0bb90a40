//! Scheduling state of the run stage: a pool of `-j` workers pulling jobs from one queue for all
//! targets, fail-fast, and at most one `cargo test --doc` at a time (cargo locks the build
//! directory, so a second one would only hold a worker waiting). Prints progress as events
//! arrive; never spawns processes itself.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use super::executor;
use super::{BinaryRun, ExecEvent, Job, RunOptions, RunResult, TestOutcome};
use crate::shell;

struct Queue {
    jobs: VecDeque<Job>,
    doctest_running: bool,
}

impl Queue {
    fn take(&mut self) -> Option<Job> {
        let pos = self
            .jobs
            .iter()
            .position(|j| !(self.doctest_running && matches!(j, Job::Doctest(_))))?;
        let job = self.jobs.remove(pos)?;
        if matches!(job, Job::Doctest(_)) {
            self.doctest_running = true;
        }
        Some(job)
    }
}

enum Message {
    Event(ExecEvent),
    Done(Vec<BinaryRun>),
}

pub fn dispatch(jobs: Vec<Job>, opts: &RunOptions) -> RunResult {
    let total = jobs.len();
    let queue = Arc::new(Mutex::new(Queue {
        jobs: jobs.into(),
        doctest_running: false,
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Message>();
    let mut result = RunResult::default();
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1).min(total.max(1)) {
            let queue = Arc::clone(&queue);
            let stop = Arc::clone(&stop);
            let tx = tx.clone();
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::Relaxed) || crate::process::interrupted() {
                        return;
                    }
                    let Some(job) = queue.lock().expect("queue").take() else {
                        // Nothing takeable now; a doctest job may be waiting for the running one.
                        if queue.lock().expect("queue").jobs.is_empty() {
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        continue;
                    };
                    let (etx, erx) = mpsc::channel();
                    let forward = {
                        let tx = tx.clone();
                        std::thread::spawn(move || {
                            for e in erx {
                                let _ = tx.send(Message::Event(e));
                            }
                        })
                    };
                    let runs = match &job {
                        Job::Binary(b) => vec![executor::run_binary(b, opts, &etx)],
                        Job::Doctest(d) => {
                            let runs = executor::run_doctests(d, opts, &etx);
                            queue.lock().expect("queue").doctest_running = false;
                            runs
                        }
                    };
                    drop(etx);
                    let _ = forward.join();
                    // Decide fail-fast here, before this worker can take another job.
                    if opts.fail_fast && runs.iter().any(BinaryRun::failed) {
                        stop.store(true, Ordering::Relaxed);
                    }
                    let _ = tx.send(Message::Done(runs));
                }
            });
        }
        drop(tx);
        for message in rx {
            match message {
                Message::Event(ExecEvent::TestFinished {
                    triple,
                    binary,
                    result: r,
                    package,
                }) => {
                    if matches!(r.outcome, TestOutcome::Failed | TestOutcome::TimedOut) {
                        let verb = if r.outcome == TestOutcome::TimedOut {
                            "TIMEOUT"
                        } else {
                            "FAILED"
                        };
                        shell::status_bad(
                            verb,
                            format!("{} {} {binary} {}", triple, short_pkg(&package), r.name),
                        );
                    }
                }
                Message::Done(runs) => {
                    for run in &runs {
                        report_binary(run);
                    }
                    result.runs.extend(runs);
                }
            }
        }
    });
    let left = queue.lock().expect("queue");
    result.not_run = left.jobs.iter().flat_map(Job::describe).collect();
    result.interrupted = crate::process::interrupted();
    result
}

/// The package name from a cargo package id (`path+file:///ws/endian#0.1.0` → `endian`,
/// `path+file:///ws/dir#name@0.1.0` → `name`).
fn short_pkg(id: &str) -> &str {
    match id.rsplit_once('#') {
        Some((url, fragment)) => match fragment.split_once('@') {
            Some((name, _)) => name,
            None => url.rsplit('/').next().unwrap_or(id),
        },
        None => id,
    }
}

fn report_binary(run: &BinaryRun) {
    let count = |o| run.tests.iter().filter(|t| t.outcome == o).count();
    let (passed, failed, ignored, timed_out) = (
        count(TestOutcome::Passed),
        count(TestOutcome::Failed),
        count(TestOutcome::Ignored),
        count(TestOutcome::TimedOut),
    );
    let ms: u128 = run.tests.iter().map(|t| t.duration.as_millis()).sum();
    let what = format!(
        "{} {} {}: {passed} passed, {failed} failed, {ignored} ignored{} ({:.2}s)",
        run.triple,
        short_pkg(&run.package_id),
        run.binary,
        if timed_out > 0 {
            format!(", {timed_out} timed out")
        } else {
            String::new()
        },
        ms as f64 / 1000.0
    );
    if let Some(e) = &run.error {
        shell::status_bad(
            "ERROR",
            format!("{what}: {}", e.lines().next().unwrap_or_default()),
        );
    } else if failed + timed_out > 0 {
        shell::status_bad("Tested", what);
    } else {
        shell::status("Tested", what);
    }
}

#[cfg(test)]
mod tests {
    use super::short_pkg;

    #[test]
    fn short_names_from_package_ids() {
        assert_eq!(short_pkg("path+file:///ws/endian#0.1.0"), "endian");
        assert_eq!(short_pkg("path+file:///ws/dir#other@0.1.0"), "other");
        assert_eq!(
            short_pkg("registry+https://github.com/rust-lang/crates.io-index#cc@1.2.3"),
            "cc"
        );
    }
}
