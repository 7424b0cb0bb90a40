//! `cargo xtest archive` and `cargo xtest run --archive`: build the test binaries of one target
//! here, pack them with a manifest and the files their tests read (each package's directory,
//! without `target/`), and run them on another machine — natively or under a runner — with no
//! cargo and no source checkout, writing the same report.
//!
//! Doctests are not archived: rustdoc compiles them at run time, which needs the toolchain.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::build::{BuildError, BuildResult, PackageBuild, TestBinary};
use crate::discover::{Package, Workspace};
use crate::error::{Error, Result};
use crate::level::Level;
use crate::plan::Plan;

pub const SCHEMA: &str = "cargo-xtest/archive-v1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub triple: String,
    /// The host that built the binaries.
    pub built_on: String,
    pub packages: Vec<ArchivedPackage>,
    /// Test name → reason, from the policy.
    pub skips: BTreeMap<String, String>,
    /// Package name → reason, from the policy.
    pub excluded: BTreeMap<String, String>,
    pub doctests: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedPackage {
    pub id: String,
    pub name: String,
    pub version: String,
    /// The package's files inside the archive.
    pub dir: String,
    pub binaries: Vec<ArchivedBinary>,
    pub reached: Level,
    pub failed: Option<Level>,
    pub errors: Vec<BuildError>,
    /// What its tests see as `CARGO_PKG_*` (absent in archives of older versions).
    #[serde(default)]
    pub meta: crate::discover::workspace::PackageMeta,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedBinary {
    /// `lib`, `bin/NAME` or `test/NAME`.
    pub id: String,
    pub file: String,
}

fn io(what: &str, path: &Path) -> impl Fn(std::io::Error) -> Error {
    let msg = format!("cannot {what} {}", path.display());
    move |e| Error::internal(format!("{msg}: {e}"))
}

/// Packs what the build produced for `triple` into `out`.
pub fn create(
    plan: &Plan,
    ws: &Workspace,
    build: &BuildResult,
    triple: &str,
    out: &Path,
) -> Result<Manifest> {
    let target = plan
        .targets
        .iter()
        .find(|t| t.triple == triple)
        .expect("planned");
    // Written beside `out` and renamed over it when complete: a failed or killed run leaves
    // no half archive where a good one was.
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = tempfile::Builder::new()
        .prefix(".cargo-xtest-archive.")
        .tempfile_in(dir)
        .map_err(io("create", out))?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::fast()));
    tar.follow_symlinks(false);
    let mut packages = Vec::new();
    for id in &plan.packages {
        let Some(pkg) = ws.member(id) else { continue };
        if target.excluded.contains_key(&pkg.name) {
            continue;
        }
        let built = build.packages.get(&(triple.to_owned(), id.clone()));
        let dir = format!("packages/{}", pkg.name);
        add_dir(&mut tar, &pkg.manifest_dir, Path::new(&dir))?;
        let mut binaries = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for b in build
            .binaries
            .iter()
            .filter(|b| b.triple == triple && b.package_id == *id)
        {
            if !seen.insert(b.id.clone()) {
                continue;
            }
            let name = b
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let file = format!("bin/{}/{name}", pkg.name);
            tar.append_path_with_name(&b.path, &file)
                .map_err(io("pack", &b.path))?;
            binaries.push(ArchivedBinary {
                id: b.id.clone(),
                file,
            });
        }
        packages.push(ArchivedPackage {
            id: id.clone(),
            name: pkg.name.clone(),
            version: pkg.version.clone(),
            dir,
            binaries,
            reached: built.map_or(Level::None, |b| b.reached),
            failed: built.and_then(|b| b.failed),
            errors: built.map(|b| b.errors.clone()).unwrap_or_default(),
            meta: pkg.meta.clone(),
        });
    }
    let manifest = Manifest {
        schema: SCHEMA.to_owned(),
        triple: triple.to_owned(),
        built_on: plan.host.clone(),
        packages,
        skips: target.skips.clone(),
        excluded: target.excluded.clone(),
        doctests:
            "not archived: rustdoc compiles doctests at run time, which needs the Rust toolchain"
                .to_owned(),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::internal(e.to_string()))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "manifest.json", json.as_slice())
        .map_err(io("pack the manifest into", out))?;
    let file = tar
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(io("finish", out))?;
    file.as_file().sync_all().map_err(io("finish", out))?;
    file.persist(out)
        .map_err(|e| e.error)
        .map_err(io("finish", out))?;
    Ok(manifest)
}

fn add_dir<W: std::io::Write>(tar: &mut tar::Builder<W>, src: &Path, dst: &Path) -> Result<()> {
    let entries = std::fs::read_dir(src).map_err(io("read", src))?;
    for e in entries.flatten() {
        let name = e.file_name();
        let path = e.path();
        let kind = e.file_type().map_err(io("read", &path))?;
        if kind.is_dir() {
            let n = name.to_string_lossy();
            if n == "target" || n.starts_with('.') {
                continue;
            }
            add_dir(tar, &path, &dst.join(&name))?;
        } else if kind.is_file() {
            tar.append_path_with_name(&path, dst.join(&name))
                .map_err(io("pack", &path))?;
        }
    }
    Ok(())
}

/// Unpacks `archive` into `dir` and reads its manifest.
pub fn extract(archive: &Path, dir: &Path) -> Result<Manifest> {
    let file = File::open(archive)
        .map_err(|e| Error::bad_input(format!("cannot open archive {}: {e}", archive.display())))?;
    tar::Archive::new(GzDecoder::new(file))
        .unpack(dir)
        .map_err(|e| {
            Error::bad_input(format!(
                "{} is not a cargo-xtest archive: {e}",
                archive.display()
            ))
        })?;
    let text = std::fs::read_to_string(dir.join("manifest.json")).map_err(|_| {
        Error::bad_input(format!(
            "{} has no manifest.json: not a cargo-xtest archive",
            archive.display()
        ))
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        Error::bad_input(format!("malformed manifest in {}: {e}", archive.display()))
    })?;
    if manifest.schema != SCHEMA {
        return Err(Error::bad_input(format!(
            "{} is a `{}` archive; this cargo-xtest reads `{SCHEMA}`",
            archive.display(),
            manifest.schema
        )));
    }
    Ok(manifest)
}

/// The workspace, as far as a run needs it, inside the extracted archive.
pub fn workspace(manifest: &Manifest, dir: &Path) -> Workspace {
    let members: Vec<Package> = manifest
        .packages
        .iter()
        .map(|p| Package {
            id: p.id.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
            manifest_dir: dir.join(&p.dir),
            targets: Vec::new(),
            meta: p.meta.clone(),
        })
        .collect();
    Workspace {
        root: dir.to_path_buf(),
        manifest_path: dir.join("manifest.json"),
        target_dir: dir.join("target"),
        names: members
            .iter()
            .map(|p| (p.id.clone(), (p.name.clone(), p.version.clone())))
            .collect(),
        members,
        deps: BTreeMap::new(),
        metadata: serde_json::Value::Null,
    }
}

/// The build as recorded at archive time, with the binaries' extracted paths.
pub fn build_result(manifest: &Manifest, dir: &Path) -> BuildResult {
    let mut result = BuildResult::default();
    for p in &manifest.packages {
        result.packages.insert(
            (manifest.triple.clone(), p.id.clone()),
            PackageBuild {
                reached: p.reached,
                failed: p.failed,
                errors: p.errors.clone(),
            },
        );
        for b in &p.binaries {
            let path: PathBuf = dir.join(&b.file);
            result.binaries.push(TestBinary {
                triple: manifest.triple.clone(),
                package_id: p.id.clone(),
                id: b.id.clone(),
                path,
            });
        }
    }
    result
}
