//! The doctor's report, and the manual steps no package provides.

use std::fmt::Write as _;

use crate::discover::Host;
use crate::fixes::Fixer;
use crate::level::Level;
use crate::shell::styles::{BAD, DIM, HEAD, OK};

use super::{Examination, Status, fix_commands};

/// Manual steps no package provides (settings that point nowhere, unknown distros).
pub(crate) fn advice(host: &Host, fixer: &Fixer, exams: &[Examination]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in exams {
        for c in e.components.iter().filter(|c| c.status == Status::Missing) {
            if let Some(a) = &c.advice {
                out.push(format!("{}: {}: {a}", e.triple, c.name));
            }
            if !c.packages.is_empty() && fixer.install_argv(&c.packages).is_none() {
                out.push(format!(
                    "{}: {}: install the package providing it ({} on Debian/Ubuntu)",
                    e.triple,
                    c.name,
                    c.packages
                        .iter()
                        .map(|p| p.apt)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        if e.std_missing && !host.rustup {
            out.push(fixer.std_fix(host, &e.triple));
        }
    }
    out.dedup();
    out
}

pub(crate) fn render(host: &Host, fixer: &Fixer, exams: &[Examination]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{HEAD}cargo-xtest doctor{HEAD:#} on host {} (package manager: {})",
        host.triple,
        fixer.package_manager()
    );
    for e in exams {
        let _ = writeln!(out, "\n{HEAD}{}{HEAD:#}", e.triple);
        for c in &e.components {
            let (word, style) = match c.status {
                Status::Found => ("ok", OK),
                Status::Missing => ("MISSING", BAD),
                Status::Failed => ("FAILED", BAD),
                Status::NotNeeded => ("-", DIM),
                Status::Unproved => ("?", DIM),
            };
            let _ = writeln!(out, "  {:<12}{style}{word:<9}{style:#}{}", c.name, c.detail);
        }
        let style = if e.level == Level::Test { OK } else { BAD };
        let _ = writeln!(
            out,
            "  {:<12}{style}{:<9}{style:#}",
            "reaches",
            e.level.as_str()
        );
        for d in &e.downgrades {
            let _ = writeln!(out, "    {} -> {}: {}", d.from, d.to, d.reason);
            let _ = writeln!(out, "      fix: {}", d.fix);
        }
    }
    let commands = fix_commands(host, fixer, exams);
    let advice = advice(host, fixer, exams);
    if commands.is_empty() && advice.is_empty() && exams.iter().all(Examination::healthy) {
        let _ = writeln!(
            out,
            "\nNothing is missing: every target reaches `test` on this host, proved by its probes."
        );
        return out;
    }
    let short: Vec<String> = exams
        .iter()
        .filter(|e| !e.healthy())
        .map(|e| format!("{} reaches {}", e.triple, e.level))
        .collect();
    if !short.is_empty() {
        let _ = writeln!(
            out,
            "\nNot every target reaches `test`: {}.",
            short.join(", ")
        );
    }
    if !commands.is_empty() {
        let _ = writeln!(
            out,
            "\nTo install what is missing, run (or `cargo xtest setup --yes`):"
        );
        for c in &commands {
            let _ = writeln!(out, "  {}", c.join(" "));
        }
    }
    if !advice.is_empty() {
        let _ = writeln!(out, "\nBy hand:");
        for a in &advice {
            let _ = writeln!(out, "  {a}");
        }
    }
    out
}
