//! Persistent collection benchmarks against imbl, rpds and std.
fn main() {}
