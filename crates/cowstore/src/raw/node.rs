//! The heap node that holds one published version, and its reference counts.
//!
//! A node's value lives as long as its *strong units* (`strong`). Units are held by:
//!
//! - the store, while the node is current (one unit);
//! - each reader shard with a non-zero count (one unit per shard — see below);
//! - every `main`-counted handle: a writer's returned snapshot, a weak upgrade, a debt a writer
//!   paid for a borrowed reader, a fallback load.
//!
//! **Sharded snapshot counts.** Cloning one `Arc` from many threads makes every clone fight over
//! one cache line. Snapshots instead count in one of [`SHARDS`] cache-padded counters chosen by the
//! thread. A shard holds one strong unit while its count is non-zero, and each shard starts with a
//! *bias* of one while the node is current, so the common `snapshot()`/drop pair touches only the
//! thread's own shard line. Retiring the node removes the biases; a shard that then reaches zero
//! gives its unit back.
//!
//! **Why a shard can never resurrect a dead node:** a shard goes from zero to one only while the
//! caller protects the node (a borrowed hazard slot or a counted handle), and a protected node
//! always has at least one strong unit, so `strong` never goes from zero back up.

use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::pins::PinTracker;
use crate::sync::{AtomicUsize, Ordering};

/// Number of snapshot counting shards per node.
pub(crate) const SHARDS: usize = if cfg!(loom) { 2 } else { 8 };

/// Counter id of handles that hold a strong unit directly (not through a shard).
pub(crate) const MAIN: usize = usize::MAX;

/// Above this many strong units or shard counts we abort, like `Arc` does, rather than risk an
/// overflow that would free a live node.
const MAX_COUNT: usize = isize::MAX as usize;

/// Aligns its content to its own cache-line pair so that neighbours never share a line.
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

/// What a node records about its publication. Immutable once published.
#[derive(Clone, Debug)]
pub(crate) struct Meta {
    pub(crate) version: u64,
    pub(crate) published_at: SystemTime,
    pub(crate) published_instant: Instant,
    pub(crate) bytes: usize,
}

pub(crate) struct Node<T> {
    strong: AtomicUsize,
    weak: AtomicUsize,
    meta: Meta,
    tracker: Option<Arc<PinTracker>>,
    shards: [CachePadded<AtomicUsize>; SHARDS],
    value: UnsafeCell<ManuallyDrop<T>>,
}

/// Initial strong units of a node about to be published: one per shard bias, one for the store,
/// one for the handle the publisher gets back.
const INITIAL_STRONG: usize = SHARDS + 2;

/// A node that is allocated but not yet published; its owner has exclusive access.
pub(crate) struct NewNode<T> {
    ptr: NonNull<Node<T>>,
}

// SAFETY: a `NewNode` is the unique owner of its allocation (a `Box` in all but name), so moving it
// to another thread is sound whenever the value itself may move there.
unsafe impl<T: Send> Send for NewNode<T> {}

impl<T> NewNode<T> {
    pub(crate) fn new(value: T, meta: Meta, tracker: Option<Arc<PinTracker>>) -> Self {
        let node = Box::new(Node {
            strong: AtomicUsize::new(INITIAL_STRONG),
            weak: AtomicUsize::new(1),
            meta,
            tracker,
            shards: std::array::from_fn(|_| CachePadded(AtomicUsize::new(1))),
            value: UnsafeCell::new(ManuallyDrop::new(value)),
        });
        Self {
            ptr: NonNull::from(Box::leak(node)),
        }
    }

    pub(crate) fn set_version(&mut self, version: u64) {
        // SAFETY: unpublished, so `self` is the only handle to the node.
        unsafe { (*self.ptr.as_ptr()).meta.version = version };
    }

    /// Hands the node over to the publishing protocol, which now owns its initial units.
    pub(crate) fn into_raw(self) -> NonNull<Node<T>> {
        ManuallyDrop::new(self).ptr
    }

    /// # Safety
    /// `ptr` must come from [`NewNode::into_raw`] and must not have been published.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Node<T>>) -> Self {
        Self { ptr }
    }
}

impl<T> Drop for NewNode<T> {
    fn drop(&mut self) {
        // SAFETY: never published, so nothing else references the allocation; it was created by
        // `Box::new` in `NewNode::new`. The value is still initialised and dropped exactly here.
        unsafe {
            let mut node = Box::from_raw(self.ptr.as_ptr());
            ManuallyDrop::drop(node.value.get_mut());
        }
    }
}

impl<T> Node<T> {
    /// # Safety
    /// The caller must hold a strong unit (or a protection that implies one) for `'a`.
    pub(crate) unsafe fn value<'a>(ptr: NonNull<Self>) -> &'a T {
        // SAFETY: the value is initialised and not mutated while any strong unit exists.
        unsafe { &*(*ptr.as_ptr()).value.get() }
    }

    /// # Safety
    /// The node allocation must be alive (a strong or weak unit held) for `'a`.
    pub(crate) unsafe fn meta<'a>(ptr: NonNull<Self>) -> &'a Meta {
        // SAFETY: `meta` is never written after publication.
        unsafe { &(*ptr.as_ptr()).meta }
    }

    /// Adds one strong unit.
    ///
    /// # Safety
    /// The caller must hold a unit, or protect the node, so that `strong > 0` now.
    pub(crate) unsafe fn acquire_unit(ptr: NonNull<Self>) {
        // SAFETY: the node is alive per the contract.
        let old = unsafe { ptr.as_ref() }
            .strong
            .fetch_add(1, Ordering::Relaxed);
        if old > MAX_COUNT {
            std::process::abort();
        }
    }

    /// Gives back one strong unit; the last one drops the value.
    ///
    /// # Safety
    /// The caller must own the unit it releases.
    pub(crate) unsafe fn release_unit(ptr: NonNull<Self>) {
        // SAFETY: the caller owns a unit, and a unit is given back only once.
        unsafe { Self::release_units(ptr, 1) }
    }

    /// # Safety
    /// The caller must own the `n` units it releases.
    unsafe fn release_units(ptr: NonNull<Self>, n: usize) {
        // AcqRel rather than Release + an acquire fence on zero: the same instruction on x86 and
        // ARMv8.1, and ThreadSanitizer understands it (it does not model fences).
        // SAFETY: the units keep the node alive until this decrement.
        let old = unsafe { ptr.as_ref() }
            .strong
            .fetch_sub(n, Ordering::AcqRel);
        debug_assert!(old >= n, "strong count underflow");
        if old == n {
            // SAFETY: that was the last unit: no one can reach the value any more.
            unsafe { Self::drop_value(ptr) };
        }
    }

    /// Adds one count to `shard`.
    ///
    /// # Safety
    /// The caller must protect the node or hold a unit (see the module docs).
    pub(crate) unsafe fn acquire_shard(ptr: NonNull<Self>, shard: usize) {
        // SAFETY: the node is alive per the contract.
        let counter = unsafe { &ptr.as_ref().shards[shard].0 };
        let old = counter.fetch_add(1, Ordering::Relaxed);
        if old == 0 {
            // The shard starts to hold a unit; `strong > 0` because the caller protects the node.
            // SAFETY: same contract.
            unsafe { Self::acquire_unit(ptr) };
        } else if old > MAX_COUNT {
            std::process::abort();
        }
    }

    /// Removes one count from `shard`; the shard's last count gives back the shard's unit.
    ///
    /// # Safety
    /// The caller must own the count it releases.
    pub(crate) unsafe fn release_shard(ptr: NonNull<Self>, shard: usize) {
        // SAFETY: the count keeps a unit, hence the node, alive.
        let counter = unsafe { &ptr.as_ref().shards[shard].0 };
        // AcqRel: the releaser of the shard's unit must carry the reads of every earlier holder
        // of this shard into the final release.
        if counter.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: a shard with a non-zero count owns one unit; it reached zero here.
            unsafe { Self::release_unit(ptr) };
        }
    }

    /// Removes the shard biases and the store's unit of a node that is no longer current.
    ///
    /// # Safety
    /// Must be called once, by whoever replaced the node as current, after helping readers.
    pub(crate) unsafe fn retire(ptr: NonNull<Self>) {
        // SAFETY: the store's unit keeps the node alive until `release_units` below.
        let node = unsafe { ptr.as_ref() };
        if let Some(tracker) = &node.tracker {
            tracker.on_retire(&node.meta);
        }
        let mut units = 1;
        for shard in &node.shards {
            if shard.0.fetch_sub(1, Ordering::AcqRel) == 1 {
                units += 1;
            }
        }
        // SAFETY: the store's unit plus one unit per shard whose bias was its last count.
        unsafe { Self::release_units(ptr, units) };
    }

    /// Adds a weak reference (keeps the allocation, not the value).
    ///
    /// # Safety
    /// The caller must hold a strong unit or a weak reference.
    pub(crate) unsafe fn acquire_weak(ptr: NonNull<Self>) {
        // SAFETY: alive per the contract.
        let old = unsafe { ptr.as_ref() }.weak.fetch_add(1, Ordering::Relaxed);
        if old > MAX_COUNT {
            std::process::abort();
        }
    }

    /// # Safety
    /// The caller must own the weak reference it releases.
    pub(crate) unsafe fn release_weak(ptr: NonNull<Self>) {
        // SAFETY: the weak reference keeps the allocation alive until this decrement.
        if unsafe { ptr.as_ref() }.weak.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: last reference of any kind; the value was already dropped (the strong units
            // collectively hold one weak reference, released only after the value drop).
            drop(unsafe { Box::from_raw(ptr.as_ptr()) });
        }
    }

    /// Turns a weak reference into a strong unit if the value is still alive.
    ///
    /// # Safety
    /// The caller must hold a weak reference.
    pub(crate) unsafe fn try_upgrade(ptr: NonNull<Self>) -> bool {
        // SAFETY: alive per the contract.
        let strong = unsafe { &ptr.as_ref().strong };
        let mut current = strong.load(Ordering::Relaxed);
        loop {
            if current == 0 {
                return false;
            }
            if current > MAX_COUNT {
                std::process::abort();
            }
            match strong.compare_exchange_weak(
                current,
                current + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// # Safety
    /// Called exactly once, when `strong` reached zero.
    unsafe fn drop_value(ptr: NonNull<Self>) {
        {
            // SAFETY: the allocation is alive (the strong units' weak reference is still held).
            let node = unsafe { ptr.as_ref() };
            if let Some(tracker) = &node.tracker {
                tracker.on_reclaim(node.meta.version);
            }
        }
        // SAFETY: no strong unit is left, so no one reads the value; it is dropped only here.
        unsafe { ManuallyDrop::drop(&mut *(*ptr.as_ptr()).value.get()) };
        // SAFETY: the weak reference owned collectively by the strong units.
        unsafe { Self::release_weak(ptr) };
    }
}
