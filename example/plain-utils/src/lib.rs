//! Portable helpers: pass everywhere.

/// Clamps a percentage to 0..=100.
///
/// ```
/// assert_eq!(plain_utils::clamp_percent(150), 100);
/// ```
pub fn clamp_percent(p: i64) -> u8 {
    p.clamp(0, 100) as u8
}

/// Rounds `n` up to a multiple of `align` (a power of two).
pub fn align_up(n: usize, align: usize) -> usize {
    (n + align - 1) & !(align - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps() {
        assert_eq!(clamp_percent(-5), 0);
        assert_eq!(clamp_percent(42), 42);
    }

    #[test]
    fn aligns() {
        assert_eq!(align_up(5, 8), 8);
        assert_eq!(align_up(16, 8), 16);
    }
}
