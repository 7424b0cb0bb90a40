//! Parses libtest's human output as it streams (`--test-threads=1`, so `test NAME ... ` is
//! flushed before the test runs and its start can be timed), plus the `failures:` section that
//! carries each failed test's captured output, and cargo's `Doc-tests CRATE` headers.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::capture::{Capture, LineBuffer, TEST_LINE};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawOutcome {
    Ok,
    Failed,
    Ignored(Option<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    Started(String),
    Finished {
        name: String,
        outcome: RawOutcome,
        duration: Duration,
    },
    /// `Doc-tests CRATE`: the following results belong to that crate's doctests.
    Suite(String),
    /// Not from libtest: the supervisor's note that the running test passed the slow threshold.
    Slow {
        name: String,
        elapsed: Duration,
    },
}

#[derive(Debug, Default, PartialEq, Eq)]
enum Section {
    #[default]
    Results,
    Failures,
    Other,
}

#[derive(Debug)]
pub(crate) struct Parser {
    lines: LineBuffer,
    running: Option<(String, Instant)>,
    section: Section,
    failure: Option<String>,
    /// Each failed test's output (head and tail: a loud test cannot grow this without bound).
    failures: BTreeMap<String, Capture>,
    /// Bytes each test printed: what came while it ran (uncaptured output on its result line
    /// or between) and its captured section under `failures:`, counted as they came.
    printed: BTreeMap<String, u64>,
    /// Bytes of the lines seen since the running test started.
    window: u64,
    /// `running N tests`: how many tests libtest said it would run.
    announced: Option<usize>,
    /// `test result: …`: passed + failed + ignored, as libtest counted them at the end.
    counted: Option<usize>,
    /// Tests libtest showed as `NAME - should panic`.
    should_panic: BTreeSet<String>,
}

impl Parser {
    /// Whether libtest showed `name` as a `#[should_panic]` test.
    pub(crate) fn should_panic(&self, name: &str) -> bool {
        self.should_panic.contains(name)
    }
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            lines: LineBuffer::with_limit(TEST_LINE),
            running: None,
            section: Section::default(),
            failure: None,
            failures: BTreeMap::new(),
            printed: BTreeMap::new(),
            window: 0,
            announced: None,
            counted: None,
            should_panic: BTreeSet::new(),
        }
    }
}

impl Parser {
    pub(crate) fn feed(&mut self, data: &[u8], now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        for (line, size) in self.lines.push_sized(data) {
            self.count(size as u64);
            self.line(&line, now, &mut events);
        }
        if self.running.is_none() && self.section == Section::Results {
            // The test's own unterminated output may already follow libtest's `test NAME ... `
            // in the same read.
            let partial = String::from_utf8_lossy(self.lines.partial());
            let shown = partial
                .strip_prefix("test ")
                .and_then(|r| r.split_once(" ... "))
                .map(|(name, _)| name.to_owned());
            if let Some(name) = shown {
                self.start(&name, now, &mut events);
            }
        }
        events
    }

    /// A test's line began (`test NAME ... `) and its verdict has not come yet.
    fn start(&mut self, shown: &str, now: Instant, events: &mut Vec<Event>) {
        if let Some(base) = shown.strip_suffix(" - should panic") {
            self.should_panic.insert(base.to_owned());
        }
        let name = base_name(shown).to_owned();
        self.running = Some((name.clone(), now));
        self.window = 0;
        events.push(Event::Started(name));
    }

    /// Handles an unterminated last line.
    pub(crate) fn finish(&mut self, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        if let Some((rest, size)) = self.lines.rest_sized() {
            self.count(size as u64);
            self.line(&rest, now, &mut events);
        }
        events
    }

    /// Counts a line's bytes toward the running test, or the failed test whose captured
    /// section it belongs to.
    fn count(&mut self, size: u64) {
        if self.running.is_some() {
            self.window += size;
        } else if self.section == Section::Failures
            && let Some(name) = &self.failure
        {
            *self.printed.entry(name.clone()).or_default() += size;
        }
    }

    /// The test that has started and not finished, with its start time.
    pub(crate) fn running(&self) -> Option<(&str, Instant)> {
        self.running.as_ref().map(|(n, t)| (n.as_str(), *t))
    }

    /// Whether libtest's own counts vouch for `finished` results being every test it had to
    /// run: it announced that many (`running N tests`) and counted that many at the end.
    pub(crate) fn ran_all(&self, finished: usize) -> bool {
        self.announced == Some(finished) && self.counted == Some(finished)
    }

    /// How many bytes libtest printed for a failed test in all.
    pub(crate) fn failure_output_size(&self, name: &str) -> Option<u64> {
        self.failures
            .contains_key(name)
            .then(|| self.printed.get(name).copied().unwrap_or(0))
    }

    /// The captured output libtest printed for a failed test.
    pub(crate) fn failure_output(&self, name: &str) -> Option<String> {
        self.failures
            .get(name)
            .map(|c| c.text().trim_end_matches('\n').to_owned())
    }

    fn line(&mut self, line: &str, now: Instant, events: &mut Vec<Event>) {
        if let Some(name) = line
            .trim_start()
            .strip_prefix("Doc-tests ")
            .filter(|_| line.starts_with(' '))
        {
            self.section = Section::Results;
            events.push(Event::Suite(name.trim().to_owned()));
            return;
        }
        if let Some(counts) = line.strip_prefix("test result: ") {
            self.section = Section::Results;
            self.failure = None;
            self.counted = result_counts(counts);
            return;
        }
        if let Some(n) = line
            .strip_prefix("running ")
            .and_then(|r| r.strip_suffix(" tests").or_else(|| r.strip_suffix(" test")))
            .and_then(|n| n.parse().ok())
        {
            self.announced = Some(n);
            return;
        }
        match self.section {
            Section::Failures => {
                if let Some(name) = line
                    .strip_prefix("---- ")
                    .and_then(|r| r.strip_suffix(" stdout ----"))
                {
                    let name = base_name(name).to_owned();
                    self.failures.insert(name.clone(), Capture::for_output());
                    self.failure = Some(name);
                } else if line == "failures:" {
                    self.section = Section::Other;
                    self.failure = None;
                } else if let Some(name) = &self.failure {
                    let out = self.failures.get_mut(name).expect("inserted");
                    out.push(line.as_bytes());
                    out.push(b"\n");
                }
                return;
            }
            Section::Other => return,
            Section::Results => {}
        }
        if self.running.is_none() && (line == "failures:" || line == "successes:") {
            self.section = if line == "failures:" {
                Section::Failures
            } else {
                Section::Other
            };
            return;
        }
        let shown = line
            .strip_prefix("test ")
            .and_then(|r| r.split_once(" ... "));
        let parsed = match shown {
            Some((name, result)) => {
                if let Some(base) = name.strip_suffix(" - should panic") {
                    self.should_panic.insert(base.to_owned());
                }
                match outcome(result).or_else(|| cut_verdict(result)) {
                    Some(o) => Some((base_name(name).to_owned(), o)),
                    // The test's own output came after libtest's `test NAME ... ` and ended
                    // the line: the verdict comes on a line of its own.
                    None if self.running.is_none() => {
                        self.start(name, now, events);
                        return;
                    }
                    None => None,
                }
            }
            None => None,
        };
        let (name, outcome) = match (parsed, &self.running) {
            (Some(p), _) => p,
            // Uncaptured output (a C printf, a runner warning) split the running test's line:
            // its result then arrives on a line of its own.
            (None, Some((running, _))) => match outcome(line).or_else(|| cut_verdict(line)) {
                Some(o) => (running.clone(), o),
                None => return,
            },
            (None, None) => return,
        };
        let duration = match self.running.take() {
            Some((running, start)) if running == name => now.saturating_duration_since(start),
            _ => Duration::ZERO,
        };
        *self.printed.entry(name.clone()).or_default() += std::mem::take(&mut self.window);
        events.push(Event::Finished {
            name,
            outcome,
            duration,
        });
    }
}

fn outcome(result: &str) -> Option<RawOutcome> {
    Some(match result.trim() {
        "ok" => RawOutcome::Ok,
        "FAILED" => RawOutcome::Failed,
        "ignored" => RawOutcome::Ignored(None),
        r if r.starts_with("ignored, ") => {
            RawOutcome::Ignored(Some(r["ignored, ".len()..].to_owned()))
        }
        _ => return None,
    })
}

/// The verdict at the end of a line cut for length: a test's own unterminated output was
/// followed by libtest's `ok`/`FAILED` on the same line.
fn cut_verdict(line: &str) -> Option<RawOutcome> {
    let end = &line[line.find(crate::capture::CUT)?..];
    if end.ends_with("FAILED") {
        Some(RawOutcome::Failed)
    } else if end.ends_with("ok") {
        Some(RawOutcome::Ok)
    } else if end.ends_with("ignored") {
        Some(RawOutcome::Ignored(None))
    } else {
        None
    }
}

/// `NAME - should panic` → `NAME`: libtest appends the test mode to the displayed name.
fn base_name(name: &str) -> &str {
    for suffix in [
        " - should panic",
        " - compile fail",
        " - compile",
        " - no_run",
    ] {
        if let Some(base) = name.strip_suffix(suffix) {
            return base;
        }
    }
    name
}

/// passed + failed + ignored of `ok. 3 passed; 0 failed; 1 ignored; 0 measured; …`.
fn result_counts(line: &str) -> Option<usize> {
    let (_, counts) = line.split_once(". ")?;
    let mut total = 0;
    let mut seen = 0;
    for part in counts.split("; ") {
        let (n, what) = part.split_once(' ')?;
        if matches!(what, "passed" | "failed" | "ignored") {
            total += n.parse::<usize>().ok()?;
            seen += 1;
        }
    }
    (seen == 3).then_some(total)
}

/// The test names of `--list` output (`NAME: test` lines; benches are left out), trusted only
/// when libtest's closing count (`N tests, M benchmarks`) is there and agrees with the lines: a
/// runner that ran nothing, or a program that is not a libtest harness, prints no such count.
pub(crate) fn parse_list(output: &str) -> Result<Vec<String>, ListProblem> {
    let names: Vec<String> = output
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_owned)
        .collect();
    let summary = output.lines().rev().find(|l| !l.trim().is_empty());
    let count = summary.and_then(|l| {
        let (tests, benches) = l.trim().split_once(", ")?;
        let n = tests
            .strip_suffix(" tests")
            .or_else(|| tests.strip_suffix(" test"))?;
        benches
            .strip_suffix(" benchmarks")
            .or_else(|| benches.strip_suffix(" benchmark"))?
            .parse::<u64>()
            .ok()?;
        n.parse::<usize>().ok()
    });
    match count {
        None => Err(ListProblem::NoCount),
        Some(n) if n != names.len() => Err(ListProblem::Disagrees {
            said: n,
            listed: names.len(),
        }),
        Some(_) => Ok(names),
    }
}

/// Why a listing is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListProblem {
    /// No `N tests, M benchmarks` line: not libtest's output.
    NoCount,
    /// The count and the listed names disagree.
    Disagrees { said: usize, listed: usize },
}

impl std::fmt::Display for ListProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListProblem::NoCount => {
                f.write_str("printed no libtest test list (no `N tests, M benchmarks` line)")
            }
            ListProblem::Disagrees { said, listed } => write!(
                f,
                "printed a test list that disagrees with itself ({listed} tests listed, {said} counted)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtests_own_counts_vouch_for_a_whole_run() {
        let t0 = Instant::now();
        let mut p = Parser::default();
        let run = "\nrunning 3 tests\ntest a ... ok\ntest b ... ignored\ntest c ... FAILED\n\nfailures:\n\n---- c stdout ----\nboom\n\nfailures:\n    c\n\ntest result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n";
        let finished = p
            .feed(run.as_bytes(), t0)
            .into_iter()
            .filter(|e| matches!(e, Event::Finished { .. }))
            .count();
        assert_eq!(finished, 3);
        assert!(p.ran_all(3));
        assert!(!p.ran_all(2));
        // Killed before the end: no closing count, nothing vouched for.
        let mut cut = Parser::default();
        cut.feed(b"running 3 tests\ntest a ... ok\ntest b ... ok\n", t0);
        assert!(!cut.ran_all(2));
        // A runner that printed results of its own making, without libtest's counts.
        let mut fake = Parser::default();
        fake.feed(b"test a ... ok\n", t0);
        assert!(!fake.ran_all(1));
    }

    fn feed_all(p: &mut Parser, chunks: &[&str], t0: Instant) -> Vec<Event> {
        let mut ev = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            ev.extend(p.feed(c.as_bytes(), t0 + Duration::from_millis(100 * i as u64)));
        }
        ev.extend(p.finish(t0 + Duration::from_secs(10)));
        ev
    }

    #[test]
    fn times_streamed_tests_and_reads_modes_and_ignores() {
        let t0 = Instant::now();
        let mut p = Parser::default();
        let ev = feed_all(
            &mut p,
            &[
                "\nrunning 4 tests\n",
                "test t::at ... ",
                "ok\n",
                "test t::ig ... ignored, why\n",
                "test t::slow ... ",
                "",
                "ok\n",
                "test t::sp - should panic ... ",
                "ok\n\ntest result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.61s\n",
            ],
            t0,
        );
        let finished: Vec<_> = ev
            .iter()
            .filter_map(|e| match e {
                Event::Finished {
                    name,
                    outcome,
                    duration,
                } => Some((name.as_str(), outcome.clone(), duration.as_millis())),
                _ => None,
            })
            .collect();
        assert_eq!(
            finished,
            [
                ("t::at", RawOutcome::Ok, 100),
                ("t::ig", RawOutcome::Ignored(Some("why".into())), 0),
                ("t::slow", RawOutcome::Ok, 200),
                ("t::sp", RawOutcome::Ok, 100),
            ]
        );
        assert!(ev.contains(&Event::Started("t::sp".into())));
        assert!(p.should_panic("t::sp"));
        assert!(!p.should_panic("t::at"));
        let mut p = Parser::default();
        feed_all(
            &mut p,
            &["running 1 test\ntest t::sp2 - should panic ... ignored\n"],
            t0,
        );
        assert!(p.should_panic("t::sp2"));
    }

    #[test]
    fn collects_failure_output_and_reports_the_running_test() {
        let t0 = Instant::now();
        let mut p = Parser::default();
        let out = "running 2 tests\ntest a ... FAILED\ntest b ... ok\n\nfailures:\n\n---- a stdout ----\nthread 'a' panicked at src/lib.rs:3:5:\nassertion `left == right` failed\n\n\nfailures:\n    a\n\ntest result: FAILED. 1 passed; 1 failed; 0 ignored\n";
        feed_all(&mut p, &[out], t0);
        assert_eq!(
            p.failure_output("a").unwrap(),
            "thread 'a' panicked at src/lib.rs:3:5:\nassertion `left == right` failed"
        );
        let mut p = Parser::default();
        p.feed(b"running 1 test\ntest hang ... ", t0);
        assert_eq!(p.running().map(|(n, _)| n), Some("hang"));
    }

    #[test]
    fn doc_test_headers_split_suites() {
        let mut p = Parser::default();
        let ev = feed_all(
            &mut p,
            &[
                "   Doc-tests endian\n\nrunning 1 test\ntest endian/src/lib.rs - f (line 3) ... ok\n\ntest result: ok.\n   Doc-tests other\n",
            ],
            Instant::now(),
        );
        assert_eq!(ev[0], Event::Suite("endian".into()));
        assert!(
            matches!(&ev[1], Event::Finished { name, .. } if name == "endian/src/lib.rs - f (line 3)")
        );
        assert_eq!(ev[2], Event::Suite("other".into()));
    }

    #[test]
    fn a_result_split_from_its_line_by_stray_output_still_counts() {
        let mut p = Parser::default();
        let ev = feed_all(
            &mut p,
            &[
                "running 1 test\n",
                "test v ... ",
                "vector version is not specified\nok\n",
            ],
            Instant::now(),
        );
        assert!(ev.iter().any(|e| matches!(e, Event::Finished { name, outcome: RawOutcome::Ok, .. } if name == "v")), "{ev:?}");
    }

    /// The test's own output may arrive in the same read as libtest's `test NAME ... `, or end
    /// that line: the test still started, and its verdict, at the end of a cut line or on a
    /// line of its own, is still its.
    #[test]
    fn a_tests_output_read_with_its_start_does_not_hide_it() {
        let long = "x".repeat(200_000);
        for chunks in [
            vec![
                "running 1 test\ntest t::endless ... xxxx".to_owned(),
                long.clone(),
                "FAILED\n".to_owned(),
            ],
            vec!["running 1 test\ntest t::endless ... printed\nFAILED\n".to_owned()],
            vec![
                "running 1 test\ntest t::endless ... ".to_owned(),
                long.clone(),
                "FAILED\n".to_owned(),
            ],
        ] {
            let mut p = Parser::default();
            let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
            let ev = feed_all(&mut p, &chunks, Instant::now());
            assert!(ev.contains(&Event::Started("t::endless".into())), "{ev:?}");
            assert!(
                ev.iter().any(|e| matches!(e, Event::Finished { name, outcome: RawOutcome::Failed, .. } if name == "t::endless")),
                "{ev:?}"
            );
        }
    }

    #[test]
    fn lists_tests_not_benches() {
        assert_eq!(
            parse_list("a::b: test\nc: bench\nd: test\n\n2 tests, 1 benchmark\n").unwrap(),
            ["a::b", "d"]
        );
        assert_eq!(
            parse_list("\n0 tests, 0 benchmarks\n").unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            parse_list("a: test\n\n1 test, 0 benchmarks\n").unwrap(),
            ["a"]
        );
        // What `echo` as a runner prints, a terse listing, nothing, a count that disagrees.
        for bad in [
            "/t/lib-abc --list\n",
            "a: test\n",
            "",
            "a: test\n\n3 tests, 0 benchmarks",
        ] {
            assert!(parse_list(bad).is_err(), "{bad:?}");
        }
    }
}
