//! A portable sum whose *tests* compare against SSE2 intrinsics without a `#[cfg]`: the library
//! builds for every target, the tests compile only on x86_64.

/// Sums a slice.
pub fn sum(xs: &[i32]) -> i32 {
    xs.iter().sum()
}

#[cfg(test)]
mod tests {
    use core::arch::x86_64::{_mm_add_epi32, _mm_cvtsi128_si32, _mm_set1_epi32};

    #[test]
    fn matches_sse2() {
        // SAFETY: SSE2 is part of the x86_64 baseline.
        let simd = unsafe { _mm_cvtsi128_si32(_mm_add_epi32(_mm_set1_epi32(2), _mm_set1_epi32(3))) };
        assert_eq!(super::sum(&[2, 3]), simd);
    }

    #[test]
    fn empty_is_zero() {
        assert_eq!(super::sum(&[]), 0);
    }
}
