//! The live reporter: the only writer to the terminal while a verification runs. It renders
//! the build and run stages' events as cargo-style status lines (`Building`, `FAILED`,
//! `Tested`, warnings) and, on a terminal, one progress line per target (binaries built and
//! finished, tests passed, failed, cached) redrawn in place by indicatif above which the status
//! lines scroll. Elsewhere (a pipe, CI logs) nothing is drawn and the lines are printed as they
//! come.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::build;
use crate::run::{self, BinaryRun, TestOutcome};
use crate::shell;

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    built: usize,
    finished: usize,
    passed: usize,
    failed: usize,
    cached: usize,
}

struct Display {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, (ProgressBar, Counts)>>,
}

/// Shared by the build thread and the dispatcher: every method takes `&self`.
pub(crate) struct Live {
    display: Option<Display>,
    /// `--message-format json`: the event lines on stdout.
    stream: Option<super::stream::Stream>,
}

impl Live {
    /// A reporter for `triples`, drawing progress lines if stderr is a terminal; with `json`,
    /// also the event lines on stdout.
    pub(crate) fn start(triples: &[String], json: bool) -> Live {
        let mut live = Live::new(triples, std::io::stderr().is_terminal());
        live.stream = json.then(super::stream::Stream::default);
        live
    }

    /// Plain lines only (no progress display).
    pub(crate) fn plain() -> Live {
        Live::new(&[], false)
    }

    /// The plan, as the first event line (`--message-format json`).
    pub(crate) fn plan(&self, plan: &crate::plan::Plan) {
        if let Some(s) = &self.stream {
            s.plan(plan);
        }
        // An interpreted lane gets a progress line of its own, beside its triple's.
        if let Some(d) = &self.display {
            let mut bars = lock(&d.bars);
            for lane in plan.targets.iter().map(crate::plan::TargetPlan::lane) {
                let name = lane.to_string();
                if let std::collections::btree_map::Entry::Vacant(e) = bars.entry(name) {
                    let bar = progress_line(&d.multi, e.key());
                    e.insert((bar, Counts::default()));
                }
            }
        }
    }

    fn new(triples: &[String], draw: bool) -> Live {
        if !draw {
            return Live {
                display: None,
                stream: None,
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let bars = triples
            .iter()
            .map(|t| (t.clone(), (progress_line(&multi, t), Counts::default())))
            .collect();
        Live {
            display: Some(Display {
                multi,
                bars: Mutex::new(bars),
            }),
            stream: None,
        }
    }

    pub(crate) fn build(&self, event: &build::Event) {
        if let Some(s) = &self.stream {
            s.build(event);
        }
        match event {
            build::Event::Started {
                stage,
                triples,
                interpreted,
                packages,
            } => self.line(shell::status_line(
                "Building",
                format!(
                    "{stage}{} for {} ({packages} packages)",
                    by_miri(*interpreted),
                    triples.join(", ")
                ),
            )),
            build::Event::Attributing { triple, failures } => self.line(shell::status_line(
                "Attributing",
                format!("{failures} failure(s) on {triple}"),
            )),
            build::Event::Finished {
                stage,
                triples,
                interpreted,
                elapsed,
            } => self.line(shell::status_line(
                "Built",
                format!(
                    "{stage}{} for {} in {:.1}s",
                    by_miri(*interpreted),
                    triples.join(", "),
                    elapsed.as_secs_f64()
                ),
            )),
            // Counted when the run stage queues it.
            build::Event::Binary(_) => {}
        }
    }

    pub(crate) fn run(&self, event: &run::Event) {
        if let Some(s) = &self.stream {
            s.run(event);
        }
        match event {
            run::Event::Queued { lane } => self.update(lane, |c| c.built += 1),
            run::Event::TestStarted(_) => {}
            run::Event::TestFinished { test, result } => {
                self.update(&test.lane(), |c| {
                    if result.failed() {
                        c.failed += 1;
                    } else if result.outcome == TestOutcome::Passed {
                        c.passed += 1;
                    }
                });
                if result.failed() {
                    let verb = if result.outcome == TestOutcome::TimedOut {
                        "TIMEOUT"
                    } else {
                        "FAILED"
                    };
                    self.line(shell::bad_line(verb, printable(&test.to_string())));
                } else if result.leaked {
                    self.line(shell::warn_line(printable(&format!(
                        "{test} (leaked): its process left something running that held its output open; it was left running and the run moved on"
                    ))));
                }
                if !result.failed() && result.flaky {
                    self.line(shell::warn_line(printable(&format!(
                        "{test} is flaky: passed on attempt {}",
                        result.attempts
                    ))));
                }
            }
            run::Event::Slow { test, elapsed } => self.line(shell::warn_line(printable(&format!(
                "{test} has been running for over {:.0}s",
                elapsed.as_secs_f64()
            )))),
            run::Event::BinaryFinished { package, run } => {
                self.update(&run.lane(), |c| {
                    c.finished += 1;
                    for t in run.tests.iter().filter(|t| t.cached) {
                        c.cached += 1;
                        c.passed += usize::from(t.outcome == TestOutcome::Passed);
                    }
                });
                self.line(binary_line(package, run));
            }
        }
    }

    /// Removes the display before the final report is printed.
    pub(crate) fn finish(&self) {
        if let Some(d) = &self.display {
            for (bar, _) in lock(&d.bars).values() {
                bar.finish_and_clear();
            }
            let _ = d.multi.clear();
        }
    }

    /// A status line, above the display when there is one.
    fn line(&self, text: String) {
        let shown = self
            .display
            .as_ref()
            .is_some_and(|d| d.multi.println(&text).is_ok());
        if !shown {
            anstream::eprintln!("{text}");
        }
    }

    fn update(&self, lane: &crate::ids::Lane, f: impl FnOnce(&mut Counts)) {
        let Some(d) = &self.display else { return };
        let mut bars = lock(&d.bars);
        if let Some((bar, counts)) = bars.get_mut(&lane.to_string()) {
            f(counts);
            bar.set_message(format!(
                "{} binaries built, {} done · {} passed · {} failed · {} cached",
                counts.built, counts.finished, counts.passed, counts.failed, counts.cached
            ));
        }
    }
}

/// One target lane's progress line.
fn progress_line(multi: &MultiProgress, name: &str) -> ProgressBar {
    let style = ProgressStyle::with_template("{spinner:.green} {prefix:<30} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let bar = multi.add(ProgressBar::new_spinner());
    bar.set_style(style);
    bar.set_prefix(name.to_owned());
    bar.set_message("building");
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Said after the stage of a cargo-miri build.
fn by_miri(interpreted: bool) -> &'static str {
    if interpreted { " (cargo-miri)" } else { "" }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Test names come from the test binaries: control characters are shown, not obeyed.
fn printable(s: &str) -> String {
    super::printable(s, false).into_owned()
}

/// `Tested <triple> <package> <binary>: N passed, …` (or `ERROR` with the first line of why).
fn binary_line(package: &str, run: &BinaryRun) -> String {
    let count = |o| run.tests.iter().filter(|t| t.outcome == o).count();
    let (passed, failed, ignored, timed_out, skipped) = (
        count(TestOutcome::Passed),
        count(TestOutcome::Failed),
        count(TestOutcome::Ignored),
        count(TestOutcome::TimedOut),
        count(TestOutcome::Skipped),
    );
    let cached = run.tests.iter().filter(|t| t.cached).count();
    let ms: u128 = run
        .tests
        .iter()
        .filter(|t| !t.cached)
        .map(|t| t.duration.as_millis())
        .sum();
    let what = format!(
        "{} {package} {}: {passed} passed, {failed} failed, {ignored} ignored{}{}{} ({:.2}s)",
        run.lane(),
        run.binary,
        if skipped > 0 {
            format!(", {skipped} skipped")
        } else {
            String::new()
        },
        if timed_out > 0 {
            format!(", {timed_out} timed out")
        } else {
            String::new()
        },
        if cached > 0 {
            format!(", {cached} cached")
        } else {
            String::new()
        },
        ms as f64 / 1000.0
    );
    if let Some(e) = &run.error {
        shell::bad_line(
            "ERROR",
            printable(&format!(
                "{what}: {}",
                e.to_string().lines().next().unwrap_or_default()
            )),
        )
    } else if failed + timed_out > 0 {
        shell::bad_line("Tested", what)
    } else {
        shell::status_line("Tested", what)
    }
}
