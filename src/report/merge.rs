//! `cargo xtest merge`: one report from shard reports (`--partition K/N`) and per-target or
//! per-machine reports. Nothing is hidden: a missing or repeated shard, a test reported twice, and
//! a test whose outcome differs between inputs are listed in `problems` (which fail the merged
//! report); a conflicting test keeps its worst outcome. The merged report is diagnosed as one
//! run would be: a test failing on one target is judged against the host's results from any
//! input (one CI job per target still yields `arch-assumption`), and the host comes first.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{PackageOutcome, Report, SCHEMA, TestReport};
use crate::error::{Context, Result};
use crate::ids::TestKey;
use crate::run::TestOutcome;

/// Reads a report written by `--report`.
pub(crate) fn read(path: &PathBuf) -> Result<Report> {
    let text =
        std::fs::read(path).or_bad_input(|| format!("cannot read report {}", path.display()))?;
    parse(&text).or_bad_input(|| path.display().to_string())
}

/// Why a file is not a report this cargo-xtest merges.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotAReport {
    #[error("not a cargo-xtest report")]
    Malformed(#[source] serde_json::Error),
    #[error("schema `{0}`; this cargo-xtest reads `{SCHEMA}`")]
    Schema(String),
}

/// A report from its JSON text.
pub(crate) fn parse(text: &[u8]) -> std::result::Result<Report, NotAReport> {
    let report: Report = serde_json::from_slice(text).map_err(NotAReport::Malformed)?;
    if report.schema != SCHEMA {
        return Err(NotAReport::Schema(report.schema));
    }
    Ok(report)
}

fn rank(o: TestOutcome) -> u8 {
    match o {
        TestOutcome::Ignored | TestOutcome::Skipped | TestOutcome::Unsupported => 0,
        TestOutcome::Passed => 1,
        TestOutcome::Failed => 2,
        TestOutcome::TimedOut => 3,
    }
}

pub(crate) fn merge(inputs: Vec<(PathBuf, Report)>) -> Report {
    let mut merged = combine(inputs);
    // The host first, then the targets in the order the inputs named them.
    let host = merged.host.clone();
    merged.targets.sort_by_key(|t| t.triple != host);
    let diagnoser = crate::diagnose::Diagnoser::from_targets(
        &crate::discover::Host::without_toolchain(),
        &host,
        merged.targets.iter().map(|t| {
            let mut cfg = crate::diagnose::cfg_of(&t.triple);
            cfg.big_endian = t.endian == "big";
            cfg.pointer_width = t.pointer_width;
            let runner = t.runner.as_ref().map(|r| match r.as_str() {
                "native" => Vec::new(),
                r => r.split_whitespace().map(str::to_owned).collect(),
            });
            (t.triple.to_string(), cfg, runner)
        }),
    );
    merged.diagnose_tests(&diagnoser);
    merged
}

fn combine(inputs: Vec<(PathBuf, Report)>) -> Report {
    let mut problems = Vec::new();
    let name = |p: &PathBuf| p.display().to_string();
    // Shards: every K of 1..=N exactly once.
    let mut counts: BTreeMap<u32, Vec<(u32, String)>> = BTreeMap::new();
    for (path, r) in &inputs {
        if let Some(p) = r.partition {
            counts
                .entry(p.count)
                .or_default()
                .push((p.index, name(path)));
        }
    }
    for (n, seen) in &counts {
        for k in 1..=*n {
            let from: Vec<&String> = seen
                .iter()
                .filter(|(i, _)| *i == k)
                .map(|(_, f)| f)
                .collect();
            match from.len() {
                0 => problems.push(format!("shard {k}/{n} is missing")),
                1 => {}
                _ => problems.push(format!(
                    "shard {k}/{n} is given more than once: {}",
                    join(&from)
                )),
            }
        }
    }
    if counts.len() > 1 {
        problems.push(format!(
            "shards of different splits are mixed: {}",
            counts
                .keys()
                .map(|n| format!("N={n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut merged = Report {
        schema: SCHEMA.to_owned(),
        host: inputs
            .first()
            .map(|(_, r)| r.host.clone())
            .unwrap_or_default(),
        targets: Vec::new(),
        interrupted: inputs.iter().any(|(_, r)| r.interrupted),
        partition: None,
        problems: Vec::new(),
    };
    // (triple, package, binary, test) -> (index into merged, input it came from)
    let mut seen: BTreeMap<(String, TestKey), String> = BTreeMap::new();
    for (path, r) in inputs {
        let from = name(&path);
        for t in r.targets {
            let lane = t.lane().to_string();
            let ti = match merged.targets.iter().position(|m| m.lane() == t.lane()) {
                Some(i) => i,
                None => {
                    let mut empty = t.clone();
                    empty.packages.clear();
                    merged.targets.push(empty);
                    merged.targets.len() - 1
                }
            };
            let target = &mut merged.targets[ti];
            if t.level > target.level {
                target.level = t.level;
                target.runner = t.runner.clone();
                target.downgrades = t.downgrades.clone();
            }
            target.requirement_met |= t.requirement_met;
            for p in t.packages {
                let pi = match target.packages.iter().position(|m| m.name == p.name) {
                    Some(i) => i,
                    None => {
                        let mut empty = p.clone();
                        empty.tests.clear();
                        empty.errors.clear();
                        target.packages.push(empty);
                        target.packages.len() - 1
                    }
                };
                let pkg = &mut target.packages[pi];
                // The worst of the slices: failed, then not run, then passed.
                let package_rank = |o: PackageOutcome| match o {
                    PackageOutcome::Excluded => 0,
                    PackageOutcome::Passed => 1,
                    PackageOutcome::NotRun => 2,
                    PackageOutcome::Failed => 3,
                };
                if package_rank(p.outcome) > package_rank(pkg.outcome) {
                    pkg.outcome = p.outcome;
                }
                pkg.level = pkg.level.max(p.level);
                pkg.failed_stage = match (pkg.failed_stage, p.failed_stage) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                for e in p.errors {
                    if !pkg.errors.iter().any(|x| {
                        x.error.stage == e.error.stage && x.error.message == e.error.message
                    }) {
                        pkg.errors.push(e);
                    }
                }
                for b in p.not_run {
                    if !pkg.not_run.contains(&b) {
                        pkg.not_run.push(b);
                    }
                }
                for x in p.tests {
                    let key = (lane.clone(), x.key(&p.name));
                    match seen.get(&key) {
                        None => {
                            seen.insert(key, from.clone());
                            pkg.tests.push(x);
                        }
                        Some(first) => {
                            let prev = pkg
                                .tests
                                .iter_mut()
                                .find(|y| y.binary == x.binary && y.name == x.name)
                                .expect("seen tests are kept");
                            if prev.outcome != x.outcome {
                                problems.push(format!(
                                    "{} {} {} {}: {:?} in {first}, {:?} in {from}",
                                    lane, p.name, x.binary, x.name, prev.outcome, x.outcome
                                ));
                                if rank(x.outcome) > rank(prev.outcome) {
                                    *prev = x;
                                }
                            } else {
                                problems.push(format!(
                                    "{} {} {} {} is reported by both {first} and {from}",
                                    t.triple, p.name, x.binary, x.name
                                ));
                            }
                        }
                    }
                }
                if pkg
                    .tests
                    .iter()
                    .any(|x| matches!(x.outcome, TestOutcome::Failed | TestOutcome::TimedOut))
                {
                    pkg.outcome = PackageOutcome::Failed;
                }
            }
        }
    }
    for t in &mut merged.targets {
        for p in &mut t.packages {
            p.tests.sort_by(|a: &TestReport, b: &TestReport| {
                (&a.binary, &a.name).cmp(&(&b.binary, &b.name))
            });
        }
        t.packages.sort_by(|a, b| a.name.cmp(&b.name));
    }
    merged.problems = problems;
    merged
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
