//! Fixes: turns a missing piece into the exact command or setting that provides it on this host
//! (apt, dnf or pacman, chosen from `/etc/os-release`; `sudo` unless already root). The planner,
//! the diagnosis and `doctor` all phrase their fixes here, so they always agree.

use crate::discover::{Host, PackageManager, RunnerProblem, TargetToolchain};
use crate::targets::{self, Packages};

/// Turns missing pieces into the install command for this host's package manager.
pub struct Fixer {
    pm: PackageManager,
    sudo: &'static str,
}

impl Fixer {
    pub fn new(host: &Host) -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        Fixer {
            pm: host.package_manager,
            sudo: if root { "" } else { "sudo " },
        }
    }

    /// The command installing one package.
    pub fn install(&self, pkgs: Packages) -> Option<String> {
        self.install_all(&[pkgs])
    }

    /// One command installing every package (deduplicated, in order); `None` on an unknown distro.
    pub fn install_all(&self, pkgs: &[Packages]) -> Option<String> {
        let sudo = self.sudo;
        let mut names: Vec<&str> = Vec::new();
        for p in pkgs {
            let name = match self.pm {
                PackageManager::Apt => p.apt,
                PackageManager::Dnf => p.dnf,
                PackageManager::Pacman => p.pacman,
                PackageManager::Unknown => return None,
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
        if names.is_empty() {
            return None;
        }
        let names = names.join(" ");
        match self.pm {
            PackageManager::Apt => Some(format!("{sudo}apt-get install -y {names}")),
            PackageManager::Dnf => Some(format!("{sudo}dnf install -y {names}")),
            PackageManager::Pacman => Some(format!("{sudo}pacman -S --needed {names}")),
            PackageManager::Unknown => None,
        }
    }

    /// How to get the standard library for `triple`.
    pub fn std_fix(&self, host: &Host, triple: &str) -> String {
        if host.rustup {
            format!("rustup target add {triple}")
        } else {
            format!(
                "install the Rust standard library for {triple} into {}",
                host.sysroot.display()
            )
        }
    }

    pub fn linker_fix(&self, tc: &TargetToolchain) -> String {
        let var = targets::cargo_env_var(&tc.triple, "linker");
        match tc
            .info
            .and_then(|i| self.install(i.linker_packages).map(|c| (i, c)))
        {
            Some((_, cmd)) => cmd,
            None => match tc.info {
                Some(i) => format!(
                    "install a cross C toolchain providing `{}`, or set {var}",
                    i.linkers[0]
                ),
                None => format!("install a linker for {} and set {var}", tc.triple),
            },
        }
    }

    /// The reason and the fix for a missing runner.
    pub fn runner_problem(
        &self,
        tc: &TargetToolchain,
        problem: &RunnerProblem,
    ) -> (String, String) {
        let var = targets::cargo_env_var(&tc.triple, "runner");
        match problem {
            RunnerProblem::ConfiguredMissing { program, source } => (
                format!("the runner `{program}` set by {source} is not on PATH"),
                format!("install `{program}` or change the runner set by {source}"),
            ),
            RunnerProblem::NoEmulator { qemu } => (
                format!(
                    "no emulator for {}: `{qemu}` is not on PATH and no binfmt_misc entry is registered",
                    tc.triple
                ),
                self.install(targets::qemu_packages()).unwrap_or_else(|| {
                    format!("install QEMU user-mode emulation (`{qemu}`) or set {var}")
                }),
            ),
            RunnerProblem::NoSysroot {
                qemu,
                loader,
                looked_in,
            } => (
                format!(
                    "`{qemu}` cannot start {} executables: no sysroot with {loader} (looked in {})",
                    tc.triple,
                    looked_in.join(", ")
                ),
                tc.info
                    .and_then(|i| self.install(i.linker_packages))
                    .unwrap_or_else(|| {
                        format!(
                            "install the target's C library and set {var} to `{qemu} -L <sysroot>`"
                        )
                    }),
            ),
            RunnerProblem::Unknown => (
                format!(
                    "no runner for {}: nothing is configured and no emulator is known for it",
                    tc.triple
                ),
                format!(
                    "set {var} (or `runner` under [target.{}] in .cargo/config.toml)",
                    tc.triple
                ),
            ),
        }
    }
}
