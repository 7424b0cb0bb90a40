//! Fidelity: cargo-xtest runs the very executables `cargo test` builds, and runs them as `cargo
//! test` would. Each check compares against real cargo on the same workspace: the executables
//! `cargo test --no-run --message-format=json` lists (identical paths), for the default `test`
//! profile, `--release` and `--profile NAME`; and what a test process sees at run time (cargo's
//! variables, `[env]`, the library path, the working directory, a runner found through
//! `target.'cfg(..)'`), dumped by the test itself under both tools and compared line for line.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// `cargo SUBCOMMAND` as a user's shell starts it: through `PATH` (so `cargo xtest` finds this
/// build of cargo-xtest), without the variables this test process inherited from its own
/// `cargo test` (`CARGO_PKG_*`, `LD_LIBRARY_PATH`, …).
fn cargo(dir: &Path, args: &[&str]) -> Command {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_cargo-xtest"))
        .parent()
        .unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let mut cmd = Command::new("cargo");
    cmd.args(args)
        .current_dir(dir)
        .env("PATH", path)
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("LD_LIBRARY_PATH");
    for (k, _) in std::env::vars() {
        if (k.starts_with("CARGO") && k != "CARGO_HOME") || k.starts_with("RUST") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// The test executables `cargo test --no-run ARGS` builds, as cargo lists them.
fn cargo_test_executables(
    dir: &Path,
    args: &[&str],
    env: &[(String, String)],
) -> BTreeSet<PathBuf> {
    let mut cmd = cargo(dir, &["test", "--no-run", "--message-format=json"]);
    cmd.args(args).envs(env.iter().map(|(k, v)| (k, v)));
    let out = output_within(&mut cmd, WATCHDOG);
    assert!(
        out.status.success(),
        "cargo test --no-run {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["profile"]["test"] == true)
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .collect()
}

/// The test executables cargo-xtest ran for `triple`, from its report (all packages but `skip`).
fn xtest_executables(report: &Value, triple: &str, skip: &[String]) -> BTreeSet<PathBuf> {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["triple"] == triple)
        .flat_map(|t| t["packages"].as_array().unwrap())
        .filter(|p| !skip.iter().any(|s| p["name"] == s.as_str()))
        .flat_map(|p| p["executables"].as_object().into_iter().flatten())
        .map(|(_, path)| PathBuf::from(path.as_str().unwrap()))
        .collect()
}

fn read_report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written")).unwrap()
}

/// `cargo test`'s `--target` argument for a triple: none for the host, as a user runs it.
fn target_args(triple: &str) -> Vec<&str> {
    if triple == HOST {
        Vec::new()
    } else {
        vec!["--target", triple]
    }
}

#[test]
fn the_fixture_runs_cargo_tests_executables_with_cargo_tests_environment() {
    if !toolchains_present(&[S390X]) {
        return;
    }
    let fx = Fixture::new("fidelity");
    let dumps = tempfile::tempdir().unwrap();
    for triple in [HOST, S390X] {
        let report = fx.path().join(format!("report-{triple}.json"));
        let x_dump = dumps.path().join(format!("xtest-{triple}.txt"));
        let mut run = cargo(fx.path(), &["xtest", "--no-cache", "--target", triple]);
        run.arg("--report").arg(&report).env("XT_DUMP", &x_dump);
        let out = output_within(&mut run, WATCHDOG);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r = read_report(&report);
        let pkg = &r["targets"][0]["packages"][0];
        // Built with `[profile.test]` (debug assertions off) and, on s390x, with the rustflags of
        // `target.'cfg(target_arch = "s390x")'`: the tests themselves say so by passing.
        let tests: Vec<(&str, &str)> = pkg["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].as_str().unwrap(), t["outcome"].as_str().unwrap()))
            .collect();
        for name in [
            "tests::built_with_the_test_profile",
            "tests::cfg_keyed_rustflags_apply",
            "environment_as_cargo_test_gives_it",
        ] {
            assert!(
                tests.contains(&(name, "passed")),
                "{name} on {triple}: {tests:?}"
            );
        }

        // The same executables as `cargo test --no-run`: same paths (so same hashes).
        let ours = xtest_executables(&r, triple, &[]);
        assert_eq!(ours.len(), 3, "lib, bin and the integration test: {ours:?}");
        assert_eq!(
            ours,
            cargo_test_executables(fx.path(), &target_args(triple), &[]),
            "on {triple}"
        );

        // What the test saw is what it sees under `cargo test`.
        let c_dump = dumps.path().join(format!("cargo-{triple}.txt"));
        let mut plain = cargo(fx.path(), &["test"]);
        plain.args(target_args(triple)).env("XT_DUMP", &c_dump);
        let out = output_within(&mut plain, WATCHDOG);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seen_by_cargo = std::fs::read_to_string(&c_dump).unwrap();
        let seen_by_xtest = std::fs::read_to_string(&x_dump).unwrap();
        assert_eq!(seen_by_xtest, seen_by_cargo, "on {triple}");
        // Besides, cargo-xtest tells the test its target and its runner, and adds nothing else.
        let extra = |dump: &Path| {
            let mut p = dump.as_os_str().to_owned();
            p.push(".xtest");
            std::fs::read_to_string(p).unwrap()
        };
        assert_eq!(extra(&c_dump), "", "cargo test sets no XTEST_ variable");
        let kind = if triple == HOST { "native" } else { "custom" };
        assert_eq!(
            extra(&x_dump),
            format!("XTEST_RUNNER={kind}\nXTEST_TARGET={triple}")
        );
        for expected in [
            "CARGO_PKG_VERSION_PRE=rc.2",
            "CARGO_PKG_RUST_VERSION=1.70",
            "CARGO_PKG_AUTHORS=Ada <ada@example.org>:Grace",
            "XT_PLAIN=plain",
        ] {
            assert!(
                seen_by_xtest.contains(expected),
                "{expected}\n{seen_by_xtest}"
            );
        }
        // On the host the integration test gets its package's binary; on s390x the workspace's
        // runner is a `sh` script, and sh drops variables whose names are not identifiers
        // (`fid-tool`) — under `cargo test` just the same, as the comparison above shows.
        assert_eq!(
            seen_by_xtest.contains("CARGO_BIN_EXE_fid-tool="),
            triple == HOST,
            "{seen_by_xtest}"
        );
        assert!(seen_by_xtest.contains(&format!("XT_REL={}", fx.path().join("data").display())));
        assert!(seen_by_xtest.contains(&format!("cwd={}", fx.path().join("app").display())));
        // The workspace's own s390x runner, found through `target.'cfg(..)'.runner`, ran it.
        assert_eq!(
            seen_by_xtest.contains("XT_RUNNER=cfg-runner"),
            triple == S390X,
            "{seen_by_xtest}"
        );
    }
}

#[test]
fn release_and_named_profiles_build_what_cargo_test_builds() {
    let fx = Fixture::new("fidelity");
    for flags in [&["--release"][..], &["--profile", "ci"][..]] {
        let report = fx.path().join("report.json");
        let mut run = cargo(fx.path(), &["xtest", "--no-cache", "--target", "host"]);
        run.args(flags).arg("--report").arg(&report);
        let out = output_within(&mut run, WATCHDOG);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{flags:?}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let ours = xtest_executables(&read_report(&report), HOST, &[]);
        assert_eq!(ours.len(), 3, "{ours:?}");
        let dir = if flags[0] == "--release" {
            "release"
        } else {
            "ci"
        };
        assert!(
            ours.iter()
                .all(|p| p.starts_with(fx.path().join("target").join(dir))),
            "{flags:?}: {ours:?}"
        );
        assert_eq!(
            ours,
            cargo_test_executables(fx.path(), flags, &[]),
            "{flags:?}"
        );
    }
}

#[test]
fn the_example_runs_cargo_tests_executables_on_every_target() {
    if !toolchains_present(&[AARCH64, S390X, RISCV64]) {
        return;
    }
    let fx = Fixture::new("example");
    let report = fx.path().join("report.json");
    let mut run = cargo(fx.path(), &["xtest", "--no-fail-fast", "--no-doctests"]);
    run.arg("--report").arg(&report);
    let out = output_within(&mut run, WATCHDOG);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the example's planted failures fail the run\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = read_report(&report);
    for triple in [HOST, AARCH64, S390X, RISCV64] {
        let target = r["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["triple"] == triple)
            .unwrap();
        assert_eq!(target["level"], "test", "{triple}");
        // `cargo test --no-run` stops at the first crate that does not build, so the packages
        // planted to fail building on this target are left out of both sides.
        let broken: Vec<String> = target["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["failed_stage"] == "build-tests")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        let mut args: Vec<String> = vec!["--workspace".into()];
        for b in &broken {
            args.extend(["--exclude".into(), b.clone()]);
        }
        args.extend(target_args(triple).into_iter().map(str::to_owned));
        // The linker cargo-xtest detected is what a user of plain cargo sets by hand.
        let env: Vec<(String, String)> = match triple {
            HOST => Vec::new(),
            t => {
                let gnu = t.split('-').next().unwrap().trim_end_matches("gc");
                vec![(
                    format!("CARGO_TARGET_{}_LINKER", t.to_uppercase().replace('-', "_")),
                    format!("{gnu}-linux-gnu-gcc"),
                )]
            }
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let theirs = cargo_test_executables(fx.path(), &args, &env);
        let ours = xtest_executables(&r, triple, &broken);
        assert!(!ours.is_empty(), "{triple}");
        // `cargo test --target T` also builds and runs the proc-macro's tests, on the host:
        // cargo-xtest runs that very file once, under the host target.
        let (host_units, target_units): (BTreeSet<PathBuf>, BTreeSet<PathBuf>) = theirs
            .into_iter()
            .partition(|p| triple != HOST && p.starts_with(fx.path().join("target/debug")));
        assert_eq!(ours, target_units, "on {triple} (left out: {broken:?})");
        let on_host = xtest_executables(&r, HOST, &[]);
        assert!(
            host_units.is_subset(&on_host),
            "{triple}: {host_units:?} not run on the host ({on_host:?})"
        );
        if triple != HOST {
            assert_eq!(host_units.len(), 1, "the proc-macro's test: {host_units:?}");
        }
    }
}
