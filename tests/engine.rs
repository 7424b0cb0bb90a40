//! The run engine: the result cache, shards, retries, slow warnings, and the same outcomes with
//! and without parallelism and cache.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use serde_json::Value;

/// (target, package, binary, test, outcome) of every test in a report.
fn outcomes(r: &Run) -> BTreeSet<(String, String, String, String, String)> {
    let mut set = BTreeSet::new();
    for t in r.report()["targets"].as_array().unwrap() {
        for p in t["packages"].as_array().unwrap() {
            for x in p["tests"].as_array().unwrap() {
                set.insert((
                    t["triple"].as_str().unwrap().to_owned(),
                    p["name"].as_str().unwrap().to_owned(),
                    x["binary"].as_str().unwrap().to_owned(),
                    x["name"].as_str().unwrap().to_owned(),
                    x["outcome"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    set
}

fn cached(r: &Run, triple: &str, pkg: &str) -> Vec<bool> {
    r.package(triple, pkg)["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["cached"] == Value::Bool(true))
        .collect()
}

#[test]
fn passed_tests_are_replayed_until_something_they_depend_on_changes() {
    let fx = Fixture::new("portable");
    let first = fx.verify(&["--target", "host"]);
    assert_eq!(first.code(), 0, "{}", first.stderr());
    assert!(cached(&first, HOST, "alpha").iter().all(|c| !c));

    let second = fx.verify(&["--target", "host"]);
    assert_eq!(second.code(), 0);
    assert_eq!(outcomes(&first), outcomes(&second));
    for pkg in ["alpha", "beta"] {
        assert!(
            cached(&second, HOST, pkg).iter().all(|c| *c),
            "{pkg} replayed, doctests included"
        );
    }

    // A data file anywhere in the workspace, outside every package (`../fixtures/value.txt` for
    // a test), could be read by any test: everything runs again.
    fx.write("fixtures/value.txt", "1");
    let third = fx.verify(&["--target", "host"]);
    for pkg in ["alpha", "beta"] {
        assert!(
            cached(&third, HOST, pkg).iter().all(|c| !c),
            "{pkg} ran again"
        );
    }
    // A Rust source reaches other packages' tests only through their executables: a new test
    // in beta (which depends on alpha) runs beta again, not alpha.
    let lib = std::fs::read_to_string(fx.path().join("beta/src/lib.rs")).unwrap();
    fx.write(
        "beta/src/lib.rs",
        &format!("{lib}\n#[test]\nfn added() {{}}\n"),
    );
    let fourth = fx.verify(&["--target", "host"]);
    assert!(
        cached(&fourth, HOST, "beta").iter().all(|c| !c),
        "beta ran again"
    );
    assert!(
        cached(&fourth, HOST, "alpha").iter().all(|c| *c),
        "alpha still cached"
    );

    // --no-cache runs everything.
    let fifth = fx.verify(&["--target", "host", "--no-cache"]);
    assert!(cached(&fifth, HOST, "beta").iter().all(|c| !c));
    assert_eq!(outcomes(&fourth), outcomes(&fifth));
}

/// Under `CI=true` nothing is replayed unless `--cache` asks; the files a run writes into the
/// workspace (here JUnit) do not change the next run's key.
#[test]
fn ci_runs_everything_unless_asked_and_a_runs_own_outputs_are_not_inputs() {
    let fx = Fixture::new("portable");
    let junit = fx.path().join("junit.xml");
    let run = |ci: bool, extra: &[&str]| {
        let mut args = vec!["--target", "host", "--junit"];
        let junit = junit.to_str().unwrap();
        args.push(junit);
        args.extend_from_slice(extra);
        fx.verify_with(&args, |c| {
            if ci {
                c.env("CI", "true");
            }
        })
    };
    let first = run(false, &[]);
    assert_eq!(first.code(), 0, "{}", first.stderr());
    let second = run(false, &[]);
    assert!(
        cached(&second, HOST, "alpha").iter().all(|c| *c),
        "the JUnit file the first run wrote is not an input"
    );
    let in_ci = run(true, &[]);
    assert!(cached(&in_ci, HOST, "alpha").iter().all(|c| !c), "CI runs");
    let asked = run(true, &["--cache"]);
    assert!(cached(&asked, HOST, "alpha").iter().all(|c| *c), "--cache");
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(
        junit.contains(r#"<property name="cached" value="true"/>"#),
        "{junit}"
    );
}

/// A cache entry is trusted only when it holds exactly the tests the binary lists now: an empty
/// entry or one naming other tests is run again, never replayed as a pass.
#[test]
fn cache_entries_that_do_not_match_the_listing_are_not_trusted() {
    let fx = Fixture::new("portable");
    let first = fx.verify(&["--target", "host"]);
    assert_eq!(first.code(), 0, "{}", first.stderr());
    let report = first.report().clone();
    let binary_tests: Vec<BTreeSet<String>> = {
        let mut by_binary: std::collections::BTreeMap<(String, String), BTreeSet<String>> =
            Default::default();
        for p in report["targets"][0]["packages"].as_array().unwrap() {
            for t in p["tests"].as_array().unwrap() {
                if t["binary"] != "doc" {
                    by_binary
                        .entry((p["name"].to_string(), t["binary"].to_string()))
                        .or_default()
                        .insert(t["name"].as_str().unwrap().to_owned());
                }
            }
        }
        by_binary.into_values().collect()
    };
    let dir = fx.path().join("target/xtest/cache");
    let mut tampered = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = e.path();
        let Ok(entries) =
            serde_json::from_str::<Vec<Value>>(&std::fs::read_to_string(&path).unwrap())
        else {
            continue;
        };
        let names: BTreeSet<String> = entries
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        if !binary_tests.contains(&names) {
            continue;
        }
        // Half emptied, half naming a test that does not exist, "passed".
        let text = if tampered % 2 == 0 {
            "[]".to_owned()
        } else {
            r#"[{"name":"bogus","outcome":"passed","duration_ms":1,"reason":null}]"#.to_owned()
        };
        std::fs::write(&path, text).unwrap();
        tampered += 1;
    }
    assert!(tampered >= 2, "found the binaries' entries: {tampered}");
    let second = fx.verify(&["--target", "host"]);
    assert_eq!(second.code(), 0, "{}", second.stderr());
    let not_doc = |r: &Run| {
        outcomes(r)
            .into_iter()
            .filter(|o| o.2 != "doc")
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        not_doc(&first),
        not_doc(&second),
        "every listed test, no bogus one"
    );
    for p in second.report()["targets"][0]["packages"]
        .as_array()
        .unwrap()
    {
        for t in p["tests"].as_array().unwrap() {
            if t["binary"] != "doc" {
                assert_ne!(t["cached"], true, "ran again, not replayed: {t}");
            }
        }
    }
}

#[test]
fn a_failed_test_is_never_cached() {
    let fx = Fixture::new("portable");
    let lib = std::fs::read_to_string(fx.path().join("alpha/src/lib.rs")).unwrap();
    fx.write(
        "alpha/src/lib.rs",
        &format!("{lib}\n#[test]\nfn broken() {{ panic!(\"planted\") }}\n"),
    );
    let first = fx.verify(&["--target", "host", "--no-fail-fast"]);
    assert_eq!(first.code(), 1);
    let second = fx.verify(&["--target", "host", "--no-fail-fast"]);
    assert_eq!(second.code(), 1);
    let broken = second.test(HOST, "alpha", "broken");
    assert_eq!(broken["outcome"], "failed");
    assert!(broken.get("cached").is_none(), "{broken}");
    assert_eq!(second.test(HOST, "alpha", "tests::doubles")["cached"], true);
}

fn pids(fx: &Fixture) -> BTreeSet<String> {
    std::fs::read_dir(fx.path().join("many/pids"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect()
}

#[test]
fn a_long_binary_is_split_into_shards_and_each_test_runs_once() {
    let fx = Fixture::new("engine");
    let r = fx.verify(&["--target", "host", "-p", "many", "-j", "4", "--no-cache"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let tests = r.tests(HOST, "many");
    assert_eq!(tests.len(), 96);
    assert!(tests.iter().all(|(_, o)| o == "passed"));
    let names: BTreeSet<_> = tests.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names.len(), 96, "no test reported twice");
    assert_eq!(
        std::fs::read_dir(fx.path().join("many/pids"))
            .unwrap()
            .count(),
        96
    );
    assert!(
        pids(&fx).len() >= 2,
        "96 tests over 4 workers use several processes"
    );

    std::fs::remove_dir_all(fx.path().join("many/pids")).unwrap();
    let r = fx.verify(&["--target", "host", "-p", "many", "-j", "1", "--no-cache"]);
    assert_eq!(r.code(), 0);
    assert_eq!(
        pids(&fx).len(),
        1,
        "one worker: one process for the whole binary"
    );
}

/// On a first run (no history) under QEMU, a large binary starts with one small batch per
/// worker; the rest of its tests wait for the first one's timings, and 84 quick tests are then
/// one process. Growing blindly (4, 8, 16, 24, 24 and 20 tests) would start six.
#[test]
fn a_first_run_plans_the_rest_of_a_binary_from_what_its_first_batch_took() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let fx = Fixture::new("engine");
    let r = fx.verify(&["--target", AARCH64, "-p", "many", "-j", "2", "--no-cache"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let tests = r.tests(AARCH64, "many");
    assert_eq!(tests.len(), 96);
    assert!(tests.iter().all(|(_, o)| o == "passed"), "{tests:?}");
    let dir = fx.path().join("many/pids");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        96,
        "each test ran"
    );
    // The first batch: 4 tests spread over the binary, one from each of its four modules (not
    // its first four names, `a::t00` to `a::t03`).
    let mut by_pid: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (test, pid) in recorded(&dir) {
        by_pid.entry(pid).or_default().push(test);
    }
    let first: Vec<&Vec<String>> = by_pid.values().filter(|t| t.len() == 4).collect();
    assert_eq!(first.len(), 1, "one batch of 4: {by_pid:?}");
    let modules: BTreeSet<&str> = first[0].iter().map(|t| &t[..1]).collect();
    assert_eq!(modules.len(), 4, "{:?}", first[0]);
    let processes = pids(&fx).len();
    assert!(
        (3..=4).contains(&processes),
        "two first batches, then one or two for the other 84: {processes}"
    );
}

#[test]
fn retries_turn_a_passing_retry_into_flaky_and_slow_tests_are_announced() {
    let fx = Fixture::new("engine");
    let r = fx.verify(&[
        "--target",
        "host",
        "-p",
        "flaky",
        "--retries",
        "2",
        "--slow-after",
        "0.5",
        "--no-cache",
    ]);
    assert_eq!(
        r.code(),
        0,
        "a test that passes on retry does not fail the run\n{}",
        r.stderr()
    );
    let t = r.test(HOST, "flaky", "tests::fails_once");
    assert_eq!(t["outcome"], "passed");
    assert_eq!(t["flaky"], true);
    assert_eq!(t["attempts"], 2);
    assert!(
        t["output"].as_str().unwrap().contains("first run fails"),
        "the first failure is kept: {t}"
    );
    let stderr = r.stderr();
    assert!(stderr.contains("tests::fails_once is flaky"), "{stderr}");
    assert!(
        stderr.contains("tests::slow has been running for over"),
        "{stderr}"
    );

    // Without retries the same first failure fails the run.
    std::fs::remove_file(fx.path().join("flaky/failed-once")).unwrap();
    let r = fx.verify(&["--target", "host", "-p", "flaky", "--no-cache"]);
    assert_eq!(r.code(), 1);
    assert_eq!(
        r.test(HOST, "flaky", "tests::fails_once")["outcome"],
        "failed"
    );
}

#[test]
fn the_example_gives_the_same_outcomes_with_and_without_parallelism_and_cache() {
    if !toolchains_present(&[AARCH64, S390X, RISCV64]) {
        return;
    }
    let fx = Fixture::new("example");
    let parallel = fx.verify(&["--no-fail-fast"]);
    let cached_run = fx.verify(&["--no-fail-fast"]);
    let serial = fx.verify(&["--no-fail-fast", "-j", "1", "--no-cache"]);
    for r in [&parallel, &cached_run, &serial] {
        assert_eq!(r.code(), 1, "{}", r.stderr());
    }
    let expected = outcomes(&serial);
    assert_eq!(expected.len(), 94, "{expected:?}");
    assert_eq!(outcomes(&parallel), expected);
    assert_eq!(outcomes(&cached_run), expected);
    assert!(cached(&cached_run, S390X, "c-checksum").iter().all(|c| *c));
}

#[test]
fn fail_fast_inside_a_sharded_binary_stops_without_hanging() {
    let fx = Fixture::new("engine");
    let lib = std::fs::read_to_string(fx.path().join("many/src/lib.rs")).unwrap();
    // The first shard fails; its sibling shards are still queued when the failure arrives.
    fx.write(
        "many/src/lib.rs",
        &format!("{lib}\n#[test]\nfn a_first_fails() {{ panic!(\"planted\") }}\n"),
    );
    let r = fx.verify(&["--target", "host", "-p", "many", "-j", "4", "--no-cache"]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert_eq!(r.test(HOST, "many", "a_first_fails")["outcome"], "failed");
    let p = r.package(HOST, "many");
    let ran = p["tests"].as_array().unwrap().len();
    let not_run = p["not_run"].as_array().cloned().unwrap_or_default();
    assert!(
        ran == 97 || not_run.contains(&serde_json::json!("lib")),
        "ran {ran}, not_run {not_run:?}"
    );
}

/// What the fixture's tests recorded in `dir`, a file each: test name → the file's text.
fn recorded(dir: &std::path::Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn tests_that_ran_long_run_alone_next_time_and_quick_ones_share_processes() {
    let fx = Fixture::new("skew");
    let run = |label: &str| {
        let dir = fx.path().join(format!("pids-{label}"));
        std::fs::create_dir_all(&dir).unwrap();
        let r = fx.verify_with(&["--target", "host", "--no-cache", "-j", "2"], |c| {
            c.env("XT_PIDS", &dir);
        });
        assert_eq!(r.code(), 0, "{}", r.stderr());
        assert_eq!(r.tests(HOST, "skew").len(), 42);
        recorded(&dir)
    };
    let sharing = |pids: &std::collections::BTreeMap<String, String>, name: &str| {
        pids.values().filter(|p| **p == pids[name]).count()
    };
    // First run: nothing known; 42 tests start in small, growing batches spread over the
    // binary, so that one of them holds `slow_a`, the second last test in name order: the two
    // slow tests do not end up in one batch with quick ones planned from the first names.
    let first = run("first");
    assert_eq!(first.len(), 42);
    assert_ne!(first["slow_a"], first["slow_b"], "{first:?}");
    assert_eq!(
        sharing(&first, "slow_a"),
        8,
        "slow_a is in the 8-test first batch: {first:?}"
    );
    let history = fx.path().join("target/xtest/durations.json");
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&history).expect("durations recorded"))
            .unwrap();
    let slow_us = recorded["micros"]
        .as_object()
        .unwrap()
        .values()
        .find_map(|tests| tests.get("tests::slow_a"))
        .and_then(|v| v.as_u64())
        .expect("slow_a's duration, in microseconds");
    // It sleeps 1.3 s; cargo-xtest times it by when libtest's lines reach it, a few ms either
    // way on a busy machine (CI once saw 1,296,617 µs). Far above a second, and not milliseconds.
    assert!(slow_us >= 1_250_000, "{slow_us}");
    // Second run: the two slow tests each run alone; the quick ones share a few processes.
    let second = run("second");
    assert_eq!(sharing(&second, "slow_a"), 1, "{second:?}");
    assert_eq!(sharing(&second, "slow_b"), 1, "{second:?}");
    let quick_processes: std::collections::BTreeSet<&String> = second
        .iter()
        .filter(|(k, _)| k.starts_with('q'))
        .map(|(_, p)| p)
        .collect();
    assert!(
        quick_processes.len() <= 2,
        "40 quick tests need no more than a process or two: {}",
        quick_processes.len()
    );
}

/// A re-run of an unchanged executable under the same runner schedules its batches from the
/// listing remembered last time, without starting it just to list it; a rebuilt executable is
/// listed again, and a new test in it runs.
#[test]
fn an_unchanged_binary_is_not_listed_again() {
    let fx = Fixture::new("skew");
    let log = logging_runner(&fx);
    let args = ["--target", "host", "--no-cache", "-j", "2"];
    let lists = || {
        runner_calls(&log)
            .iter()
            .filter(|c| c.as_str() == "--list")
            .count()
    };
    let first = fx.verify(&args);
    assert_eq!(first.code(), 0, "{}", first.stderr());
    assert_eq!(lists(), 1, "no history: listed once");

    std::fs::remove_file(&log).unwrap();
    let second = fx.verify(&args);
    assert_eq!(second.code(), 0, "{}", second.stderr());
    assert_eq!(outcomes(&first), outcomes(&second));
    assert_eq!(second.tests(HOST, "skew").len(), 42);
    let calls = runner_calls(&log);
    assert_eq!(lists(), 0, "same executable, same runner: {calls:?}");
    assert!(
        calls.len() >= 3,
        "still run in batches (the slow tests alone): {calls:?}"
    );

    let lib = std::fs::read_to_string(fx.path().join("src/lib.rs")).unwrap();
    fx.write(
        "src/lib.rs",
        &format!("{lib}\n#[test]\nfn added_later() {{}}\n"),
    );
    std::fs::remove_file(&log).unwrap();
    let third = fx.verify(&args);
    assert_eq!(third.code(), 0, "{}", third.stderr());
    assert_eq!(lists(), 1, "rebuilt: listed again");
    assert_eq!(third.test(HOST, "skew", "added_later")["outcome"], "passed");
    assert_eq!(third.tests(HOST, "skew").len(), 43);
}

/// The argument lists a logging runner saw, one line each (`--list`, or the batch's flags).
fn runner_calls(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Installs a host runner that logs its arguments (the test binary's path left out) to
/// `runner.log` and runs the binary.
fn logging_runner(fx: &Fixture) -> std::path::PathBuf {
    let log = fx.path().join("runner.log");
    fx.write(
        "log-runner.sh",
        &format!(
            "#!/bin/sh\nbin=\"$1\"; shift\necho \"$*\" >> '{}'\nexec \"$bin\" \"$@\"\n",
            log.display()
        ),
    );
    std::fs::create_dir_all(fx.path().join(".cargo")).unwrap();
    fx.write(
        ".cargo/config.toml",
        &format!(
            "[target.{HOST}]\nrunner = [\"sh\", \"{}\"]\n",
            fx.path().join("log-runner.sh").display()
        ),
    );
    log
}

/// A binary whose history says it is one short batch runs whole, without being listed first:
/// one process instead of two. Its results are the same, and a crash in such a run falls back
/// to listing and running by name what did not finish.
#[test]
fn small_binaries_with_history_run_whole_without_a_listing() {
    let fx = Fixture::new("portable");
    let log = logging_runner(&fx);
    let args = [
        "--target",
        "host",
        "--no-cache",
        "--no-doctests",
        "--no-fail-fast",
    ];
    let first = fx.verify(&args);
    assert_eq!(first.code(), 0, "{}", first.stderr());
    let calls = runner_calls(&log);
    let lists = calls.iter().filter(|c| c.as_str() == "--list").count();
    assert!(
        lists >= 2,
        "no history yet: every binary listed first: {calls:?}"
    );

    std::fs::remove_file(&log).unwrap();
    let second = fx.verify(&args);
    assert_eq!(second.code(), 0, "{}", second.stderr());
    assert_eq!(outcomes(&first), outcomes(&second));
    let calls = runner_calls(&log);
    assert!(
        calls.iter().all(|c| c.as_str() == "--test-threads=1"),
        "whole runs only, no listing: {calls:?}"
    );

    // The crash: the second run starts whole, `aborts` ends the process; it is listed then, and
    // the tests after the crash still run, by name.
    let lib = std::fs::read_to_string(fx.path().join("alpha/src/lib.rs")).unwrap();
    fx.write(
        "alpha/src/lib.rs",
        &format!("{lib}\n#[test]\nfn aborts() {{ std::process::abort() }}\n"),
    );
    let first = fx.verify(&args);
    assert_eq!(first.test(HOST, "alpha", "aborts")["outcome"], "failed");
    std::fs::remove_file(&log).unwrap();
    let second = fx.verify(&args);
    assert_eq!(outcomes(&first), outcomes(&second));
    assert_eq!(
        second.test(HOST, "alpha", "tests::word_size")["outcome"],
        "passed"
    );
    let calls = runner_calls(&log);
    let alpha: Vec<&String> = calls.iter().filter(|c| !c.is_empty()).collect();
    assert!(
        alpha.iter().any(|c| c.as_str() == "--list")
            && alpha.iter().any(|c| c.contains("--exact tests::")),
        "whole, then listed after the crash and the rest run by name: {calls:?}"
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.as_str() == "--test-threads=1")
            .count(),
        3,
        "the three test binaries (alpha's and beta's libs, beta's quad) started whole: {calls:?}"
    );
}

/// The CPUs a `cpus` fixture run's tests could use: test name → (process id, the process's
/// `Cpus_allowed_list`, `available_parallelism()`).
fn cpus_seen(
    fx: &Fixture,
    label: &str,
    args: &[&str],
) -> BTreeMap<String, (String, String, usize)> {
    let dir = fx.path().join(format!("cpus-{label}"));
    std::fs::create_dir_all(&dir).unwrap();
    let r = fx.verify_with(args, |c| {
        c.env("XT_CPUS", &dir);
    });
    assert_eq!(r.code(), 0, "{label}: {}", r.stderr());
    recorded(&dir)
        .into_iter()
        .map(|(name, text)| {
            let f: Vec<&str> = text.split(' ').collect();
            let seen = (f[0].to_owned(), f[1].to_owned(), f[2].parse().unwrap());
            (name, seen)
        })
        .collect()
}

/// Under QEMU each test process is bound to one CPU, processes that run at once to different
/// ones; natively, and with `--no-cpu-binding`, a test may use every CPU, as under `cargo test`.
#[test]
fn emulated_test_processes_are_bound_one_to_a_cpu() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let fx = Fixture::new("cpus");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bound = cpus_seen(
        &fx,
        "bound",
        &["--target", AARCH64, "--no-cache", "-j", "2"],
    );
    assert_eq!(bound.len(), 32, "{bound:?}");
    for (name, (_, allowed, parallelism)) in &bound {
        assert_eq!(*parallelism, 1, "{name}: {bound:?}");
        assert!(
            allowed.parse::<usize>().is_ok(),
            "{name}: one CPU: {bound:?}"
        );
    }
    let processes: BTreeSet<&String> = bound.values().map(|(pid, _, _)| pid).collect();
    assert!(processes.len() > 2, "run in several batches: {bound:?}");
    let used: BTreeSet<&String> = bound.values().map(|(_, allowed, _)| allowed).collect();
    assert_eq!(used.len(), cpus.min(2), "two workers, two CPUs: {bound:?}");

    for (label, args) in [
        (
            "unbound",
            &[
                "--target",
                AARCH64,
                "--no-cache",
                "-j",
                "2",
                "--no-cpu-binding",
            ][..],
        ),
        ("native", &["--target", "host", "--no-cache", "-j", "2"][..]),
    ] {
        let seen = cpus_seen(&fx, label, args);
        assert_eq!(seen.len(), 32, "{label}: {seen:?}");
        for (name, (_, _, parallelism)) in &seen {
            assert_eq!(*parallelism, cpus, "{label} {name}: {seen:?}");
        }
    }
}

/// When a binary has more long tests than workers and whole tests can't be shared out evenly
/// among them (three of 1.5 s on two workers: 3 s one after another), the next run starts one of
/// them beyond the workers, unbound, and lets the OS share the CPUs: the three run at once. Each
/// of them had a process of its own, so the report gives its CPU time. With `-j 2`, two at a
/// time, as asked.
#[test]
fn more_long_tests_than_workers_run_at_once_next_time() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let cpus = two_cpus();
    if cpus.len() < 2 {
        return;
    }
    let fx = Fixture::new("crowd");
    let run = |label: &str, args: &[&str]| {
        let dir = fx.path().join(format!("times-{label}"));
        std::fs::create_dir_all(&dir).unwrap();
        let args = [&["--target", AARCH64, "--no-cache"][..], args].concat();
        let r = fx.verify_with(&args, |c| {
            c.env("XT_TIMES", &dir);
            // Two workers by default, whatever this machine has.
            on_cpus(c, cpus.clone());
        });
        assert_eq!(r.code(), 0, "{label}: {}", r.stderr());
        let seen: BTreeMap<String, (u128, u128, String)> = recorded(&dir)
            .into_iter()
            .map(|(name, text)| {
                let f: Vec<&str> = text.split(' ').collect();
                let seen = (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].to_owned(),
                );
                (name, seen)
            })
            .collect();
        assert_eq!(seen.len(), 7, "{label}: {seen:?}");
        (r, seen)
    };
    let longs = ["long_a", "long_b", "long_c"];
    // Some instant at which all three long tests were running.
    let together = |seen: &BTreeMap<String, (u128, u128, String)>| {
        let latest_start = longs.iter().map(|l| seen[*l].0).max().unwrap();
        let first_end = longs.iter().map(|l| seen[*l].1).min().unwrap();
        latest_start < first_end
    };
    // No history: seven tests are one batch, run one after another.
    let (_, first) = run("first", &[]);
    assert!(!together(&first), "{first:?}");

    let (second_run, second) = run("second", &[]);
    assert!(together(&second), "shared: {second:?}");
    for (name, (_, _, allowed)) in &second {
        let one_cpu = allowed.parse::<usize>().is_ok();
        if name.starts_with("long") {
            assert!(!one_cpu, "{name} is unbound: {second:?}");
        } else {
            assert!(one_cpu, "{name} takes a slot, bound: {second:?}");
        }
    }
    for long in longs {
        let t = second_run.test(AARCH64, "crowd", &format!("tests::{long}"));
        assert!(
            t["cpu_ms"].as_u64().is_some_and(|c| c > 0),
            "a process of its own: {t}"
        );
        assert_eq!(t["shared"], true, "{t}");
    }
    let quick = second_run.test(AARCH64, "crowd", "tests::quick_a");
    assert!(
        quick.get("cpu_ms").is_none(),
        "one process of four: {quick}"
    );
    assert!(quick.get("shared").is_none(), "in a slot: {quick}");

    // The history of a run that shared the CPUs still says to share them.
    let (_, third) = run("third", &[]);
    assert!(together(&third), "shared again: {third:?}");

    let (_, fixed) = run("fixed", &["-j", "2"]);
    assert!(!together(&fixed), "-j 2: {fixed:?}");
}

/// The first two CPUs this process may use.
fn two_cpus() -> Vec<usize> {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|list| {
            list.trim()
                .split(',')
                .flat_map(|range| {
                    let (a, b) = range.split_once('-').unwrap_or((range, range));
                    a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap()
                })
                .take(2)
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the command on `cpus` only (its affinity, set in the child before it execs).
fn on_cpus(c: &mut std::process::Command, cpus: Vec<usize>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: a zeroed cpu_set_t is a valid empty set, and the CPUs are this process's own.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for cpu in cpus {
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: the closure makes one system call, which is async-signal-safe.
    unsafe {
        c.pre_exec(move || {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            Ok(())
        });
    }
}
