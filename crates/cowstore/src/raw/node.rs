//! The heap node that holds one published version, and its reference counts.
//!
//! A node's value lives as long as its *strong units* (`strong`). Units are held by:
//!
//! - the store, while the node is current (one unit);
//! - each snapshot shard with a non-zero count (one unit per shard — see below);
//! - every handle with a unit of its own: a writer's returned snapshot, a weak upgrade, a debt
//!   a writer paid for a borrowed reader (guard or slot-held snapshot), a fallback load.
//!
//! **Sharded snapshot counts.** Cloning one `Arc` from many threads makes every clone fight over
//! one cache line. A snapshot keeps a borrow slot of its thread when one is free (see `cell.rs`);
//! clones, and snapshots beyond a thread's free slots, count in one of [`SHARDS`] cache-padded
//! counters chosen by the thread. A shard holds one strong unit while its count is non-zero. So
//! that a shard-counted `snapshot()`/drop pair on the current version touches only the thread's
//! own shard line, the first snapshot counted in a shard while the node is current also
//! installs a *bias* of one in that shard (and a bit in `biased`), which keeps the shard from
//! dropping back to zero.
//!
//! **Removing biases.** Whoever clears a bias's bit in `biased` (a `fetch_and`) removes that
//! bias, so it is removed exactly once. The retiring writer, after replacing the node as current,
//! reads `biased` and clears the bits it sees; an installer, after setting its bit, re-reads the
//! cell's current pointer and, if the node was replaced, clears its own bit. These are two
//! `SeqCst` store–load pairs (the writer's compare-and-swap then its load of `biased`; the
//! installer's `fetch_or` then its load of `current`), so at least one side sees the other: no
//! bias survives the node's retirement. A node no reader took a snapshot of retires without any
//! read-modify-write on `biased` or on a shard.
//!
//! **Why a shard can never resurrect a dead node:** a shard goes from zero to one only while the
//! caller protects the node (a borrowed hazard slot or a counted handle), and a protected node
//! always has at least one strong unit, so `strong` never goes from zero back up.

use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::time::{Duration, SystemTime};

use crate::pins::PinTracker;
use crate::sync::{AtomicPtr, AtomicUsize, Ordering, seq_cst_pair};

/// Number of snapshot counting shards per node.
pub(crate) const SHARDS: usize = if cfg!(loom) { 2 } else { 8 };

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
    /// Publication time on the monotonic clock (see `clock.rs`).
    pub(crate) published_mono: Duration,
    /// The wall-clock time an initial version was given
    /// ([`Builder::published_at`](crate::Builder::published_at)); `None` for every other
    /// version, whose wall-clock time is derived from `published_mono` when asked. Computing
    /// one at every publish (a checked `SystemTime` addition), or copying a per-store epoch
    /// into every node, each showed in a profile of `store()`
    /// (bench-results/core/snapshot-hint-and-cheaper-publish.md), and few publishes are ever
    /// asked their wall-clock time.
    pub(crate) published_wall: Option<SystemTime>,
    pub(crate) bytes: usize,
}

impl Meta {
    /// Wall-clock time of the publication.
    pub(crate) fn published_at(&self) -> SystemTime {
        self.published_wall
            .unwrap_or_else(|| crate::clock::wall_time_at(self.published_mono))
    }
}

/// The header first, so that its layout does not depend on `T` (a [`PinnedHandle`] reaches it
/// without knowing `T`); then each shard on a line of its own; the value last, on its own lines.
#[repr(C)]
pub(crate) struct Node<T> {
    header: Header,
    shards: [Spaced<AtomicUsize>; SHARDS],
    value: Spaced<UnsafeCell<ManuallyDrop<T>>>,
}

/// The part of a node that does not depend on `T`: read-only metadata, then the counters on
/// lines of their own.
#[repr(C)]
pub(crate) struct Header {
    meta: Meta,
    counts: Spaced<Counts>,
}

struct Counts {
    strong: AtomicUsize,
    weak: AtomicUsize,
    /// Bit `i`: shard `i` holds a bias (see "Removing biases" in the module docs).
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
            (&raw mut (*ptr).header.meta).write(meta);
            (&raw mut (*ptr).value.value).write(UnsafeCell::new(ManuallyDrop::new(value)));
            (&raw mut (*ptr).header.counts.value).write(Counts {
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
        unsafe { (*self.ptr.as_ptr()).header.meta.version = version };
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
            ManuallyDrop::drop(node.value.value.get_mut());
        }
    }
}

impl<T> Node<T> {
    /// # Safety
    /// The caller must hold a strong unit (or a protection that implies one) for `'a`.
    pub(crate) unsafe fn value<'a>(ptr: NonNull<Self>) -> &'a T {
        // SAFETY: the value is initialised and not mutated while any strong unit exists.
        unsafe { &*(*ptr.as_ptr()).value.value.get() }
    }

    /// # Safety
    /// The node allocation must be alive (a strong or weak unit held) for `'a`.
    pub(crate) unsafe fn meta<'a>(ptr: NonNull<Self>) -> &'a Meta {
        // SAFETY: `meta` is never written after publication.
        unsafe { &(*ptr.as_ptr()).header.meta }
    }

    /// Adds one strong unit.
    ///
    /// # Safety
    /// The caller must hold a unit, or protect the node, so that `strong > 0` now.
    pub(crate) unsafe fn acquire_unit(ptr: NonNull<Self>) {
        // SAFETY: the node is alive per the contract.
        let old = unsafe { ptr.as_ref() }
            .header
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
            .header
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

    /// Adds one count to `shard`. If the shard was empty and `current` (the cell's pointer) is
    /// given, also installs a bias while the node is current.
    ///
    /// # Safety
    /// The caller must protect the node or hold a unit (see the module docs).
    pub(crate) unsafe fn acquire_shard(
        ptr: NonNull<Self>,
        shard: usize,
        current: Option<&AtomicPtr<Self>>,
    ) {
        // SAFETY: the node is alive per the contract.
        let node = unsafe { ptr.as_ref() };
        let counter = &node.shards[shard];
        let old = counter.fetch_add(1, Ordering::Relaxed);
        if old == 0 {
            // SAFETY: same contract.
            unsafe { Self::start_shard(ptr, shard, current) };
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
    unsafe fn start_shard(ptr: NonNull<Self>, shard: usize, current: Option<&AtomicPtr<Self>>) {
        // `strong > 0` because the caller protects the node.
        // SAFETY: same contract.
        unsafe { Self::acquire_unit(ptr) };
        let Some(current) = current else {
            return;
        };
        if !std::ptr::eq(current.load(Ordering::Relaxed), ptr.as_ptr()) {
            // Already replaced: a bias would only be taken back.
            return;
        }
        // SAFETY: same contract.
        let node = unsafe { ptr.as_ref() };
        let biased = &node.header.counts.biased;
        let bit = 1 << shard;
        // The bias count goes in before its bit: whoever clears the bit removes the count.
        node.shards[shard].fetch_add(1, Ordering::Relaxed);
        let before = biased.fetch_or(bit, Ordering::SeqCst);
        seq_cst_pair();
        if before & bit != 0 {
            // A bias of this shard is still installed (its removal is in flight): ours is not
            // needed. We still hold our own count, so the shard cannot reach zero here.
            node.shards[shard].fetch_sub(1, Ordering::Relaxed);
            return;
        }
        if !std::ptr::eq(current.load(Ordering::SeqCst), ptr.as_ptr())
            && biased.fetch_and(!bit, Ordering::AcqRel) & bit != 0
        {
            // Replaced meanwhile, and its retiring writer did not take our bias: take it back
            // (our own count keeps the shard above zero).
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
    pub(crate) unsafe fn retire(ptr: NonNull<Self>, tracker: &PinTracker) {
        // SAFETY: the store's unit keeps the node alive until it is released below.
        let node = unsafe { ptr.as_ref() };
        let counts = &node.header.counts;
        // The load that pairs with installers' `fetch_or` (see "Removing biases"): our caller's
        // compare-and-swap that replaced the node comes first.
        seq_cst_pair();
        let mut biased = counts.biased.load(Ordering::SeqCst);
        let mut units = 1;
        while biased != 0 {
            let bit = biased & biased.wrapping_neg();
            let shard = bit.trailing_zeros() as usize;
            if counts.biased.fetch_and(!bit, Ordering::AcqRel) & bit != 0
                && node.shards[shard].fetch_sub(1, Ordering::AcqRel) == 1
            {
                units += 1;
            }
            biased &= !bit;
        }
        // Units to give back: the store's, plus one per shard whose bias was its last count.
        // Keep one unit while deciding whether the version outlives its retirement: only then
        // is it registered as pinned, through a weak handle that the tracker drops once it sees
        // the value gone. Nothing on the path that finally drops the value (often a reader's)
        // touches the tracker or any lock.
        // SAFETY: as above, minus the unit we keep, which holds the node.
        if units > 1 && unsafe { Self::release_units(ptr, units - 1) } {
            unreachable!("the kept unit holds the node");
        }
        if counts.strong.load(Ordering::Acquire) > 1 {
            // SAFETY: we hold a unit, so taking a weak reference is allowed.
            tracker.on_retire(unsafe { PinnedHandle::new(ptr) });
            // SAFETY: the unit we kept.
            unsafe { Self::release_unit(ptr) };
        } else if counts.weak.load(Ordering::Acquire) == 1 {
            // Ours is the only unit, and no weak reference exists: a new unit can only come
            // from an existing unit or a weak reference, and no reader can still take one (any
            // reader that borrowed the node was paid a unit by our caller before this retire,
            // and a later reader finds the node replaced). So nobody else can reach the node:
            // drop it without the decrement. The acquire loads see every earlier holder's
            // release of its unit.
            // SAFETY: the last strong unit, given up here, exactly once.
            unsafe { Self::drop_value(ptr) };
        } else {
            // SAFETY: the unit we kept.
            unsafe { Self::release_unit(ptr) };
        }
    }

    /// Adds a weak reference (keeps the allocation, not the value).
    ///
    /// # Safety
    /// The caller must hold a strong unit or a weak reference.
    pub(crate) unsafe fn acquire_weak(ptr: NonNull<Self>) {
        // SAFETY: alive per the contract.
        let old = unsafe { ptr.as_ref() }
            .header
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
            .header
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
        let strong = unsafe { &ptr.as_ref().header.counts.strong };
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
    /// Called exactly once, when the last strong unit is given up (`strong` reached zero, or
    /// `retire` holds the only unit and nothing can take another).
    unsafe fn drop_value(ptr: NonNull<Self>) {
        // SAFETY: no strong unit is left, so no one reads the value; it is dropped only here.
        unsafe { ManuallyDrop::drop(&mut *(*ptr.as_ptr()).value.value.get()) };
        // SAFETY: the allocation is alive until the weak reference below is released.
        let weak = unsafe { &ptr.as_ref().header.counts.weak };
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

/// A weak reference to a retired node, without its type: what the pin tracker keeps to know
/// whether a retired version is still alive and what it was.
pub(crate) struct PinnedHandle {
    header: NonNull<Header>,
    /// `Node::<T>::release_weak` for the node's `T`, on the header pointer.
    release: unsafe fn(NonNull<Header>),
}

// SAFETY: the handle touches only the header — atomics and immutable metadata — and its drop
// releases a weak reference, which frees the allocation only after the value was dropped; no
// `T` is accessed through it, so it is sound to move and share whatever `T` is.
unsafe impl Send for PinnedHandle {}
// SAFETY: as above.
unsafe impl Sync for PinnedHandle {}

impl PinnedHandle {
    /// # Safety
    /// The caller must hold a strong unit of the node (a weak reference is taken for the
    /// handle).
    unsafe fn new<T>(ptr: NonNull<Node<T>>) -> Self {
        // SAFETY: per the contract.
        unsafe { Node::acquire_weak(ptr) };
        /// # Safety
        /// `header` must be the header of a `Node<T>` whose weak reference the caller owns.
        unsafe fn release<T>(header: NonNull<Header>) {
            // SAFETY: `header` is the first field of a `repr(C)` `Node<T>`: same address.
            unsafe { Node::<T>::release_weak(header.cast()) };
        }
        Self {
            // `header` is the first field of the `repr(C)` node: the same address.
            header: ptr.cast(),
            release: release::<T>,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the weak reference keeps the allocation, and the header is never written
        // except through its atomics.
        unsafe { self.header.as_ref() }
    }

    /// Whether the version's value is still alive.
    pub(crate) fn is_alive(&self) -> bool {
        self.header().counts.strong.load(Ordering::Acquire) > 0
    }

    pub(crate) fn meta(&self) -> &Meta {
        &self.header().meta
    }
}

impl Drop for PinnedHandle {
    fn drop(&mut self) {
        // SAFETY: the handle owns one weak reference of the node, released once, here.
        unsafe { (self.release)(self.header) };
    }
}
