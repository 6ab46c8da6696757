//! The only module with `unsafe` code: nodes, their reference counts, per-thread hazard records
//! and the publish/read protocol. Everything above it is safe Rust built on these handles.
//!
//! - [`node`]: the heap node of one version and its sharded strong counts;
//! - [`domain`]: per-thread hazard records shared by all stores;
//! - [`barrier`]: the asymmetric barrier pair (`membarrier`) and the cell's read-barrier mode;
//! - [`cell`]: the atomic current-node cell, the wait-free read protocol and publishing;
//! - [`cpu`]: runtime dispatch of hot lookups to code compiled with `popcnt`;
//! - [`os_clock`]: the kernel's monotonic clocks, read through libc.

mod barrier;
mod cell;
mod cpu;
mod domain;
mod node;
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) mod os_clock;

pub(crate) use cell::{AtomicNode, Counted, Protected, WeakNode};
pub(crate) use cpu::{Kernel, with_popcnt};
pub(crate) use node::{Meta, NewNode, PinnedHandle};
