//! The terminal report: a targets table with runners and requirements, every downgrade with its
//! fix, the packages × targets matrix (level reached, outcome, test counts), each failure with its
//! stage and diagnostic, and a one-line verdict.

use std::collections::HashMap;
use std::fmt::Write as _;

use anstyle::Style;

use super::{Failure, PackageOutcome, PackageReport, Report, TargetReport};
use crate::ids::BinaryId;
use crate::level::Level;
use crate::run::TestOutcome;

use crate::shell::styles::{BAD, DIM, HEAD, OK, WARN};

/// How many lines of a diagnostic or test output the terminal shows (the JSON has all of it).
const EXCERPT_LINES: usize = 12;

/// `aarch64-unknown-linux-gnu` → `aarch64-linux-gnu`, for column headers.
fn short_triple(t: &str) -> String {
    t.replace("-unknown-", "-")
}

/// A target's column header: its short triple, marked when Miri interpreted its tests.
pub(crate) fn column(t: &super::TargetReport) -> String {
    match &t.interpreted_by {
        Some(by) => format!("{} ({by})", short_triple(&t.triple)),
        None => short_triple(&t.triple),
    }
}

fn pad(s: &str, width: usize) -> String {
    format!("{s:<width$}")
}

pub(crate) fn render(report: &Report) -> String {
    let report = &report.printable();
    let mut out = String::new();
    let _ = writeln!(out, "\n{HEAD}cargo-xtest{HEAD:#} on host {}", report.host);
    targets_table(&mut out, report);
    matrix(&mut out, report);
    failures(&mut out, report);
    differential(&mut out, report);
    leaked(&mut out, report);
    if !report.problems.is_empty() {
        let _ = writeln!(out, "\n{BAD}MERGE PROBLEMS{BAD:#}");
        for p in &report.problems {
            let _ = writeln!(out, "  {p}");
        }
    }
    verdict(&mut out, report);
    out
}

/// Writes the `TARGET  LEVEL  <last>` header and returns the width of the triple column.
fn target_header(out: &mut String, lanes: impl Iterator<Item = String>, last: &str) -> usize {
    let w = lanes.map(|l| l.len()).max().unwrap_or(6).max(6) + 2;
    let _ = writeln!(
        out,
        "\n{HEAD}{}{}{last}{HEAD:#}",
        pad("TARGET", w),
        pad("LEVEL", 13)
    );
    w
}

fn targets_table(out: &mut String, report: &Report) {
    let w = target_header(
        out,
        report.targets.iter().map(|t| t.lane().to_string()),
        "RUNNER",
    );
    for t in &report.targets {
        let level_style = if t.level == Level::Test { OK } else { WARN };
        let req = match t.required {
            Some(r) if !t.requirement_met => format!("  {BAD}required: {r} (not reached){BAD:#}"),
            Some(r) => format!("  {DIM}required: {r}{DIM:#}"),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{}{level_style}{}{level_style:#}{}{req}",
            pad(&t.lane().to_string(), w),
            pad(t.level.as_str(), 13),
            t.runner.as_deref().unwrap_or("-"),
        );
        for d in &t.downgrades {
            downgrade(out, d);
        }
    }
}

/// What the probes of a target proved, in one line, and a failed C compiler probe (which steps
/// no rung down: only crates whose build scripts compile C need it).
fn probes(out: &mut String, p: &crate::discover::Probes) {
    let all: Vec<String> = p
        .all()
        .map(|r| {
            format!(
                "{} {}{}",
                r.kind.as_str(),
                if r.ok { "ok" } else { "FAILED" },
                if r.cached { " (cached)" } else { "" }
            )
        })
        .collect();
    if all.is_empty() {
        return;
    }
    let _ = writeln!(out, "  {DIM}probes: {}{DIM:#}", all.join(", "));
    if let Some(c) = p.c_compiler.as_ref().filter(|c| !c.ok) {
        let _ = writeln!(
            out,
            "  {WARN}C compiler{WARN:#}: cannot build a C program for this target, so build scripts that compile C will fail\n      {DIM}c-compiler probe: {}{DIM:#}",
            c.evidence()
        );
    }
}

/// One step down the ladder: reason, fix, and the probe output that proved it.
fn downgrade(out: &mut String, d: &crate::plan::Downgrade) {
    let _ = writeln!(out, "  {WARN}{} -> {}{WARN:#}: {}", d.from, d.to, d.reason);
    let _ = writeln!(out, "      fix: {}", d.fix);
    if let Some(e) = &d.evidence {
        let _ = writeln!(
            out,
            "      {DIM}{} probe: {}{DIM:#}",
            e.probe.as_str(),
            e.line
        );
    }
}

/// The matrix cell of one package on one target: text and style.
pub(crate) fn cell(t: &TargetReport, p: Option<&PackageReport>) -> (String, Style) {
    let Some(p) = p else {
        return if t.level == Level::None {
            ("none".to_owned(), DIM)
        } else {
            ("-".to_owned(), DIM)
        };
    };
    let count = |o: TestOutcome| p.tests.iter().filter(|x| x.outcome == o).count();
    let ran = p
        .tests
        .iter()
        .filter(|x| {
            !matches!(
                x.outcome,
                TestOutcome::Ignored | TestOutcome::Skipped | TestOutcome::Unsupported
            )
        })
        .count();
    let cached = p.tests.iter().filter(|x| x.cached).count();
    let counts = if p.level >= Level::BuildTests && t.level == Level::Test {
        let replayed = if cached > 0 {
            format!(" ({cached} cached)")
        } else {
            String::new()
        };
        let unsupported = match count(TestOutcome::Unsupported) {
            0 => String::new(),
            n => format!(", {n} unsupported"),
        };
        format!(
            " {}/{ran}{unsupported}{replayed}",
            count(TestOutcome::Passed)
        )
    } else {
        String::new()
    };
    match p.outcome {
        PackageOutcome::Excluded => ("excluded".to_owned(), DIM),
        PackageOutcome::Passed => (format!("ok {}{counts}", p.level), OK),
        PackageOutcome::NotRun => (format!("NOT RUN {}{counts}", p.level), WARN),
        PackageOutcome::Failed => {
            let stage = p.failed_stage.unwrap_or(p.level);
            let counts = if stage == Level::Test {
                counts
            } else {
                String::new()
            };
            (format!("FAIL {stage}{counts}"), BAD)
        }
    }
}

/// Every package named in the report, in first-seen order.
pub(crate) fn package_names(report: &Report) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for t in &report.targets {
        for p in &t.packages {
            if !names.contains(&p.name.as_str()) {
                names.push(&p.name);
            }
        }
    }
    names
}

fn matrix(out: &mut String, report: &Report) {
    let names = package_names(report);
    if names.is_empty() {
        return;
    }
    let first = names.iter().map(|n| n.len()).max().unwrap_or(7).max(7) + 2;
    let cells: Vec<Vec<(String, Style)>> = names
        .iter()
        .map(|n| {
            report
                .targets
                .iter()
                .map(|t| cell(t, t.packages.iter().find(|p| p.name == *n)))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = report
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            cells
                .iter()
                .map(|row| row[i].0.len())
                .chain([column(t).len()])
                .max()
                .unwrap_or(0)
                + 2
        })
        .collect();
    let _ = write!(out, "\n{HEAD}{}", pad("PACKAGE", first));
    for (t, w) in report.targets.iter().zip(&widths) {
        let _ = write!(out, "{}", pad(&column(t), *w));
    }
    let _ = writeln!(out, "{HEAD:#}");
    for (name, row) in names.iter().zip(&cells) {
        let _ = write!(out, "{}", pad(name, first));
        for ((text, style), w) in row.iter().zip(&widths) {
            let _ = write!(out, "{style}{}{style:#}", pad(text, *w));
        }
        let _ = writeln!(out);
    }
}

/// The detail shown under a failure, less its opening line when that line is the evidence
/// already printed above it (blank lines before it go too).
fn after_evidence<'a>(detail: &'a str, evidence: &str) -> &'a str {
    let detail = detail.trim_end();
    let body = detail.trim_start_matches(['\n', '\r']);
    let (first, rest) = body.split_once('\n').unwrap_or((body, ""));
    if !evidence.is_empty() && first.trim() == evidence.trim() {
        rest
    } else {
        detail
    }
}

/// How many characters of one line of evidence or output the terminal shows.
const LINE_CHARS: usize = 300;
/// Failures shown with their output's excerpt; those after them get one line each.
const DETAILED: usize = 20;
/// Failures named at all; the rest are counted (the JSON report has every one).
const LISTED: usize = 100;

/// `line`, cut to [`LINE_CHARS`] characters with what was left out said.
fn clip(line: &str) -> std::borrow::Cow<'_, str> {
    match line.char_indices().nth(LINE_CHARS) {
        None => std::borrow::Cow::Borrowed(line),
        Some((at, _)) => std::borrow::Cow::Owned(format!(
            "{} … ({} more characters in the JSON report)",
            &line[..at],
            line[at..].chars().count()
        )),
    }
}

fn excerpt(text: &str, indent: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut s: String = lines
        .iter()
        .take(EXCERPT_LINES)
        .map(|l| format!("{indent}{}\n", clip(l)))
        .collect();
    if lines.len() > EXCERPT_LINES {
        let _ = writeln!(
            s,
            "{indent}... ({} more lines in the JSON report)",
            lines.len() - EXCERPT_LINES
        );
    }
    s
}

/// One failure line, merged across the targets where it is the same.
struct Item<'a> {
    cause: String,
    fix: &'a str,
    package: &'a str,
    what: String,
    evidence: &'a str,
    detail: Option<&'a str>,
    /// `--full-output`: where the whole output of the test's process is.
    full_output: Option<&'a std::path::Path>,
    /// The target lanes it failed on (`T`, or `T (miri)` for an interpreted one).
    triples: Vec<String>,
}

fn failures<'a>(out: &mut String, report: &'a Report) {
    let mut items: Vec<Item<'a>> = Vec::new();
    let mut add = |item: Item<'a>| {
        // The same failure on several targets (a host-side problem, x86-only test code) is one line.
        match items.iter_mut().find(|i| {
            i.cause == item.cause
                && i.fix == item.fix
                && i.package == item.package
                && i.what == item.what
        }) {
            Some(i) => i.triples.extend(item.triples),
            None => items.push(item),
        }
    };
    for (t, p, failure) in report.failures() {
        let item = match failure {
            Failure::Error(e) => {
                let (cause, fix, evidence) = diagnosis(e.diagnosis.as_ref());
                Item {
                    cause,
                    fix,
                    package: &p.name,
                    what: format!("[{}] {}", e.error.stage, e.error.message),
                    evidence,
                    detail: e.error.rendered.as_deref(),
                    full_output: None,
                    triples: vec![t.lane().to_string()],
                }
            }
            Failure::Test(x) => {
                let (cause, fix, evidence) = diagnosis(x.diagnosis.as_ref());
                let verb = if x.outcome == TestOutcome::TimedOut {
                    "timed out"
                } else {
                    "failed"
                };
                Item {
                    cause,
                    fix,
                    package: &p.name,
                    what: format!("[test] {} {} {verb}", x.binary, x.name),
                    evidence,
                    detail: x.output.as_deref(),
                    full_output: x.output_file.as_deref(),
                    triples: vec![t.lane().to_string()],
                }
            }
        };
        add(item);
    }
    let unmet: Vec<&TargetReport> = report
        .targets
        .iter()
        .filter(|t| !t.requirement_met)
        .collect();
    if items.is_empty() && unmet.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{HEAD}FAILURES BY CAUSE{HEAD:#}");
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for i in &items {
        if !groups.contains(&(i.cause.as_str(), i.fix)) {
            groups.push((i.cause.as_str(), i.fix));
        }
    }
    // Bounded whatever fails: the first failures with an excerpt of their output, then one
    // line each, then a count (the JSON report and --full-output keep everything).
    let mut shown = 0;
    for (cause, fix) in groups {
        if shown >= LISTED {
            break;
        }
        let _ = writeln!(out, "{BAD}{cause}{BAD:#}");
        let _ = writeln!(out, "  fix: {}", clip(fix));
        for i in items.iter().filter(|i| i.cause == cause && i.fix == fix) {
            if shown >= LISTED {
                break;
            }
            shown += 1;
            let on = if i.triples.len() == report.targets.len() && report.targets.len() > 1 {
                "every target".to_owned()
            } else {
                i.triples.join(", ")
            };
            let _ = writeln!(
                out,
                "  {HEAD}{}{HEAD:#} on {on}: {}",
                i.package,
                clip(&i.what)
            );
            if !i.evidence.is_empty() {
                let _ = writeln!(out, "      evidence: {}", clip(i.evidence));
            }
            if let Some(d) = i.detail.filter(|_| shown <= DETAILED) {
                out.push_str(&excerpt(after_evidence(d, i.evidence), "      | "));
            }
            if let Some(f) = i.full_output {
                let _ = writeln!(out, "      full output: {}", f.display());
            }
        }
    }
    if items.len() > shown {
        let _ = writeln!(
            out,
            "  … and {} more failures (the JSON report has every one)",
            items.len() - shown
        );
    }
    for t in unmet {
        let _ = writeln!(
            out,
            "{BAD}required level not reached{BAD:#}\n  {}: the policy requires {} but this host reaches {}",
            t.triple,
            t.required.unwrap_or(Level::Test),
            t.level
        );
        for d in &t.downgrades {
            let _ = writeln!(out, "  fix: {}", d.fix);
        }
    }
}

fn diagnosis(d: Option<&crate::diagnose::Diagnosis>) -> (String, &str, &str) {
    match d {
        Some(d) => (d.cause.to_string(), d.fix.as_str(), d.evidence.as_str()),
        None => ("unknown".to_owned(), "", ""),
    }
}

/// Tests that pass on the host and fail on another target, with their outcome on each target.
fn differential(out: &mut String, report: &Report) {
    let Some(host) = report
        .targets
        .iter()
        .find(|t| t.is_native_host(&report.host))
    else {
        return;
    };
    // Each target's outcomes indexed once: a workspace has thousands of tests.
    let outcomes: Vec<HashMap<(&str, &BinaryId, &str), TestOutcome>> = report
        .targets
        .iter()
        .map(|t| {
            t.packages
                .iter()
                .flat_map(|p| {
                    p.tests
                        .iter()
                        .map(|x| ((p.name.as_str(), &x.binary, x.name.as_str()), x.outcome))
                })
                .collect()
        })
        .collect();
    let mut rows = Vec::new();
    for p in &host.packages {
        for x in p.tests.iter().filter(|x| x.outcome == TestOutcome::Passed) {
            let id = (p.name.as_str(), &x.binary, x.name.as_str());
            let cells: Vec<Option<TestOutcome>> =
                outcomes.iter().map(|o| o.get(&id).copied()).collect();
            if cells
                .iter()
                .any(|c| matches!(c, Some(TestOutcome::Failed | TestOutcome::TimedOut)))
            {
                rows.push((x.key(&p.name).to_string(), cells));
            }
        }
    }
    if rows.is_empty() {
        return;
    }
    let first = rows.iter().map(|r| r.0.len()).max().unwrap_or(4) + 2;
    let _ = write!(
        out,
        "\n{HEAD}DIFFERENTIAL{HEAD:#} (passes on the host, fails elsewhere)\n{HEAD}{}",
        pad("TEST", first)
    );
    let widths: Vec<usize> = report
        .targets
        .iter()
        .map(|t| column(t).len().max(9) + 2)
        .collect();
    for (t, w) in report.targets.iter().zip(&widths) {
        let _ = write!(out, "{}", pad(&column(t), *w));
    }
    let _ = writeln!(out, "{HEAD:#}");
    for (name, cells) in rows {
        let _ = write!(out, "{}", pad(&name, first));
        for (c, w) in cells.iter().zip(&widths) {
            let (text, style) = match c {
                Some(TestOutcome::Passed) => ("passed", OK),
                Some(TestOutcome::Failed) => ("FAILED", BAD),
                Some(TestOutcome::TimedOut) => ("TIMEOUT", BAD),
                Some(TestOutcome::Ignored) => ("ignored", DIM),
                Some(TestOutcome::Skipped) => ("skipped", DIM),
                Some(TestOutcome::Unsupported) => ("unsupported", DIM),
                None => ("-", DIM),
            };
            let _ = write!(out, "{style}{}{style:#}", pad(text, *w));
        }
        let _ = writeln!(out);
    }
}

/// Tests whose process left a descendant running (at most ten named).
fn leaked(out: &mut String, report: &Report) {
    let leaked: Vec<String> = report
        .targets
        .iter()
        .flat_map(|t| {
            t.packages.iter().flat_map(move |p| {
                p.tests
                    .iter()
                    .filter(|x| x.leaked)
                    .map(move |x| format!("{} on {}: {} {}", p.name, t.triple, x.binary, x.name))
            })
        })
        .collect();
    if leaked.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{WARN}LEAKED{WARN:#}: {} test(s) exited leaving a process that held their output open (left running; their outcomes are their own)",
        leaked.len()
    );
    for l in leaked.iter().take(10) {
        let _ = writeln!(out, "  {l}");
    }
    if leaked.len() > 10 {
        let _ = writeln!(out, "  … and {} more in the JSON report", leaked.len() - 10);
    }
}

fn verdict(out: &mut String, report: &Report) {
    let mut counts = [0usize; 6];
    let mut failed_pkgs = 0;
    let (mut unfinished, mut not_run, mut cached) = (0, 0, 0);
    for t in &report.targets {
        for p in &t.packages {
            failed_pkgs += usize::from(p.outcome == PackageOutcome::Failed);
            unfinished += usize::from(p.outcome == PackageOutcome::NotRun);
            not_run += p.not_run.len();
            cached += p.tests.iter().filter(|x| x.cached).count();
            for x in &p.tests {
                counts[x.outcome as usize] += 1;
            }
        }
    }
    let [passed, failed, ignored, timed_out, skipped, unsupported] = counts;
    let (word, style) = if report.interrupted {
        ("INTERRUPTED", BAD)
    } else if report.passed() {
        ("PASSED", OK)
    } else if let Some(why) = report.nothing_tested() {
        let _ = writeln!(out, "\n{BAD}{why}{BAD:#}");
        ("NOTHING TESTED", BAD)
    } else {
        ("FAILED", BAD)
    };
    let _ = writeln!(
        out,
        "\n{style}{word}{style:#}: {} targets, {failed_pkgs} package failure(s){}; tests: {passed} passed{}, {failed} failed, {timed_out} timed out, {ignored} ignored{}",
        report.targets.len(),
        if unfinished > 0 {
            format!(
                ", {unfinished} package(s) not run to the end ({not_run} test target(s) not run)"
            )
        } else {
            String::new()
        },
        if cached > 0 {
            format!(" ({cached} replayed from the cache)")
        } else {
            String::new()
        },
        match (skipped, unsupported) {
            (0, 0) => String::new(),
            (s, 0) => format!(", {s} skipped by policy"),
            (0, u) => format!(", {u} Miri cannot interpret"),
            (s, u) => format!(", {s} skipped by policy, {u} Miri cannot interpret"),
        }
    );
}

/// The plan as a table (`cargo xtest plan`).
pub(crate) fn render_plan(plan: &crate::plan::Plan, ws: &crate::discover::Workspace) -> String {
    let mut out = String::new();
    let names: Vec<&str> = plan.packages.iter().map(|id| ws.package_name(id)).collect();
    let _ = writeln!(
        out,
        "{HEAD}cargo-xtest plan{HEAD:#} on host {} for {} ({} packages: {})",
        plan.host,
        ws.root.display(),
        names.len(),
        names.join(", ")
    );
    let _ = writeln!(out, "packages: {}", plan.selection);
    let w = target_header(
        &mut out,
        plan.targets.iter().map(|t| t.lane().to_string()),
        "LINKER / RUNNER",
    );
    for t in &plan.targets {
        let style = if t.level == Level::Test { OK } else { WARN };
        let runner = t
            .runner
            .as_ref()
            .map(|r| r.description.as_str())
            .unwrap_or("none");
        // An interpreted lane links nothing: cargo-miri builds, Miri runs.
        let tools = if t.interpreted {
            format!("runner: {runner}")
        } else {
            format!(
                "linker: {}; runner: {runner}",
                t.linker.as_deref().unwrap_or("none")
            )
        };
        let _ = writeln!(
            out,
            "{}{style}{}{style:#}{tools}",
            pad(&t.lane().to_string(), w),
            pad(t.level.as_str(), 13),
        );
        probes(&mut out, &t.probes);
        if let Some(r) = t.required {
            let met = if t.meets_requirement() {
                "met".to_owned()
            } else {
                format!("{BAD}NOT reachable{BAD:#}")
            };
            let _ = writeln!(out, "  required: {r} ({met})");
        }
        for d in &t.downgrades {
            downgrade(&mut out, d);
        }
        for (p, why) in &t.excluded {
            let _ = writeln!(out, "  excluded: {p} ({why})");
        }
        for (name, why) in &t.skips {
            let _ = writeln!(out, "  skipped test: {name} ({why})");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::after_evidence;

    #[test]
    fn the_evidence_line_is_not_shown_twice() {
        let detail = "\nthe test binary ended (killed by signal 6 (SIGABRT))\nrunning 1 test\n";
        assert_eq!(
            after_evidence(
                detail,
                "the test binary ended (killed by signal 6 (SIGABRT))"
            ),
            "running 1 test"
        );
        // Evidence found further down (or not at all) leaves the detail whole.
        assert_eq!(
            after_evidence("running 1 test\npanicked\n", "panicked"),
            "running 1 test\npanicked"
        );
        assert_eq!(after_evidence("a\nb", ""), "a\nb");
    }
}
