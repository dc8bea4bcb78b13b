//! The `rltrade` command-line interface.
fn main() {}
