//! The target knowledge base: one table of what this tool knows about each target triple it can
//! set up on a Linux host: how its executables link (a distro cross gcc, the linker rustc ships,
//! or nothing this host has) and run (QEMU user mode, Wine, wasmtime, or nothing this host has).
//!
//! Discovery looks up cross linkers, emulators and sysroots here; the planner and doctor take the
//! distro package names that provide them from here too. Facts a compiler can answer (endianness,
//! pointer width) are taken from `rustc --print cfg` instead, so unknown triples still work.

/// Distro packages that provide one component, per package manager.
#[derive(Debug, Clone, Copy)]
pub struct Packages {
    pub apt: &'static str,
    pub dnf: &'static str,
    pub pacman: &'static str,
}

/// How a target's executables are linked on a Linux host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkVia {
    /// With a C compiler driver for the target (`linkers`), from the distro's cross toolchains.
    Gcc,
    /// With the linker rustc ships (`rust-lld`): nothing to install.
    Bundled,
    /// With zig's C compiler for this zig target (`x86_64-macos-none`), which ships the target's
    /// libc stubs, through cargo-zigbuild's `zig cc` (it fixes the arguments rustc passes):
    /// both from PyPI ([`zig_install`]).
    Zig(&'static str),
    /// Nothing a Linux distro ships links them; the text says what would.
    Unavailable(&'static str),
}

/// What runs a target's executables on a Linux host that is not of its architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunVia {
    /// QEMU user mode (`qemu`), with the target's C library as sysroot when it links dynamically.
    Qemu,
    /// Wine, with a prefix cargo-xtest keeps under the target directory.
    Wine,
    /// wasmtime, with the package directory preopened.
    Wasmtime,
    /// Nothing on a Linux host runs them; the text says what would.
    Unavailable(&'static str),
}

/// What this tool knows about one target triple.
#[derive(Debug, Clone, Copy)]
pub struct TargetInfo {
    pub triple: &'static str,
    /// `target_arch` as rustc spells it.
    pub arch: &'static str,
    pub big_endian: bool,
    pub pointer_width: u32,
    /// The usual page size of Linux on this architecture, in bytes.
    pub page_size: u32,
    /// Cross linkers (C compiler drivers) to look for on `PATH`, best first.
    pub linkers: &'static [&'static str],
    /// The QEMU user-mode emulator binary name.
    pub qemu: &'static str,
    /// A `-cpu` value for QEMU when the default CPU lacks instructions rustc emits.
    pub qemu_cpu: Option<&'static str>,
    /// The QEMU `-cpu` value enabling every extension QEMU emulates (the fix for SIGILL).
    pub qemu_cpu_full: &'static str,
    /// Sysroots holding the target's dynamic loader and C library, best first.
    pub sysroots: &'static [&'static str],
    /// The dynamic loader, relative to a sysroot; `None` for statically linked targets.
    pub loader: Option<&'static str>,
    /// Packages providing the cross linker (the C compiler driver and binutils).
    pub linker_packages: Packages,
    /// Packages providing the target C library's development files (crt objects, `libc.so`,
    /// headers) that linking an executable and compiling C for the target need; `None` where the
    /// Rust target ships its own (musl is self-contained). An empty name: not packaged there.
    pub c_library: Option<Packages>,
    /// `Some(arch)`: binaries for this target run natively and link with the host `cc` on a host
    /// of that architecture.
    pub native_on: Option<&'static str>,
    pub link: LinkVia,
    pub run: RunVia,
    /// Packages providing the runner when it is not QEMU (Wine); QEMU's are [`qemu_packages`].
    pub runner_packages: &'static [Packages],
}

const QEMU_PACKAGES: Packages = Packages {
    apt: "qemu-user",
    dnf: "qemu-user",
    pacman: "qemu-user",
};

/// Packages providing the QEMU user-mode emulators.
pub(crate) fn qemu_packages() -> Packages {
    QEMU_PACKAGES
}

macro_rules! pkgs {
    ($apt:expr, $dnf:expr, $pacman:expr) => {
        Packages {
            apt: $apt,
            dnf: $dnf,
            pacman: $pacman,
        }
    };
}

/// Every triple this tool knows by name.
pub(crate) const KNOWN: &[TargetInfo] = &[
    TargetInfo {
        triple: "x86_64-unknown-linux-gnu",
        arch: "x86_64",
        big_endian: false,
        pointer_width: 64,
        page_size: 4096,
        linkers: &["x86_64-linux-gnu-gcc", "cc"],
        qemu: "qemu-x86_64",
        qemu_cpu: None,
        qemu_cpu_full: "max",
        sysroots: &["/usr/x86_64-linux-gnu", "/"],
        loader: Some("lib64/ld-linux-x86-64.so.2"),
        linker_packages: pkgs!("gcc-x86-64-linux-gnu", "gcc", "gcc"),
        c_library: Some(pkgs!("libc6-dev", "glibc-devel", "glibc")),
        native_on: Some("x86_64"),
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "aarch64-unknown-linux-gnu",
        arch: "aarch64",
        big_endian: false,
        pointer_width: 64,
        page_size: 4096,
        linkers: &["aarch64-linux-gnu-gcc"],
        qemu: "qemu-aarch64",
        qemu_cpu: None,
        qemu_cpu_full: "max",
        sysroots: &["/usr/aarch64-linux-gnu", "/usr/aarch64-linux-gnu/sys-root"],
        loader: Some("lib/ld-linux-aarch64.so.1"),
        linker_packages: pkgs!(
            "gcc-aarch64-linux-gnu",
            "gcc-aarch64-linux-gnu",
            "aarch64-linux-gnu-gcc"
        ),
        c_library: Some(pkgs!(
            "libc6-dev-arm64-cross",
            "",
            "aarch64-linux-gnu-glibc"
        )),
        native_on: Some("aarch64"),
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "s390x-unknown-linux-gnu",
        arch: "s390x",
        big_endian: true,
        pointer_width: 64,
        page_size: 4096,
        linkers: &["s390x-linux-gnu-gcc"],
        qemu: "qemu-s390x",
        qemu_cpu: None,
        qemu_cpu_full: "max",
        sysroots: &["/usr/s390x-linux-gnu", "/usr/s390x-linux-gnu/sys-root"],
        loader: Some("lib/ld64.so.1"),
        linker_packages: pkgs!(
            "gcc-s390x-linux-gnu",
            "gcc-s390x-linux-gnu",
            "s390x-linux-gnu-gcc"
        ),
        c_library: Some(pkgs!("libc6-dev-s390x-cross", "", "")),
        native_on: Some("s390x"),
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "riscv64gc-unknown-linux-gnu",
        arch: "riscv64",
        big_endian: false,
        pointer_width: 64,
        page_size: 4096,
        linkers: &["riscv64-linux-gnu-gcc"],
        qemu: "qemu-riscv64",
        qemu_cpu: None,
        qemu_cpu_full: "rv64,v=true,zba=true,zbb=true,zbs=true",
        sysroots: &["/usr/riscv64-linux-gnu", "/usr/riscv64-linux-gnu/sys-root"],
        loader: Some("lib/ld-linux-riscv64-lp64d.so.1"),
        linker_packages: pkgs!(
            "gcc-riscv64-linux-gnu",
            "gcc-riscv64-linux-gnu",
            "riscv64-linux-gnu-gcc"
        ),
        c_library: Some(pkgs!(
            "libc6-dev-riscv64-cross",
            "",
            "riscv64-linux-gnu-glibc"
        )),
        native_on: Some("riscv64"),
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "armv7-unknown-linux-gnueabihf",
        arch: "arm",
        big_endian: false,
        pointer_width: 32,
        page_size: 4096,
        linkers: &["arm-linux-gnueabihf-gcc"],
        qemu: "qemu-arm",
        qemu_cpu: None,
        qemu_cpu_full: "max",
        sysroots: &["/usr/arm-linux-gnueabihf"],
        loader: Some("lib/ld-linux-armhf.so.3"),
        linker_packages: pkgs!(
            "gcc-arm-linux-gnueabihf",
            "gcc-arm-linux-gnu",
            "arm-linux-gnueabihf-gcc"
        ),
        c_library: Some(pkgs!("libc6-dev-armhf-cross", "", "")),
        native_on: None,
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "arm-unknown-linux-gnueabi",
        arch: "arm",
        big_endian: false,
        pointer_width: 32,
        page_size: 4096,
        linkers: &["arm-linux-gnueabi-gcc"],
        qemu: "qemu-arm",
        qemu_cpu: None,
        qemu_cpu_full: "max",
        sysroots: &["/usr/arm-linux-gnueabi"],
        loader: Some("lib/ld-linux.so.3"),
        linker_packages: pkgs!(
            "gcc-arm-linux-gnueabi",
            "gcc-arm-linux-gnu",
            "arm-linux-gnueabi-gcc"
        ),
        c_library: Some(pkgs!("libc6-dev-armel-cross", "", "")),
        native_on: None,
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "i686-unknown-linux-gnu",
        arch: "x86",
        big_endian: false,
        pointer_width: 32,
        page_size: 4096,
        linkers: &["i686-linux-gnu-gcc"],
        qemu: "qemu-i386",
        qemu_cpu: None,
        qemu_cpu_full: "max",
        sysroots: &["/usr/i686-linux-gnu"],
        loader: Some("lib/ld-linux.so.2"),
        linker_packages: pkgs!("gcc-i686-linux-gnu", "gcc", "lib32-gcc-libs"),
        c_library: Some(pkgs!(
            "libc6-dev-i386-cross",
            "glibc-devel.i686",
            "lib32-glibc"
        )),
        native_on: None,
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "powerpc64le-unknown-linux-gnu",
        arch: "powerpc64",
        big_endian: false,
        pointer_width: 64,
        page_size: 65536,
        linkers: &["powerpc64le-linux-gnu-gcc"],
        qemu: "qemu-ppc64le",
        qemu_cpu: None,
        qemu_cpu_full: "max",
        sysroots: &["/usr/powerpc64le-linux-gnu"],
        loader: Some("lib/ld64.so.2"),
        linker_packages: pkgs!(
            "gcc-powerpc64le-linux-gnu",
            "gcc-ppc64le-linux-gnu",
            "powerpc64le-linux-gnu-gcc"
        ),
        c_library: Some(pkgs!("libc6-dev-ppc64el-cross", "", "")),
        native_on: None,
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "powerpc64-unknown-linux-gnu",
        arch: "powerpc64",
        big_endian: true,
        pointer_width: 64,
        page_size: 65536,
        linkers: &["powerpc64-linux-gnu-gcc"],
        qemu: "qemu-ppc64",
        qemu_cpu: None,
        qemu_cpu_full: "max",
        sysroots: &["/usr/powerpc64-linux-gnu"],
        loader: Some("lib64/ld64.so.1"),
        linker_packages: pkgs!(
            "gcc-powerpc64-linux-gnu",
            "gcc-ppc64-linux-gnu",
            "powerpc64-linux-gnu-gcc"
        ),
        c_library: Some(pkgs!("libc6-dev-ppc64-cross", "", "")),
        native_on: None,
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "loongarch64-unknown-linux-gnu",
        arch: "loongarch64",
        big_endian: false,
        pointer_width: 64,
        page_size: 16384,
        linkers: &["loongarch64-linux-gnu-gcc"],
        qemu: "qemu-loongarch64",
        qemu_cpu: None,
        qemu_cpu_full: "max",
        sysroots: &["/usr/loongarch64-linux-gnu"],
        loader: Some("lib64/ld-linux-loongarch-lp64d.so.1"),
        linker_packages: pkgs!(
            "gcc-loongarch64-linux-gnu",
            "gcc-loongarch64-linux-gnu",
            "loongarch64-linux-gnu-gcc"
        ),
        c_library: Some(pkgs!("libc6-dev-loong64-cross", "", "")),
        native_on: None,
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "x86_64-unknown-linux-musl",
        arch: "x86_64",
        big_endian: false,
        pointer_width: 64,
        page_size: 4096,
        linkers: &["x86_64-linux-musl-gcc", "musl-gcc", "cc"],
        qemu: "qemu-x86_64",
        qemu_cpu: None,
        qemu_cpu_full: "max",
        sysroots: &[],
        loader: None,
        linker_packages: pkgs!("musl-tools", "musl-gcc", "musl"),
        c_library: None,
        native_on: Some("x86_64"),
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "aarch64-unknown-linux-musl",
        arch: "aarch64",
        big_endian: false,
        pointer_width: 64,
        page_size: 4096,
        linkers: &["aarch64-linux-musl-gcc", "aarch64-linux-gnu-gcc"],
        qemu: "qemu-aarch64",
        qemu_cpu: None,
        qemu_cpu_full: "max",
        sysroots: &[],
        loader: None,
        linker_packages: pkgs!(
            "gcc-aarch64-linux-gnu",
            "gcc-aarch64-linux-gnu",
            "aarch64-linux-gnu-gcc"
        ),
        c_library: None,
        native_on: Some("aarch64"),
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "powerpc-unknown-linux-gnu",
        arch: "powerpc",
        big_endian: true,
        pointer_width: 32,
        page_size: 4096,
        linkers: &["powerpc-linux-gnu-gcc"],
        qemu: "qemu-ppc",
        qemu_cpu: None,
        qemu_cpu_full: "max",
        sysroots: &["/usr/powerpc-linux-gnu"],
        loader: Some("lib/ld.so.1"),
        linker_packages: pkgs!(
            "gcc-powerpc-linux-gnu",
            "gcc-powerpc-linux-gnu",
            "powerpc-linux-gnu-gcc"
        ),
        c_library: Some(pkgs!("libc6-dev-powerpc-cross", "", "")),
        native_on: None,
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "sparc64-unknown-linux-gnu",
        arch: "sparc64",
        big_endian: true,
        pointer_width: 64,
        page_size: 8192,
        linkers: &["sparc64-linux-gnu-gcc"],
        qemu: "qemu-sparc64",
        qemu_cpu: None,
        qemu_cpu_full: "max",
        sysroots: &["/usr/sparc64-linux-gnu"],
        loader: Some("lib64/ld-linux.so.2"),
        linker_packages: pkgs!("gcc-sparc64-linux-gnu", "", ""),
        c_library: Some(pkgs!("libc6-dev-sparc64-cross", "", "")),
        native_on: None,
        link: LinkVia::Gcc,
        run: RunVia::Qemu,
        runner_packages: &[],
    },
    TargetInfo {
        triple: "x86_64-pc-windows-gnu",
        arch: "x86_64",
        big_endian: false,
        pointer_width: 64,
        page_size: 4096,
        linkers: &["x86_64-w64-mingw32-gcc"],
        linker_packages: pkgs!("gcc-mingw-w64-x86-64", "mingw64-gcc", "mingw-w64-gcc"),
        // mingw-w64's runtime and headers come with its gcc.
        link: LinkVia::Gcc,
        run: RunVia::Wine,
        runner_packages: &[pkgs!("wine", "wine", "wine"), pkgs!("wine64", "", "")],
        ..NOT_QEMU
    },
    wasi("wasm32-wasip1"),
    wasi("wasm32-wasip2"),
    linked_by_zig(
        "x86_64-apple-darwin",
        "x86_64",
        "x86_64-macos-none",
        "nothing on Linux runs macOS executables: run them at `test` on a macOS machine (e.g. a `macos-13` CI runner running `cargo xtest`); here, `--miri` (or the policy's `miri = true`) interprets its tests with Miri beside",
    ),
    linked_by_zig(
        "aarch64-apple-darwin",
        "aarch64",
        "aarch64-macos-none",
        "nothing on Linux runs macOS executables: run them at `test` on a macOS machine (e.g. a `macos-14` CI runner running `cargo xtest`); here, `--miri` (or the policy's `miri = true`) interprets its tests with Miri beside",
    ),
    linked_by_zig(
        "x86_64-unknown-freebsd",
        "x86_64",
        "x86_64-freebsd",
        "nothing on Linux runs FreeBSD executables: run them at `test` on a FreeBSD machine or VM running `cargo xtest`; here, `--miri` (or the policy's `miri = true`) interprets its tests with Miri beside",
    ),
    unreachable_here(
        "aarch64-linux-android",
        "aarch64",
        "linking needs the Android NDK's clang (set CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER to its aarch64-linux-android<API>-clang); running needs an Android device or emulator",
    ),
    unreachable_here(
        "x86_64-pc-windows-msvc",
        "x86_64",
        "linking needs Microsoft's linker and Windows SDK: verify it at `test` on a Windows machine (e.g. a `windows-latest` CI runner running `cargo xtest`); x86_64-pc-windows-gnu reaches `test` here under Wine, and `--miri` (or the policy's `miri = true`) interprets MSVC's tests with Miri beside",
    ),
];

/// What a target that is not Linux under QEMU has in none of QEMU's fields.
const NOT_QEMU: TargetInfo = TargetInfo {
    triple: "",
    arch: "",
    big_endian: false,
    pointer_width: 64,
    page_size: 4096,
    linkers: &[],
    qemu: "",
    qemu_cpu: None,
    qemu_cpu_full: "",
    sysroots: &[],
    loader: None,
    linker_packages: pkgs!("", "", ""),
    c_library: None,
    native_on: None,
    link: LinkVia::Bundled,
    run: RunVia::Wasmtime,
    runner_packages: &[],
};

/// A WASI target: linked by the rust-lld rustc ships, run by wasmtime.
const fn wasi(triple: &'static str) -> TargetInfo {
    TargetInfo {
        triple,
        arch: "wasm32",
        pointer_width: 32,
        page_size: 65536,
        link: LinkVia::Bundled,
        run: RunVia::Wasmtime,
        ..NOT_QEMU
    }
}

/// A target no Linux distro links for, whose libc zig ships: linked by zig, run nowhere here.
const fn linked_by_zig(
    triple: &'static str,
    arch: &'static str,
    zig_target: &'static str,
    run_lift: &'static str,
) -> TargetInfo {
    TargetInfo {
        link: LinkVia::Zig(zig_target),
        ..unreachable_here(triple, arch, run_lift)
    }
}

/// The command that installs zig and cargo-zigbuild (whose `zig cc` links for zig's targets),
/// both from PyPI: `ziglang` is the zig toolchain packaged for pip.
pub(crate) fn zig_install() -> Vec<String> {
    [
        "python3",
        "-m",
        "pip",
        "install",
        "ziglang",
        "cargo-zigbuild",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The program whose `zig cc` links for [`LinkVia::Zig`] targets.
pub(crate) const ZIG_DRIVER: &str = "cargo-zigbuild";

/// A target with a standard library but no linker a Linux distro ships: `check` here.
const fn unreachable_here(
    triple: &'static str,
    arch: &'static str,
    lift: &'static str,
) -> TargetInfo {
    TargetInfo {
        triple,
        arch,
        page_size: if matches!(arch.as_bytes(), b"aarch64") {
            16384
        } else {
            4096
        },
        link: LinkVia::Unavailable(lift),
        run: RunVia::Unavailable(lift),
        ..NOT_QEMU
    }
}

/// The version of wasmtime-cli that `setup` and the install script build (the newest whose
/// `rust-version` the supported toolchains meet), with only the features running tests needs.
pub const WASMTIME_VERSION: &str = "48.0.8";

/// The wasmtime-cli features running tests needs (`scripts/install-toolchains.sh` says the same).
pub const WASMTIME_FEATURES: &str = "run,cranelift,component-model,cache";

/// The command that installs wasmtime from crates.io (it builds from source: minutes).
pub(crate) fn wasmtime_install() -> Vec<String> {
    [
        "cargo",
        "install",
        "--locked",
        &format!("wasmtime-cli@{WASMTIME_VERSION}"),
        "--no-default-features",
        "--features",
        WASMTIME_FEATURES,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The targets verified when neither the command line nor the policy names any (besides the host).
pub(crate) const DEFAULT_CROSS_TARGETS: &[&str] = &[
    "aarch64-unknown-linux-gnu",
    "s390x-unknown-linux-gnu",
    "riscv64gc-unknown-linux-gnu",
];

/// Looks a triple up in the knowledge base.
pub fn lookup(triple: &str) -> Option<&'static TargetInfo> {
    KNOWN.iter().find(|t| t.triple == triple)
}

/// The `CARGO_TARGET_<TRIPLE>_<KEY>` environment variable name cargo reads for `key`.
pub(crate) fn cargo_env_var(triple: &str, key: &str) -> String {
    let t: String = triple
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    format!("CARGO_TARGET_{t}_{}", key.to_ascii_uppercase())
}

/// The ELF identity (machine, 64-bit, big-endian) of `target_arch` values whose executables
/// this host can tell apart; `None` for an architecture not listed.
fn elf_identity(arch: &str) -> Option<(u16, bool, bool)> {
    Some(match arch {
        "x86_64" => (62, true, false),
        "x86" => (3, false, false),
        "aarch64" => (183, true, false),
        "arm" => (40, false, false),
        "s390x" => (22, true, true),
        "riscv64" => (243, true, false),
        "riscv32" => (243, false, false),
        "powerpc" => (20, false, true),
        "powerpc64" => (21, true, true),
        "sparc64" => (43, true, true),
        "mips" => (8, false, true),
        "mips64" => (8, true, true),
        "loongarch64" => (258, true, false),
        _ => return None,
    })
}

/// `target_arch` from a triple's first component.
fn arch_of(triple: &str) -> &str {
    let first = triple.split('-').next().unwrap_or_default();
    match first {
        "i386" | "i586" | "i686" => "x86",
        a if a.starts_with("armv") || a.starts_with("thumbv") || a == "arm" => "arm",
        a if a.starts_with("riscv64") => "riscv64",
        a if a.starts_with("riscv32") => "riscv32",
        "powerpc64le" => "powerpc64",
        "mipsel" => "mips",
        "mips64el" => "mips64",
        a => a,
    }
}

/// What the executable at `path` is when it is not one for `triple` (e.g. "an x86_64 ELF
/// executable"); `None` when it fits or this host cannot tell (an architecture it does not
/// know, a non-ELF target).
pub(crate) fn executable_mismatch(path: &std::path::Path, triple: &str) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 20];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .ok()?;
    let arch = arch_of(triple);
    let elf_target = ![
        "windows",
        "darwin",
        "ios",
        "wasi",
        "unknown-unknown",
        "uefi",
    ]
    .iter()
    .any(|os| triple.contains(os))
        && !arch.starts_with("wasm");
    if n < 20 || &head[..4] != b"\x7fELF" {
        return elf_target.then(|| "not an ELF executable".to_owned());
    }
    let (machine, wide, big) = elf_identity(arch)?;
    let is_big = head[5] == 2;
    let got_machine = if is_big {
        u16::from_be_bytes([head[18], head[19]])
    } else {
        u16::from_le_bytes([head[18], head[19]])
    };
    let got = (got_machine, head[4] == 2, is_big);
    let little_variant = triple.starts_with("powerpc64le")
        || triple.starts_with("mipsel")
        || triple.starts_with("mips64el");
    let want = (machine, wide, big && !little_variant);
    (got != want).then(|| {
        let name = [
            "x86_64",
            "x86",
            "aarch64",
            "arm",
            "s390x",
            "riscv64",
            "riscv32",
            "powerpc",
            "powerpc64",
            "sparc64",
            "mips",
            "mips64",
            "loongarch64",
        ]
        .into_iter()
        .find(|a| elf_identity(a).is_some_and(|(m, w, _)| m == got.0 && w == got.1))
        .unwrap_or("another architecture's");
        format!(
            "a {}-bit {}-endian {name} ELF file",
            if got.1 { 64 } else { 32 },
            if got.2 { "big" } else { "little" }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names_follow_cargo() {
        assert_eq!(
            cargo_env_var("riscv64gc-unknown-linux-gnu", "runner"),
            "CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_GNU_RUNNER"
        );
        assert_eq!(
            cargo_env_var("thumbv7em-none-eabihf", "linker"),
            "CARGO_TARGET_THUMBV7EM_NONE_EABIHF_LINKER"
        );
    }

    #[test]
    fn knowledge_base_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for t in KNOWN {
            assert!(seen.insert(t.triple), "duplicate {}", t.triple);
            assert_eq!(
                t.link == LinkVia::Gcc,
                !t.linkers.is_empty(),
                "{}",
                t.triple
            );
            assert_eq!(
                t.run == RunVia::Qemu,
                t.qemu.starts_with("qemu-"),
                "{}",
                t.triple
            );
            if t.run == RunVia::Qemu {
                assert!(t.triple.contains("linux"), "{}", t.triple);
                assert_eq!(
                    t.loader.is_none(),
                    t.triple.ends_with("musl"),
                    "{}",
                    t.triple
                );
            }
            // What nothing here links, nothing here runs; zig links some that nothing runs.
            assert_eq!(
                matches!(t.link, LinkVia::Unavailable(_) | LinkVia::Zig(_)),
                matches!(t.run, RunVia::Unavailable(_)),
                "{}",
                t.triple
            );
        }
        for d in DEFAULT_CROSS_TARGETS {
            assert!(lookup(d).is_some(), "{d}");
        }
    }
}
