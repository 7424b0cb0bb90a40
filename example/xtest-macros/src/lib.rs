//! `#[derive(Describe)]`: a proc-macro, always built for the host even when cross-compiling.

use proc_macro::{TokenStream, TokenTree};

/// Implements `Describe` returning the type's name.
#[proc_macro_derive(Describe)]
pub fn derive_describe(input: TokenStream) -> TokenStream {
    let name = type_name(input).expect("#[derive(Describe)] needs a struct or enum");
    format!("impl Describe for {name} {{ fn type_name() -> &'static str {{ \"{name}\" }} }}")
        .parse()
        .expect("valid impl")
}

fn type_name(input: TokenStream) -> Option<String> {
    let mut tokens = input.into_iter();
    while let Some(t) = tokens.next() {
        if let TokenTree::Ident(i) = &t {
            let kw = i.to_string();
            if kw == "struct" || kw == "enum" {
                return tokens.next().map(|n| n.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_side_unit_test() {
        assert_eq!(2 + 2, 4);
    }
}
