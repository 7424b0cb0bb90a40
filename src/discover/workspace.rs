//! The workspace as this tool sees it, read once from `cargo metadata`: member packages with
//! their lib/bin/test targets, proc-macros, the dependency graph (normal, build and dev edges) used
//! to attribute a dependency's failure to the members it blocks, and the raw
//! `[workspace.metadata.xtest]` table for the policy.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cargo_metadata::{DependencyKind, MetadataCommand, TargetKind};

use crate::error::{Error, Result};
use crate::ids::PackageId;

/// A compile unit kind, as far as verification cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum UnitKind {
    /// A library of any crate type (rlib, dylib, cdylib, staticlib, proc-macro).
    Lib,
    Bin,
    /// An integration test (`tests/*.rs`).
    Test,
    /// An example (`examples/*.rs`): `cargo test` runs its tests only with `test = true`.
    Example,
    /// A bench (`benches/*.rs`): `cargo test` runs its tests only with `test = true`.
    Bench,
    /// A build script.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub name: String,
    pub kind: UnitKind,
    pub proc_macro: bool,
    pub test: bool,
    pub doctest: bool,
    /// `harness = false`: cargo runs it without arguments and judges its exit status.
    pub harness: bool,
    pub required_features: Vec<String>,
    /// `cargo build` links it for the target: a binary, a `dylib` or `cdylib` (an rlib, a
    /// staticlib or a proc-macro, built for the host, needs no linker for the target).
    pub links: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Package {
    pub id: crate::ids::PackageId,
    pub name: String,
    pub version: String,
    pub manifest_dir: PathBuf,
    pub targets: Vec<Target>,
    pub meta: PackageMeta,
}

/// The manifest fields cargo hands a test at run time as `CARGO_PKG_*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct PackageMeta {
    pub authors: Vec<String>,
    pub description: Option<String>,
    pub homepage: Option<String>,
    pub repository: Option<String>,
    pub license: Option<String>,
    pub license_file: Option<String>,
    pub readme: Option<String>,
    pub rust_version: Option<String>,
}

impl Package {
    /// The package's part of the environment `cargo test` gives each test process: the manifest's
    /// location and every `CARGO_PKG_*` variable, spelled as cargo spells them.
    pub(crate) fn test_env(&self) -> Vec<(String, String)> {
        let v = cargo_metadata::semver::Version::parse(&self.version).ok();
        let part = |f: fn(&cargo_metadata::semver::Version) -> String| {
            v.as_ref().map(f).unwrap_or_default()
        };
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        let m = &self.meta;
        [
            (
                "CARGO_MANIFEST_DIR",
                self.manifest_dir.display().to_string(),
            ),
            (
                "CARGO_MANIFEST_PATH",
                self.manifest_dir.join("Cargo.toml").display().to_string(),
            ),
            ("CARGO_PKG_NAME", self.name.clone()),
            ("CARGO_PKG_VERSION", self.version.clone()),
            ("CARGO_PKG_VERSION_MAJOR", part(|v| v.major.to_string())),
            ("CARGO_PKG_VERSION_MINOR", part(|v| v.minor.to_string())),
            ("CARGO_PKG_VERSION_PATCH", part(|v| v.patch.to_string())),
            ("CARGO_PKG_VERSION_PRE", part(|v| v.pre.to_string())),
            ("CARGO_PKG_AUTHORS", m.authors.join(":")),
            ("CARGO_PKG_DESCRIPTION", opt(&m.description)),
            ("CARGO_PKG_HOMEPAGE", opt(&m.homepage)),
            ("CARGO_PKG_REPOSITORY", opt(&m.repository)),
            ("CARGO_PKG_LICENSE", opt(&m.license)),
            ("CARGO_PKG_LICENSE_FILE", opt(&m.license_file)),
            ("CARGO_PKG_README", opt(&m.readme)),
            ("CARGO_PKG_RUST_VERSION", opt(&m.rust_version)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The names of the package's binaries (`CARGO_BIN_EXE_<name>` for its integration tests).
    pub(crate) fn bins(&self) -> impl Iterator<Item = &str> {
        self.targets
            .iter()
            .filter(|t| t.kind == UnitKind::Bin)
            .map(|t| t.name.as_str())
    }

    pub(crate) fn lib(&self) -> Option<&Target> {
        self.targets.iter().find(|t| t.kind == UnitKind::Lib)
    }
}

/// One dependency edge in the resolved graph.
#[derive(Debug, Clone)]
pub(crate) struct DepEdge {
    pub id: crate::ids::PackageId,
    pub dev_only: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Workspace {
    pub root: PathBuf,
    pub manifest_path: PathBuf,
    pub target_dir: PathBuf,
    pub members: Vec<Package>,
    /// The ids `cargo test` selects without `-p` or `--workspace`: the `default-members`, else
    /// the root package in a workspace whose root is a package, else every member.
    pub default_members: Vec<PackageId>,
    /// `name vVERSION` of every package in the graph, by id.
    pub names: BTreeMap<PackageId, (String, String)>,
    pub deps: BTreeMap<PackageId, Vec<DepEdge>>,
    pub metadata: serde_json::Value,
}

/// Feature selection passed to `cargo metadata` (and later to every cargo invocation).
#[derive(Debug, Clone, Default)]
pub(crate) struct FeatureArgs {
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
}

impl Workspace {
    pub(crate) fn load(
        cargo: &Path,
        manifest_path: Option<&Path>,
        features: &FeatureArgs,
    ) -> Result<Self> {
        if let Some(p) = manifest_path
            && !p.is_file()
        {
            return Err(Error::bad_input(if p.is_dir() {
                format!(
                    "--manifest-path {} is a directory; pass the path of its Cargo.toml ({})",
                    p.display(),
                    p.join("Cargo.toml").display()
                )
            } else {
                format!(
                    "manifest not found: {} does not exist; pass the path of a Cargo.toml to --manifest-path",
                    p.display()
                )
            }));
        }
        let mut cmd = MetadataCommand::new();
        cmd.cargo_path(cargo);
        if let Some(p) = manifest_path {
            cmd.manifest_path(p);
        }
        let mut other = Vec::new();
        if features.all_features {
            other.push("--all-features".to_owned());
        }
        if features.no_default_features {
            other.push("--no-default-features".to_owned());
        }
        if !features.features.is_empty() {
            other.push("--features".to_owned());
            other.push(features.features.join(","));
        }
        cmd.other_options(other);
        let out = cmd
            .cargo_command()
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| metadata_error(cargo_metadata::Error::Io(e)))?;
        if !out.status.success() {
            return Err(metadata_error(cargo_metadata::Error::CargoMetadata {
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json = stdout
            .lines()
            .find(|l| l.starts_with('{'))
            .ok_or_else(|| Error::bad_input("cargo metadata printed no JSON"))?;
        let meta = MetadataCommand::parse(json).map_err(metadata_error)?;
        // cargo_metadata normalises `rust-version = "1.70"` to `1.70.0`; a test sees the
        // manifest's own spelling in CARGO_PKG_RUST_VERSION, so keep it from the raw JSON.
        let raw_rust_version: BTreeMap<String, String> =
            serde_json::from_str::<serde_json::Value>(json)
                .ok()
                .and_then(|v| v.get("packages").and_then(|p| p.as_array()).cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.get("id")?.as_str()?.to_owned(),
                        p.get("rust_version")?.as_str()?.to_owned(),
                    ))
                })
                .collect();

        let members: BTreeSet<&cargo_metadata::PackageId> = meta.workspace_members.iter().collect();
        let mut names = BTreeMap::new();
        let mut packages = Vec::new();
        for p in &meta.packages {
            names.insert(
                p.id.repr.as_str().into(),
                (p.name.to_string(), p.version.to_string()),
            );
            if !members.contains(&p.id) {
                continue;
            }
            let no_harness = harness_off(p.manifest_path.as_std_path());
            packages.push(Package {
                id: p.id.repr.as_str().into(),
                name: p.name.to_string(),
                version: p.version.to_string(),
                manifest_dir: p
                    .manifest_path
                    .parent()
                    .map(|d| d.as_std_path().to_path_buf())
                    .unwrap_or_default(),
                targets: p
                    .targets
                    .iter()
                    .map(|t| convert_target(t, &no_harness))
                    .collect(),
                meta: PackageMeta {
                    authors: p.authors.clone(),
                    description: p.description.clone(),
                    homepage: p.homepage.clone(),
                    repository: p.repository.clone(),
                    license: p.license.clone(),
                    license_file: p.license_file.as_ref().map(|f| f.to_string()),
                    readme: p.readme.as_ref().map(|f| f.to_string()),
                    rust_version: raw_rust_version
                        .get(&p.id.repr)
                        .cloned()
                        .or_else(|| p.rust_version.as_ref().map(|v| v.to_string())),
                },
            });
        }
        packages.sort_by(|a, b| a.name.cmp(&b.name));
        let mut deps = BTreeMap::new();
        if let Some(resolve) = &meta.resolve {
            for node in &resolve.nodes {
                let edges = node
                    .deps
                    .iter()
                    .map(|d| DepEdge {
                        id: d.pkg.repr.as_str().into(),
                        dev_only: !d.dep_kinds.is_empty()
                            && d.dep_kinds
                                .iter()
                                .all(|k| k.kind == DependencyKind::Development),
                    })
                    .collect();
                deps.insert(node.id.repr.as_str().into(), edges);
            }
        }
        // Cargo older than 1.71 does not report them: every member then, as before.
        let default_members = if meta.workspace_default_members.is_available() {
            meta.workspace_default_members
                .iter()
                .map(|id| id.repr.as_str().into())
                .collect()
        } else {
            packages.iter().map(|p| p.id.clone()).collect()
        };
        Ok(Workspace {
            root: meta.workspace_root.clone().into_std_path_buf(),
            manifest_path: meta.workspace_root.join("Cargo.toml").into_std_path_buf(),
            target_dir: meta.target_directory.clone().into_std_path_buf(),
            members: packages,
            default_members,
            names,
            deps,
            metadata: meta.workspace_metadata.clone(),
        })
    }

    pub(crate) fn member(&self, id: &str) -> Option<&Package> {
        self.members.iter().find(|p| p.id == id)
    }

    pub(crate) fn member_by_name(&self, name: &str) -> Option<&Package> {
        self.members.iter().find(|p| p.name == name)
    }

    /// `name vVERSION` for any package id in the graph.
    pub(crate) fn display_name(&self, id: &str) -> String {
        self.names
            .get(id)
            .map(|(n, v)| format!("{n} v{v}"))
            .unwrap_or_else(|| id.to_owned())
    }

    pub(crate) fn package_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map(|(n, _)| n.as_str()).unwrap_or(id)
    }

    /// Every package `id` depends on, transitively; `with_dev` adds `id`'s own dev-dependencies
    /// (dev-dependencies of dependencies are never built).
    pub(crate) fn closure(&self, id: &str, with_dev: bool) -> BTreeSet<PackageId> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<PackageId> = self
            .deps
            .get(id)
            .into_iter()
            .flatten()
            .filter(|e| with_dev || !e.dev_only)
            .map(|e| e.id.clone())
            .collect();
        while let Some(next) = stack.pop() {
            if seen.insert(next.clone()) {
                stack.extend(
                    self.deps
                        .get(&next)
                        .into_iter()
                        .flatten()
                        .filter(|e| !e.dev_only)
                        .map(|e| e.id.clone()),
                );
            }
        }
        seen
    }
}

/// The unit kind of a cargo target (from `cargo metadata` or a `compiler-artifact` message).
pub(crate) fn unit_kind(t: &cargo_metadata::Target) -> UnitKind {
    let is = |k: &TargetKind| t.kind.contains(k);
    if is(&TargetKind::Lib)
        || is(&TargetKind::RLib)
        || is(&TargetKind::DyLib)
        || is(&TargetKind::CDyLib)
        || is(&TargetKind::StaticLib)
        || is(&TargetKind::ProcMacro)
    {
        UnitKind::Lib
    } else if is(&TargetKind::Bin) {
        UnitKind::Bin
    } else if is(&TargetKind::Test) {
        UnitKind::Test
    } else if is(&TargetKind::Example) {
        UnitKind::Example
    } else if is(&TargetKind::Bench) {
        UnitKind::Bench
    } else {
        UnitKind::Other
    }
}

/// `cargo metadata` does not say which targets set `harness = false`; the manifest does. The
/// (kind, name) of each such target: `lib`, `bin`, `test`, `example` or `bench`, and the
/// target's name as cargo names it (a `[lib]`'s is its crate name). Only targets declared in the
/// manifest can turn the harness off, so discovered ones never appear. An unreadable manifest
/// gives none (cargo metadata already read it).
fn harness_off(manifest: &Path) -> BTreeSet<(UnitKind, String)> {
    let Some(doc) = std::fs::read_to_string(manifest)
        .ok()
        .and_then(|s| s.parse::<toml::Table>().ok())
    else {
        return BTreeSet::new();
    };
    let package_name = doc
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or_default()
        .replace('-', "_");
    let name_of = |t: &toml::Table, default: &str| -> String {
        t.get("name")
            .and_then(|n| n.as_str())
            .map(str::to_owned)
            .or_else(|| {
                t.get("path")
                    .and_then(|p| p.as_str())
                    .and_then(|p| Path::new(p).file_stem())
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| default.to_owned())
    };
    let off = |t: &toml::Table| t.get("harness").and_then(|h| h.as_bool()) == Some(false);
    let mut set = BTreeSet::new();
    if let Some(lib) = doc.get("lib").and_then(|l| l.as_table())
        && off(lib)
    {
        set.insert((UnitKind::Lib, name_of(lib, &package_name).replace('-', "_")));
    }
    for (key, kind) in [
        ("bin", UnitKind::Bin),
        ("test", UnitKind::Test),
        ("example", UnitKind::Example),
        ("bench", UnitKind::Bench),
    ] {
        for t in doc
            .get(key)
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_table())
            .filter(|t| off(t))
        {
            set.insert((kind, name_of(t, &package_name)));
        }
    }
    set
}

fn convert_target(
    t: &cargo_metadata::Target,
    harness_off: &BTreeSet<(UnitKind, String)>,
) -> Target {
    let kind = unit_kind(t);
    Target {
        name: t.name.clone(),
        kind,
        proc_macro: t.kind.contains(&TargetKind::ProcMacro),
        test: t.test,
        doctest: t.doctest,
        harness: !harness_off.contains(&(kind, t.name.clone())),
        required_features: t.required_features.clone(),
        links: !t.kind.contains(&TargetKind::ProcMacro)
            && [TargetKind::Bin, TargetKind::DyLib, TargetKind::CDyLib]
                .iter()
                .any(|k| t.kind.contains(k)),
    }
}

fn metadata_error(e: cargo_metadata::Error) -> Error {
    match e {
        cargo_metadata::Error::CargoMetadata { stderr } => Error::bad_input(format!(
            "cargo metadata failed: {}",
            summarize_cargo_error(&stderr)
        )),
        other => Error::bad_input(format!("cargo metadata failed: {other}")),
    }
}

/// Folds cargo's `error: …` plus its `Caused by:` chain into one line, with a hint where one helps.
/// A source snippet (`--> file:line:col`, `  |` lines) becomes its location and the reason
/// printed under it.
fn summarize_cargo_error(stderr: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut lines = stderr.lines().map(str::trim).peekable();
    let is_snippet = |l: &str| {
        l.starts_with('|')
            || l.split_once(" |")
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    while let Some(line) = lines.next() {
        let part = if let Some(msg) = line.strip_prefix("error:") {
            msg.trim().to_owned()
        } else if line == "Caused by:"
            && let Some(cause) = lines.find(|l| !l.is_empty())
        {
            cause.to_owned()
        } else {
            continue;
        };
        let mut part = part;
        let mut in_snippet = false;
        while let Some(next) = lines.peek().copied() {
            if let Some(at) = next.strip_prefix("-->") {
                part.push_str(&format!(" (at {})", at.trim()));
            } else if is_snippet(next) {
                in_snippet = true;
            } else if in_snippet && !next.is_empty() && !next.starts_with("error:") {
                part.push_str(&format!(": {next}"));
                in_snippet = false;
            } else {
                break;
            }
            lines.next();
        }
        parts.push(part);
    }
    if parts.is_empty() {
        parts.extend(
            stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_owned),
        );
    }
    let mut text = parts.join(": ");
    if text.contains("could not find `Cargo.toml`") {
        text.push_str("; run inside a Cargo workspace or pass --manifest-path");
    }
    crate::discover::cargo_config::one_line(&text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cargo_errors_fold_into_one_line_with_causes() {
        let s = "error: could not load Cargo configuration\n\nCaused by:\n  could not parse TOML configuration in `/w/.cargo/config.toml`\n\nCaused by:\n  TOML parse error at line 1, column 9\n    |\n";
        assert_eq!(
            super::summarize_cargo_error(s),
            "could not load Cargo configuration: could not parse TOML configuration in `/w/.cargo/config.toml`: TOML parse error at line 1, column 9"
        );
    }

    #[test]
    fn the_location_and_reason_under_a_snippet_are_kept() {
        // cargo 1.95, `[target.x` in .cargo/config.toml.
        let config = "error: could not load Cargo configuration\n\nCaused by:\n  could not parse TOML configuration in `/w/.cargo/config.toml`\n\nCaused by:\n  TOML parse error at line 1, column 10\n    |\n  1 | [target.x\n    |          ^\n  unclosed table, expected `]`\n";
        assert_eq!(
            super::summarize_cargo_error(config),
            "could not load Cargo configuration: could not parse TOML configuration in `/w/.cargo/config.toml`: TOML parse error at line 1, column 10: unclosed table, expected `]`"
        );
        // cargo 1.95, `version = 1` in Cargo.toml.
        let manifest = "error: invalid type: integer `1`, expected SemVer version\n --> bad/Cargo.toml:3:11\n  |\n3 | version = 1\n  |           ^\n";
        assert_eq!(
            super::summarize_cargo_error(manifest),
            "invalid type: integer `1`, expected SemVer version (at bad/Cargo.toml:3:11)"
        );
    }
}
