//! What `setup` does: the install commands, running them, and `--write-config`.

use std::path::{Path, PathBuf};

use crate::discover::{Host, PackageManager, Runner, Source, TargetToolchain, Tool};
use crate::error::{Context, Error, Result};
use crate::fixes::Fixer;
use crate::targets::{LinkVia, Packages};

use super::{Examination, Status};

/// The commands that install everything missing, in order, as argument vectors.
pub(crate) fn fix_commands(host: &Host, fixer: &Fixer, exams: &[Examination]) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let pkgs: Vec<Packages> = exams
        .iter()
        .flat_map(|e| &e.components)
        .filter(|c| c.status == Status::Missing)
        .flat_map(|c| c.packages.iter().copied())
        .collect();
    if let Some(install) = fixer.install_argv(&pkgs) {
        if host.package_manager == PackageManager::Apt {
            let mut update: Vec<String> = install
                .iter()
                .take_while(|a| *a != "apt-get")
                .cloned()
                .collect();
            update.extend(["apt-get".to_owned(), "update".to_owned()]);
            commands.push(update);
        }
        commands.push(install);
    }
    let std: Vec<&str> = exams
        .iter()
        .filter(|e| e.std_missing)
        .map(|e| e.triple.as_str())
        .collect();
    if !std.is_empty() && host.rustup {
        commands.push(
            ["rustup", "target", "add"]
                .into_iter()
                .chain(std)
                .map(str::to_owned)
                .collect(),
        );
    }
    for c in exams.iter().flat_map(|e| &e.commands) {
        if !commands.contains(c) {
            commands.push(c.clone());
        }
    }
    commands
}

/// Runs the fix commands, stopping at the first that fails; `on_start` hears of each.
pub(crate) fn run_commands(commands: &[Vec<String>], on_start: &dyn Fn(&[String])) -> Result<()> {
    for argv in commands {
        on_start(argv);
        let status = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .or_bad_input(|| format!("cannot run `{}`", argv[0]))?;
        if !status.success() {
            return Err(Error::bad_input(format!(
                "`{}` failed ({}); run it by hand to see why",
                argv.join(" "),
                crate::process::describe_status(status)
            )));
        }
    }
    Ok(())
}

/// What `--write-config` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ConfigChange {
    pub path: PathBuf,
    pub backup: Option<PathBuf>,
    pub written: Vec<String>,
    pub kept: Vec<String>,
    /// Settings left out, each with why: `target.T.linker: …`.
    pub left_out: Vec<String>,
}

/// Writes auto-detected linkers and runners of foreign targets into `<root>/.cargo/config.toml`,
/// keeping every existing setting and comment; backs the file up first when it changes.
pub(crate) fn write_config(root: &Path, toolchains: &[TargetToolchain]) -> Result<ConfigChange> {
    let dir = root.join(".cargo");
    let path = if !dir.join("config.toml").exists() && dir.join("config").exists() {
        dir.join("config")
    } else {
        dir.join("config.toml")
    };
    let original = std::fs::read_to_string(&path).ok();
    let mut doc: toml_edit::DocumentMut =
        original
            .as_deref()
            .unwrap_or("")
            .parse()
            .map_err(|e: toml_edit::TomlError| {
                Error::bad_input(format!(
                    "malformed cargo config {}: {}; fix it before --write-config edits it",
                    path.display(),
                    crate::discover::cargo_config::one_line(&e.to_string())
                ))
            })?;
    let mut change = ConfigChange {
        path: path.clone(),
        ..Default::default()
    };
    // An interpreted lane links nothing and runs under Miri: its target's settings are its
    // native lane's.
    for tc in toolchains.iter().filter(|tc| !tc.interpreted()) {
        let mut wanted: Vec<(&str, String)> = Vec::new();
        // The cross gcc itself, not cargo-xtest's rust-lld wrapper of it under the target
        // directory: a configured linker is the user's, and is used as it is.
        let linker = tc
            .without_lld()
            .map_or_else(|| tc.linker.clone(), |plain| plain.linker);
        match &linker {
            // zig links through cargo-xtest's wrapper under its state directory, which `cargo
            // clean` removes: a config naming it would break every later build of that target.
            Some(Tool {
                source: Source::AutoDetected,
                path: Some(_),
                ..
            }) if matches!(tc.info.map(|i| i.link), Some(LinkVia::Zig(_))) => {
                change.left_out.push(format!(
                    "target.{t}.linker: zig links it through cargo-xtest's wrapper under the \
                     target directory, which `cargo clean` removes; `cargo xtest` links it, \
                     and outside it `cargo zigbuild --target {t}`",
                    t = tc.triple
                ));
            }
            Some(Tool {
                program,
                source: Source::AutoDetected,
                path: Some(_),
            }) => wanted.push(("linker", program.clone())),
            _ => {}
        }
        if let Ok(Runner::Command {
            argv,
            source: Source::AutoDetected,
            ..
        }) = &tc.runner
            && !argv.is_empty()
        {
            wanted.push(("runner", argv.join(" ")));
        }
        if wanted.is_empty() {
            continue;
        }
        let target = doc
            .entry("target")
            .or_insert_with(|| {
                let mut t = toml_edit::Table::new();
                t.set_implicit(true);
                toml_edit::Item::Table(t)
            })
            .as_table_mut()
            .ok_or_else(|| {
                Error::bad_input(format!("`target` in {} is not a table", path.display()))
            })?;
        let table = target
            .entry(&tc.triple)
            .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
            .as_table_like_mut()
            .ok_or_else(|| {
                Error::bad_input(format!(
                    "`target.{}` in {} is not a table",
                    tc.triple,
                    path.display()
                ))
            })?;
        for (key, value) in wanted {
            let name = format!("target.{}.{key}", tc.triple);
            if table.contains_key(key) {
                change.kept.push(name);
            } else {
                table.insert(key, toml_edit::value(value));
                change.written.push(name);
            }
        }
    }
    if change.written.is_empty() {
        return Ok(change);
    }
    std::fs::create_dir_all(&dir).or_internal(|| format!("cannot create {}", dir.display()))?;
    if original.is_some() {
        let backup = (0..)
            .map(|i| {
                let suffix = if i == 0 {
                    "bak".to_owned()
                } else {
                    format!("bak.{i}")
                };
                path.with_extension(match path.extension() {
                    Some(ext) => format!("{}.{suffix}", ext.to_string_lossy()),
                    None => suffix,
                })
            })
            .find(|p| !p.exists())
            .expect("a free backup name");
        std::fs::copy(&path, &backup)
            .or_internal(|| format!("cannot back up {}", path.display()))?;
        change.backup = Some(backup);
    }
    crate::fsutil::write_atomic(&path, doc.to_string().as_bytes())
        .map_err(|e| Error::internal(crate::fsutil::write_error("cargo config", &path, &e)))?;
    Ok(change)
}
