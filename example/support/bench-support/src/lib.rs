//! Test-only helper that does not support s390x.

#[cfg(target_arch = "s390x")]
compile_error!("bench-support does not support s390x: its sample corpus is stored little-endian");

/// Interesting varint values.
pub fn samples() -> Vec<u64> {
    vec![0, 1, 127, 128, 300, 16_384, u32::MAX as u64, u64::MAX]
}
