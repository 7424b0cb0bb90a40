//! `--message-format json`: one JSON object per line on stdout, written as things happen, so
//! that an editor or a CI dashboard can follow a long run. Every line has an `event` field;
//! docs/events-schema.md lists them. The last line is the whole report (the same object as
//! `--report` writes). Status lines and the progress display stay on stderr.

use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;

use super::{PackageOutcome, Report};
use crate::build;
use crate::ids::BinaryId;
use crate::level::Level;
use crate::plan::Plan;
use crate::run::{self, TestOutcome, TestRef};

/// Version of the event lines; it changes only when a field changes meaning or goes away.
pub(crate) const SCHEMA: &str = "cargo-xtest/events-v1";

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
enum Line<'a> {
    /// First: what will be verified, per target.
    Plan {
        schema: &'static str,
        host: &'a str,
        targets: Vec<PlannedTarget<'a>>,
        packages: Vec<&'a str>,
    },
    BuildStarted {
        stage: Level,
        targets: &'a [crate::ids::Triple],
        #[serde(skip_serializing_if = "Option::is_none")]
        interpreted_by: Option<&'static str>,
        packages: usize,
    },
    Attributing {
        target: &'a str,
        failures: usize,
    },
    BuildFinished {
        stage: Level,
        targets: &'a [crate::ids::Triple],
        #[serde(skip_serializing_if = "Option::is_none")]
        interpreted_by: Option<&'static str>,
        seconds: f64,
    },
    BinaryQueued {
        target: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        interpreted_by: Option<&'static str>,
    },
    TestStarted {
        #[serde(flatten)]
        test: &'a TestRef,
    },
    TestFinished {
        #[serde(flatten)]
        test: &'a TestRef,
        outcome: TestOutcome,
        duration_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        flaky: bool,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        leaked: bool,
    },
    Slow {
        #[serde(flatten)]
        test: &'a TestRef,
        seconds: f64,
    },
    BinaryFinished {
        target: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        interpreted_by: Option<&'static str>,
        package: &'a str,
        binary: &'a BinaryId,
        counts: Counts,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    TargetFinished {
        target: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        interpreted_by: Option<&'static str>,
        level: Level,
        failed_packages: Vec<&'a str>,
        counts: Counts,
    },
    Report {
        report: &'a Report,
    },
}

#[derive(Serialize)]
struct PlannedTarget<'a> {
    triple: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    interpreted_by: Option<&'static str>,
    level: Level,
    #[serde(skip_serializing_if = "Option::is_none")]
    runner: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Counts {
    passed: usize,
    failed: usize,
    timed_out: usize,
    ignored: usize,
    skipped: usize,
    unsupported: usize,
    cached: usize,
}

impl Counts {
    fn add(&mut self, outcome: TestOutcome, cached: bool) {
        match outcome {
            TestOutcome::Passed => self.passed += 1,
            TestOutcome::Failed => self.failed += 1,
            TestOutcome::TimedOut => self.timed_out += 1,
            TestOutcome::Ignored => self.ignored += 1,
            TestOutcome::Skipped => self.skipped += 1,
            TestOutcome::Unsupported => self.unsupported += 1,
        }
        self.cached += usize::from(cached);
    }
}

/// The writer of the event lines; shared by the build thread and the dispatcher.
#[derive(Default)]
pub(crate) struct Stream {
    out: Mutex<()>,
}

impl Stream {
    fn emit(&self, line: &Line) {
        let Ok(mut text) = serde_json::to_vec(line) else {
            return;
        };
        text.push(b'\n');
        let _guard = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let mut stdout = std::io::stdout().lock();
        // A reader that went away (a closed pipe) must not stop the run.
        let _ = stdout.write_all(&text).and_then(|()| stdout.flush());
    }

    pub(crate) fn plan(&self, plan: &Plan) {
        self.emit(&Line::Plan {
            schema: SCHEMA,
            host: &plan.host,
            targets: plan
                .targets
                .iter()
                .map(|t| PlannedTarget {
                    triple: &t.triple,
                    interpreted_by: run::interpreted_by(t.interpreted),
                    level: t.level,
                    runner: t.runner.as_ref().map(|r| r.kind().as_str()),
                })
                .collect(),
            packages: plan
                .packages
                .iter()
                .map(|id| plan.members.get(id).map_or(id.as_str(), |p| &p.name))
                .collect(),
        });
    }

    pub(crate) fn build(&self, event: &build::Event) {
        match event {
            build::Event::Started {
                stage,
                triples,
                interpreted,
                packages,
            } => self.emit(&Line::BuildStarted {
                stage: *stage,
                targets: triples,
                interpreted_by: run::interpreted_by(*interpreted),
                packages: *packages,
            }),
            build::Event::Attributing { triple, failures } => self.emit(&Line::Attributing {
                target: triple,
                failures: *failures,
            }),
            build::Event::Finished {
                stage,
                triples,
                interpreted,
                elapsed,
            } => self.emit(&Line::BuildFinished {
                stage: *stage,
                interpreted_by: run::interpreted_by(*interpreted),
                targets: triples,
                seconds: elapsed.as_secs_f64(),
            }),
            build::Event::Binary(_) => {}
        }
    }

    pub(crate) fn run(&self, event: &run::Event) {
        match event {
            run::Event::Queued { lane } => self.emit(&Line::BinaryQueued {
                target: &lane.triple,
                interpreted_by: run::interpreted_by(lane.interpreted),
            }),
            run::Event::TestStarted(test) => self.emit(&Line::TestStarted { test }),
            run::Event::TestFinished { test, result } => self.emit(&Line::TestFinished {
                test,
                outcome: result.outcome,
                duration_ms: result.duration.as_millis() as u64,
                reason: result.reason.as_deref(),
                flaky: result.flaky,
                leaked: result.leaked,
            }),
            run::Event::Slow { test, elapsed } => self.emit(&Line::Slow {
                test,
                seconds: elapsed.as_secs_f64(),
            }),
            run::Event::BinaryFinished { package, run } => {
                let mut counts = Counts::default();
                for t in &run.tests {
                    counts.add(t.outcome, t.cached);
                }
                self.emit(&Line::BinaryFinished {
                    target: &run.triple,
                    interpreted_by: run::interpreted_by(run.interpreted),
                    package,
                    binary: &run.binary,
                    counts,
                    error: run.error.as_ref().map(ToString::to_string),
                });
            }
        }
    }

    /// Each target's summary, then the whole report: the last lines.
    pub(crate) fn finish(&self, report: &Report) {
        for t in &report.targets {
            let mut counts = Counts::default();
            for x in t.packages.iter().flat_map(|p| &p.tests) {
                counts.add(x.outcome, x.cached);
            }
            self.emit(&Line::TargetFinished {
                target: &t.triple,
                interpreted_by: t.interpreted_by.as_deref().and(Some("miri")),
                level: t.level,
                failed_packages: t
                    .packages
                    .iter()
                    .filter(|p| p.outcome == PackageOutcome::Failed)
                    .map(|p| p.name.as_str())
                    .collect(),
                counts,
            });
        }
        self.emit(&Line::Report { report });
    }
}
