//! Shell completions and man pages come from the clap definition: they offer the real flags and
//! subcommands, and the completion script works in a real bash.

mod common;

use common::*;

#[test]
fn bash_completion_completes_flags_and_subcommands() {
    let script = xtest().args(["completions", "bash"]).output().unwrap();
    assert!(script.status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cargo-xtest.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let complete = |words: &str| {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=(cargo-xtest {words}); COMP_CWORD=1; \
                 _cargo__xtest cargo-xtest {words} cargo-xtest; echo \"${{COMPREPLY[@]}}\"",
                file.display()
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    assert_eq!(complete("--message-f"), "--message-format");
    assert_eq!(complete("--full-o"), "--full-output");
    assert_eq!(complete("pl"), "plan");
    assert_eq!(complete("comp"), "completions");
}

#[test]
fn man_pages_cover_every_subcommand() {
    let page = xtest().arg("man").output().unwrap();
    assert!(page.status.success());
    let page = String::from_utf8(page.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH cargo-xtest 1"),
        "{page}"
    );
    assert!(page.contains(r"\-\-message\-format"), "flags are listed");
    let dir = tempfile::tempdir().unwrap();
    let out = xtest()
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    for sub in [
        "plan",
        "doctor",
        "setup",
        "merge",
        "archive",
        "run",
        "ci-github",
    ] {
        let file = dir.path().join(format!("cargo-xtest-{sub}.1"));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        assert!(text.contains(".SH NAME"), "{sub}");
    }
}

#[test]
fn a_reader_that_stops_early_is_not_a_crash() {
    use std::process::Stdio;
    for args in [&["completions", "bash"][..], &["man"][..]] {
        // `| head` that is already gone: the write fails with EPIPE.
        let mut child = xtest()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
