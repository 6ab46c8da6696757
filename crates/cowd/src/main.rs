//! The `cowd` binary.
#![forbid(unsafe_code)]
fn main() {}
