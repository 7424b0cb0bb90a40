//! Adler-32 implemented in C, compiled by a build script with the `cc` crate: cross-compiling
//! needs the target's C compiler, and running the tests needs the target's C library.

extern "C" {
    fn xtest_adler32(data: *const u8, len: usize) -> u32;
}

/// Adler-32 of `data`.
///
/// ```
/// assert_eq!(c_checksum::adler32(b""), 1);
/// ```
pub fn adler32(data: &[u8]) -> u32 {
    // SAFETY: the C function reads exactly `len` bytes from `data`.
    unsafe { xtest_adler32(data.as_ptr(), data.len()) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_vector() {
        assert_eq!(super::adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn empty_is_one() {
        assert_eq!(super::adler32(b""), 1);
    }
}
