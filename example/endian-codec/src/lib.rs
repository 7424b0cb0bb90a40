//! A length-prefixed record codec whose on-disk format is little-endian.
//!
//! The bug it carries on purpose: `header` uses the *native* byte order, so every test passes on
//! little-endian hosts and `header_is_little_endian` fails only on big-endian targets (s390x).

/// Encodes a record header: the payload length as four bytes.
///
/// ```
/// assert_eq!(endian_codec::header(3).len(), 4);
/// ```
pub fn header(len: u32) -> [u8; 4] {
    len.to_ne_bytes()
}

/// Encodes one record.
///
/// ```
/// let rec = endian_codec::encode(b"hi");
/// assert_eq!(endian_codec::decode(&rec), Some(&b"hi"[..]));
/// ```
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = header(payload.len() as u32).to_vec();
    out.extend_from_slice(payload);
    out
}

/// Decodes one record, or `None` if it is truncated.
pub fn decode(buf: &[u8]) -> Option<&[u8]> {
    let len = u32::from_ne_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    buf.get(4..4 + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let rec = encode(b"payload");
        assert_eq!(decode(&rec), Some(&b"payload"[..]));
    }

    #[test]
    fn truncated_record_is_rejected() {
        assert_eq!(decode(&[1, 0]), None);
    }

    #[test]
    fn header_is_little_endian() {
        // The file format says little-endian; this fails on big-endian targets.
        assert_eq!(header(1), [1, 0, 0, 0]);
    }
}
