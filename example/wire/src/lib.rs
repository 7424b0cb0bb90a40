//! LEB128 varints. Builds everywhere; its tests use a dev-dependency that does not compile for
//! s390x, so on s390x only `build-tests` fails.

/// Encodes `v` as an unsigned LEB128 varint.
pub fn encode(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Decodes one varint, returning it and the bytes read.
pub fn decode(buf: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, b) in buf.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_samples() {
        for v in bench_support::samples() {
            let mut buf = Vec::new();
            encode(v, &mut buf);
            assert_eq!(decode(&buf), Some((v, buf.len())));
        }
    }
}
