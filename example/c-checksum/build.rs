// Compiles the C implementation with the target's C compiler (found by the `cc` crate).
fn main() {
    println!("cargo:rerun-if-changed=src/adler32.c");
    cc::Build::new().file("src/adler32.c").compile("adler32");
}
