//! Conformance: on a workspace, every test's outcome under `cargo xtest` equals plain `cargo test
//! --no-fail-fast`'s, target by target, and cargo-xtest runs the very executables cargo runs.
//!
//! [`compare`] is the harness: it takes a workspace directory, a target and the environment both
//! tools run with, runs real `cargo test` and real `cargo xtest` there, and lists every
//! disagreement. A new shape is one more fixture (or one more target in `tests/fixtures/
//! conformance`), not new code. Where a shape does not apply to a target, the test says why.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

/// What one `cargo test` run said: per executable (or `doc:<crate>`), its tests and outcomes,
/// and which targets it reported failed (`-p PKG --KIND NAME`, as in "to rerun pass").
#[derive(Debug, Default)]
struct CargoRun {
    /// Executable path (or `doc:<crate>`) → test name → `ok` / `FAILED` / `ignored`.
    tests: BTreeMap<String, BTreeMap<String, String>>,
    /// `(package, binary id)` of every target cargo reported failed.
    failed: BTreeSet<(String, String)>,
    /// Executables that spoke libtest (`running N tests`): a `harness = false` one does not.
    libtest: BTreeSet<String>,
}

/// Reads `cargo test`'s merged stdout and stderr.
fn parse_cargo_test(text: &str, dir: &Path) -> CargoRun {
    let mut run = CargoRun::default();
    let mut current: Option<String> = None;
    // A test that ended its process before libtest finished its line (`test NAME ... `) leaves
    // cargo's next line on the same one: split it off.
    let lines = text.lines().flat_map(|line| {
        let cut = ["     Running ", "   Doc-tests "]
            .iter()
            .filter_map(|m| line.find(m).filter(|at| *at > 0))
            .min();
        match cut {
            Some(at) if line.starts_with("test ") => vec![&line[..at], &line[at..]],
            _ => vec![line],
        }
    });
    for line in lines {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("Running ")
            && let Some(open) = rest.rfind(" (")
            && rest.ends_with(')')
        {
            let path = &rest[open + 2..rest.len() - 1];
            let path = dir.join(path).display().to_string();
            run.tests.entry(path.clone()).or_default();
            current = Some(path);
        } else if let Some(krate) = trimmed.strip_prefix("Doc-tests ") {
            let key = format!("doc:{krate}");
            run.tests.entry(key.clone()).or_default();
            current = Some(key);
        } else if line.starts_with("running ")
            && (line.ends_with(" tests") || line.ends_with(" test"))
            && let Some(cur) = &current
        {
            run.libtest.insert(cur.clone());
        } else if let Some(rest) = line.strip_prefix("test ")
            && let Some((name, outcome)) = rest.rsplit_once(" ... ")
            && let Some(cur) = &current
        {
            let outcome = outcome.split(',').next().unwrap_or_default().trim();
            // libtest shows a #[should_panic] test as `NAME - should panic`, a doctest as
            // `NAME - compile fail`, `- compile` (no_run) or `- no_run`: cargo-xtest reports
            // the test's own name.
            let name = [
                " - should panic",
                " - compile fail",
                " - compile",
                " - no_run",
            ]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
            if matches!(outcome, "ok" | "FAILED" | "ignored") {
                run.tests
                    .get_mut(cur)
                    .unwrap()
                    .insert(name.to_owned(), outcome.to_owned());
            }
        }
        // "error: test failed, to rerun pass `-p conform --lib`" and the closing list.
        if line.starts_with("error:") || line.starts_with("    `") {
            for quoted in line.split('`').skip(1).step_by(2) {
                if let Some(target) = rerun_target(quoted) {
                    run.failed.insert(target);
                }
            }
        }
    }
    run
}

/// `-p PKG --KIND [NAME]` → (package, cargo-xtest's binary id); `None` for anything else.
fn rerun_target(args: &str) -> Option<(String, String)> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let (pkg, rest) = match words.as_slice() {
        ["-p", pkg, rest @ ..] => ((*pkg).to_owned(), rest),
        rest => (String::new(), rest),
    };
    let id = match rest {
        ["--lib"] => "lib".to_owned(),
        ["--doc"] => "doc".to_owned(),
        [kind @ ("--bin" | "--test" | "--example" | "--bench"), name] => {
            format!("{}/{name}", &kind[2..])
        }
        _ => return None,
    };
    Some((pkg, id))
}

/// Runs plain `cargo test --no-fail-fast` (with `--target` for a cross target, and for the host
/// where cargo's configuration names another default target) in `dir`.
fn cargo_test(dir: &Path, triple: &str, env: &[(String, String)]) -> (CargoRun, String) {
    let mut cmd = Command::new("bash");
    cmd.args([
        "-c",
        "exec \"$@\" 2>&1",
        "--",
        "cargo",
        "test",
        "--no-fail-fast",
    ])
    .current_dir(dir)
    .env("CARGO_TERM_COLOR", "never")
    .env_remove("CARGO_TARGET_DIR")
    .env_remove("RUST_BACKTRACE")
    .env_remove("LD_LIBRARY_PATH");
    if triple != HOST || configured_target(dir) {
        cmd.args(["--target", triple]);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let out = output_within(&mut cmd, WATCHDOG);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (parse_cargo_test(&text, dir), text)
}

/// The workspace's cargo configuration sets `[build] target`.
fn configured_target(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(".cargo/config.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| t.get("build").and_then(|b| b.get("target")).is_some())
}

/// What a comparison found.
struct Comparison {
    /// Every disagreement, one line each.
    mismatches: Vec<String>,
    /// Test outcomes compared one by one.
    compared: usize,
    /// Executables cargo ran that are host units (a proc-macro's tests): cargo-xtest runs those
    /// once, in the host's column, as plain `cargo test` builds them.
    host_units: Vec<String>,
    cargo_output: String,
    xtest_failures: String,
}

impl Comparison {
    /// No disagreement, and at least `want` outcomes compared (a comparison of nothing fails).
    fn assert_agrees(&self, triple: &str, want: usize) {
        assert!(
            self.mismatches.is_empty(),
            "cargo-xtest disagrees with cargo test on {triple}:\n{}\n\n--- cargo test:\n{}\n--- cargo-xtest:\n{}",
            self.mismatches.join("\n"),
            self.cargo_output,
            self.xtest_failures
        );
        assert!(
            self.compared >= want,
            "only {} outcomes compared on {triple}:\n{}",
            self.compared,
            self.cargo_output
        );
    }
}

/// Runs `cargo test --no-fail-fast` and `cargo xtest --no-fail-fast` on `dir` for `triple`, with
/// `env` for both (`cargo_only` only for `cargo test`: the linker and runner cargo-xtest finds
/// itself), and compares every test's outcome and every executable's path.
fn compare(
    dir: &Path,
    triple: &str,
    env: &[(String, String)],
    cargo_only: &[(String, String)],
) -> Comparison {
    let both: Vec<(String, String)> = env.iter().chain(cargo_only).cloned().collect();
    let (cargo, cargo_output) = cargo_test(dir, triple, &both);
    let report_path = dir.join(format!("xtest-{triple}.json"));
    let mut cmd = xtest();
    cmd.args([
        "--no-fail-fast",
        "--no-cache",
        "--target",
        triple,
        "--report",
    ])
    .arg(&report_path)
    .current_dir(dir)
    .env("CARGO_TERM_COLOR", "never")
    .env_remove("CARGO_TARGET_DIR")
    .env_remove("RUST_BACKTRACE")
    .envs(env.iter().map(|(k, v)| (k, v)));
    let out = output_within(&mut cmd, WATCHDOG);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap_or_else(|_| {
            panic!(
                "cargo xtest wrote no report:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        }))
        .unwrap();
    let run = Run {
        output: out,
        json: Some(report.clone()),
    };
    let mut mismatches = Vec::new();
    let target = target_in(&report, triple);
    // cargo-xtest's side: executable path → (package, binary id); (package, binary) → tests.
    let mut exes: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut xtests: BTreeMap<(String, String), BTreeMap<String, String>> = BTreeMap::new();
    for p in target["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap().to_owned();
        for (id, path) in p["executables"].as_object().into_iter().flatten() {
            exes.insert(
                path.as_str().unwrap().to_owned(),
                (name.clone(), id.clone()),
            );
        }
        for t in p["tests"].as_array().into_iter().flatten() {
            xtests
                .entry((name.clone(), t["binary"].as_str().unwrap().to_owned()))
                .or_default()
                .insert(
                    t["name"].as_str().unwrap().to_owned(),
                    t["outcome"].as_str().unwrap().to_owned(),
                );
        }
    }
    let agree = |cargo: &str, xtest: &str| {
        matches!(
            (cargo, xtest),
            ("ok", "passed") | ("FAILED", "failed" | "timed-out") | ("ignored", "ignored")
        )
    };
    let own_dir = dir.join("target").join(triple);
    let mut compared = 0;
    let mut host_units = Vec::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for (exe, tests) in &cargo.tests {
        let key = if let Some(krate) = exe.strip_prefix("doc:") {
            let pkg = target["packages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .find(|n| n.replace('-', "_") == krate);
            match pkg {
                Some(p) => (p, "doc".to_owned()),
                None if tests.is_empty() => continue,
                None => {
                    mismatches.push(format!(
                        "cargo test ran the doctests of `{krate}`, cargo-xtest has no such package"
                    ));
                    continue;
                }
            }
        } else if triple != HOST && !Path::new(exe).starts_with(&own_dir) {
            // Built for the host by a build for another target.
            host_units.push(exe.clone());
            continue;
        } else {
            match exes.get(exe) {
                Some(k) => k.clone(),
                None => {
                    mismatches.push(format!(
                        "cargo test ran {exe}; cargo-xtest did not run that executable ({} others it ran)",
                        exes.len()
                    ));
                    continue;
                }
            }
        };
        seen.insert(key.clone());
        let empty = BTreeMap::new();
        let theirs = xtests.get(&key).unwrap_or(&empty);
        let cargo_failed = cargo.failed.contains(&key);
        let xtest_failed = theirs
            .values()
            .any(|o| matches!(o.as_str(), "failed" | "timed-out"));
        if cargo_failed != xtest_failed {
            mismatches.push(format!(
                "{} {}: cargo test says {}, cargo-xtest says {} ({theirs:?})",
                key.0,
                key.1,
                if cargo_failed { "failed" } else { "passed" },
                if xtest_failed { "failed" } else { "passed" },
            ));
        }
        if tests.is_empty() && theirs.is_empty() && !cargo_failed && !cargo.libtest.contains(exe) {
            mismatches.push(format!(
                "{} {}: cargo test ran it (it passed), cargo-xtest reports no test of it",
                key.0, key.1
            ));
        }
        for (name, outcome) in tests {
            compared += 1;
            match theirs.get(name) {
                Some(x) if agree(outcome, x) => {}
                Some(x) => mismatches.push(format!(
                    "{} {} {name}: cargo test {outcome}, cargo-xtest {x}",
                    key.0, key.1
                )),
                None => mismatches.push(format!(
                    "{} {} {name}: cargo test {outcome}, cargo-xtest did not run it",
                    key.0, key.1
                )),
            }
        }
        // A binary that printed its results: cargo-xtest ran no test it did not.
        if !tests.is_empty() {
            for name in theirs.keys().filter(|n| !tests.contains_key(*n)) {
                if !cargo_failed {
                    mismatches.push(format!(
                        "{} {} {name}: cargo-xtest ran it, cargo test did not",
                        key.0, key.1
                    ));
                }
            }
        }
    }
    for key in xtests.keys().filter(|k| !seen.contains(*k)) {
        mismatches.push(format!(
            "{} {}: cargo-xtest ran its tests, cargo test did not",
            key.0, key.1
        ));
    }
    Comparison {
        mismatches,
        compared,
        host_units,
        cargo_output,
        xtest_failures: format!("{}\n{}", run.stderr(), run.failures()),
    }
}

/// Linker and runner for plain `cargo test --target T`, as a user configures them (cargo-xtest
/// finds its own).
fn cross_env(triple: &str, dir: &Path) -> Vec<(String, String)> {
    // musl executables are static and link with the rust-lld rustc ships; they run natively.
    if triple == HOST || triple == MUSL {
        return Vec::new();
    }
    if triple == WASIP1 {
        return vec![(
            "CARGO_TARGET_WASM32_WASIP1_RUNNER".to_owned(),
            "wasmtime run --dir=. --dir=/ -S inherit-env".to_owned(),
        )];
    }
    if triple == WINDOWS_GNU {
        // The Wine prefix cargo-xtest's run probe prepared (with the `ProcessPrng` DLL Rust's
        // std needs and Wine 8 lacks): the same Wine, started the same way.
        let mut plan = xtest();
        plan.args(["plan", "--target", triple])
            .current_dir(dir)
            .env_remove("CARGO_TARGET_DIR");
        output_within(&mut plan, WATCHDOG);
        let prefix = dir.join("target/xtest/wine").join(triple);
        assert!(prefix.is_dir(), "no Wine prefix at {}", prefix.display());
        return vec![
            (
                "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER".to_owned(),
                "x86_64-w64-mingw32-gcc".to_owned(),
            ),
            (
                "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER".to_owned(),
                "wine".to_owned(),
            ),
            ("WINEPREFIX".to_owned(), prefix.display().to_string()),
            ("WINEDEBUG".to_owned(), "-all".to_owned()),
        ];
    }
    let (gnu, qemu) = match triple {
        AARCH64 => ("aarch64-linux-gnu", "qemu-aarch64"),
        S390X => ("s390x-linux-gnu", "qemu-s390x"),
        RISCV64 => ("riscv64-linux-gnu", "qemu-riscv64"),
        I686 => ("i686-linux-gnu", "qemu-i386"),
        POWERPC => ("powerpc-linux-gnu", "qemu-ppc"),
        other => panic!("no cross set-up for {other}"),
    };
    let var = triple.to_uppercase().replace('-', "_");
    vec![
        (format!("CARGO_TARGET_{var}_LINKER"), format!("{gnu}-gcc")),
        (
            format!("CARGO_TARGET_{var}_RUNNER"),
            format!("{qemu} -L /usr/{gnu}"),
        ),
    ]
}

/// The conformance fixture on one target: every shape (`harness = false`, examples and benches
/// with `test = true`, build-script `OUT_DIR` and `rustc-env` at run time, a shared library a
/// build script built, a proc-macro's tests with RUSTFLAGS, `[env]`, a crash, `default-members`,
/// `required-features`, a same-named lib and bin, doctests) agrees with `cargo test`.
fn conforms_on(triple: &str) {
    if !toolchains_present(&[triple]) {
        return;
    }
    let fx = Fixture::new("conformance");
    let env = vec![("RUSTFLAGS".to_owned(), "--cfg conform_flag".to_owned())];
    let c = compare(fx.path(), triple, &env, &cross_env(triple, fx.path()));
    // Nothing vacuous: cargo ran the fixture's tests and each was compared (23 on the host,
    // where the proc-macro's two run too).
    // natlib's shared library is for dynamically linked glibc targets only (musl's executables
    // are static): on musl its test is not built, one outcome fewer.
    // Nor does it on Windows: cargo on a Linux host names its loader path LD_LIBRARY_PATH
    // whatever the target, which Wine does not search for DLLs (and there is no C compiler for
    // WASI here).
    // WASI's tests are built with panic=abort: a failing test ends `cargo test`'s process, and
    // the tests after it in that executable have no outcome to compare (cargo-xtest runs them:
    // the executable's failure is compared, and cargo's outcomes, 14 of them).
    let want = match triple {
        HOST => 23,
        MUSL | WINDOWS_GNU => 20,
        WASIP1 => 14,
        _ => 21,
    };
    c.assert_agrees(triple, want);
    if triple != HOST {
        // `cargo test --target T` runs the proc-macro's host tests again, built without
        // RUSTFLAGS; cargo-xtest runs them once, in the host's column.
        assert_eq!(c.host_units.len(), 1, "{:?}", c.host_units);
    }
}

#[test]
fn conforms_on_the_host() {
    conforms_on(HOST);
}

#[test]
fn conforms_on_aarch64() {
    conforms_on(AARCH64);
}

#[test]
fn conforms_on_s390x() {
    conforms_on(S390X);
}

#[test]
fn conforms_on_riscv64gc() {
    conforms_on(RISCV64);
}

#[test]
fn conforms_on_i686() {
    conforms_on(I686);
}

#[test]
fn conforms_on_powerpc() {
    conforms_on(POWERPC);
}

#[test]
fn conforms_on_musl() {
    conforms_on(MUSL);
}

/// The fixture with Rust's std linked dynamically (`-C prefer-dynamic`, what a workspace with a
/// `dylib` member needs): every test executable then loads `libstd-*.so` from the sysroot, found
/// through the loader path cargo gives it — under QEMU too.
fn conforms_dynamically_on(triple: &str) {
    if !toolchains_present(&[triple]) {
        return;
    }
    let fx = Fixture::new("conformance");
    let env = vec![(
        "RUSTFLAGS".to_owned(),
        "--cfg conform_flag -C prefer-dynamic".to_owned(),
    )];
    let c = compare(fx.path(), triple, &env, &cross_env(triple, fx.path()));
    c.assert_agrees(triple, if triple == HOST { 23 } else { 21 });
}

#[test]
fn conforms_with_a_dynamic_std_on_the_host() {
    conforms_dynamically_on(HOST);
}

#[test]
fn conforms_with_a_dynamic_std_on_aarch64() {
    conforms_dynamically_on(AARCH64);
}

#[test]
fn conforms_on_windows_gnu() {
    conforms_on(WINDOWS_GNU);
}

#[test]
fn conforms_on_wasip1() {
    conforms_on(WASIP1);
}

/// The target `triple` of a cargo-xtest report.
fn target_in<'a>(report: &'a Value, triple: &str) -> &'a Value {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["triple"] == triple)
        .expect("the target is in the report")
}

/// The packages cargo-xtest reported failed in `report`, with their causes, for `triple`.
fn causes(report: &Value, triple: &str) -> Vec<(String, String)> {
    let target = target_in(report, triple);
    target["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["errors"].as_array().into_iter().flatten().map(|e| {
                (
                    p["name"].as_str().unwrap().to_owned(),
                    format!("{} {}", e["cause"].as_str().unwrap(), e["fix"]),
                )
            })
        })
        .collect()
}

/// Shared libraries a build script makes, gone wrong: built for the host by a script that calls
/// `cc` for every target (the linker skips it), and missing when the test starts (the loader
/// names it). Each is diagnosed with the package and the library.
#[test]
fn a_build_script_library_gone_wrong_is_named() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let fx = Fixture::new("conformance");
    let xtest_natlib = |triple: &str, env: &[(&str, &str)]| {
        let report = fx.path().join("natlib.json");
        let mut cmd = xtest();
        cmd.args([
            "--no-fail-fast",
            "--no-cache",
            "-p",
            "natlib",
            "--target",
            triple,
        ])
        .arg("--report")
        .arg(&report)
        .current_dir(fx.path())
        .env_remove("CARGO_TARGET_DIR")
        .envs(env.iter().copied());
        let out = output_within(&mut cmd, WATCHDOG);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        causes(&json, triple)
    };
    let found = xtest_natlib(AARCH64, &[("NATLIB_HOST_CC", "1")]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].1.starts_with("foreign-native-library")
            && found[0]
                .1
                .contains("build script of `natlib` built `libgreet.so`"),
        "{found:?}"
    );
    // Built right, then the library removed: the test executable cannot start.
    let mut built = xtest();
    built
        .args(["--no-cache", "-p", "natlib", "--target", HOST])
        .current_dir(fx.path())
        .env_remove("CARGO_TARGET_DIR");
    assert!(output_within(&mut built, WATCHDOG).status.success());
    let out_dirs = std::fs::read_dir(fx.path().join("target/debug/build")).unwrap();
    let mut removed = 0;
    for d in out_dirs.flatten() {
        removed += std::fs::remove_file(d.path().join("out/libgreet.so")).is_ok() as usize;
    }
    assert_eq!(removed, 1);
    let found = xtest_natlib(HOST, &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].1.starts_with("shared-library-missing") && found[0].1.contains("`libgreet.so`"),
        "{found:?}"
    );
}

/// The harness on any workspace: `XTEST_CONFORM_DIR=<workspace> [XTEST_CONFORM_TARGET=<triple>]
/// cargo test --test conformance -- any_workspace --nocapture` compares every test's outcome
/// there with `cargo test --no-fail-fast` (a cross target gets the Debian cross gcc and QEMU as
/// its linker and runner for `cargo test`) and prints how many agreed. Without them it runs on
/// the fixture, for the host, with no environment of its own.
#[test]
fn any_workspace() {
    let fixture;
    let dir = match std::env::var_os("XTEST_CONFORM_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            fixture = Fixture::new("conformance");
            fixture.path().to_owned()
        }
    };
    let triple = std::env::var("XTEST_CONFORM_TARGET").unwrap_or_else(|_| HOST.to_owned());
    if !toolchains_present(&[triple.as_str()]) {
        return;
    }
    let c = compare(&dir, &triple, &[], &cross_env(&triple, &dir));
    println!(
        "{triple}: {} outcomes compared, {} disagreements",
        c.compared,
        c.mismatches.len()
    );
    c.assert_agrees(&triple, 1);
}

#[test]
fn cargo_test_output_is_read_per_executable() {
    let text = "     Running unittests src/lib.rs (target/debug/deps/a-1)\n\nrunning 1 test\ntest t::x ... ok\ntest t::y ... ignored, why\ntest t::p - should panic ... ok\ntest t::z ...      Running tests/q.rs (target/debug/deps/q-3)\n\n     Running tests/p.rs (target/debug/deps/p-2)\nerror: test failed, to rerun pass `-p a --test p`\n   Doc-tests a\ntest src/lib.rs - f (line 3) ... FAILED\nerror: 2 targets failed:\n    `-p a --test p`\n    `-p a --doc`\n";
    let run = parse_cargo_test(text, Path::new("/w"));
    let lib = &run.tests["/w/target/debug/deps/a-1"];
    assert_eq!(lib["t::x"], "ok");
    assert_eq!(lib["t::y"], "ignored");
    assert_eq!(lib["t::p"], "ok");
    assert!(run.tests["/w/target/debug/deps/p-2"].is_empty());
    assert!(run.tests["/w/target/debug/deps/q-3"].is_empty());
    assert!(run.libtest.contains("/w/target/debug/deps/a-1"));
    assert!(!run.libtest.contains("/w/target/debug/deps/p-2"));
    assert_eq!(run.tests["doc:a"]["src/lib.rs - f (line 3)"], "FAILED");
    let failed: Vec<(String, String)> = run.failed.into_iter().collect();
    assert_eq!(
        failed,
        [
            ("a".to_owned(), "doc".to_owned()),
            ("a".to_owned(), "test/p".to_owned())
        ]
    );
}

/// `[build] target` in cargo's configuration: a plain `cargo xtest` verifies that target (what a
/// plain `cargo test` there tests), and `--target host` is still the host, built and run with an
/// explicit `--target` exactly as `cargo test --target <host>` does.
#[test]
fn a_configured_default_target_is_the_default_and_the_host_stays_the_host() {
    if !toolchains_present(&[S390X]) {
        return;
    }
    let fx = Fixture::new("conformance");
    fx.write(
        ".cargo/config.toml",
        "[env]\nCONFORM_CONFIG = \"from-config\"\n\n[build]\ntarget = \"s390x-unknown-linux-gnu\"\n",
    );
    let mut plan = xtest();
    plan.args(["plan", "--format", "json"])
        .current_dir(fx.path())
        .env_remove("CARGO_TARGET_DIR");
    let out = output_within(&mut plan, WATCHDOG);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "plan printed no JSON:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let triples: Vec<&str> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["triple"].as_str().unwrap())
        .collect();
    assert_eq!(triples, [S390X]);
    let env = vec![("RUSTFLAGS".to_owned(), "--cfg conform_flag".to_owned())];
    let c = compare(fx.path(), HOST, &env, &[]);
    c.assert_agrees(HOST, 23);
    // The host's executables are those of `--target <host>`, not of the configured target.
    assert!(
        c.cargo_output
            .contains(&format!("target/{HOST}/debug/deps/conform-")),
        "{}",
        c.cargo_output
    );
}

/// `run --archive` gives the tests what `cargo test` gives them, on another machine's paths: the
/// build script's `OUT_DIR` (packed with its files) and the shared library a build script built
/// (on the loader path), with the workspace's own target directory gone.
#[test]
fn an_archive_carries_out_dir_and_build_script_libraries() {
    if !toolchains_present(&[AARCH64]) {
        return;
    }
    let fx = Fixture::new("conformance");
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("aarch64.tar.gz");
    let mut pack = xtest();
    pack.args([
        "archive", "--target", AARCH64, "-p", "gen", "-p", "natlib", "-o",
    ])
    .arg(&archive)
    .current_dir(fx.path())
    .env_remove("CARGO_TARGET_DIR");
    let out = output_within(&mut pack, WATCHDOG);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(fx.path().join("target")).unwrap();
    let report = work.path().join("report.json");
    let mut run = xtest();
    run.args(["run", "--no-fail-fast", "--archive"])
        .arg(&archive)
        .arg("--report")
        .arg(&report)
        .current_dir(work.path());
    let out = output_within(&mut run, WATCHDOG);
    assert_exit(&out, 0);
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let outcome = |pkg: &str, name: &str| -> String {
        json["targets"][0]["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == pkg)
            .flat_map(|p| p["tests"].as_array().unwrap().clone())
            .find(|t| t["name"] == name)
            .map(|t| t["outcome"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| format!("not run: {json}"))
    };
    assert_eq!(outcome("gen", "tests::run_time_out_dir"), "passed");
    assert_eq!(outcome("gen", "tests::run_time_rustc_env"), "passed");
    assert_eq!(
        outcome("gen", "integration_sees_build_script_env"),
        "passed"
    );
    assert_eq!(
        outcome("natlib", "tests::calls_the_shared_library"),
        "passed"
    );
}
