//! The `cargo-xtest` binary; everything lives in the library.

fn main() {
    std::process::exit(cargo_xtest::main());
}
