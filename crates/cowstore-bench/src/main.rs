//! The workload benchmark matrix.
#![forbid(unsafe_code)]
fn main() {}
