//! The report as JUnit XML (`--junit FILE`): one suite per target and package, one case per test
//! (skipped for ignored, failure for failed and timed-out, with cause and evidence), and one
//! failing case per compile or test-start error, named after its stage.

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use super::Report;
use crate::error::{Context, Error, Result};
use crate::run::TestOutcome;

pub(crate) fn render(report: &Report) -> Result<String> {
    let mut junit = quick_junit::Report::new("cargo-xtest");
    for t in &report.targets {
        for p in &t.packages {
            let mut suite = TestSuite::new(format!("{}::{}", t.lane(), p.name));
            if let Some(by) = &t.interpreted_by {
                suite.add_property(quick_junit::Property::new("interpreted-by", by.as_str()));
            }
            for e in &p.errors {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let cause = e
                    .diagnosis
                    .as_ref()
                    .map(|d| format!(" [{}]", d.cause))
                    .unwrap_or_default();
                status.set_message(format!("{}{cause}", e.error.message));
                if let Some(r) = &e.error.rendered {
                    status.set_description(r.clone());
                }
                suite.add_test_case(TestCase::new(
                    format!("{} ({})", p.name, e.error.stage),
                    status,
                ));
            }
            for x in &p.tests {
                let mut status = match x.outcome {
                    TestOutcome::Passed => TestCaseStatus::success(),
                    TestOutcome::Ignored | TestOutcome::Skipped | TestOutcome::Unsupported => {
                        TestCaseStatus::skipped()
                    }
                    TestOutcome::Failed | TestOutcome::TimedOut => {
                        TestCaseStatus::non_success(NonSuccessKind::Failure)
                    }
                };
                if matches!(x.outcome, TestOutcome::Failed | TestOutcome::TimedOut) {
                    let cause = x
                        .diagnosis
                        .as_ref()
                        .map(|d| format!("{}: {}", d.cause, d.evidence))
                        .unwrap_or_else(|| "failed".to_owned());
                    let verb = if x.outcome == TestOutcome::TimedOut {
                        "timed out"
                    } else {
                        "failed"
                    };
                    status.set_message(format!("{verb} ({cause})"));
                    if let Some(o) = &x.output {
                        status.set_description(o.clone());
                    }
                } else if let (TestOutcome::Ignored, Some(r)) = (x.outcome, &x.reason) {
                    status.set_message(r.clone());
                } else if let (TestOutcome::Skipped, Some(r)) = (x.outcome, &x.reason) {
                    status.set_message(format!("skipped by policy: {r}"));
                } else if let (TestOutcome::Unsupported, Some(r)) = (x.outcome, &x.reason) {
                    status.set_message(format!("Miri cannot interpret it: {r}"));
                }
                let mut case = TestCase::new(format!("{}::{}", x.binary, x.name), status);
                if x.cached {
                    case.add_property(quick_junit::Property::new("cached", "true"));
                }
                if x.leaked {
                    case.add_property(quick_junit::Property::new("leaked", "true"));
                }
                case.set_classname(format!("{}::{}", t.triple, p.name));
                case.set_time(Duration::from_millis(x.duration_ms));
                suite.add_test_case(case);
            }
            junit.add_test_suite(suite);
        }
    }
    junit
        .to_string()
        .or_internal(|| "cannot render JUnit XML".to_owned())
}

pub(crate) fn write(report: &Report, path: &Path) -> Result<()> {
    crate::fsutil::write_atomic(path, render(report)?.as_bytes())
        .map_err(|e| Error::internal(crate::fsutil::write_error("JUnit report", path, &e)))
}
