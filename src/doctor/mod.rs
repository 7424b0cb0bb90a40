//! `cargo xtest doctor` and `cargo xtest setup`: per target, each component (std, linker, C
//! compiler, C library, emulator, sysroot, runner) found or missing and where it came from, what
//! the probes proved of them, and the level the target reaches; the exact commands that install
//! what is missing on this distro; running them (`setup --yes`); and
//! writing auto-detected linkers and runners into the workspace's `.cargo/config.toml`
//! (`setup --write-config`: comments and existing settings kept, a backup made, idempotent).
//!
//! Three steps, one file each: [`examine`] (what is there, what the probes proved), [`render`]
//! (the report and the manual advice) and [`setup`] (the install commands, running them, the
//! configuration file).

mod examine;
mod render;
mod setup;

pub(crate) use examine::examine;
pub(crate) use render::{advice, render};
pub(crate) use setup::{fix_commands, run_commands, write_config};

use crate::level::Level;
use crate::plan::Downgrade;
use crate::targets::Packages;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Found,
    Missing,
    /// Not needed on this host (a native target needs no emulator).
    NotNeeded,
    /// A probe ran and failed.
    Failed,
    /// Could not be proved either way (its probe did not run).
    Unproved,
}

#[derive(Debug, Clone)]
pub(crate) struct Component {
    pub name: &'static str,
    pub status: Status,
    /// What was found (and where it came from), or what is missing.
    pub detail: String,
    /// Packages that provide it, when missing.
    pub packages: Vec<Packages>,
    /// Advice when no package can provide it (a user setting pointing nowhere).
    pub advice: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Examination {
    pub triple: crate::ids::Triple,
    pub components: Vec<Component>,
    /// Commands that install a missing piece no distro package provides (wasmtime).
    pub commands: Vec<Vec<String>>,
    pub std_missing: bool,
    /// The strongest level the target reaches here, and every step down to it.
    pub level: Level,
    pub downgrades: Vec<Downgrade>,
}

impl Examination {
    /// Nothing is missing, every probe passed, and the target reaches `test`.
    pub(crate) fn healthy(&self) -> bool {
        self.level == Level::Test
            && self
                .components
                .iter()
                .all(|c| !matches!(c.status, Status::Missing | Status::Failed))
    }
}
