//! `--message-format json`: stdout is one JSON event per line as the run goes — the plan
//! first, every test as it finishes, each binary and target, and the whole report last — and
//! nothing else.

mod common;

use common::*;

#[test]
fn json_messages_stream_every_step_and_end_with_the_report() {
    let fx = Fixture::new("portable");
    let out = fx
        .xtest(&["--target", "host", "--no-cache", "--message-format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(kinds[0], "plan", "{kinds:?}");
    assert_eq!(lines[0]["schema"], "cargo-xtest/events-v1");
    assert_eq!(lines[0]["targets"][0]["runner"], "native");
    assert_eq!(*kinds.last().unwrap(), "report", "{kinds:?}");
    for kind in [
        "build-started",
        "build-finished",
        "binary-finished",
        "target-finished",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    // Every test of the final report was announced as it finished, with the same outcome.
    let report = &lines.last().unwrap()["report"];
    assert_eq!(report["schema"], "cargo-xtest/report-v1");
    let mut reported: Vec<(String, String, String)> = Vec::new();
    for p in report["targets"][0]["packages"].as_array().unwrap() {
        for t in p["tests"].as_array().unwrap() {
            reported.push((
                p["name"].as_str().unwrap().to_owned(),
                format!(
                    "{} {}",
                    t["binary"].as_str().unwrap(),
                    t["name"].as_str().unwrap()
                ),
                t["outcome"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let mut streamed: Vec<(String, String, String)> = lines
        .iter()
        .filter(|l| l["event"] == "test-finished")
        .map(|l| {
            (
                l["package"].as_str().unwrap().to_owned(),
                format!(
                    "{} {}",
                    l["binary"].as_str().unwrap(),
                    l["test"].as_str().unwrap()
                ),
                l["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    reported.sort();
    streamed.sort();
    assert_eq!(streamed, reported);
    assert_eq!(reported.len(), 4, "{reported:?}");
    let target = lines
        .iter()
        .find(|l| l["event"] == "target-finished")
        .unwrap();
    assert_eq!(target["counts"]["passed"], 4, "{target}");
    assert_eq!(target["failed_packages"].as_array().unwrap().len(), 0);
}
