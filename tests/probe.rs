//! Probes, not presence: every rung above `check` is claimed only after a probe proved it on this
//! host. Each test recreates a real broken machine — the target C library's development files
//! hidden in a private mount namespace (a fresh Debian with `--no-install-recommends`), a runner
//! whose `-L` points nowhere, a runner that runs nothing, a linker for another architecture — and
//! checks that `doctor` names the problem and its fix, and that the plan steps down with the
//! probe's literal output as evidence while the rest of the workspace is still verified.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

fn plan_json(fx: &Fixture, args: &[&str], tweak: impl FnOnce(&mut Command)) -> Value {
    let mut cmd = fx.xtest(&["plan", "--format", "json"]);
    cmd.args(args);
    tweak(&mut cmd);
    let out = output_within(&mut cmd, WATCHDOG);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("plan is JSON")
}

fn target<'a>(plan: &'a Value, triple: &str) -> &'a Value {
    plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["triple"] == triple)
        .unwrap_or_else(|| panic!("no {triple} in {plan}"))
}

fn probe<'a>(t: &'a Value, kind: &str) -> &'a Value {
    &t["probes"][kind]
}

#[test]
fn without_the_target_c_library_doctor_names_it_and_no_rung_above_check_is_claimed() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let fx = Fixture::new("portable");
    let sysroot = "/usr/aarch64-linux-gnu";

    // doctor: the C library is MISSING with its package, the link and C probes failed with the
    // linker's and compiler's own words, the target reaches `check`, exit 1.
    let mut doctor = fx.xtest(&["doctor", "--color", "never", "--target", AARCH64]);
    doctor.env_remove("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER");
    let Some((mut cmd, _keep)) = without_c_library(sysroot, &doctor) else {
        return;
    };
    let out = output_within(&mut cmd, WATCHDOG);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no `{name}` line\n{stdout}"))
            .to_owned()
    };
    let libc = line("C library");
    assert!(libc.contains("MISSING"), "{libc}");
    assert!(
        libc.contains("cannot find") && libc.contains("crt"),
        "{libc}"
    );
    let link = line("link probe");
    assert!(link.contains("FAILED"), "{link}");
    let c = line("C probe");
    assert!(
        c.contains("FAILED") && c.contains("No such file or directory"),
        "{c}"
    );
    assert!(line("reaches").contains("check"), "{stdout}");
    assert!(
        stdout.contains("apt-get install -y libc6-dev-arm64-cross"),
        "the install command names the package\n{stdout}"
    );
    assert!(!stdout.contains("Nothing is missing"), "{stdout}");

    // The plan: aarch64 at `check`, one step down, proved by the link probe's own output.
    let mut plan = fx.xtest(&["plan", "--format", "json", "--target", AARCH64]);
    plan.arg("--target").arg(HOST);
    let (mut cmd, _keep) = without_c_library(sysroot, &plan).unwrap();
    let out = output_within(&mut cmd, WATCHDOG);
    assert_eq!(out.status.code(), Some(0));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = target(&plan, AARCH64);
    assert_eq!(t["level"], "check", "{t}");
    assert!(t["runner"].is_null());
    let d = &t["downgrades"][0];
    assert_eq!(
        (d["from"].as_str(), d["to"].as_str()),
        (Some("test"), Some("check"))
    );
    assert_eq!(d["cause"], "c-library-missing");
    assert!(
        d["fix"]
            .as_str()
            .unwrap()
            .ends_with("apt-get install -y libc6-dev-arm64-cross")
    );
    let e = &d["evidence"];
    assert_eq!(e["probe"], "link");
    assert!(
        e["command"]
            .as_str()
            .unwrap()
            .contains("--target aarch64-unknown-linux-gnu")
    );
    let evidence = e["line"].as_str().unwrap();
    assert!(
        evidence.contains("cannot find") && evidence.contains(".o"),
        "the linker's literal complaint: {evidence}"
    );
    assert!(e["output"].as_str().unwrap().contains(evidence));
    assert_eq!(probe(t, "link")["ok"], false);
    assert!(probe(t, "run").is_null(), "nothing linked, so nothing ran");
    // The host beside it is untouched and proved.
    let h = target(&plan, HOST);
    assert_eq!(h["level"], "test");
    assert_eq!(probe(h, "run")["ok"], true);

    // A verification follows the ladder: aarch64 checked, the host tested, and a step down alone
    // is not a failure.
    let report = fx.path().join("report.json");
    let mut verify = fx.xtest(&["--target", AARCH64, "--target", HOST]);
    verify.arg("--report").arg(&report);
    let (mut cmd, _keep) = without_c_library(sysroot, &verify).unwrap();
    let out = output_within(&mut cmd, WATCHDOG);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let t = r["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["triple"] == AARCH64)
        .unwrap();
    assert_eq!(t["level"], "check");
    for p in t["packages"].as_array().unwrap() {
        assert_eq!(p["level"], "check", "{p}");
        assert_eq!(p["outcome"], "passed", "{p}");
    }
    assert!(
        stdout.contains("link probe:"),
        "the evidence is shown\n{stdout}"
    );

    // With the policy requiring `test` there, the verdict fails (exit 1) and says why.
    fx.write(
        "Cargo.toml",
        &format!(
            "[workspace]\nresolver = \"2\"\nmembers = [\"alpha\", \"beta\"]\n\n[workspace.metadata.xtest.target.{AARCH64}]\nrequire = \"test\"\n"
        ),
    );
    let (mut cmd, _keep) = without_c_library(sysroot, &verify).unwrap();
    let out = output_within(&mut cmd, WATCHDOG);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("libc6-dev-arm64-cross"), "{stdout}");
}

#[test]
fn a_runner_that_cannot_run_the_probe_stops_the_target_at_build_tests() {
    if !toolchains_present(&[S390X]) {
        return;
    }
    let fx = Fixture::new("portable");
    let var = "CARGO_TARGET_S390X_UNKNOWN_LINUX_GNU_RUNNER";

    // QEMU starts, but its -L points nowhere: it cannot load the dynamic loader.
    let plan = plan_json(&fx, &["--target", S390X], |c| {
        c.env(var, "qemu-s390x -L /nonexistent/sysroot");
    });
    let t = target(&plan, S390X);
    assert_eq!(t["level"], "build-tests", "{t}");
    assert_eq!(probe(t, "link")["ok"], true);
    assert_eq!(probe(t, "run")["ok"], false);
    let d = &t["downgrades"][0];
    assert_eq!(d["cause"], "emulator-sysroot-missing");
    assert_eq!(d["evidence"]["probe"], "run");
    assert!(
        d["evidence"]["line"]
            .as_str()
            .unwrap()
            .contains("Could not open '/lib/ld64.so.1'"),
        "{d}"
    );
    assert!(
        d["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("{var}=\"qemu-s390x -L /usr/s390x-linux-gnu\"")),
        "{d}"
    );

    // A runner that exits 0 but runs nothing (it only echoes its arguments) proves nothing.
    let plan = plan_json(&fx, &["--target", S390X], |c| {
        c.env(var, "echo");
    });
    let t = target(&plan, S390X);
    assert_eq!(t["level"], "build-tests", "{t}");
    let d = &t["downgrades"][0];
    assert_eq!(d["cause"], "runner-broken");
    assert!(
        d["evidence"]["output"]
            .as_str()
            .unwrap()
            .contains("did not report its test passed"),
        "{d}"
    );
    assert!(
        d["fix"].as_str().unwrap().contains(&format!("env {var}")),
        "{d}"
    );

    // doctor agrees: the run probe FAILED, exit 1.
    let out = output_within(
        fx.xtest(&["doctor", "--color", "never", "--target", S390X])
            .env(var, "qemu-s390x -L /nonexistent/sysroot"),
        WATCHDOG,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("run probe") && l.contains("FAILED")),
        "{stdout}"
    );
}

#[test]
fn a_linker_for_another_architecture_is_refuted_by_the_link_probe() {
    if !toolchains_present(&[AARCH64, S390X]) {
        return;
    }
    let fx = Fixture::new("portable");
    let var = "CARGO_TARGET_S390X_UNKNOWN_LINUX_GNU_LINKER";
    let plan = plan_json(&fx, &["--target", S390X], |c| {
        c.env(var, "aarch64-linux-gnu-gcc");
    });
    let t = target(&plan, S390X);
    assert_eq!(t["level"], "check", "{t}");
    let d = &t["downgrades"][0];
    assert_eq!(d["cause"], "wrong-linker", "{d}");
    assert_eq!(d["evidence"]["probe"], "link");
    assert!(
        d["fix"]
            .as_str()
            .unwrap()
            .starts_with(&format!("set {var}=s390x-linux-gnu-gcc")),
        "{d}"
    );
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("`aarch64-linux-gnu-gcc`"),
        "{d}"
    );
}

#[test]
fn probe_results_are_cached_on_what_they_depend_on_and_reprobe_forces_them() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let fx = Fixture::new("portable");
    let args = ["--target", AARCH64];
    let cached = |plan: &Value| -> Vec<bool> {
        let t = target(plan, AARCH64);
        ["link", "run", "c-compiler"]
            .iter()
            .map(|k| {
                assert_eq!(probe(t, k)["ok"], true, "{t}");
                probe(t, k)["cached"].as_bool().unwrap()
            })
            .collect()
    };
    assert_eq!(cached(&plan_json(&fx, &args, |_| {})), [false; 3]);
    assert_eq!(cached(&plan_json(&fx, &args, |_| {})), [true; 3]);
    assert_eq!(
        cached(&plan_json(&fx, &["--target", AARCH64, "--reprobe"], |_| {})),
        [false; 3]
    );
    assert_eq!(cached(&plan_json(&fx, &args, |_| {})), [true; 3]);
    // Another linker (a wrapper around the same gcc) is another toolchain: probed again.
    let wrapper = fx.path().join("ld-wrapper.sh");
    std::fs::write(&wrapper, "#!/bin/sh\nexec aarch64-linux-gnu-gcc \"$@\"\n").unwrap();
    let mut perms = std::fs::metadata(&wrapper).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&wrapper, perms).unwrap();
    let plan = plan_json(&fx, &args, |c| {
        c.env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", &wrapper);
    });
    assert!(!cached(&plan)[0], "a new linker is probed again");
    assert!(
        target(&plan, AARCH64)["probes"]["link"]["command"]
            .as_str()
            .unwrap()
            .contains("ld-wrapper.sh")
    );
}

/// Probes made for a run that asked for more serve a run that asks for less, and a run that
/// asks for less does not make the next full run probe again (the workloads benchmark builds
/// with `--level build-tests`, then tests).
#[test]
fn probes_for_a_higher_level_serve_a_lower_one() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let fx = Fixture::new("portable");
    let kinds = |plan: &Value| -> Vec<Option<bool>> {
        let t = target(plan, AARCH64);
        ["link", "run", "c-compiler"]
            .iter()
            .map(|k| probe(t, k)["cached"].as_bool())
            .collect()
    };
    let full = ["--target", AARCH64];
    let lower = ["--target", AARCH64, "--level", "build-tests"];
    let plan = plan_json(&fx, &lower, |_| {});
    assert_eq!(
        kinds(&plan),
        [Some(false), None, Some(false)],
        "no run probe"
    );
    let plan = plan_json(&fx, &full, |_| {});
    assert_eq!(
        kinds(&plan),
        [Some(false); 3],
        "the run probe was never made"
    );
    assert_eq!(target(&plan, AARCH64)["level"], "test");
    let plan = plan_json(&fx, &lower, |_| {});
    assert_eq!(kinds(&plan), [Some(true), None, Some(true)]);
    assert_eq!(target(&plan, AARCH64)["level"], "build-tests");
    assert_eq!(kinds(&plan_json(&fx, &full, |_| {})), [Some(true); 3]);
}

/// Runs that probe the same target at once (two terminals, CI jobs sharing a checkout, this
/// suite's own tests) take turns: none runs a probe executable that another is rewriting, and
/// the one that waited reuses what the other proved.
#[test]
fn concurrent_runs_probing_one_target_take_turns() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let fx = Fixture::new("portable");
    for round in 0..3 {
        // `--reprobe` on one side: it relinks the probe however fresh the cache is.
        let mut children: Vec<_> = [&["--reprobe"][..], &[], &["--reprobe"]]
            .iter()
            .map(|extra| {
                let mut cmd = fx.xtest(&["plan", "--format", "json", "--target", AARCH64]);
                cmd.args(*extra)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                cmd.spawn().unwrap()
            })
            .collect();
        for child in children.drain(..) {
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let plan: Value = serde_json::from_slice(&out.stdout).expect("plan is JSON");
            let t = target(&plan, AARCH64);
            for kind in ["link", "run", "c-compiler"] {
                assert_eq!(probe(t, kind)["ok"], true, "round {round}, {kind}: {t}");
            }
            assert_eq!(t["level"], "test", "round {round}: {t}");
        }
    }
}
