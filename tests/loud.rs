//! Very loud tests: 400 MB on one unterminated line and 64 MB of captured lines. cargo-xtest's own
//! memory stays bounded while they run (read from /proc while it works), each test still gets its
//! verdict and its output as a head and a tail saying how much was left out, and the report stays
//! small.

mod common;

use std::process::Stdio;

use common::*;

/// Peak resident memory of a running process, in KiB (0 once it is gone).
fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn a_test_printing_hundreds_of_megabytes_keeps_memory_and_reports_bounded() {
    let fx = Fixture::new("loud");
    let report = fx.path().join("report.json");
    let full = fx.path().join("full-output");
    let mut child = fx
        .xtest(&["--target", "host", "--no-fail-fast", "--no-cache"])
        .arg("--report")
        .arg(&report)
        .arg("--full-output")
        .arg(&full)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let mut peak = 0;
    let status = loop {
        peak = peak.max(peak_kib(child.id()));
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(start.elapsed() < WATCHDOG, "cargo-xtest did not finish");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1), "both tests fail");
    // 464 MB went through; cargo-xtest holds a bounded head and tail of it.
    assert!(peak > 0 && peak < 64 * 1024, "peak {peak} KiB");
    let size = std::fs::metadata(&report).unwrap().len();
    assert!(size < 1024 * 1024, "report is {size} bytes");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let tests = r["targets"][0]["packages"][0]["tests"].as_array().unwrap();
    let test = |name: &str| {
        tests.iter().find(|t| t["name"] == name).unwrap_or_else(|| {
            let seen: Vec<_> = tests.iter().map(|t| (&t["name"], &t["outcome"])).collect();
            let mut rest = r["targets"][0]["packages"][0].clone();
            rest["tests"] = serde_json::Value::Null;
            panic!("no {name} in {seen:?}; the package: {rest}")
        })
    };
    // The verdict came at the end of a 400 MB line, and was still read.
    let endless = test("tests::one_endless_line");
    assert_eq!(endless["outcome"], "failed");
    assert!(
        endless["output"]
            .as_str()
            .unwrap()
            .contains("after 400 MB on one line")
    );
    // Its size is what it printed, all of it, though libtest did not capture it.
    let printed = endless["output_bytes"].as_u64().unwrap();
    assert!(printed >= 400 << 20, "{printed}");
    // libtest did not capture the 400 MB, but the --full-output file holds all of it, and the
    // panic after it.
    let file = std::path::PathBuf::from(endless["output_file"].as_str().unwrap());
    assert!(file.starts_with(&full), "{}", file.display());
    let len = std::fs::metadata(&file).unwrap().len();
    assert!(len > 400_000_000, "{} holds {len} bytes", file.display());
    let mut f = std::fs::File::open(&file).unwrap();
    use std::io::{Read, Seek};
    f.seek(std::io::SeekFrom::End(-64 * 1024)).unwrap();
    let mut end = String::new();
    f.read_to_string(&mut end).unwrap();
    assert!(end.contains("after 400 MB on one line"), "{end}");
    let lines = test("tests::many_captured_lines");
    assert_eq!(lines["outcome"], "failed");
    let out = lines["output"].as_str().unwrap();
    assert!(out.len() < 200 * 1024, "{}", out.len());
    assert!(out.contains("bytes omitted"), "says what was left out");
    // The report gives the size of the whole captured output.
    let bytes = lines["output_bytes"].as_u64().unwrap();
    assert!(bytes > 64_000_000, "{bytes}");
    assert_eq!(lines["output_file"], endless["output_file"], "one process");
    assert!(
        out.contains("after 64 MB of lines"),
        "the tail, with the panic, is kept"
    );
}

/// Hundreds of failing tests with long output give a terminal summary of bounded size: lines
/// are clipped, the first failures carry an excerpt, the rest one line each, then a count. The
/// JSON report keeps each test's output.
#[test]
fn hundreds_of_loud_failures_give_a_bounded_terminal_summary() {
    let fx = Fixture::new("loud");
    fx.write("src/lib.rs", "");
    let mut tests = String::from(
        "fn loud(i: usize) -> ! {\n    let line = \"z\".repeat(70_000);\n    for _ in 0..4 {\n        println!(\"{line}\");\n    }\n    panic!(\"test {i} failed after {line}\");\n}\n",
    );
    for i in 0..300 {
        tests.push_str(&format!("#[test]\nfn t{i:03}() {{\n    loud({i});\n}}\n"));
    }
    fx.write("tests/many.rs", &tests);
    let r = fx.verify(&["--target", "host", "--no-cache", "--no-fail-fast"]);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let terminal = r.stdout();
    assert!(terminal.len() < 256 * 1024, "{} bytes", terminal.len());
    let longest = terminal.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 1024, "a line of {longest} bytes");
    assert!(
        terminal.contains("more failures (the JSON report has every one)"),
        "{}",
        &terminal[terminal.len().saturating_sub(2000)..]
    );
    let failed = r.report()["targets"][0]["packages"][0]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["outcome"] == "failed" && t["output"].as_str().unwrap().len() > 70_000)
        .count();
    assert_eq!(failed, 300);
}
