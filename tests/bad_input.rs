//! Bad input ends with one line naming the problem and the fix, and exit code 2.

mod common;

use common::*;

fn one_line_error(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_owned()
}

#[test]
fn unknown_triple() {
    let fx = Fixture::new("portable");
    let out = fx
        .xtest(&["--target", "x86_64-unknown-linux-gnux"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let line = one_line_error(&out);
    assert!(
        line.contains("unknown target triple `x86_64-unknown-linux-gnux`"),
        "{line}"
    );
    assert!(
        line.contains("did you mean `x86_64-unknown-linux-gnu"),
        "{line}"
    );
}

#[test]
fn malformed_policy() {
    let fx = Fixture::new("portable");
    fx.write("xtest.toml", "[target.host]\nrequire = \"everything\"\n");
    let out = fx.xtest(&["plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let line = one_line_error(&out);
    assert!(line.contains("malformed policy in"), "{line}");
    assert!(line.contains("xtest.toml"), "{line}");
    assert!(line.contains("everything"), "{line}");
}

#[test]
fn policy_naming_an_unknown_package() {
    let fx = Fixture::new("portable");
    fx.write(
        "xtest.toml",
        "[target.host]\nexclude = { gamma = \"gone\" }\n",
    );
    let out = fx.xtest(&["plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("`gamma`, which is not a workspace member"));
}

#[test]
fn missing_manifest() {
    let out = xtest()
        .args(["--manifest-path", "/nonexistent/Cargo.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("manifest not found: /nonexistent/Cargo.toml"));
    // A directory is named as one, with the path to pass instead.
    let fx = Fixture::new("portable");
    let out = xtest()
        .arg("--manifest-path")
        .arg(fx.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let line = one_line_error(&out);
    assert!(line.contains("is a directory"), "{line}");
    assert!(
        line.contains(&format!("{}/Cargo.toml", fx.path().display())),
        "{line}"
    );
}

#[test]
fn a_malformed_cargo_toml_keeps_cargos_location() {
    let fx = Fixture::new("portable");
    let manifest = std::fs::read_to_string(fx.path().join("alpha/Cargo.toml")).unwrap();
    let broken = manifest.replacen("version = \"0.1.0\"", "version = 1", 1);
    assert_ne!(manifest, broken, "the fixture names its version");
    fx.write("alpha/Cargo.toml", &broken);
    let out = fx.xtest(&["plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let line = one_line_error(&out);
    assert!(line.contains("expected SemVer version"), "{line}");
    let at = broken.lines().position(|l| l == "version = 1").unwrap() + 1;
    assert!(line.contains(&format!("alpha/Cargo.toml:{at}:")), "{line}");
}

#[test]
fn outside_any_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtest().current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let line = one_line_error(&out);
    assert!(line.contains("could not find `Cargo.toml`"), "{line}");
    assert!(line.contains("--manifest-path"), "{line}");
}

#[test]
fn cargo_not_found() {
    let fx = Fixture::new("portable");
    let out = fx
        .xtest(&["plan"])
        .env("CARGO", "/nonexistent/cargo")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("cargo not found"));
}

#[test]
fn unknown_package_and_bad_flags() {
    let fx = Fixture::new("portable");
    let out = fx.xtest(&["plan", "-p", "gamma"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("package `gamma` is not a member"));
    let out = fx.xtest(&["--level", "tests"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = fx.xtest(&["--test-timeout", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("--test-timeout"));
    // Every subcommand rejects bad numbers the same way: one line naming the flag, exit 2,
    // before any work (no panic at exit 101, no build failure at exit 1).
    for (args, flag) in [
        (&["--test-timeout", "1e20"][..], "--test-timeout"),
        (&["--slow-after", "1e300"], "--slow-after"),
        (&["-j", "0"], "--jobs"),
        (&["-j", "100000"], "--jobs"),
        (&["plan", "-j", "0"], "--jobs"),
        (
            &["archive", "--target", "host", "-o", "a.tgz", "-j", "0"],
            "--jobs",
        ),
        (
            &["run", "--archive", "a.tgz", "--test-timeout=-1"],
            "--test-timeout",
        ),
        (
            &["run", "--archive", "a.tgz", "--test-timeout", "nan"],
            "--test-timeout",
        ),
        (&["run", "--archive", "a.tgz", "-j", "0"], "--jobs"),
        (&["--retries", "1000"], "--retries"),
        // A negative number after a space is the flag's value, not an unknown argument.
        (&["--test-timeout", "-1"], "--test-timeout"),
        (&["--slow-after", "-5"], "--slow-after"),
        (&["--retries", "-1"], "--retries"),
        (&["-j", "-2"], "--jobs"),
        (
            &["run", "--archive", "a.tgz", "--test-timeout", "-1"],
            "--test-timeout",
        ),
        (
            &["run", "--archive", "a.tgz", "--max-entries", "-1"],
            "--max-entries",
        ),
        (&["ci", "github", "--shards", "-1"], "--shards"),
    ] {
        let out = xtest().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let line = one_line_error(&out);
        assert!(line.contains(flag), "{args:?}: {line}");
    }
}

#[test]
fn malformed_cargo_config() {
    let fx = Fixture::new("portable");
    std::fs::create_dir_all(fx.path().join(".cargo")).unwrap();
    fx.write(".cargo/config.toml", "[target.x\n");
    let out = fx.xtest(&["plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let line = one_line_error(&out);
    assert!(line.contains(".cargo/config.toml"), "{line}");
    // cargo's reason, printed under its snippet of the file, is kept.
    assert!(line.contains("line 1, column 10"), "{line}");
    assert!(line.contains("unclosed table"), "{line}");
}

#[test]
fn output_paths_are_checked_before_any_work() {
    let fx = Fixture::new("portable");
    let missing = fx.path().join("no/such/dir/r.json");
    for flag in ["--report", "--junit", "--markdown"] {
        let missing = missing.to_string_lossy().into_owned();
        let out = fx
            .xtest(&["--target", "host", flag, &missing])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let line = one_line_error(&out);
        assert!(
            line.contains("does not exist") && line.contains("no/such/dir"),
            "{line}"
        );
        // Nothing was built: the fixture has no target directory.
        assert!(
            !fx.path().join("target/debug").exists(),
            "{flag}: built before failing"
        );
    }
    // --full-output must name a directory cargo-xtest can write in: here, a file.
    let file = fx.path().join("Cargo.toml").to_string_lossy().into_owned();
    let out = fx
        .xtest(&["--target", "host", "--full-output", &file])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let line = one_line_error(&out);
    assert!(
        line.contains("--full-output") && line.contains("Cargo.toml"),
        "{line}"
    );
    assert!(
        !fx.path().join("target/debug").exists(),
        "built before failing"
    );
    let out = xtest()
        .args(["merge", "a.json", "--report"])
        .arg(fx.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line_error(&out).contains("is a directory"));
}
