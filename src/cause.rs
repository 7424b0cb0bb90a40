//! The named causes of cross-target failures, shared by the planner (why a target was downgraded)
//! and the diagnosis (why something failed). Serialized in kebab-case in the JSON report.
//!
//! [`toolchain_failure`] reads the literal text a linker, C compiler or emulator printed and names
//! the toolchain problem it proves; the probes and the diagnosis both use it, so a rung refuted
//! by a probe and a package failing for the same reason get the same cause.

use serde::Serialize;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Cause {
    MissingStd,
    LinkerMissing,
    /// The linker runs but fails for another reason (its literal output is the evidence).
    LinkerBroken,
    WrongLinker,
    /// The target C library's development files (crt objects, `libc.so`, headers) are missing.
    CLibraryMissing,
    CCompilerMissing,
    PkgConfigCross,
    HostSide,
    TestOnlyDependency,
    ArchSpecificTestCode,
    ArchSpecificCode,
    EmulatorMissing,
    EmulatorSysrootMissing,
    EmulatorIllegalInstruction,
    /// The runner starts but does not run a minimal test executable.
    RunnerBroken,
    /// A test binary's run gave no results that can be trusted: no libtest list or results, a
    /// list that disagrees with its own count, or a process that ended before its tests ran.
    NoTestResults,
    Timeout,
    ArchAssumption,
    /// Nothing a Linux distro ships links or runs the target (Apple, FreeBSD, Android, MSVC):
    /// a downgrade with what would lift it, never a failure by itself.
    NotAvailableHere,
    /// A WASI test used what WASI does not have (threads, processes): `operation not supported on
    /// this platform`.
    WasiUnsupported,
    /// Wine could not load a DLL the test executable imports.
    WineDllMissing,
    /// A musl executable was linked with objects or libraries built against glibc.
    MuslGlibcMix,
    /// A `dylib` crate-type links std dynamically while the test executables link it statically:
    /// `cannot satisfy dependencies so `std` only shows up once`.
    DylibStd,
    /// The dynamic loader could not find a shared library the test executable needs.
    SharedLibraryMissing,
    /// The linker skipped a native library built for another architecture (a build script's
    /// output compiled for the host, or a library installed for another architecture).
    ForeignNativeLibrary,
    /// Miri (nightly's `miri` and `rust-src`) is not installed, or cannot interpret a minimal
    /// test for the target (`--miri`).
    MiriMissing,
    /// Miri found undefined behaviour in a test (its report is the evidence).
    UndefinedBehavior,
    /// Miri cannot interpret what a test does (a foreign C function, an unsupported system call
    /// or shim, inline assembly): neither a pass nor a failure of the test.
    MiriUnsupported,
    Unknown,
}

impl Cause {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Cause::MissingStd => "missing-std",
            Cause::LinkerMissing => "linker-missing",
            Cause::LinkerBroken => "linker-broken",
            Cause::WrongLinker => "wrong-linker",
            Cause::CLibraryMissing => "c-library-missing",
            Cause::CCompilerMissing => "c-compiler-missing",
            Cause::PkgConfigCross => "pkg-config-cross",
            Cause::HostSide => "host-side",
            Cause::TestOnlyDependency => "test-only-dependency",
            Cause::ArchSpecificTestCode => "arch-specific-test-code",
            Cause::ArchSpecificCode => "arch-specific-code",
            Cause::EmulatorMissing => "emulator-missing",
            Cause::EmulatorSysrootMissing => "emulator-sysroot-missing",
            Cause::EmulatorIllegalInstruction => "emulator-illegal-instruction",
            Cause::RunnerBroken => "runner-broken",
            Cause::NoTestResults => "no-test-results",
            Cause::Timeout => "timeout",
            Cause::ArchAssumption => "arch-assumption",
            Cause::NotAvailableHere => "not-available-here",
            Cause::WasiUnsupported => "wasi-unsupported",
            Cause::WineDllMissing => "wine-dll-missing",
            Cause::MuslGlibcMix => "musl-glibc-mix",
            Cause::DylibStd => "dylib-std",
            Cause::SharedLibraryMissing => "shared-library-missing",
            Cause::ForeignNativeLibrary => "foreign-native-library",
            Cause::MiriMissing => "miri-missing",
            Cause::UndefinedBehavior => "undefined-behavior",
            Cause::MiriUnsupported => "miri-unsupported",
            Cause::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Headers of the C library (and the kernel headers its development package pulls in): a build
/// that cannot find one of these lacks the target C library, not a third-party library.
const LIBC_HEADERS: &[&str] = &[
    "assert.h",
    "ctype.h",
    "dlfcn.h",
    "errno.h",
    "fcntl.h",
    "features.h",
    "inttypes.h",
    "limits.h",
    "locale.h",
    "math.h",
    "pthread.h",
    "sched.h",
    "setjmp.h",
    "signal.h",
    "stdio.h",
    "stdlib.h",
    "string.h",
    "strings.h",
    "time.h",
    "unistd.h",
    "wchar.h",
];
const LIBC_HEADER_DIRS: &[&str] = &["bits/", "gnu/", "sys/", "asm/", "linux/"];

/// The toolchain problem a linker's, C compiler's or emulator's literal output proves, with the
/// line that proves it; `None` when the text names none of them.
pub(crate) fn toolchain_failure(text: &str) -> Option<(Cause, &str)> {
    let line = |pred: &dyn Fn(&str) -> bool| text.lines().find(|l| pred(l));
    if let Some(l) = line(&|l| l.contains("linker `") && l.contains("` not found")) {
        return Some((Cause::LinkerMissing, l));
    }
    let libc_object = |l: &str| {
        l.contains("cannot find")
            && [
                "crt1.o", "Scrt1.o", "crti.o", "crtn.o", "-lc:", "-lgcc_s", "libc.so",
            ]
            .iter()
            .any(|o| l.contains(o))
            || l.trim_end().ends_with("cannot find -lc")
    };
    if let Some(l) = line(&libc_object).or_else(|| line(&|l| missing_libc_header(l).is_some())) {
        return Some((Cause::CLibraryMissing, l));
    }
    if let Some(l) = line(&|l| {
        [
            "incompatible with elf",
            "file in wrong format",
            "Relocations in generic ELF",
            "file format not recognized",
        ]
        .iter()
        .any(|p| l.contains(p))
    }) {
        return Some((Cause::WrongLinker, l));
    }
    if let Some(l) = line(&|l| l.contains("Could not open '") && l.contains("ld")) {
        return Some((Cause::EmulatorSysrootMissing, l));
    }
    None
}

/// The C library header a compiler's `fatal error: X: No such file or directory` names, if it is one.
pub(crate) fn missing_libc_header(line: &str) -> Option<&str> {
    let rest = &line[line.find("fatal error: ")? + "fatal error: ".len()..];
    let header = rest.strip_suffix(": No such file or directory")?.trim();
    let header = header.trim_matches(|c| c == '\'' || c == '<' || c == '>' || c == '"');
    (LIBC_HEADERS.contains(&header) || LIBC_HEADER_DIRS.iter().any(|d| header.starts_with(d)))
        .then_some(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_toolchain_problem_from_literal_output() {
        let crti = "          /usr/lib/gcc-cross/aarch64-linux-gnu/12/../../../../aarch64-linux-gnu/bin/ld: cannot find crti.o: No such file or directory\n          collect2: error: ld returned 1 exit status";
        assert_eq!(toolchain_failure(crti).unwrap().0, Cause::CLibraryMissing);
        assert!(
            toolchain_failure(crti)
                .unwrap()
                .1
                .contains("cannot find crti.o")
        );
        for t in [
            "ld: cannot find Scrt1.o: No such file or directory",
            "/usr/bin/ld: cannot find -lc: No such file or directory",
            "ld: cannot find -lc",
            "ld: cannot find -lgcc_s: No such file or directory",
            "/usr/include/stdio.h:27:10: fatal error: bits/libc-header-start.h: No such file or directory",
            "src/c/sum.c:1:10: fatal error: stdio.h: No such file or directory",
        ] {
            assert_eq!(
                toolchain_failure(t).map(|c| c.0),
                Some(Cause::CLibraryMissing),
                "{t}"
            );
        }
        // A third-party header is not the C library.
        assert_eq!(
            toolchain_failure("x.c:1:10: fatal error: openssl/ssl.h: No such file or directory"),
            None
        );
        assert_eq!(
            toolchain_failure(
                "rust-lld: error: /tmp/x/symbols.o is incompatible with elf64-x86-64"
            )
            .map(|c| c.0),
            Some(Cause::WrongLinker)
        );
        assert_eq!(
            toolchain_failure(
                "qemu-s390x: Could not open '/lib/ld64.so.1': No such file or directory"
            )
            .map(|c| c.0),
            Some(Cause::EmulatorSysrootMissing)
        );
        assert_eq!(
            toolchain_failure("error: linker `aarch64-linux-gnu-gcc` not found").map(|c| c.0),
            Some(Cause::LinkerMissing)
        );
        assert_eq!(
            toolchain_failure("thread 'main' panicked at src/lib.rs:1:1"),
            None
        );
    }
}
