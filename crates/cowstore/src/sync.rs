//! The synchronization facade: `std` primitives normally, `loom`'s under `--cfg loom`.
//!
//! Every atomic, lock and thread-local the crate uses goes through this module so that the
//! loom model tests (`RUSTFLAGS="--cfg loom"`) explore the very code that ships.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence,
};
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};

/// Declares a thread-local with a destructor, through `std` or `loom`.
macro_rules! thread_local_with_drop {
    ($(#[$attr:meta])* static $name:ident: $ty:ty = const $init:block;) => {
        #[cfg(not(loom))]
        std::thread_local! { $(#[$attr])* static $name: $ty = const $init; }
        #[cfg(loom)]
        loom::thread_local! { $(#[$attr])* static $name: $ty = $init; }
    };
    ($(#[$attr:meta])* static $name:ident: $ty:ty = $init:expr;) => {
        #[cfg(not(loom))]
        std::thread_local! { $(#[$attr])* static $name: $ty = $init; }
        #[cfg(loom)]
        loom::thread_local! { $(#[$attr])* static $name: $ty = $init; }
    };
}
pub(crate) use thread_local_with_drop;

/// Completes a store–load (Dekker) pair made of `SeqCst` accesses.
///
/// Real targets get the guarantee from the `SeqCst` store and load around this call: they are
/// totally ordered, so of a reader that publishes a hazard and then re-reads the pointer, and a
/// writer that swaps the pointer and then scans hazards, at least one sees the other. Loom models
/// `SeqCst` *accesses* only as acquire/release (tokio-rs/loom#180) but does implement `SeqCst`
/// *fences*, so under loom this inserts the fence that gives the model the same guarantee.
#[inline(always)]
pub(crate) fn seq_cst_pair() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
}

/// Locks a mutex, ignoring poisoning: every critical section in this crate leaves its data
/// consistent before it can panic (user callbacks run outside locks), so a poisoned lock holds
/// valid data.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
