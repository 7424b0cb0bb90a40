//! The report as Markdown (`--markdown FILE`, and appended to `$GITHUB_STEP_SUMMARY` when that is
//! set): a verdict line, the packages × targets matrix, failures grouped by cause with the fix,
//! downgrades with their fixes, and merge problems.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::{PackageOutcome, Report, terminal};
use crate::error::{Error, Result};
use crate::run::TestOutcome;

pub fn render(report: &Report) -> String {
    let mut md = String::new();
    let verdict = if report.interrupted {
        "INTERRUPTED"
    } else if report.passed() {
        "PASSED"
    } else if report.nothing_tested().is_some() {
        "NOTHING TESTED"
    } else {
        "FAILED"
    };
    let _ = writeln!(md, "## cargo-xtest: {verdict} (host `{}`)\n", report.host);
    let _ = write!(md, "| package |");
    for t in &report.targets {
        let _ = write!(
            md,
            " `{}` ({}) |",
            terminal::short_triple(&t.triple),
            t.level
        );
    }
    let _ = write!(md, "\n|---|");
    for _ in &report.targets {
        let _ = write!(md, "---|");
    }
    let _ = writeln!(md);
    for name in terminal::package_names(report) {
        let _ = write!(md, "| {name} |");
        for t in &report.targets {
            let (text, _) = terminal::cell(t, t.packages.iter().find(|p| p.name == name));
            let mark = if text.starts_with("FAIL") {
                "❌ "
            } else if text.starts_with("ok") {
                "✅ "
            } else {
                ""
            };
            let _ = write!(md, " {mark}{text} |");
        }
        let _ = writeln!(md);
    }
    let mut failures = Vec::new();
    for t in &report.targets {
        for p in t
            .packages
            .iter()
            .filter(|p| p.outcome == PackageOutcome::Failed)
        {
            for e in &p.errors {
                if let Some(d) = &e.diagnosis {
                    failures.push((
                        d.cause.to_string(),
                        d.fix.clone(),
                        format!(
                            "`{}` on `{}` [{}]: {}",
                            p.name, t.triple, e.error.stage, e.error.message
                        ),
                    ));
                }
            }
            for x in p
                .tests
                .iter()
                .filter(|x| matches!(x.outcome, TestOutcome::Failed | TestOutcome::TimedOut))
            {
                if let Some(d) = &x.diagnosis {
                    failures.push((
                        d.cause.to_string(),
                        d.fix.clone(),
                        format!(
                            "`{}` on `{}`: `{} {}` {:?}",
                            p.name, t.triple, x.binary, x.name, x.outcome
                        ),
                    ));
                }
            }
        }
    }
    if !failures.is_empty() {
        let _ = writeln!(md, "\n### Failures by cause\n");
        let mut causes: Vec<(&String, &String)> = Vec::new();
        for (c, f, _) in &failures {
            if !causes.contains(&(c, f)) {
                causes.push((c, f));
            }
        }
        for (cause, fix) in causes {
            let _ = writeln!(md, "- **{cause}** — fix: {fix}");
            for (_, _, what) in failures.iter().filter(|(c, f, _)| c == cause && f == fix) {
                let _ = writeln!(md, "  - {what}");
            }
        }
    }
    let downgrades: Vec<String> = report
        .targets
        .iter()
        .flat_map(|t| {
            t.downgrades.iter().map(move |d| {
                format!(
                    "- `{}`: {} → {}: {} — fix: `{}`",
                    t.triple, d.from, d.to, d.reason, d.fix
                )
            })
        })
        .collect();
    if !downgrades.is_empty() {
        let _ = writeln!(md, "\n### Downgrades\n\n{}", downgrades.join("\n"));
    }
    if !report.problems.is_empty() {
        let _ = writeln!(md, "\n### Merge problems\n");
        for p in &report.problems {
            let _ = writeln!(md, "- {p}");
        }
    }
    md
}

/// Writes the Markdown to `path` (if given) and appends it to `$GITHUB_STEP_SUMMARY` (if set).
pub fn write(report: &Report, path: Option<&Path>) -> Result<()> {
    let md = render(report);
    if let Some(path) = path {
        crate::fsutil::write_atomic(path, md.as_bytes())
            .map_err(|e| Error::internal(crate::fsutil::write_error("Markdown", path, &e)))?;
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .map_err(|e| Error::internal(format!("cannot open $GITHUB_STEP_SUMMARY: {e}")))?;
        f.write_all(md.as_bytes())
            .map_err(|e| Error::internal(format!("cannot append to $GITHUB_STEP_SUMMARY: {e}")))?;
    }
    Ok(())
}
