//! The named causes of cross-target failures, shared by the planner (why a target was downgraded)
//! and the diagnosis (why something failed). Serialized in kebab-case in the JSON report.

use serde::Serialize;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    MissingStd,
    LinkerMissing,
    WrongLinker,
    CCompilerMissing,
    PkgConfigCross,
    HostSide,
    TestOnlyDependency,
    ArchSpecificTestCode,
    ArchSpecificCode,
    EmulatorMissing,
    EmulatorSysrootMissing,
    EmulatorIllegalInstruction,
    Timeout,
    ArchAssumption,
    Unknown,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::MissingStd => "missing-std",
            Cause::LinkerMissing => "linker-missing",
            Cause::WrongLinker => "wrong-linker",
            Cause::CCompilerMissing => "c-compiler-missing",
            Cause::PkgConfigCross => "pkg-config-cross",
            Cause::HostSide => "host-side",
            Cause::TestOnlyDependency => "test-only-dependency",
            Cause::ArchSpecificTestCode => "arch-specific-test-code",
            Cause::ArchSpecificCode => "arch-specific-code",
            Cause::EmulatorMissing => "emulator-missing",
            Cause::EmulatorSysrootMissing => "emulator-sysroot-missing",
            Cause::EmulatorIllegalInstruction => "emulator-illegal-instruction",
            Cause::Timeout => "timeout",
            Cause::ArchAssumption => "arch-assumption",
            Cause::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
