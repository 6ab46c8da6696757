//! Core `Store` read/write benchmarks against arc-swap, hazarc, RwLock, Mutex and a raw atomic.
fn main() {}
