//! A crashing test and a hanging test cost only themselves: the hang is killed with everything it
//! started (no orphan `sleep` or `qemu-*`), and the rest of the binary still runs.

mod common;

use common::*;

fn leftovers(pattern: &str) -> String {
    let out = std::process::Command::new("pgrep")
        .args(["-af", pattern])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn check(triple: &str, marker: &str) {
    let fx = Fixture::new("misbehave");
    let r = fx.verify_with(
        &["--target", triple, "--test-timeout", "3", "--no-fail-fast"],
        |c| {
            c.env("XTEST_MARKER", marker);
        },
    );
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let outcome = |name: &str| {
        r.test(triple, "misbehave", name)["outcome"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(outcome("tests::a_passes"), "passed");
    assert_eq!(outcome("tests::b_aborts"), "failed");
    assert_eq!(outcome("tests::c_hangs"), "timed-out");
    assert_eq!(
        outcome("tests::d_passes"),
        "passed",
        "the rest of the batch ran again"
    );
    let crash = r.test(triple, "misbehave", "tests::b_aborts")["output"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(crash.contains("SIGABRT"), "{crash}");
    let hang = r.test(triple, "misbehave", "tests::c_hangs");
    assert!(hang["duration_ms"].as_u64().unwrap() >= 3000, "{hang}");
    assert_eq!(hang["cause"], "timeout");
    assert!(
        hang["fix"].as_str().unwrap().contains("--test-timeout"),
        "{hang}"
    );
    // An abort that also happens on the host is not blamed on the target: no guess.
    let abort = r.test(triple, "misbehave", "tests::b_aborts");
    assert_eq!(abort["cause"], "unknown");
    assert!(
        abort["evidence"].as_str().unwrap().contains("SIGABRT"),
        "{abort}"
    );
    assert_eq!(r.package(triple, "misbehave")["failed_stage"], "test");
    // Nothing the hanging test started survives.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_grandchild_gone(&fx);
    assert_eq!(
        leftovers(&format!("sleep {marker}")),
        "",
        "orphan sleep left behind"
    );
    let fixture = fx.path().to_string_lossy().into_owned();
    assert_eq!(
        leftovers(&fixture),
        "",
        "orphan test binary or qemu left behind"
    );
}

#[test]
fn host_crash_and_hang_are_contained() {
    check(HOST, "91234.5");
}

#[test]
fn emulated_crash_and_hang_are_contained() {
    if !toolchains_present(&[S390X]) {
        return;
    }
    check(S390X, "91234.6");
}

#[test]
fn fail_fast_stops_scheduling_after_a_failure_and_reports_what_was_not_run() {
    let fx = Fixture::new("portable");
    let lib = std::fs::read_to_string(fx.path().join("alpha/src/lib.rs")).unwrap();
    fx.write(
        "alpha/src/lib.rs",
        &format!("{lib}\n#[test]\nfn broken() {{ panic!(\"planted\") }}\n"),
    );
    // One worker. Binaries start as cargo links them, so which ran before alpha failed depends
    // on cargo; the doctests, queued behind every binary, must never start.
    let r = fx.verify(&["--target", "host", "-j", "1", "--no-cache"]);
    assert_eq!(r.code(), 1);
    assert_eq!(r.test(HOST, "alpha", "broken")["outcome"], "failed");
    // Built but not run to the end: never a pass.
    let beta = r.package(HOST, "beta");
    assert_eq!(beta["outcome"], "not-run");
    assert_eq!(
        beta["level"], "build-tests",
        "beta was built but not fully run"
    );
    assert!(
        r.stdout().contains("package(s) not run to the end"),
        "{}",
        r.stdout()
    );
    for pkg in ["alpha", "beta"] {
        let not_run = r.package(HOST, pkg)["not_run"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            not_run.contains(&serde_json::json!("doc")),
            "{pkg}: {not_run:?}"
        );
    }
    assert!(
        r.package(HOST, "alpha")["tests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["binary"] != "doc"),
        "no doctest ran after the failure"
    );
    // --no-fail-fast runs everything.
    let r = fx.verify(&[
        "--target",
        "host",
        "-j",
        "1",
        "--no-fail-fast",
        "--no-cache",
    ]);
    assert_eq!(r.code(), 1);
    assert_eq!(r.package(HOST, "beta")["level"], "test");
    assert!(r.package(HOST, "beta").get("not_run").is_none());
    assert_eq!(r.test(HOST, "beta", "quadruples")["outcome"], "passed");
}

#[test]
fn sigint_keeps_finished_results_kills_children_and_exits_130() {
    stopped_by(libc::SIGINT);
}

/// A closed terminal or SSH session (SIGHUP) is handled like Ctrl-C and SIGTERM.
#[test]
fn sighup_keeps_finished_results_kills_children_and_exits_130() {
    stopped_by(libc::SIGHUP);
}

fn stopped_by(signal: i32) {
    let fx = Fixture::new("misbehave");
    let marker = format!("9123{signal}.7");
    let marker = marker.as_str();
    let report = fx.path().join("report.json");
    let mut child = fx
        .xtest(&["--target", "host", "--no-fail-fast"])
        .arg("--report")
        .arg(&report)
        .env("XTEST_MARKER", marker)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the hanging test (no timeout given) has started its grandchild.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while leftovers(&format!("sleep {marker}")).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the hanging test never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["interrupted"], true);
    let tests = json["targets"][0]["packages"][0]["tests"]
        .as_array()
        .unwrap();
    let outcome = |n: &str| {
        tests
            .iter()
            .find(|t| t["name"] == n)
            .map(|t| t["outcome"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        outcome("tests::a_passes").as_deref(),
        Some("passed"),
        "{tests:?}"
    );
    assert_eq!(
        outcome("tests::b_aborts").as_deref(),
        Some("failed"),
        "{tests:?}"
    );
    // The binary cut short is listed as not run, and its package is not a pass.
    let package = &json["targets"][0]["packages"][0];
    assert_eq!(package["outcome"], "failed", "{package}");
    assert_eq!(package["not_run"], serde_json::json!(["lib"]), "{package}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_grandchild_gone(&fx);
    assert_eq!(
        leftovers(&format!("sleep {marker}")),
        "",
        "orphan sleep left behind"
    );
    assert_eq!(
        leftovers(&fx.path().to_string_lossy()),
        "",
        "orphan test binary left behind"
    );
}

/// The hanging test wrote its grandchild's pid: it must have existed, and must be gone.
fn assert_grandchild_gone(fx: &Fixture) {
    let pid: i32 = std::fs::read_to_string(fx.path().join("hang.pid"))
        .expect("the hanging test ran and recorded its grandchild")
        .trim()
        .parse()
        .unwrap();
    // Gone, or a zombie: killed, waiting for an init that reaps (state `Z` in /proc/PID/stat).
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(") ")
                .map(|(_, rest)| rest.chars().next().unwrap_or('?'))
        });
    assert!(
        matches!(state, None | Some('Z') | Some('X')),
        "grandchild {pid} of the hung test survived (state {state:?})"
    );
}

/// A second Ctrl-C does not wait for the orderly stop: children die at once, exit 130.
#[test]
fn a_second_interrupt_stops_at_once_without_orphans() {
    let fx = Fixture::new("misbehave");
    let marker = "91239.7";
    let child = fx
        .xtest(&["--target", "host", "--no-fail-fast"])
        .env("XTEST_MARKER", marker)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while leftovers(&format!("sleep {marker}")).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the hanging test never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Two signals at once, as a second Ctrl-C does while the first is being handled. Two of the
    // same kind sent back to back may merge into one (the kernel keeps one pending signal per
    // kind), so the second is a SIGTERM: any second signal stops at once.
    // SAFETY: plain kill(2) on our own child's pid, twice.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stopped at once (second interrupt)"),
        "{stderr}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_grandchild_gone(&fx);
    assert_eq!(leftovers(&format!("sleep {marker}")), "", "orphan sleep");
    assert_eq!(
        leftovers(&fx.path().to_string_lossy()),
        "",
        "orphan test binary"
    );
}

/// Ctrl-C while cargo compiles is an interruption, not a build failure of every package.
#[test]
fn an_interrupt_during_the_build_is_reported_as_interrupted() {
    let fx = Fixture::new("example");
    let report = fx.path().join("report.json");
    let child = fx
        .xtest(&["--target", "host", "--no-cache"])
        .arg("--report")
        .arg(&report)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Cargo is compiling once its lock file or first unit shows in the target directory.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !fx.path().join("target/debug/.fingerprint").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the build never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("INTERRUPTED"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["interrupted"], true);
    for p in json["targets"][0]["packages"].as_array().unwrap() {
        assert_ne!(p["outcome"], "failed", "blamed for the interrupt: {p}");
        assert!(p["errors"].as_array().unwrap().is_empty(), "{p}");
        // Nothing interrupted before it was tested reads as a pass.
        assert_eq!(p["outcome"], "not-run", "{p}");
    }
}

/// A test that starts a daemon (a process leaving its process group that keeps the test's
/// output open) does not hang the run: the test's own outcome is kept, marked `leaked`, and the
/// run moves on at once — where `cargo test` piped into a file waits for the daemon.
#[test]
fn a_daemonised_descendant_is_leaked_not_waited_for() {
    let fx = Fixture::new("misbehave");
    fx.write("src/lib.rs", "");
    fx.write(
        "tests/daemon.rs",
        "#[test]\nfn starts_a_daemon() {\n    let marker = std::env::var(\"XTEST_MARKER\").unwrap();\n    std::process::Command::new(\"sh\").args([\"-c\", &format!(\"setsid sleep {marker} & echo $! > daemon.pid; sleep 0.3\")]).status().unwrap();\n}\n",
    );
    let marker = "91240.3";
    let start = std::time::Instant::now();
    let r = fx.verify_with(&["--target", "host", "--test-timeout", "30"], |c| {
        c.env("XTEST_MARKER", marker);
    });
    let took = start.elapsed();
    let pid = std::fs::read_to_string(fx.path().join("daemon.pid")).unwrap_or_default();
    if let Ok(pid) = pid.trim().parse::<i32>() {
        // SAFETY: kill(2) of the daemon the test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let t = r.test(HOST, "misbehave", "starts_a_daemon");
    assert_eq!(t["outcome"], "passed", "{t}");
    assert_eq!(t["leaked"], true, "{t}");
    assert!(r.stdout().contains("LEAKED"), "{}", r.stdout());
    assert!(took < std::time::Duration::from_secs(25), "waited {took:?}");
}

/// Of tests that shared a process, only the one that left a daemon running is marked
/// `leaked`: the daemon's start, from `/proc`, falls in its span, not its neighbours'. (It
/// starts it 0.2 s in: `/proc` counts starts in 10 ms ticks, and a daemon started within the
/// margin of a test's start also marks the test before; `blame`'s unit test has those edges.)
#[test]
fn a_daemon_is_blamed_on_the_test_that_started_it_not_its_neighbours() {
    let fx = Fixture::new("misbehave");
    fx.write("src/lib.rs", "");
    let quiet = |name: &str| {
        format!(
            "#[test]\nfn {name}() {{\n    std::thread::sleep(std::time::Duration::from_millis(300));\n}}\n"
        )
    };
    fx.write(
        "tests/daemon.rs",
        &format!(
            "{}{}#[test]\nfn b_starts_a_daemon() {{\n    let marker = std::env::var(\"XTEST_MARKER\").unwrap();\n    std::process::Command::new(\"sh\").args([\"-c\", &format!(\"sleep 0.2; setsid sleep {{marker}} & echo $! > daemon.pid; sleep 0.3\")]).status().unwrap();\n}}\n",
            quiet("a_before"),
            quiet("c_after")
        ),
    );
    let marker = "91240.4";
    // One worker: the three tests share one process.
    let r = fx.verify_with(&["--target", "host", "-j", "1", "--no-cache"], |c| {
        c.env("XTEST_MARKER", marker);
    });
    let pid = std::fs::read_to_string(fx.path().join("daemon.pid")).unwrap_or_default();
    if let Ok(pid) = pid.trim().parse::<i32>() {
        // SAFETY: kill(2) of the daemon the test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let leaked = |name: &str| r.test(HOST, "misbehave", name).get("leaked").cloned();
    assert_eq!(
        leaked("b_starts_a_daemon"),
        Some(serde_json::Value::Bool(true))
    );
    assert_eq!(leaked("a_before"), None, "{}", r.stdout());
    assert_eq!(leaked("c_after"), None, "{}", r.stdout());
}

/// A write that fails (here a file-size limit, as `ulimit -f` sets; a full disk is the same
/// error path) leaves the previous report as it was, prints the summary anyway, and ends with
/// one line and exit 3. New files get ordinary permissions, not a temporary file's 0600.
#[test]
fn a_failed_write_keeps_the_previous_report_and_still_prints_the_summary() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let fx = Fixture::new("portable");
    let report = fx.path().join("report.json");
    let report_arg = format!("--report={}", report.display());
    let first = fx
        .xtest(&["--target", "host", "--no-doctests", &report_arg])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0));
    let good = std::fs::read(&report).unwrap();
    let mode = std::fs::metadata(&report).unwrap().permissions().mode() & 0o777;
    let fresh = fx.path().join("fresh");
    std::fs::write(&fresh, "").unwrap();
    let usual = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, usual,
        "report mode {mode:o}, a new file gets {usual:o}"
    );

    // Smaller than the report: its write fails midway.
    let limit = good.len() as u64 / 2;
    // Built already; no doctests, which rustdoc would have to write out again.
    let mut cmd = fx.xtest(&[
        "--target",
        "host",
        "--no-cache",
        "--no-doctests",
        &report_arg,
    ]);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("PASSED"),
        "the summary is printed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: cannot write the report to")
            && last.contains("File too large")
            && last.contains("ulimit -f"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&report).unwrap(),
        good,
        "previous report intact"
    );
    let leftovers: Vec<_> = std::fs::read_dir(fx.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
