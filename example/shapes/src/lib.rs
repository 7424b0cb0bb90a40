//! Plain geometry using a proc-macro from the workspace.

pub use xtest_macros::Describe;

/// Types that know their own name.
pub trait Describe {
    fn type_name() -> &'static str;
}

#[derive(Debug, Clone, Copy, Describe)]
pub struct Rect {
    pub w: f64,
    pub h: f64,
}

impl Rect {
    /// ```
    /// assert_eq!(shapes::Rect { w: 2.0, h: 3.0 }.area(), 6.0);
    /// ```
    pub fn area(&self) -> f64 {
        self.w * self.h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derive_names_the_type() {
        assert_eq!(Rect::type_name(), "Rect");
    }

    #[test]
    fn pointer_width_matches_usize() {
        assert_eq!(usize::BITS as usize, std::mem::size_of::<usize>() * 8);
    }
}
