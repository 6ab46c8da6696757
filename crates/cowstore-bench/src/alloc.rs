//! A counting global allocator wrapping [`System`](std::alloc::System), or mimalloc with the `mimalloc` feature.
//!
//! Two kinds of accounting, both cheap enough not to distort the measured workloads:
//!
//! - **per thread, monotonic**: bytes and number of allocations made by the calling thread
//!   (thread-local counters, no shared cache line). A worker reads them at the start and end of
//!   its measured phase, which gives "bytes allocated per write".
//! - **process-wide live bytes and high-water mark**: each thread accumulates its net change in
//!   a thread-local delta and folds it into the shared counters only when it exceeds
//!   [`FLUSH_BYTES`] (or when asked), so the peak is exact to within `FLUSH_BYTES` per thread.
//!
//! This is the only module of the crate that contains `unsafe` code: implementing
//! [`GlobalAlloc`] requires it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, Ordering};

/// A thread folds its net allocation delta into the shared live counter past this many bytes.
pub(crate) const FLUSH_BYTES: i64 = 64 * 1024;

/// The allocator: forwards every call to the underlying allocator and counts.
pub(crate) struct Counting;

/// The allocator underneath the counting.
#[cfg(not(feature = "mimalloc"))]
const UNDERLYING: std::alloc::System = std::alloc::System;
/// The allocator underneath the counting.
#[cfg(feature = "mimalloc")]
const UNDERLYING: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What [`UNDERLYING`] is, for the report.
pub(crate) const UNDERLYING_NAME: &str = if cfg!(feature = "mimalloc") {
    "mimalloc (the `mimalloc` crate; feature `mimalloc`)"
} else {
    SYSTEM_ALLOCATOR_NAME
};

/// The default: the system allocator.
pub(crate) const SYSTEM_ALLOCATOR_NAME: &str = if cfg!(target_os = "linux") {
    "the system allocator (glibc malloc)"
} else {
    "the system allocator"
};

static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

thread_local! {
    // Const-initialised and without `Drop`: using them never allocates and never registers a
    // destructor, so they are safe to touch from inside the allocator.
    static ALLOCATED_BYTES: Cell<u64> = const { Cell::new(0) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static DELTA: Cell<i64> = const { Cell::new(0) };
}

#[inline]
fn on_alloc(size: usize) {
    let _ = ALLOCATED_BYTES.try_with(|b| b.set(b.get() + size as u64));
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    add_delta(size as i64);
}

#[inline]
fn on_dealloc(size: usize) {
    add_delta(-(size as i64));
}

#[inline]
fn add_delta(change: i64) {
    let folded = DELTA.try_with(|d| {
        let next = d.get() + change;
        if next.abs() >= FLUSH_BYTES {
            d.set(0);
            Some(next)
        } else {
            d.set(next);
            None
        }
    });
    match folded {
        Ok(Some(delta)) => fold(delta),
        Ok(None) => {}
        // Thread-local storage is gone (thread teardown): count directly.
        Err(_) => fold(change),
    }
}

#[inline]
fn fold(delta: i64) {
    let live = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
    if delta > 0 {
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `UNDERLYING` (`System`, or `MiMalloc` with the feature) with the
// caller's arguments unchanged, so that allocator's guarantees carry over; the counting around it
// never allocates and never unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract (non-zero size), which is
        // exactly what `UNDERLYING.alloc` requires.
        let ptr = unsafe { UNDERLYING.alloc(layout) };
        if !ptr.is_null() {
            on_alloc(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as `alloc`, forwarded unchanged.
        let ptr = unsafe { UNDERLYING.alloc_zeroed(layout) };
        if !ptr.is_null() {
            on_alloc(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        on_dealloc(layout.size());
        // SAFETY: the caller guarantees `ptr` came from this allocator with this `layout`; this
        // allocator got it from `UNDERLYING` with the same layout.
        unsafe { UNDERLYING.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `ptr`/`layout` describe a live block of this allocator
        // (hence of `UNDERLYING`) and that `new_size` is valid for `layout.align()`.
        let new = unsafe { UNDERLYING.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // Counted as a fresh allocation of `new_size` and a free of the old block.
            on_alloc(new_size);
            on_dealloc(layout.size());
        }
        new
    }
}

/// Bytes and number of allocations made by the calling thread since it started.
pub(crate) fn thread_allocated() -> (u64, u64) {
    (
        ALLOCATED_BYTES.try_with(Cell::get).unwrap_or(0),
        ALLOCATIONS.try_with(Cell::get).unwrap_or(0),
    )
}

/// Folds the calling thread's pending delta into the shared counters.
pub(crate) fn flush() {
    if let Ok(delta) = DELTA.try_with(|d| d.replace(0)) {
        if delta != 0 {
            fold(delta);
        }
    }
}

/// Live heap bytes of the process (after folding the calling thread's delta).
pub(crate) fn live_bytes() -> i64 {
    flush();
    LIVE.load(Ordering::Relaxed)
}

/// Restarts the high-water mark at the current live byte count.
pub(crate) fn reset_peak() {
    flush();
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// The highest live byte count seen since the last [`reset_peak`].
pub(crate) fn peak_bytes() -> i64 {
    flush();
    PEAK.load(Ordering::Relaxed)
        .max(LIVE.load(Ordering::Relaxed))
}
