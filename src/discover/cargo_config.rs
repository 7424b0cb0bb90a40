//! Reads the parts of cargo's configuration this tool needs, resolved as cargo resolves them (by
//! `cargo-config2`): a target's `linker` and `runner` from `CARGO_TARGET_<TRIPLE>_*` variables,
//! `[target.<triple>]` and `[target.'cfg(..)']` tables, in cargo's order of precedence, and the
//! `[env]` table that cargo gives every test process. The file chain cargo reads (the current
//! directory and its parents, then `$CARGO_HOME`) is also parsed here, to report a malformed file
//! as one line and to say which file a setting came from.
//!
//! Only reads. Nothing here ever writes a user's configuration.

use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};
use crate::targets::cargo_env_var;

/// Where a configured value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A `CARGO_TARGET_*` environment variable.
    Env(String),
    /// A cargo configuration file.
    Config(PathBuf),
    /// Found by this tool on the host.
    AutoDetected,
    /// What rustc uses when nothing is configured (the host `cc`).
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Env(var) => write!(f, "env {var}"),
            Source::Config(path) => write!(f, "config {}", path.display()),
            Source::AutoDetected => f.write_str("auto-detected"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A configured program with its arguments, e.g. a runner `qemu-s390x -L /usr/s390x-linux-gnu`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Configured {
    pub argv: Vec<String>,
    pub source: Source,
}

/// The parsed configuration files, closest first, and cargo's resolution of them.
#[derive(Debug, Default)]
pub(crate) struct CargoConfig {
    files: Vec<(PathBuf, toml::Table)>,
    /// `None` when `cargo-config2` could not load the chain; exact `[target.<triple>]` keys and
    /// `CARGO_TARGET_*` variables are then read from `files`.
    resolved: Option<cargo_config2::Config>,
}

/// A program cargo's configuration names per target (`target.<triple>.<key>`,
/// `CARGO_TARGET_<TRIPLE>_<KEY>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetKey {
    Linker,
    Runner,
}

impl TargetKey {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TargetKey::Linker => "linker",
            TargetKey::Runner => "runner",
        }
    }
}

impl CargoConfig {
    /// Loads the chain cargo reads when started in `cwd`.
    pub(crate) fn load(cwd: &Path) -> Result<Self> {
        let mut paths = Vec::new();
        for dir in cwd.ancestors() {
            paths.extend(config_file_in(&dir.join(".cargo")));
        }
        if let Some(home) = cargo_home()
            && let Some(p) = config_file_in(&home)
            && !paths.contains(&p)
        {
            paths.push(p);
        }
        let mut files = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(&path)
                .or_bad_input(|| format!("cannot read cargo config {}", path.display()))?;
            let table = parse_file(&text, &path)?;
            files.push((path, table));
        }
        Ok(CargoConfig {
            files,
            resolved: cargo_config2::Config::load_with_cwd(cwd).ok(),
        })
    }

    /// One configuration file's text as the only file of the chain, read without cargo-config2
    /// (exact `[target.<triple>]` keys and `CARGO_TARGET_*` variables): for the fuzzer.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn from_text(text: &str, path: &Path) -> Result<Self> {
        Ok(CargoConfig {
            files: vec![(path.to_path_buf(), parse_file(text, path)?)],
            resolved: None,
        })
    }

    /// The targets cargo builds for when no `--target` is given: `CARGO_BUILD_TARGET`, else
    /// `[build] target` (one or several); empty when neither says, and cargo builds for the
    /// host without `--target`.
    pub(crate) fn build_targets(&self) -> Vec<String> {
        self.resolved
            .iter()
            .flat_map(|c| {
                c.build_target_for_cli(Vec::<String>::new())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// `[env]`: (name, value, force), relative values already made absolute.
    pub(crate) fn env(&self) -> Vec<(String, std::ffi::OsString, bool)> {
        self.resolved
            .iter()
            .flat_map(|c| &c.env)
            .map(|(k, v)| (k.clone(), v.value.clone(), v.force))
            .collect()
    }

    /// A target's `linker` or `runner` as cargo resolves it (environment, then
    /// `[target.<triple>]`, then a matching `[target.'cfg(..)']`), with where it came from.
    pub(crate) fn target_program(&self, triple: &str, key: TargetKey) -> Option<Configured> {
        let resolved = self.resolved.as_ref().map(|c| match key {
            TargetKey::Linker => c
                .linker(triple)
                .map(|l| l.map(|p| vec![p.to_string_lossy().into_owned()])),
            TargetKey::Runner => c.runner(triple).map(|r| {
                r.map(|r| {
                    std::iter::once(r.path.to_string_lossy().into_owned())
                        .chain(r.args.iter().map(|a| a.to_string_lossy().into_owned()))
                        .collect()
                })
            }),
        });
        match resolved {
            // cargo-config2 evaluates `cfg(..)` with rustc; without it, fall back to exact keys.
            None | Some(Err(_)) => self.exact_target_program(triple, key),
            Some(Ok(None)) => None,
            Some(Ok(Some(argv))) if argv.is_empty() || argv[0].is_empty() => None,
            Some(Ok(Some(argv))) => Some(Configured {
                argv,
                source: self.source_of(triple, key),
            }),
        }
    }

    /// Where cargo took `target.*.<key>` for `triple` from: the variable, else the closest
    /// file with `[target.<triple>]`, else the closest with a `[target.'cfg(..)']` that sets it.
    fn source_of(&self, triple: &str, key: TargetKey) -> Source {
        let var = cargo_env_var(triple, key.as_str());
        let key = key.as_str();
        if std::env::var(&var).is_ok_and(|v| !v.trim().is_empty()) {
            return Source::Env(var);
        }
        let sets = |t: &toml::Table, name: &str| {
            t.get("target")
                .and_then(|t| t.get(name))
                .and_then(|t| t.get(key))
                .is_some()
        };
        let exact = self.files.iter().find(|(_, t)| sets(t, triple));
        let cfg = || {
            self.files.iter().find(|(_, t)| {
                t.get("target")
                    .and_then(|t| t.as_table())
                    .is_some_and(|targets| {
                        targets
                            .iter()
                            .any(|(name, _)| name.starts_with("cfg(") && sets(t, name))
                    })
            })
        };
        match exact.or_else(cfg) {
            Some((path, _)) => Source::Config(path.clone()),
            None => Source::Config(PathBuf::from("cargo config")),
        }
    }

    /// `target.<triple>.<key>` from the environment first, then the closest config file.
    fn exact_target_program(&self, triple: &str, key: TargetKey) -> Option<Configured> {
        let var = cargo_env_var(triple, key.as_str());
        if let Ok(v) = std::env::var(&var) {
            let argv: Vec<String> = v.split_whitespace().map(str::to_owned).collect();
            if !argv.is_empty() {
                return Some(Configured {
                    argv,
                    source: Source::Env(var),
                });
            }
        }
        for (path, table) in &self.files {
            let value = table
                .get("target")
                .and_then(|t| t.get(triple))
                .and_then(|t| t.get(key.as_str()));
            let argv: Vec<String> = match value {
                Some(toml::Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
                Some(toml::Value::Array(items)) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect(),
                _ => continue,
            };
            if argv.is_empty() {
                continue;
            }
            let argv = resolve_relative_program(argv, path);
            return Some(Configured {
                argv,
                source: Source::Config(path.clone()),
            });
        }
        None
    }
}

fn config_file_in(dir: &Path) -> Option<PathBuf> {
    ["config.toml", "config"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// Cargo resolves a configured program containing a `/` relative to the directory that holds the
/// `.cargo` directory; a bare name is looked up on `PATH`.
fn resolve_relative_program(mut argv: Vec<String>, config: &Path) -> Vec<String> {
    let program = Path::new(&argv[0]);
    if argv[0].contains('/')
        && program.is_relative()
        && let Some(base) = config.parent().and_then(Path::parent)
    {
        argv[0] = base.join(program).to_string_lossy().into_owned();
    }
    argv
}

/// Folds a multi-line message into one line.
fn parse_file(text: &str, path: &Path) -> Result<toml::Table> {
    text.parse().map_err(|e: toml::de::Error| {
        Error::bad_input(format!(
            "malformed cargo config {}: {}; fix the file so that cargo can read it",
            path.display(),
            one_line(e.message())
        ))
    })
}

pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_string_and_array_programs_closest_first() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("ws/sub");
        std::fs::create_dir_all(inner.join(".cargo")).unwrap();
        std::fs::create_dir_all(dir.path().join("ws/.cargo")).unwrap();
        std::fs::write(
            inner.join(".cargo/config.toml"),
            "[target.s390x-unknown-linux-gnu]\nrunner = [\"qemu-s390x\", \"-L\", \"/x\"]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("ws/.cargo/config.toml"),
            "[target.s390x-unknown-linux-gnu]\nrunner = \"outer\"\nlinker = \"tools/ld\"\n",
        )
        .unwrap();
        let cfg = CargoConfig::load(&inner).unwrap();
        let runner = cfg
            .target_program("s390x-unknown-linux-gnu", TargetKey::Runner)
            .unwrap();
        assert_eq!(runner.argv, ["qemu-s390x", "-L", "/x"]);
        assert_eq!(
            runner.source,
            Source::Config(inner.join(".cargo/config.toml"))
        );
        let linker = cfg
            .target_program("s390x-unknown-linux-gnu", TargetKey::Linker)
            .unwrap();
        assert_eq!(
            linker.argv,
            [dir.path()
                .join("ws/tools/ld")
                .to_string_lossy()
                .into_owned()]
        );
        assert!(
            cfg.target_program("aarch64-unknown-linux-gnu", TargetKey::Linker)
                .is_none()
        );
    }

    #[test]
    fn malformed_config_is_one_line_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".cargo")).unwrap();
        std::fs::write(dir.path().join(".cargo/config.toml"), "[target\nx = ").unwrap();
        let err = CargoConfig::load(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("malformed cargo config"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert_eq!(err.exit_code(), crate::error::EXIT_BAD_INPUT);
    }
}
