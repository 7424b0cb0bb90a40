//! The workspace policy: default targets, excluded packages and skipped tests with reasons, in
//! `[workspace.metadata.xtest]` or `xtest.toml`.

mod common;

use common::*;

#[test]
fn manifest_policy_sets_default_targets_exclusions_and_skips() {
    let fx = Fixture::new("portable");
    let manifest = std::fs::read_to_string(fx.manifest()).unwrap();
    fx.write(
        "Cargo.toml",
        &format!(
            "{manifest}\n[workspace.metadata.xtest]\ntargets = [\"host\"]\n\n\
             [workspace.metadata.xtest.target.host]\n\
             exclude = {{ beta = \"tested elsewhere\" }}\n\
             skip = {{ \"tests::word_*\" = \"flaky on this runner\" }}\n"
        ),
    );
    let r = fx.verify(&[]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let targets = r.report()["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "policy targets replace the default set");
    let beta = r.package(HOST, "beta");
    assert_eq!(beta["outcome"], "excluded");
    assert_eq!(beta["reason"], "tested elsewhere");
    // Skipped by a pattern: reported as skipped with the reason, counted apart from passed.
    let skipped = r.test(HOST, "alpha", "tests::word_size");
    assert_eq!(skipped["outcome"], "skipped");
    assert_eq!(skipped["reason"], "flaky on this runner");
    assert!(
        r.stdout().contains("0 ignored, 1 skipped by policy"),
        "{}",
        r.stdout()
    );
    assert_eq!(r.test(HOST, "alpha", "tests::doubles")["outcome"], "passed");
    // The command line still wins over the policy's targets.
    let ppc = "loongarch64-unknown-linux-gnu";
    let out = fx
        .xtest(&["plan", "--target", ppc, "--format", "json"])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let planned: Vec<&str> = plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["triple"].as_str().unwrap())
        .collect();
    assert_eq!(planned, [ppc]);
    let out = fx.xtest(&["plan", "--format", "json"]).output().unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["targets"][0]["excluded"]["beta"], "tested elsewhere");
}

#[test]
fn policy_in_both_places_is_rejected() {
    let fx = Fixture::new("portable");
    let manifest = std::fs::read_to_string(fx.manifest()).unwrap();
    fx.write(
        "Cargo.toml",
        &format!("{manifest}\n[workspace.metadata.xtest]\ntargets = [\"host\"]\n"),
    );
    fx.write("xtest.toml", "targets = [\"host\"]\n");
    let out = fx.xtest(&["plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("policy defined twice"));
}
