//! `cargo xtest archive` / `run --archive` against hostile and broken archives: every path from a
//! manifest stays inside the extraction directory, the manifest is a regular file, the triple is
//! one and matches the binaries, sizes are bounded, and a runner that runs nothing is never a
//! pass. The archives are real ones of the example, rewritten entry by entry.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Fixture, HOST, assert_exit, xtest};
use serde_json::Value;

/// The entries of a real archive of the example's host test binaries.
struct Entries {
    /// Files, and directories (`None`: a build script's `OUT_DIR`, which may be empty).
    files: Vec<(String, Option<Vec<u8>>)>,
    manifest: Value,
}

fn read_archive(path: &Path) -> Entries {
    let mut files = Vec::new();
    let mut manifest = Value::Null;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(path).unwrap(),
    ));
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        if e.header().entry_type().is_dir() {
            files.push((name, None));
            continue;
        }
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if name == "manifest.json" {
            manifest = serde_json::from_slice(&data).unwrap();
        } else {
            files.push((name, Some(data)));
        }
    }
    Entries { files, manifest }
}

/// A change to a manifest.
type Edit = Box<dyn Fn(&mut Value)>;

/// What to put in a rewritten archive besides the files.
enum Extra<'a> {
    None,
    /// The manifest as a symlink to this target (and the real one elsewhere).
    ManifestSymlink(&'a str),
    /// One more regular file.
    File(&'a str, Vec<u8>),
}

fn write_archive(path: &Path, entries: &Entries, manifest: &Value, extra: Extra) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    // Directories first (a build script's `OUT_DIR`, which may be empty).
    for (name, _) in entries.files.iter().filter(|(_, d)| d.is_none()) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        h.set_cksum();
        tar.append_data(&mut h, name, std::io::empty()).unwrap();
    }
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        tar.append_data(&mut h, name, data).unwrap();
    };
    for (name, data) in &entries.files {
        if let Some(data) = data {
            add(name, data);
        }
    }
    let json = serde_json::to_vec(manifest).unwrap();
    match extra {
        Extra::None => add("manifest.json", &json),
        Extra::File(name, data) => {
            add(name, &data);
            add("manifest.json", &json);
        }
        Extra::ManifestSymlink(target) => {
            add("real-manifest.json", &json);
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o644);
            tar.append_link(&mut h, "manifest.json", target).unwrap();
        }
    }
    tar.into_inner().unwrap().finish().unwrap();
}

fn run_archive(archive: &Path, args: &[&str], cwd: &Path) -> Output {
    xtest()
        .args(["run", "--no-fail-fast"])
        .args(args)
        .arg("--archive")
        .arg(archive)
        .current_dir(cwd)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap()
}

fn refused(out: &Output, phrase: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit 2 (bad input): {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(phrase), "`{phrase}` in: {stderr}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("PASSED"),
        "nothing ran"
    );
}

#[test]
fn hostile_archives_are_refused_and_nothing_outside_runs() {
    let fx = Fixture::new("example");
    let work = tempfile::tempdir().unwrap();
    let good = work.path().join("host.tar.gz");
    let out = fx
        .xtest(&["archive", "--target", HOST, "-o", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries = read_archive(&good);

    // The untouched archive runs, the proc-macro's tests included (they link Rust's libstd
    // dynamically: the archive carries it).
    let report = work.path().join("report.json");
    let out = run_archive(&good, &["--report", report.to_str().unwrap()], work.path());
    assert_exit(&out, 0);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let macros = r["targets"][0]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "xtest-macros")
        .unwrap();
    assert_eq!(macros["outcome"], "passed", "{macros}");
    assert!(!macros["tests"].as_array().unwrap().is_empty(), "{macros}");

    // A script outside the extraction directory that must never run.
    let marker = work.path().join("ran");
    let script = work.path().join("x.sh");
    std::fs::write(&script, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "binary path climbing out",
            Box::new(|m| m["packages"][0]["binaries"][0]["file"] = "../../x.sh".into()),
            "not a file inside the archive",
        ),
        (
            "absolute binary path",
            Box::new({
                let s = script.to_string_lossy().into_owned();
                move |m| m["packages"][0]["binaries"][0]["file"] = s.clone().into()
            }),
            "not a file inside the archive",
        ),
        (
            "package dir climbing out",
            Box::new(|m| m["packages"][0]["dir"] = "../../../etc".into()),
            "not a directory inside the archive",
        ),
        (
            "not a triple",
            Box::new(|m| m["triple"] = "not a triple; rm -rf /".into()),
            "is not a target triple",
        ),
        (
            "a triple the binaries are not for",
            Box::new(|m| m["triple"] = "s390x-unknown-linux-gnu".into()),
            "x86_64 ELF file, not an executable for s390x-unknown-linux-gnu",
        ),
    ];
    for (what, edit, phrase) in cases {
        let mut m = entries.manifest.clone();
        edit(&mut m);
        let bad = work.path().join("bad.tar.gz");
        write_archive(&bad, &entries, &m, Extra::None);
        let out = run_archive(&bad, &[], work.path());
        refused(&out, phrase);
        assert!(!marker.exists(), "{what}: a script outside ran");
    }

    let bad = work.path().join("symlink.tar.gz");
    write_archive(
        &bad,
        &entries,
        &entries.manifest,
        Extra::ManifestSymlink("real-manifest.json"),
    );
    refused(
        &run_archive(&bad, &[], work.path()),
        "not a regular file or directory (Symlink)",
    );

    // A bomb: 64 MiB of zeros compress to ~64 KiB.
    let bomb = work.path().join("bomb.tar.gz");
    write_archive(
        &bomb,
        &entries,
        &entries.manifest,
        Extra::File("packages/bomb", vec![0; 64 << 20]),
    );
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert!(
        size(&bomb) < size(&good) + (1 << 20),
        "the bomb adds under 1 MiB"
    );
    let unpacked: usize = entries
        .files
        .iter()
        .flat_map(|(_, d)| d)
        .map(Vec::len)
        .sum();
    let limit = format!("{}M", (unpacked >> 20) + 32);
    let kept = work.path().join("kept");
    refused(
        &run_archive(
            &bomb,
            &[
                "--max-unpacked",
                &limit,
                "--extract-to",
                kept.to_str().unwrap(),
            ],
            work.path(),
        ),
        &format!("it unpacks to more than {}.0 MiB", (unpacked >> 20) + 32),
    );
    // Refused before a byte was written.
    assert_eq!(
        std::fs::read_dir(&kept).unwrap().count(),
        0,
        "the bomb wrote into --extract-to"
    );
    // The entry limit names its own option.
    refused(
        &run_archive(&good, &["--max-entries", "3"], work.path()),
        "holds more than 3 entries; if the archive is trusted, raise --max-entries",
    );
    refused(
        &run_archive(&good, &["--max-unpacked", "1M"], work.path()),
        "1.0 MiB",
    );

    // A relative --extract-to is resolved once, where the command was run: the tests, which run
    // in their package directories, still find their executables.
    let out = run_archive(&good, &["--extract-to", "relative/dir"], work.path());
    assert_exit(&out, 0);
    assert!(work.path().join("relative/dir/manifest.json").is_file());

    // --extract-to into a directory holding something: refused before unpacking.
    let busy = work.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("manifest.json"), "{}").unwrap();
    refused(
        &run_archive(
            &good,
            &["--extract-to", busy.to_str().unwrap()],
            work.path(),
        ),
        "is not empty",
    );
    assert!(!marker.exists());
}

#[test]
fn a_runner_that_runs_nothing_is_a_failure_not_a_pass() {
    let fx = Fixture::new("example");
    let work = tempfile::tempdir().unwrap();
    let archive: PathBuf = work.path().join("host.tar.gz");
    let out = fx
        .xtest(&[
            "archive",
            "--target",
            HOST,
            "-p",
            "shapes",
            "-o",
            archive.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report = work.path().join("report.json");
    let out = xtest()
        .args(["run", "--no-fail-fast", "--archive"])
        .arg(&archive)
        .arg("--report")
        .arg(&report)
        .current_dir(work.path())
        .env("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER", "echo")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(!stdout.contains("PASSED"), "{stdout}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let shapes = &r["targets"][0]["packages"][0];
    assert_eq!(shapes["outcome"], "failed", "{shapes}");
    let errors = shapes["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{shapes}");
    for e in errors {
        assert_eq!(e["cause"], "no-test-results", "{e}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("printed no libtest test list"),
            "{e}"
        );
    }
}
