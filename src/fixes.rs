//! Fixes: turns a missing piece into the exact command or setting that provides it on this host
//! (apt, dnf or pacman, chosen from `/etc/os-release`; `sudo` unless already root). The planner,
//! the diagnosis and `doctor` all phrase their fixes here, so they always agree.

use crate::discover::{Host, PackageManager, RunnerProblem, TargetToolchain};
use crate::targets::{self, Packages};

/// Turns missing pieces into the install command for this host's package manager.
pub(crate) struct Fixer {
    pm: PackageManager,
    sudo: &'static str,
}

impl Fixer {
    pub(crate) fn new(host: &Host) -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        Fixer {
            pm: host.package_manager,
            sudo: if root { "" } else { "sudo " },
        }
    }

    /// The command installing one package.
    pub(crate) fn install(&self, pkgs: Packages) -> Option<String> {
        self.install_all(&[pkgs])
    }

    /// One command installing every package (deduplicated, in order); `None` on an unknown distro
    /// or when none of them is packaged for this distro (an empty name in the knowledge base).
    pub(crate) fn install_all(&self, pkgs: &[Packages]) -> Option<String> {
        self.install_argv(pkgs).map(|argv| argv.join(" "))
    }

    /// [`Fixer::install_all`] as the argument vector `setup --yes` runs.
    pub(crate) fn install_argv(&self, pkgs: &[Packages]) -> Option<Vec<String>> {
        let mut names: Vec<&str> = Vec::new();
        for p in pkgs {
            let name = match self.pm {
                PackageManager::Apt => p.apt,
                PackageManager::Dnf => p.dnf,
                PackageManager::Pacman => p.pacman,
                PackageManager::Unknown => return None,
            };
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
        if names.is_empty() {
            return None;
        }
        let head: &[&str] = match self.pm {
            PackageManager::Apt => &["apt-get", "install", "-y"],
            PackageManager::Dnf => &["dnf", "install", "-y"],
            PackageManager::Pacman => &["pacman", "-S", "--needed", "--noconfirm"],
            PackageManager::Unknown => return None,
        };
        let sudo = self.sudo.trim();
        Some(
            (!sudo.is_empty())
                .then_some(sudo)
                .into_iter()
                .chain(head.iter().copied())
                .chain(names)
                .map(str::to_owned)
                .collect(),
        )
    }

    /// The package manager's name, for messages.
    pub(crate) fn package_manager(&self) -> &'static str {
        match self.pm {
            PackageManager::Apt => "apt",
            PackageManager::Dnf => "dnf",
            PackageManager::Pacman => "pacman",
            PackageManager::Unknown => "unknown package manager",
        }
    }

    /// How to get the standard library for `triple`.
    pub(crate) fn std_fix(&self, host: &Host, triple: &str) -> String {
        if host.rustup {
            format!("rustup target add {triple}")
        } else {
            format!(
                "install the Rust standard library for {triple} into {}",
                host.sysroot.display()
            )
        }
    }

    pub(crate) fn linker_fix(&self, tc: &TargetToolchain) -> String {
        let var = targets::cargo_env_var(&tc.triple, "linker");
        if tc
            .info
            .is_some_and(|i| matches!(i.link, targets::LinkVia::Zig(_)))
        {
            return format!(
                "{} (zig and cargo-zigbuild, from PyPI), or set {var}",
                targets::zig_install().join(" ")
            );
        }
        match tc
            .info
            .and_then(|i| self.install(i.linker_packages).map(|c| (i, c)))
        {
            Some((_, cmd)) => cmd,
            None => match tc.info.and_then(|i| i.linkers.first()) {
                Some(l) => format!("install a cross C toolchain providing `{l}`, or set {var}"),
                None => format!("install a linker for {} and set {var}", tc.triple),
            },
        }
    }

    /// How to get the target C library's development files (crt objects, `libc.so`, headers).
    pub(crate) fn c_library_fix(&self, triple: &str) -> String {
        let info = targets::lookup(triple);
        match info.and_then(|i| i.c_library) {
            Some(p) => self.install(p).unwrap_or_else(|| {
                format!(
                    "install the C library development files for {triple} into the cross compiler's sysroot ({} on Debian/Ubuntu)",
                    p.apt
                )
            }),
            None => format!(
                "install the C library development files for {triple} where its linker looks (crt1.o, crti.o, libc.so, stdio.h)"
            ),
        }
    }

    /// How to install a runner that is not QEMU: Wine from the distro, wasmtime from crates.io.
    pub(crate) fn runner_fix(&self, tc: &TargetToolchain, program: &str) -> String {
        let var = targets::cargo_env_var(&tc.triple, "runner");
        if program == "wasmtime" {
            return format!("{} (or set {var})", targets::wasmtime_install().join(" "));
        }
        tc.info
            .and_then(|i| self.install_all(i.runner_packages))
            .unwrap_or_else(|| format!("install `{program}` or set {var}"))
    }

    /// The reason and the fix for a missing runner.
    pub(crate) fn runner_problem(
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
            RunnerProblem::NotInstalled { program } => (
                format!("no runner for {}: `{program}` is not on PATH", tc.triple),
                self.runner_fix(tc, program),
            ),
            RunnerProblem::Unavailable { lift } => (
                format!("nothing on a Linux host runs {} executables", tc.triple),
                (*lift).to_owned(),
            ),
            RunnerProblem::MiriMissing { what } => (
                format!(
                    "--miri: Miri cannot interpret {} tests: {what} is not installed",
                    tc.triple
                ),
                crate::discover::toolchain::Miri::install().join(" "),
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
