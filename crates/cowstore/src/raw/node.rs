//! The heap node that holds one published version, and its reference counts.
//!
//! A node's value lives as long as its *strong units* (`strong`). Units are held by:
//!
//! - the store, while the node is current (one unit);
//! - each snapshot shard with a non-zero count (one unit per shard — see below);
//! - every `main`-counted handle: a writer's returned snapshot, a weak upgrade, a debt a writer
//!   paid for a borrowed reader, a fallback load.
//!
//! **Sharded snapshot counts.** Cloning one `Arc` from many threads makes every clone fight over
//! one cache line. Snapshots instead count in one of [`SHARDS`] cache-padded counters chosen by the
//! thread. A shard holds one strong unit while its count is non-zero. So that the common
//! `snapshot()`/drop pair on the current version touches only the thread's own shard line, the
//! first snapshot taken in a shard while the node is current also installs a *bias* of one in
//! that shard (and a bit in `biased`), which keeps the shard from dropping back to zero. Retiring
//! the node sets `RETIRED` in `biased` (no bias can be installed after that) and removes the
//! installed biases; a shard that then reaches zero gives its unit back. A node no reader took a
//! snapshot of retires without touching any shard.
//!
//! **Why a shard can never resurrect a dead node:** a shard goes from zero to one only while the
//! caller protects the node (a borrowed hazard slot or a counted handle), and a protected node
//! always has at least one strong unit, so `strong` never goes from zero back up.

use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::pins::PinTracker;
use crate::sync::{AtomicUsize, Ordering};

/// Number of snapshot counting shards per node.
pub(crate) const SHARDS: usize = if cfg!(loom) { 2 } else { 8 };

/// Counter id of handles that hold a strong unit directly (not through a shard).
pub(crate) const MAIN: usize = usize::MAX;

/// Set in `biased` once the node is retired: no more biases.
const RETIRED: usize = 1 << (usize::BITS - 1);

/// Above this many strong units or shard counts we abort, like `Arc` does, rather than risk an
/// overflow that would free a live node.
const MAX_COUNT: usize = isize::MAX as usize;

/// Aligns its content to its own cache-line pair so that neighbours never share a line. Used
/// for long-lived, rarely allocated structures (hazard records).
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

/// Puts a full cache line of padding before its content, so the content never shares a line
/// with whatever precedes it. Unlike [`CachePadded`] it needs no over-alignment, which keeps a
/// node an ordinary small allocation (over-aligned allocations take the allocator's slow path;
/// this was the largest cost of a publish).
#[repr(C)]
pub(crate) struct Spaced<T> {
    _lead: [std::mem::MaybeUninit<u8>; 64],
    value: T,
}

impl<T> std::ops::Deref for Spaced<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

/// What a node records about its publication. Immutable once published.
#[derive(Clone, Debug)]
pub(crate) struct Meta {
    pub(crate) version: u64,
    pub(crate) published_at: SystemTime,
    /// Publication time on the monotonic clock (see `clock.rs`).
    pub(crate) published_mono: Duration,
    pub(crate) bytes: usize,
}

/// Read-only parts first, then each group of counters on lines of its own.
#[repr(C)]
pub(crate) struct Node<T> {
    meta: Meta,
    /// Set (once, by the retiring writer) only when the version outlives its retirement.
    tracker: UnsafeCell<Option<Arc<PinTracker>>>,
    value: UnsafeCell<ManuallyDrop<T>>,
    counts: Spaced<Counts>,
    shards: [Spaced<AtomicUsize>; SHARDS],
}

struct Counts {
    strong: AtomicUsize,
    weak: AtomicUsize,
    /// Bit `i`: shard `i` holds a bias; [`RETIRED`]: no new biases.
    biased: AtomicUsize,
}

/// Initial strong units of a node about to be published: one for the store, one for the handle
/// the publisher gets back.
const INITIAL_STRONG: usize = 2;

/// A node that is allocated but not yet published; its owner has exclusive access.
pub(crate) struct NewNode<T> {
    ptr: NonNull<Node<T>>,
}

// SAFETY: a `NewNode` is the unique owner of its allocation (a `Box` in all but name), so moving it
// to another thread is sound whenever the value itself may move there.
unsafe impl<T: Send> Send for NewNode<T> {}

impl<T> NewNode<T> {
    pub(crate) fn new(value: T, meta: Meta) -> Self {
        // Built in place: a `Box::new(Node { .. })` would assemble the whole node, padding
        // included, on the stack and copy it, which showed up as a tenth of a publish.
        let mut node = Box::<Node<T>>::new_uninit();
        let ptr = node.as_mut_ptr();
        // SAFETY: `ptr` points to an allocation for a `Node<T>`; each field is written once
        // through a raw place, without reading or creating references to uninitialised memory;
        // the padding is `MaybeUninit` and needs no initialisation.
        let node = unsafe {
            (&raw mut (*ptr).meta).write(meta);
            (&raw mut (*ptr).tracker).write(UnsafeCell::new(None));
            (&raw mut (*ptr).value).write(UnsafeCell::new(ManuallyDrop::new(value)));
            (&raw mut (*ptr).counts.value).write(Counts {
                strong: AtomicUsize::new(INITIAL_STRONG),
                weak: AtomicUsize::new(1),
                biased: AtomicUsize::new(0),
            });
            for shard in 0..SHARDS {
                (&raw mut (*ptr).shards[shard].value).write(AtomicUsize::new(0));
            }
            node.assume_init()
        };
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
            .counts
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
        unsafe { Self::release_units(ptr, 1) };
    }

    /// Gives back `n` units; returns whether that dropped the value.
    ///
    /// # Safety
    /// The caller must own the `n` units it releases.
    unsafe fn release_units(ptr: NonNull<Self>, n: usize) -> bool {
        // AcqRel rather than Release + an acquire fence on zero: the same instruction on x86 and
        // ARMv8.1, and ThreadSanitizer understands it (it does not model fences).
        // SAFETY: the units keep the node alive until this decrement.
        let old = unsafe { ptr.as_ref() }
            .counts
            .strong
            .fetch_sub(n, Ordering::AcqRel);
        debug_assert!(old >= n, "strong count underflow");
        if old == n {
            // SAFETY: that was the last unit: no one can reach the value any more.
            unsafe { Self::drop_value(ptr) };
            true
        } else {
            false
        }
    }

    /// Adds one count to `shard`.
    ///
    /// # Safety
    /// The caller must protect the node or hold a unit (see the module docs).
    pub(crate) unsafe fn acquire_shard(ptr: NonNull<Self>, shard: usize) {
        // SAFETY: the node is alive per the contract.
        let node = unsafe { ptr.as_ref() };
        let counter = &node.shards[shard];
        let old = counter.fetch_add(1, Ordering::Relaxed);
        if old == 0 {
            // SAFETY: same contract.
            unsafe { Self::start_shard(ptr, shard) };
        } else if old > MAX_COUNT {
            std::process::abort();
        }
    }

    /// The shard just went from zero to one: give it its unit and, while the node is current,
    /// a bias that keeps it from going back to zero.
    ///
    /// # Safety
    /// As [`acquire_shard`](Self::acquire_shard).
    #[cold]
    #[inline(never)]
    unsafe fn start_shard(ptr: NonNull<Self>, shard: usize) {
        // `strong > 0` because the caller protects the node.
        // SAFETY: same contract.
        unsafe { Self::acquire_unit(ptr) };
        // SAFETY: same contract.
        let node = unsafe { ptr.as_ref() };
        let bit = 1 << shard;
        if node.counts.biased.load(Ordering::Relaxed) & (RETIRED | bit) != 0 {
            return;
        }
        // The bias count goes in before its bit: `retire` removes exactly the biases whose bit it
        // sees, and a bias whose bit lands after `RETIRED` is taken back here.
        node.shards[shard].fetch_add(1, Ordering::Relaxed);
        let before = node.counts.biased.fetch_or(bit, Ordering::AcqRel);
        if before & (RETIRED | bit) != 0 {
            // Retired meanwhile (or, impossibly, biased twice): take the bias back. We still hold
            // our own count in the shard, so it cannot reach zero here.
            node.shards[shard].fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Removes one count from `shard`; the shard's last count gives back the shard's unit.
    ///
    /// # Safety
    /// The caller must own the count it releases.
    pub(crate) unsafe fn release_shard(ptr: NonNull<Self>, shard: usize) {
        // SAFETY: the count keeps a unit, hence the node, alive.
        let counter = unsafe { &ptr.as_ref().shards[shard] };
        // AcqRel: the releaser of the shard's unit must carry the reads of every earlier holder
        // of this shard into the final release.
        if counter.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: a shard with a non-zero count owns one unit; it reached zero here.
            unsafe { Self::release_unit(ptr) };
        }
    }

    /// Removes the shard biases and the store's unit of a node that is no longer current; if a
    /// reader still holds the version, registers it with `tracker` as pinned.
    ///
    /// # Safety
    /// Must be called once, by whoever replaced the node as current, after helping readers.
    pub(crate) unsafe fn retire(ptr: NonNull<Self>, tracker: Option<&Arc<PinTracker>>) {
        // SAFETY: the store's unit keeps the node alive until it is released below.
        let node = unsafe { ptr.as_ref() };
        let mut biased = node.counts.biased.fetch_or(RETIRED, Ordering::AcqRel) & !RETIRED;
        let mut units = 1;
        while biased != 0 {
            let shard = biased.trailing_zeros() as usize;
            if node.shards[shard].fetch_sub(1, Ordering::AcqRel) == 1 {
                units += 1;
            }
            biased &= biased - 1;
        }
        let Some(tracker) = tracker else {
            // SAFETY: the store's unit plus one unit per shard whose bias was its last count.
            unsafe { Self::release_units(ptr, units) };
            return;
        };
        // Keep one unit while deciding whether the version outlives its retirement: only then
        // is it registered as pinned (and unregistered when it is finally dropped).
        // SAFETY: as above, minus the unit we keep, which holds the node.
        if units > 1 && unsafe { Self::release_units(ptr, units - 1) } {
            unreachable!("the kept unit holds the node");
        }
        if node.counts.strong.load(Ordering::Acquire) > 1 {
            tracker.on_retire(&node.meta);
            // SAFETY: only this (retiring) thread writes the cell, once, before the release
            // below; the only reader is `drop_value`, which runs after that release.
            unsafe { *node.tracker.get() = Some(Arc::clone(tracker)) };
            node.counts
                .biased
                .fetch_or(PINNED_TRACKED, Ordering::Release);
        }
        // SAFETY: the unit we kept.
        unsafe { Self::release_unit(ptr) };
    }

    /// Adds a weak reference (keeps the allocation, not the value).
    ///
    /// # Safety
    /// The caller must hold a strong unit or a weak reference.
    pub(crate) unsafe fn acquire_weak(ptr: NonNull<Self>) {
        // SAFETY: alive per the contract.
        let old = unsafe { ptr.as_ref() }
            .counts
            .weak
            .fetch_add(1, Ordering::Relaxed);
        if old > MAX_COUNT {
            std::process::abort();
        }
    }

    /// # Safety
    /// The caller must own the weak reference it releases.
    pub(crate) unsafe fn release_weak(ptr: NonNull<Self>) {
        // SAFETY: the weak reference keeps the allocation alive until this decrement.
        if unsafe { ptr.as_ref() }
            .counts
            .weak
            .fetch_sub(1, Ordering::AcqRel)
            == 1
        {
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
        let strong = unsafe { &ptr.as_ref().counts.strong };
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
            if node.counts.biased.load(Ordering::Acquire) & PINNED_TRACKED != 0 {
                // SAFETY: written before the retiring thread's release, which happened before
                // this final one; nobody writes it afterwards.
                if let Some(tracker) = unsafe { &*node.tracker.get() } {
                    tracker.on_reclaim(node.meta.version);
                }
            }
        }
        // SAFETY: no strong unit is left, so no one reads the value; it is dropped only here.
        unsafe { ManuallyDrop::drop(&mut *(*ptr.as_ptr()).value.get()) };
        // SAFETY: the allocation is alive until the weak reference below is released.
        let weak = unsafe { &ptr.as_ref().counts.weak };
        if weak.load(Ordering::Acquire) == 1 {
            // Only the strong units' collective weak reference is left, and with no strong unit
            // nobody can create another one: skip the decrement and free directly.
            // SAFETY: last reference of any kind; the value was dropped above.
            drop(unsafe { Box::from_raw(ptr.as_ptr()) });
        } else {
            // SAFETY: the weak reference owned collectively by the strong units.
            unsafe { Self::release_weak(ptr) };
        }
    }
}

/// Set in `biased` when the version was registered as pinned at retirement.
const PINNED_TRACKED: usize = 1 << (usize::BITS - 2);
