//! Copy-on-write snapshots for read-mostly shared state.
//!
//! # Motivation
//!
//! Configuration, feature flags, routing tables and caches are read on every request and changed
//! rarely. The textbook design, `RwLock<Arc<T>>`, makes every reader write to the lock's shared
//! counter: under load the readers fight over one cache line, and a writer waiting for the lock
//! stalls them all. The copy-on-write (read-copy-update) answer is to keep the current value as
//! an **immutable snapshot** behind one atomic pointer:
//!
//! - readers load the pointer — no lock, no waiting, no shared write in the common case;
//! - a writer copies the value, changes the copy, validates it and publishes it with one atomic
//!   swap; readers of the old version keep reading it, undisturbed;
//! - an old version is dropped the moment its last reader lets go — deterministically, without a
//!   garbage collector or epochs.
//!
//! [`Store<T>`] is that cell, with what production use needs around it: versions and timestamps,
//! [validators](Builder::validator) that run before every publish, serialized, optimistic and
//! lock-free write paths, [subscriptions](Store::subscribe), and [diagnostics](Store::stats) of
//! the old versions that readers still pin.
//!
//! ```
//! use cowstore::Store;
//! use std::sync::Arc;
//!
//! #[derive(Clone, Debug)]
//! struct Config {
//!     log_level: String,
//!     timeout_ms: u64,
//! }
//!
//! let config = Arc::new(
//!     Store::builder(Config { log_level: "info".into(), timeout_ms: 500 })
//!         .validator("timeout", |c: &Config| {
//!             if c.timeout_ms > 0 { Ok(()) } else { Err("timeout_ms must be positive".into()) }
//!         })
//!         .build()
//!         .unwrap(),
//! );
//!
//! // Request handlers read the current version: wait-free, no lock.
//! let handler = {
//!     let config = Arc::clone(&config);
//!     move || config.load().timeout_ms
//! };
//! assert_eq!(handler(), 500);
//!
//! // An operator changes it; a bad change is refused and nothing is published.
//! config.update(|c| c.timeout_ms = 250).unwrap();
//! assert!(config.update(|c| c.timeout_ms = 0).is_err());
//! assert_eq!((handler(), config.version()), (250, 2));
//! ```
//!
//! # When to use it — and when not
//!
//! Copy-on-write shines when reads vastly outnumber writes and a write can afford to build a new
//! value. It is the wrong tool for write-heavy state (every write allocates a new version), and
//! for large values copied whole on every write: use the persistent maps of [`collections`],
//! which copy only the path to the changed entry. See [`docs::patterns`],
//! [`docs::limitations`] and [`docs::performance`].
//!
//! # Read paths
//!
//! | call | returns | cost |
//! |---|---|---|
//! | [`Store::load`] | [`Guard`]: borrowed, thread-bound | two writes to the thread's own hazard slot |
//! | [`Store::snapshot`] | [`Snapshot`]: owned, `Send + Sync + 'static` | the same two writes, to a slot the snapshot keeps (beyond four held at once by a thread, and for clones: a count in the thread's shard) |
//! | [`Reader::load`] | `&Snapshot` cached per thread | one atomic load when nothing changed |
//!
//! Of the two writes, only the second (giving the slot back) is a locked instruction while the
//! readers use the asymmetric barrier: a publish made while other threads read pays for the
//! first with a process-wide barrier (Linux `membarrier`, microseconds). With
//! [`ReadBarrier::Symmetric`] both are locked and publishes pay nothing extra. The default,
//! [`ReadBarrier::Adaptive`], runs asymmetric and switches to symmetric while such publishes
//! come more than a thousand a second (see [`docs::limitations`]).
//!
//! # Guarantees
//!
//! - A published snapshot is never mutated; there is no API that hands out `&mut T` to one.
//! - Versions increase by one with every publish; a thread never observes a version older than
//!   one it observed before.
//! - Each retired value is dropped exactly once, as soon as no guard, snapshot or reader holds it.
//! - `load` is wait-free when publishes do not race: every locking write path is serialized.
//!   With concurrent [`Store::store`] or [`Store::update_cas`] publishers it is lock-free: a load
//!   on its fallback path may restart, but only because yet another publish completed meanwhile.
#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod collections;
pub mod docs;

/// The README's example is compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}

mod clock;
mod error;
mod pins;
mod raw;
mod read_barrier;
mod reader;
mod snapshot;
mod stats;
mod store;
mod subscribe;
mod sync;

pub use error::{Closed, RecvTimeoutError, TryRecvError, UpdateError, ValidationError};
pub use pins::PinnedVersion;
pub use read_barrier::ReadBarrier;
pub use reader::Reader;
pub use snapshot::{Guard, Snapshot, WeakSnapshot};
pub use stats::Stats;
pub use store::{Batch, Builder, Store};
pub use subscribe::{
    CallbackHandle, Changed, NextQueued, Overflow, QueueSubscription, Subscription,
};
