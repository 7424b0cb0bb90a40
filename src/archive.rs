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
use crate::error::{Context, Error, Result};
use crate::level::Level;
use crate::plan::{Plan, PlannedPackage};

pub(crate) const SCHEMA: &str = "cargo-xtest/archive-v1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub schema: String,
    pub triple: crate::ids::Triple,
    /// The host that built the binaries.
    pub built_on: String,
    pub packages: Vec<ArchivedPackage>,
    /// Test name → reason, from the policy.
    pub skips: BTreeMap<String, String>,
    /// Package name → reason, from the policy.
    pub excluded: BTreeMap<String, String>,
    pub doctests: String,
    /// Rust's shared libraries some binary needs (a proc-macro's tests link libstd dynamically),
    /// packed as `sysroot/lib/rustlib/<triple>/lib/<file>` and put on the library path.
    #[serde(default)]
    pub sysroot_libs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ArchivedPackage {
    pub id: crate::ids::PackageId,
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
pub(crate) struct ArchivedBinary {
    /// `lib`, `bin/NAME`, `test/NAME`, `example/NAME` or `bench/NAME`; anything else is refused
    /// when the manifest is read.
    pub id: crate::ids::BinaryId,
    pub file: String,
    /// `harness = false`: run whole and judged by its exit status.
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub harness: bool,
    /// The `cargo::rustc-env` variables of its package's build script (`OUT_DIR` is a
    /// directory of the building machine: it is carried as `out_dir`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub script_env: Vec<(String, String)>,
    /// Its build script's `OUT_DIR`, packed with everything in it, inside the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_dir: Option<String>,
    /// The build scripts' link-search directories inside its profile directory (shared
    /// libraries a build script built), packed, inside the archive: the loader path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_dirs: Vec<String>,
}

fn yes() -> bool {
    true
}

fn io(what: &str, path: &Path) -> impl Fn(std::io::Error) -> Error {
    let msg = format!("cannot {what} {}", path.display());
    move |e| Error::internal(format!("{msg}: {e}"))
}

/// Packs what the build produced for `triple` into `out`.
pub(crate) fn create(
    plan: &Plan,
    ws: &Workspace,
    build: &BuildResult,
    triple: &str,
    sysroot: &Path,
    out: &Path,
) -> Result<Manifest> {
    let target = plan
        .targets
        .iter()
        .find(|t| t.triple == triple && !t.interpreted)
        .expect("planned");
    // Written beside `out` and renamed over it when complete: a failed or killed run leaves
    // no half archive where a good one was.
    let file = crate::fsutil::temp_beside(out).map_err(io("create", out))?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::fast()));
    tar.follow_symlinks(false);
    tar.sparse(false);
    let mut packages = Vec::new();
    let mut packed: Vec<&Path> = Vec::new();
    // Build-script directories packed so far (a package's `OUT_DIR` serves all its binaries).
    let mut packed_dirs: std::collections::BTreeSet<String> = Default::default();
    for id in &plan.packages {
        let Some(pkg) = ws.member(id) else { continue };
        if target.excluded.contains_key(&pkg.name) {
            continue;
        }
        let built = build
            .packages
            .get(&(crate::ids::Lane::native(triple), id.clone()));
        let dir = format!("packages/{}", pkg.name);
        add_dir(&mut tar, &pkg.manifest_dir, Path::new(&dir))?;
        let mut binaries = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for b in build
            .binaries
            .iter()
            .filter(|b| b.triple == triple && !b.interpreted && b.package_id == *id)
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
            packed.push(&b.path);
            // Build-script directories inside the executable's profile directory keep their
            // place relative to it: `bin/` is the profile directory of an archive's binaries.
            let profile = b.path.parent().and_then(Path::parent);
            let mut carry = |d: &Path| -> Result<Option<String>> {
                let Some(rel) = profile
                    .and_then(|p| d.strip_prefix(p).ok())
                    .filter(|r| confined(r) && d.is_dir())
                else {
                    return Ok(None);
                };
                let name = format!("bin/{}", rel.display());
                if packed_dirs.insert(name.clone()) {
                    tar.append_dir(&name, d).map_err(io("pack", d))?;
                    add_dir(&mut tar, d, Path::new(&name))?;
                }
                Ok(Some(name))
            };
            let out_dir = match b.script_env.iter().find(|(k, _)| k == "OUT_DIR") {
                Some((_, dir)) => carry(Path::new(dir))?,
                None => None,
            };
            let mut link_dirs = Vec::new();
            for d in &b.link_dirs {
                link_dirs.extend(carry(d)?);
            }
            binaries.push(ArchivedBinary {
                id: b.id.clone(),
                file,
                harness: b.harness,
                script_env: b
                    .script_env
                    .iter()
                    .filter(|(k, _)| k != "OUT_DIR")
                    .cloned()
                    .collect(),
                out_dir,
                link_dirs,
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
    let libs_dir = Path::new("lib/rustlib").join(triple).join("lib");
    let mut sysroot_libs = Vec::new();
    for lib in needed_libs(&sysroot.join(&libs_dir), &packed) {
        let name = Path::new("sysroot")
            .join(&libs_dir)
            .join(lib.file_name().unwrap_or_default());
        tar.append_path_with_name(&lib, &name)
            .map_err(io("pack", &lib))?;
        sysroot_libs.push(name.to_string_lossy().into_owned());
    }
    let manifest = Manifest {
        schema: SCHEMA.to_owned(),
        triple: triple.into(),
        built_on: plan.host.to_string(),
        packages,
        skips: target.skips.clone(),
        excluded: target.excluded.clone(),
        doctests:
            "not archived: rustdoc compiles doctests at run time, which needs the Rust toolchain"
                .to_owned(),
        sysroot_libs,
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

/// The shared libraries of `dir` (Rust's `libstd-*.so` and the like) whose file name one of
/// `binaries` names: the dynamic section holds each needed library's name verbatim.
fn needed_libs(dir: &Path, binaries: &[&Path]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let libs: Vec<(PathBuf, Vec<u8>)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "so"))
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().as_bytes().to_vec();
            Some((p, name))
        })
        .collect();
    let mut needed = std::collections::BTreeSet::new();
    for b in binaries {
        let Ok(bytes) = std::fs::read(b) else {
            continue;
        };
        for (lib, name) in &libs {
            if bytes.windows(name.len()).any(|w| w == name.as_slice()) {
                needed.insert(lib.clone());
            }
        }
    }
    needed.into_iter().collect()
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

/// What an archive may unpack to: a hostile or broken archive is refused with a clear error
/// before it fills the disk or the memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// All files together, in bytes.
    pub total: u64,
    /// One file.
    pub entry: u64,
    /// `manifest.json` (read into memory).
    pub manifest: u64,
    /// Files and directories.
    pub entries: u64,
}

impl Limits {
    /// `total` as given (`--max-unpacked`), the rest derived from it.
    pub(crate) fn with_total(total: u64) -> Self {
        Limits {
            total,
            entry: total.min(4 << 30),
            manifest: total.min(64 << 20),
            entries: 1_000_000,
        }
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
        b => format!("{b} bytes"),
    }
}

/// Reads `archive` entry by entry, refusing the first one over `limits`, of another kind than a
/// regular file or directory, or outside the extraction directory; with `into`, unpacks each
/// one there after vetting it.
fn unpack(archive: &Path, into: Option<&Path>, limits: &Limits) -> Result<()> {
    let shown = archive.display();
    let file = File::open(archive).or_bad_input(|| format!("cannot open archive {shown}"))?;
    let not_ours =
        |e: std::io::Error| Error::bad_input(format!("{shown} is not a cargo-xtest archive: {e}"));
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    let (mut total, mut count) = (0u64, 0u64);
    for entry in tar.entries().map_err(not_ours)? {
        let mut entry = entry.map_err(not_ours)?;
        let path = entry.path().map_err(not_ours)?.into_owned();
        let kind = entry.header().entry_type();
        let sparse = kind.is_gnu_sparse();
        if !(kind.is_file() || kind.is_dir() || sparse) {
            return Err(Error::bad_input(format!(
                "{shown} holds `{}`, which is not a regular file or directory ({kind:?}): refused; archives written by `cargo xtest archive` hold only files",
                path.display()
            )));
        }
        // A sparse file unpacks to its real size, not to what it stores.
        let bytes = match entry.header().as_gnu().filter(|_| sparse) {
            Some(gnu) => gnu.real_size().map_err(not_ours)?,
            None => entry.header().size().map_err(not_ours)?,
        };
        count += 1;
        total = total.saturating_add(bytes);
        let limit = if path == Path::new("manifest.json") {
            limits.manifest
        } else {
            limits.entry
        };
        let over = if bytes > limit {
            Some((
                format!(
                    "`{}` is {} (limit {})",
                    path.display(),
                    size(bytes),
                    size(limit)
                ),
                "--max-unpacked",
            ))
        } else if total > limits.total {
            Some((
                format!("it unpacks to more than {}", size(limits.total)),
                "--max-unpacked",
            ))
        } else if count > limits.entries {
            Some((
                format!("it holds more than {} entries", limits.entries),
                "--max-entries",
            ))
        } else {
            None
        };
        if let Some((what, option)) = over {
            return Err(Error::bad_input(format!(
                "{shown} refused: {what}; if the archive is trusted, raise {option}"
            )));
        }
        if !confined(&path) {
            return Err(Error::bad_input(format!(
                "{shown} holds `{}`, a path outside the extraction directory: refused",
                path.display()
            )));
        }
        let Some(dir) = into else { continue };
        match entry.unpack_in(dir) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::bad_input(format!(
                    "{shown} holds `{}`, a path outside the extraction directory: refused",
                    path.display()
                )));
            }
            Err(e) => {
                return Err(Error::bad_input(format!(
                    "cannot unpack `{}` of {shown} into {}: {e}",
                    path.display(),
                    dir.display()
                )));
            }
        }
    }
    Ok(())
}

/// Unpacks `archive` into `dir` (which must be empty) and reads and checks its manifest. Only
/// regular files and directories are unpacked, each inside `dir`; every path the manifest names
/// must be a regular file or directory inside `dir`, and the binaries must be executables for
/// the manifest's triple.
pub(crate) fn extract(archive: &Path, dir: &Path, limits: Limits) -> Result<Manifest> {
    // Every entry is vetted before anything is written (a first pass over the headers): an
    // archive over a limit leaves nothing behind. The second pass vets each entry again, as
    // the file could have changed in between.
    unpack(archive, None, &limits)?;
    unpack(archive, Some(dir), &limits)?;
    let shown = archive.display();
    let manifest_path = dir.join("manifest.json");
    if !std::fs::symlink_metadata(&manifest_path).is_ok_and(|m| m.is_file()) {
        return Err(Error::bad_input(format!(
            "{shown} has no manifest.json: not a cargo-xtest archive"
        )));
    }
    let text = std::fs::read(&manifest_path)
        .or_bad_input(|| format!("cannot read the manifest of {shown}"))?;
    let manifest = parse_manifest(&text).or_bad_input(|| format!("{shown}"))?;
    check_files(&manifest, dir).or_bad_input(|| format!("{shown}"))?;
    Ok(manifest)
}

/// A relative path of plain names: nothing that climbs out, starts at the root or names a
/// drive.
fn confined(path: &Path) -> bool {
    !path.as_os_str().is_empty()
        && path.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
}

/// Why an archive's manifest is refused: nothing of the archive is run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    #[error("malformed manifest")]
    Malformed(#[source] serde_json::Error),
    #[error("a `{0}` archive; this cargo-xtest reads `{SCHEMA}`")]
    Schema(String),
    #[error("the manifest names `{0}` as its target, which is not a target triple")]
    NotATriple(String),
    #[error("the manifest names `{path}`, which is not a {kind} inside the archive: refused")]
    NotInside { path: String, kind: &'static str },
    #[error("`{file}` is {found}, not an executable for {triple} as the manifest says: refused")]
    WrongExecutable {
        file: String,
        found: String,
        triple: String,
    },
}

/// Parses and checks a manifest (its schema and triple); paths are checked by [`extract`].
pub(crate) fn parse_manifest(text: &[u8]) -> std::result::Result<Manifest, Refused> {
    let manifest: Manifest = serde_json::from_slice(text).map_err(Refused::Malformed)?;
    if manifest.schema != SCHEMA {
        return Err(Refused::Schema(manifest.schema));
    }
    let t = &manifest.triple;
    let plausible = t.split('-').count() >= 2
        && t.split('-').all(|p| !p.is_empty())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if !plausible {
        return Err(Refused::NotATriple(t.escape_debug().to_string()));
    }
    Ok(manifest)
}

/// Every path the manifest names lies inside `dir` and is what it should be; every binary is an
/// executable for the manifest's triple.
fn check_files(manifest: &Manifest, dir: &Path) -> std::result::Result<(), Refused> {
    let inside = |rel: &str, want_dir: bool| {
        let p = Path::new(rel);
        let meta = confined(p)
            .then(|| std::fs::symlink_metadata(dir.join(p)).ok())
            .flatten();
        match meta {
            Some(m) if (want_dir && m.is_dir()) || (!want_dir && m.is_file()) => Ok(dir.join(p)),
            _ => Err(Refused::NotInside {
                path: rel.escape_debug().to_string(),
                kind: if want_dir { "directory" } else { "file" },
            }),
        }
    };
    for lib in &manifest.sysroot_libs {
        inside(lib, false)?;
    }
    for p in &manifest.packages {
        inside(&p.dir, true)?;
        for b in &p.binaries {
            let path = inside(&b.file, false)?;
            for d in b.out_dir.iter().chain(&b.link_dirs) {
                inside(d, true)?;
            }
            if let Some(found) = crate::targets::executable_mismatch(&path, &manifest.triple) {
                return Err(Refused::WrongExecutable {
                    file: b.file.clone(),
                    found,
                    triple: manifest.triple.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// The archived packages as the plan's members: their extracted directories and the
/// environment `cargo test` gave their tests.
pub(crate) fn members(
    manifest: &Manifest,
    dir: &Path,
) -> BTreeMap<crate::ids::PackageId, PlannedPackage> {
    manifest
        .packages
        .iter()
        .map(|p| {
            let package = Package {
                id: p.id.clone(),
                name: p.name.clone(),
                version: p.version.clone(),
                manifest_dir: dir.join(&p.dir),
                targets: Vec::new(),
                meta: p.meta.clone(),
            };
            (p.id.clone(), PlannedPackage::of(&package))
        })
        .collect()
}

/// The build as recorded at archive time, with the binaries' extracted paths.
pub(crate) fn build_result(manifest: &Manifest, dir: &Path) -> BuildResult {
    let mut result = BuildResult::default();
    for p in &manifest.packages {
        result.packages.insert(
            (
                crate::ids::Lane::native(manifest.triple.clone()),
                p.id.clone(),
            ),
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
                interpreted: false,
                package_id: p.id.clone(),
                id: b.id.clone(),
                path,
                harness: b.harness,
                script_env: b
                    .script_env
                    .iter()
                    .cloned()
                    .chain(
                        b.out_dir
                            .iter()
                            .map(|d| ("OUT_DIR".to_owned(), dir.join(d).display().to_string())),
                    )
                    .collect(),
                link_dirs: b.link_dirs.iter().map(|d| dir.join(d)).collect(),
            });
        }
    }
    result
}
