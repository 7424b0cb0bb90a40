//! Facts about the host toolchain: the host triple, the rustc sysroot (which standard libraries
//! are installed), the triples rustc knows, each target's `cfg` (endianness, pointer width), and
//! the distro's package manager.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The package manager that installs fixes on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PackageManager {
    Apt,
    Dnf,
    Pacman,
    Unknown,
}

/// What this host's Rust toolchain offers.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub triple: crate::ids::Triple,
    pub arch: String,
    pub sysroot: PathBuf,
    pub rustup: bool,
    pub known_triples: BTreeSet<String>,
    pub package_manager: PackageManager,
    pub cargo: PathBuf,
    pub rustc: String,
    /// `rustc -vV`: the compiler's exact identity (version, commit, LLVM), for probe cache keys.
    pub rustc_version: String,
    /// What [`Host::target_cfg`] has asked rustc already (each question is a rustc start).
    pub cfg_memo: CfgMemo,
}

/// Targets' cfg facts asked of rustc once per run, shared by the clones of a [`Host`].
pub(crate) type CfgMemo =
    std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, TargetCfg>>>;

/// The `cfg` facts rustc reports for one target.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct TargetCfg {
    pub arch: String,
    pub big_endian: bool,
    pub pointer_width: u32,
    pub os: String,
    /// `panic = "abort"`: a panicking test ends its whole test binary (WASI).
    pub panic_abort: bool,
}

impl Host {
    /// What rustc says of this host, driving `cargo` (found by [`find_cargo`]).
    pub(crate) fn discover_with(cargo: PathBuf) -> Result<Self> {
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
        // Two rustc starts (each costs tens of ms), at once: `-vV` ends rustc before any
        // `--print`, and the prints come in the order asked, the sysroot's one line first.
        let (vv, prints) = std::thread::scope(|s| {
            let vv = s.spawn(|| run_rustc(&rustc, &["-vV"]));
            let prints = run_rustc(&rustc, &["--print", "sysroot", "--print", "target-list"]);
            (vv.join().expect("rustc -vV"), prints)
        });
        let (vv, prints) = (vv?, prints?);
        let (sysroot, list) = prints.split_once('\n').unwrap_or((&prints, ""));
        let triple = vv
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .ok_or_else(|| Error::internal("`rustc -vV` printed no `host:` line"))?
            .trim()
            .to_owned();
        let sysroot = PathBuf::from(sysroot.trim());
        let known_triples = list
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        let arch = triple.split('-').next().unwrap_or_default().to_owned();
        Ok(Host {
            triple: triple.into(),
            arch,
            sysroot,
            rustup: which::which("rustup").is_ok(),
            known_triples,
            package_manager: package_manager(Path::new("/etc/os-release")),
            cargo,
            rustc,
            rustc_version: vv,
            cfg_memo: CfgMemo::default(),
        })
    }

    /// This host as far as it can be known without a Rust toolchain (for `run --archive`).
    pub(crate) fn without_toolchain() -> Self {
        let arch = std::env::consts::ARCH.to_owned();
        let triple = match arch.as_str() {
            "riscv64" => "riscv64gc-unknown-linux-gnu".to_owned(),
            a => format!("{a}-unknown-linux-gnu"),
        };
        Host {
            triple: triple.into(),
            arch,
            sysroot: PathBuf::new(),
            rustup: false,
            known_triples: BTreeSet::new(),
            package_manager: package_manager(Path::new("/etc/os-release")),
            cargo: PathBuf::from("cargo"),
            rustc: "rustc".to_owned(),
            rustc_version: String::new(),
            cfg_memo: CfgMemo::default(),
        }
    }

    /// Is the standard library for `triple` installed in rustc's sysroot?
    pub(crate) fn has_std(&self, triple: &str) -> bool {
        let dir = self.sysroot.join("lib/rustlib").join(triple).join("lib");
        std::fs::read_dir(dir)
            .map(|entries| {
                entries.filter_map(|e| e.ok()).any(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    name.starts_with("libstd-") && name.ends_with(".rlib")
                })
            })
            .unwrap_or(false)
    }

    /// The `cfg` values of `triple`, as rustc reports them (works without the target's std).
    /// Asked of rustc once per run.
    pub(crate) fn target_cfg(&self, triple: &str) -> Result<TargetCfg> {
        if let Some(cfg) = self.cfg_memo.lock().expect("cfg memo").get(triple) {
            return Ok(cfg.clone());
        }
        let out = run_rustc(&self.rustc, &["--print", "cfg", "--target", triple])?;
        let cfg = parse_cfg(&out);
        self.cfg_memo
            .lock()
            .expect("cfg memo")
            .insert(triple.to_owned(), cfg.clone());
        Ok(cfg)
    }

    /// Fills the memo from `path`, the cfg facts an earlier run asked of this same rustc (a
    /// target's `--print cfg` depends on nothing else: no flags are passed), so that a run
    /// starts no rustc for them. A missing, unreadable or other compiler's file is no answer.
    pub(crate) fn load_cfgs(&self, path: &Path) {
        let Ok(text) = std::fs::read(path) else {
            return;
        };
        let Ok(cache) = serde_json::from_slice::<CfgCache>(&text) else {
            return;
        };
        if cache.rustc == self.rustc_version {
            self.cfg_memo
                .lock()
                .expect("cfg memo")
                .extend(cache.targets);
        }
    }

    /// Writes what the memo holds to `path` for [`Host::load_cfgs`] when it has more than
    /// `known` targets; a cache that cannot be written is only slower.
    pub(crate) fn save_cfgs(&self, path: &Path, known: usize) {
        let targets = self.cfg_memo.lock().expect("cfg memo").clone();
        if targets.len() <= known {
            return;
        }
        let cache = CfgCache {
            rustc: self.rustc_version.clone(),
            targets,
        };
        let Ok(bytes) = serde_json::to_vec(&cache) else {
            return;
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = crate::fsutil::write_atomic(path, &bytes);
    }

    /// Checks that rustc knows `triple`, suggesting the closest known one if it does not.
    pub(crate) fn validate_triple(&self, triple: &str) -> Result<()> {
        if self.known_triples.contains(triple) {
            return Ok(());
        }
        let best = self
            .known_triples
            .iter()
            .map(|t| (strsim::levenshtein(t, triple), t))
            .min()
            .filter(|(d, _)| *d <= 6)
            .map(|(_, t)| format!("; did you mean `{t}`?"))
            .unwrap_or_else(|| "; `rustc --print target-list` lists the known ones".to_owned());
        Err(Error::bad_input(format!(
            "unknown target triple `{triple}`: rustc does not know it{best}"
        )))
    }
}

/// The cargo this tool drives: `$CARGO` (set when started as `cargo xtest`), else `cargo`.
pub(crate) fn find_cargo() -> Result<PathBuf> {
    let candidate = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"));
    which::which(&candidate).map_err(|_| {
        Error::bad_input(format!(
            "cargo not found (looked for `{}`): install Rust with rustup or put cargo on PATH",
            candidate.display()
        ))
    })
}

fn run_rustc(rustc: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(rustc).args(args).output().map_err(|e| {
        Error::bad_input_from(format!("cannot run `{rustc}`"), e)
            .with_fix("install Rust with rustup or set RUSTC")
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        return Err(Error::bad_input(format!(
            "`{rustc} {}` failed: {first}",
            args.join(" ")
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The file behind [`Host::load_cfgs`]: the targets' cfg facts of one rustc (`rustc -vV`).
#[derive(serde::Serialize, serde::Deserialize)]
struct CfgCache {
    rustc: String,
    targets: std::collections::BTreeMap<String, TargetCfg>,
}

fn parse_cfg(out: &str) -> TargetCfg {
    let mut cfg = TargetCfg::default();
    for line in out.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim_matches('"');
        match key {
            "target_arch" => cfg.arch = value.to_owned(),
            "target_endian" => cfg.big_endian = value == "big",
            "target_pointer_width" => cfg.pointer_width = value.parse().unwrap_or(0),
            "target_os" => cfg.os = value.to_owned(),
            "panic" => cfg.panic_abort = value == "abort",
            _ => {}
        }
    }
    cfg
}

fn package_manager(os_release: &Path) -> PackageManager {
    let text = std::fs::read_to_string(os_release).unwrap_or_default();
    let mut ids = Vec::new();
    for line in text.lines() {
        if let Some(v) = line
            .strip_prefix("ID=")
            .or_else(|| line.strip_prefix("ID_LIKE="))
        {
            ids.extend(v.trim_matches('"').split_whitespace().map(str::to_owned));
        }
    }
    let has = |names: &[&str]| ids.iter().any(|i| names.contains(&i.as_str()));
    if has(&["debian", "ubuntu"]) {
        PackageManager::Apt
    } else if has(&["fedora", "rhel", "centos"]) {
        PackageManager::Dnf
    } else if has(&["arch", "manjaro"]) {
        PackageManager::Pacman
    } else {
        PackageManager::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cfg_facts_are_read_back_only_for_the_same_rustc() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("xtest/rustc-cfg.json");
        let mut host = Host::without_toolchain();
        host.rustc_version = "rustc 1.95.0 (abc 2026-01-01)".to_owned();
        let s390x = parse_cfg("target_arch=\"s390x\"\ntarget_endian=\"big\"\n");
        host.cfg_memo
            .lock()
            .unwrap()
            .insert("s390x-unknown-linux-gnu".to_owned(), s390x.clone());
        // Nothing new since the load: nothing written.
        host.save_cfgs(&path, 1);
        assert!(!path.exists());
        host.save_cfgs(&path, 0);

        let mut same = Host::without_toolchain();
        same.rustc_version = host.rustc_version.clone();
        same.load_cfgs(&path);
        assert_eq!(same.target_cfg("s390x-unknown-linux-gnu").unwrap(), s390x);

        let mut other = Host::without_toolchain();
        other.rustc_version = "rustc 1.96.0 (def 2026-02-01)".to_owned();
        other.load_cfgs(&path);
        assert!(other.cfg_memo.lock().unwrap().is_empty());

        std::fs::write(&path, "{not json").unwrap();
        same.cfg_memo.lock().unwrap().clear();
        same.load_cfgs(&path);
        assert!(same.cfg_memo.lock().unwrap().is_empty());
    }

    #[test]
    fn parses_rustc_cfg() {
        let cfg = parse_cfg(
            "debug_assertions\ntarget_arch=\"s390x\"\ntarget_endian=\"big\"\ntarget_os=\"linux\"\ntarget_pointer_width=\"64\"\n",
        );
        assert_eq!(cfg.arch, "s390x");
        assert!(cfg.big_endian);
        assert_eq!(cfg.pointer_width, 64);
        assert_eq!(cfg.os, "linux");
    }

    #[test]
    fn reads_os_release_family() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("os-release");
        std::fs::write(&p, "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n").unwrap();
        assert_eq!(package_manager(&p), PackageManager::Apt);
        std::fs::write(&p, "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n").unwrap();
        assert_eq!(package_manager(&p), PackageManager::Dnf);
        std::fs::write(&p, "ID=gentoo\n").unwrap();
        assert_eq!(package_manager(&p), PackageManager::Unknown);
        assert_eq!(
            package_manager(&dir.path().join("missing")),
            PackageManager::Unknown
        );
    }
}
