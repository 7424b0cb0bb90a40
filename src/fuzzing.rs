//! Entry points for the fuzz targets in `fuzz/`: every parser that reads input from outside
//! (cargo's JSON messages and stderr, libtest's output, the policy, cargo's configuration, a
//! report given to `merge`, an archive's manifest) fed arbitrary bytes. Each must return an
//! error or a value, never panic, and what it returns must render. Not a stable API.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::discover::Workspace;
use crate::discover::cargo_config::TargetKey;
use crate::run::libtest::{Event, Parser, parse_list};

const HOST: &str = "x86_64-unknown-linux-gnu";
const TRIPLES: [&str; 3] = [HOST, "s390x-unknown-linux-gnu", "wasm32-wasip1"];

/// libtest's streamed output, cut into chunks where the input says (its first byte is the chunk
/// size), as QEMU's or a test's interleaved writes would cut it; then the same bytes as a list.
pub fn libtest(data: &[u8]) {
    let Some((&size, rest)) = data.split_first() else {
        return;
    };
    let t0 = Instant::now();
    let mut parser = Parser::default();
    let mut names = Vec::new();
    let mut collect = |events: Vec<Event>| {
        for e in events {
            if let Event::Finished { name, .. } = e {
                names.push(name);
            }
        }
    };
    for (i, chunk) in rest.chunks(usize::from(size.max(1))).enumerate() {
        collect(parser.feed(chunk, t0 + Duration::from_millis(i as u64)));
        let _ = parser.running();
    }
    collect(parser.finish(t0 + Duration::from_secs(1)));
    for n in &names {
        let _ = parser.failure_output(n);
    }
    let _ = parse_list(&String::from_utf8_lossy(rest));
}

fn workspace() -> Workspace {
    Workspace {
        default_members: Vec::new(),
        root: PathBuf::from("/w"),
        manifest_path: PathBuf::from("/w/Cargo.toml"),
        target_dir: PathBuf::from("/w/target"),
        members: Vec::new(),
        names: Default::default(),
        deps: Default::default(),
        metadata: serde_json::Value::Null,
    }
}

/// cargo's stdout (JSON messages) and stderr, split at the first NUL byte.
pub fn cargo_output(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (stdout, stderr) = text.split_once('\0').unwrap_or((&text, ""));
    let ws = workspace();
    let triples: Vec<crate::ids::Triple> = TRIPLES.iter().map(|t| (*t).into()).collect();
    let _ = crate::build::read_cargo_output(stdout, stderr, &ws, &triples, HOST);
    let _ = crate::build::read_cargo_output(stdout, stderr, &ws, &triples[..1], HOST);
}

/// `xtest.toml`.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = crate::policy::Policy::parse(text, Path::new("/w/xtest.toml")) {
        for t in TRIPLES {
            let _ = p.for_target(t, HOST);
        }
    }
}

/// `.cargo/config.toml`: read as the chain's only file, then loaded the way a run loads it (from
/// a directory, through cargo-config2, which resolves it first, and the chain's own reader).
pub fn cargo_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let read = |c: &crate::discover::CargoConfig| {
        for t in TRIPLES {
            for key in [TargetKey::Runner, TargetKey::Linker] {
                let _ = c.target_program(t, key);
            }
        }
        let _ = c.env();
        let _ = c.build_targets();
    };
    let path = Path::new("/w/.cargo/config.toml");
    if let Ok(c) = crate::discover::CargoConfig::from_text(text, path) {
        read(&c);
    }
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let cargo = dir.path().join(".cargo");
    if std::fs::create_dir(&cargo).is_ok()
        && std::fs::write(cargo.join("config.toml"), text).is_ok()
        && let Ok(c) = crate::discover::CargoConfig::load(dir.path())
    {
        read(&c);
    }
}

/// A report given to `merge`: merged with itself and rendered every way.
pub fn report(data: &[u8]) {
    let Ok(report) = crate::report::merge::parse(data) else {
        return;
    };
    let _ = crate::report::terminal::render(&report);
    let _ = crate::report::markdown::render(&report);
    let _ = crate::report::junit::render(&report);
    let merged = crate::report::merge::merge(vec![
        (PathBuf::from("a.json"), report.clone()),
        (PathBuf::from("b.json"), report),
    ]);
    let _ = crate::report::terminal::render(&merged);
    let _ = serde_json::to_string(&merged);
}

/// An archive's `manifest.json`.
pub fn manifest(data: &[u8]) {
    if let Ok(m) = crate::archive::parse_manifest(data) {
        let dir = Path::new("/nonexistent/xtest-fuzz");
        let _ = crate::archive::members(&m, dir);
        let _ = crate::archive::build_result(&m, dir);
    }
}

#[cfg(test)]
mod tests {
    /// The entry points run on typical and empty input (the fuzzers do the rest).
    #[test]
    fn entry_points_accept_anything() {
        for data in [
            &b""[..],
            b"\x01running 1 test\ntest a ... ok\n",
            b"{\"reason\":\"compiler-artifact\"}\n\0error: x",
            b"[target.x]\nskip = {}",
            b"{\"schema\":\"cargo-xtest/report-v1\"}",
            b"\xff\xfe",
        ] {
            super::libtest(data);
            super::cargo_output(data);
            super::policy(data);
            super::cargo_config(data);
            super::report(data);
            super::manifest(data);
        }
    }
}
