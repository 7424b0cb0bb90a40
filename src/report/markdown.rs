//! The report as Markdown (`--markdown FILE`, and appended to `$GITHUB_STEP_SUMMARY` when that is
//! set): a verdict line, the packages × targets matrix, failures grouped by cause with the fix,
//! downgrades with their fixes, and merge problems.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::{Failure, PackageOutcome, Report, terminal};
use crate::error::{Context, Error, Result};

pub(crate) fn render(report: &Report) -> String {
    let report = &report.printable();
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
        let _ = write!(md, " `{}` ({}) |", terminal::column(t), t.level);
    }
    let _ = write!(md, "\n|---|");
    for _ in &report.targets {
        let _ = write!(md, "---|");
    }
    let _ = writeln!(md);
    for name in terminal::package_names(report) {
        let _ = write!(md, "| {} |", text(name));
        for t in &report.targets {
            let package = t.packages.iter().find(|p| p.name == name);
            let (text, _) = terminal::cell(t, package);
            let mark = match package.map(|p| p.outcome) {
                Some(PackageOutcome::Failed) => "❌ ",
                Some(PackageOutcome::Passed) => "✅ ",
                Some(PackageOutcome::NotRun) => "⏸️ ",
                _ => "",
            };
            let _ = write!(md, " {mark}{text} |");
        }
        let _ = writeln!(md);
    }
    let mut failures = Vec::new();
    for (t, p, failure) in report.failures() {
        let (diagnosis, what) = match failure {
            Failure::Error(e) => (
                &e.diagnosis,
                format!(
                    "{} on {} [{}]: {}",
                    code(&p.name),
                    code(&t.lane().to_string()),
                    e.error.stage,
                    text(&e.error.message)
                ),
            ),
            Failure::Test(x) => (
                &x.diagnosis,
                format!(
                    "{} on {}: {} {:?}",
                    code(&p.name),
                    code(&t.lane().to_string()),
                    code(&format!("{} {}", x.binary, x.name)),
                    x.outcome
                ),
            ),
        };
        if let Some(d) = diagnosis {
            failures.push((d.cause.to_string(), d.fix.clone(), what));
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
            let _ = writeln!(md, "- **{cause}** — fix: {}", text(fix));
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
                    "- {}: {} → {}: {} — fix: {}",
                    code(&t.lane().to_string()),
                    d.from,
                    d.to,
                    text(&d.reason),
                    code(&d.fix)
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
            let _ = writeln!(md, "- {}", text(p));
        }
    }
    md
}

/// `s` as Markdown text on one line: every character Markdown or a GFM table gives meaning to
/// is escaped, so a name cannot open a heading, a link, a list or a new table cell.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '!' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// `s` as an inline code span on one line, fenced by more backticks than it holds in a row
/// (padded when it starts or ends with one, as CommonMark asks).
fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// Writes the Markdown to `path` (if given) and appends it to `$GITHUB_STEP_SUMMARY` (if set).
pub(crate) fn write(report: &Report, path: Option<&Path>) -> Result<()> {
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
            .or_internal(|| "cannot open $GITHUB_STEP_SUMMARY".to_owned())?;
        f.write_all(md.as_bytes())
            .or_internal(|| "cannot append to $GITHUB_STEP_SUMMARY".to_owned())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Report;

    /// A report as `merge` could read from anywhere: names and messages with Markdown and
    /// terminal control in them.
    fn hostile() -> Report {
        serde_json::from_value(serde_json::json!({
            "schema": super::super::SCHEMA,
            "host": "x86_64-unknown-linux-gnu",
            "interrupted": false,
            "problems": ["a\n# Injected problem heading"],
            "targets": [{
                "triple": "x86_64-unknown-linux-gnu",
                "level": "test", "required": null, "requirement_met": true,
                "runner": null, "linker": null, "endian": "little", "pointer_width": 64,
                "downgrades": [],
                "packages": [{
                    "name": "evil | cell\n# Injected heading",
                    "outcome": "failed", "level": "build-tests", "failed_stage": "test",
                    "errors": [],
                    "tests": [{
                        "name": "t``x\u{1b}[2J", "binary": "lib", "outcome": "failed",
                        "duration_ms": 1, "output": "line 1\nline 2\u{1b}]0;title\u{7}",
                        "cause": "unknown", "evidence": "\u{1b}[31mred", "fix": "[click](http://x)"
                    }]
                }]
            }]
        }))
        .unwrap()
    }

    #[test]
    fn names_cannot_inject_markdown() {
        let md = super::render(&hostile());
        assert!(
            !md.lines()
                .any(|l| l.starts_with('#') && l.contains("Injected")),
            "{md}"
        );
        // The matrix row keeps its two cells.
        let row = md.lines().find(|l| l.contains("evil")).unwrap();
        assert_eq!(row.matches(" |").count(), 2, "{row}");
        assert!(row.contains(r"evil \| cell"), "{row}");
        // A backtick run in a name is fenced by a longer one; no link is made of a fix.
        assert!(md.contains("```lib t``x"), "{md}");
        assert!(md.contains(r"\[click\]"), "{md}");
        assert!(!md.contains('\u{1b}'), "{md}");
    }

    #[test]
    fn the_terminal_gets_no_escape_sequences_from_outside() {
        let report = hostile();
        let out = super::super::terminal::render(&report);
        // The renderer's own styles are the only escape sequences.
        let stripped = anstream::adapter::strip_str(&out).to_string();
        assert!(!stripped.contains('\u{1b}'), "{stripped}");
        assert!(!stripped.contains('\u{7}'), "{stripped}");
        assert!(stripped.contains(r"\u{1b}[2J"), "{stripped}");
        // Multi-line output keeps its lines.
        assert!(stripped.contains("line 1\n"), "{stripped}");
        // The JSON report keeps the originals.
        assert!(
            report.targets[0].packages[0].tests[0]
                .name
                .contains('\u{1b}')
        );
    }
}
