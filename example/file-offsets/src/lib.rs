//! Offsets into large files, kept in a `usize` index table.
//!
//! The planted bug: `seek_index` stores a 64-bit offset in a `usize`. On 64-bit targets that is
//! lossless; on 32-bit ones (i686, armv7, powerpc, wasm32) `as usize` silently drops the high
//! bits, so the test `offset_beyond_4_gib_survives_the_index` fails there and passes here.

/// An index entry: the offset of record `n`, as the table stores it.
pub fn seek_index(offset: u64) -> usize {
    offset as usize
}

/// The offset an index entry points at.
pub fn offset_of(entry: usize) -> u64 {
    entry as u64
}

/// The number of fixed-size records in a file of `len` bytes (portable: no truncation).
pub fn records(len: u64, record: u64) -> u64 {
    len / record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_offsets_round_trip() {
        assert_eq!(offset_of(seek_index(4096)), 4096);
    }

    #[test]
    fn record_count_is_portable() {
        assert_eq!(records(10 << 30, 4096), 2_621_440);
    }

    #[test]
    fn offset_beyond_4_gib_survives_the_index() {
        let offset: u64 = 5 << 30; // 5 GiB into the file
        assert_eq!(offset_of(seek_index(offset)), offset);
    }
}
