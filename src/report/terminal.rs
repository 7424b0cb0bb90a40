//! The terminal report: a targets table with runners and requirements, every downgrade with its
//! fix, the packages × targets matrix (level reached, outcome, test counts), each failure with its
//! stage and diagnostic, and a one-line verdict.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::{PackageOutcome, PackageReport, Report, TargetReport};
use crate::level::Level;
use crate::run::TestOutcome;

const OK: Style = AnsiColor::Green.on_default();
const BAD: Style = AnsiColor::Red.on_default().effects(anstyle::Effects::BOLD);
const DIM: Style = AnsiColor::BrightBlack.on_default();
const HEAD: Style = Style::new().effects(anstyle::Effects::BOLD);
const WARN: Style = AnsiColor::Yellow.on_default();

/// How many lines of a diagnostic or test output the terminal shows (the JSON has all of it).
const EXCERPT_LINES: usize = 12;

/// `aarch64-unknown-linux-gnu` → `aarch64-linux-gnu`, for column headers.
pub fn short_triple(t: &str) -> String {
    t.replace("-unknown-", "-")
}

fn pad(s: &str, width: usize) -> String {
    format!("{s:<width$}")
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n{HEAD}cargo-xtest{HEAD:#} on host {}", report.host);
    targets_table(&mut out, report);
    matrix(&mut out, report);
    failures(&mut out, report);
    verdict(&mut out, report);
    out
}

fn targets_table(out: &mut String, report: &Report) {
    let w = report
        .targets
        .iter()
        .map(|t| t.triple.len())
        .max()
        .unwrap_or(6)
        .max(6)
        + 2;
    let _ = writeln!(
        out,
        "\n{HEAD}{}{}RUNNER{HEAD:#}",
        pad("TARGET", w),
        pad("LEVEL", 13)
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
            pad(&t.triple, w),
            pad(t.level.as_str(), 13),
            t.runner.as_deref().unwrap_or("-"),
        );
        for d in &t.downgrades {
            let _ = writeln!(out, "  {WARN}{} -> {}{WARN:#}: {}", d.from, d.to, d.reason);
            let _ = writeln!(out, "      fix: {}", d.fix);
        }
    }
}

fn cell(t: &TargetReport, p: Option<&PackageReport>) -> (String, Style) {
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
        .filter(|x| x.outcome != TestOutcome::Ignored)
        .count();
    let counts = if p.level >= Level::BuildTests && t.level == Level::Test {
        format!(" {}/{ran}", count(TestOutcome::Passed))
    } else {
        String::new()
    };
    match p.outcome {
        PackageOutcome::Excluded => ("excluded".to_owned(), DIM),
        PackageOutcome::Passed => (format!("ok {}{counts}", p.level), OK),
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

fn matrix(out: &mut String, report: &Report) {
    let mut names: Vec<&str> = Vec::new();
    for t in &report.targets {
        for p in &t.packages {
            if !names.contains(&p.name.as_str()) {
                names.push(&p.name);
            }
        }
    }
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
                .chain([short_triple(&t.triple).len()])
                .max()
                .unwrap_or(0)
                + 2
        })
        .collect();
    let _ = write!(out, "\n{HEAD}{}", pad("PACKAGE", first));
    for (t, w) in report.targets.iter().zip(&widths) {
        let _ = write!(out, "{}", pad(&short_triple(&t.triple), *w));
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

fn excerpt(text: &str, indent: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut s: String = lines
        .iter()
        .take(EXCERPT_LINES)
        .map(|l| format!("{indent}{l}\n"))
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

fn failures(out: &mut String, report: &Report) {
    let mut any = false;
    for t in &report.targets {
        for p in t
            .packages
            .iter()
            .filter(|p| p.outcome == PackageOutcome::Failed)
        {
            if !any {
                let _ = writeln!(out, "\n{HEAD}FAILURES{HEAD:#}");
                any = true;
            }
            let _ = writeln!(
                out,
                "{BAD}{}{BAD:#} on {} (failed at {})",
                p.name,
                t.triple,
                p.failed_stage.unwrap_or(Level::None)
            );
            for e in &p.errors {
                let _ = writeln!(out, "  [{}] {}", e.stage, e.message);
                if let Some(r) = &e.rendered {
                    out.push_str(&excerpt(r.trim_end(), "      "));
                }
            }
            for test in p
                .tests
                .iter()
                .filter(|x| matches!(x.outcome, TestOutcome::Failed | TestOutcome::TimedOut))
            {
                let what = if test.outcome == TestOutcome::TimedOut {
                    "timed out"
                } else {
                    "failed"
                };
                let _ = writeln!(
                    out,
                    "  test {} {} ({what}, {} ms)",
                    test.binary, test.name, test.duration_ms
                );
                if let Some(o) = &test.output {
                    out.push_str(&excerpt(o.trim_end(), "      "));
                }
            }
        }
        if !t.requirement_met {
            if !any {
                let _ = writeln!(out, "\n{HEAD}FAILURES{HEAD:#}");
                any = true;
            }
            let _ = writeln!(
                out,
                "{BAD}{}{BAD:#}: the policy requires {} but this host reaches {}",
                t.triple,
                t.required.unwrap_or(Level::Test),
                t.level
            );
        }
    }
}

fn verdict(out: &mut String, report: &Report) {
    let mut counts = [0usize; 4];
    let mut failed_pkgs = 0;
    for t in &report.targets {
        for p in &t.packages {
            failed_pkgs += usize::from(p.outcome == PackageOutcome::Failed);
            for x in &p.tests {
                counts[x.outcome as usize] += 1;
            }
        }
    }
    let [passed, failed, ignored, timed_out] = counts;
    let (word, style) = if report.interrupted {
        ("INTERRUPTED", BAD)
    } else if report.passed() {
        ("PASSED", OK)
    } else {
        ("FAILED", BAD)
    };
    let _ = writeln!(
        out,
        "\n{style}{word}{style:#}: {} targets, {failed_pkgs} package failure(s); tests: {passed} passed, {failed} failed, {timed_out} timed out, {ignored} ignored",
        report.targets.len()
    );
}

/// The plan as a table (`cargo xtest plan`).
pub fn render_plan(plan: &crate::plan::Plan, ws: &crate::discover::Workspace) -> String {
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
    let w = plan
        .targets
        .iter()
        .map(|t| t.triple.len())
        .max()
        .unwrap_or(6)
        .max(6)
        + 2;
    let _ = writeln!(
        out,
        "\n{HEAD}{}{}LINKER / RUNNER{HEAD:#}",
        pad("TARGET", w),
        pad("LEVEL", 13)
    );
    for t in &plan.targets {
        let style = if t.level == Level::Test { OK } else { WARN };
        let _ = writeln!(
            out,
            "{}{style}{}{style:#}linker: {}; runner: {}",
            pad(&t.triple, w),
            pad(t.level.as_str(), 13),
            t.linker.as_deref().unwrap_or("none"),
            t.runner
                .as_ref()
                .map(|r| r.description.as_str())
                .unwrap_or("none"),
        );
        if let Some(r) = t.required {
            let met = if t.meets_requirement() {
                "met".to_owned()
            } else {
                format!("{BAD}NOT reachable{BAD:#}")
            };
            let _ = writeln!(out, "  required: {r} ({met})");
        }
        for d in &t.downgrades {
            let _ = writeln!(out, "  {WARN}{} -> {}{WARN:#}: {}", d.from, d.to, d.reason);
            let _ = writeln!(out, "      fix: {}", d.fix);
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
