//! The atomic cell holding the current node, and the read/publish protocol around it.
//!
//! # Reading (`protect`)
//!
//! *Fast path* — no shared write: load the pointer `p`, write it into one of this thread's
//! borrow slots (`SeqCst`), load the pointer again. If it is still `p`, `p` is protected: any
//! writer that replaces `p` scans the slots afterwards (the two `SeqCst` pairs guarantee that one
//! sees the other) and, finding `p`, *pays the debt*: it adds a strong unit to `p` on the reader's
//! behalf and tags the slot `PAID`. Dropping the guard clears the slot with a CAS; if the CAS
//! finds the `PAID` tag, the guard owns a unit and releases it.
//!
//! *Fallback* — when all borrow slots are busy or a publish raced with the fast path. The reader
//! writes `PREPARE(cell)` into its fallback slot, loads the pointer `p`, and tries to replace
//! `PREPARE` by `CONFIRM(p)`. A writer that finds `PREPARE(cell)` after publishing hands the
//! reader its new node (with a unit) if that node is still current, so the reader's CAS fails
//! and it takes the node it was handed; if the node is no longer current (another publish came
//! after), the writer writes `RETRY` instead and the reader starts over, which can only happen
//! while publishes keep racing. A writer that finds `CONFIRM(old)` pays a unit for `old`.
//! With serialized writers the fallback completes in a bounded number of steps (wait-free).
//!
//! # Snapshots (`snapshot`)
//!
//! An owned snapshot is a protection that is not bound to its thread: `snapshot()` runs the
//! fast path in one of the thread's *snapshot slots* (the upper half of its borrow slots, so
//! the guard slots `load()` takes in turn stay free) and the handle keeps that slot. Nothing else changes for
//! writers: a publish pays the slot's debt like a guard's. The handle may move to another
//! thread and be dropped there (one compare-and-swap on the slot); records are never freed,
//! and a record whose thread exits with a busy slot stays scanned. Dropping the store pays
//! slots that still hold its last node instead of emptying them, because such a slot may be a
//! snapshot that outlives the store. When all snapshot slots are busy, the handle counts in the
//! thread's shard of the node instead (see `node.rs`).
//!
//! # Publishing (`compare_and_swap`)
//!
//! CAS the pointer from the node the new value was derived from to the new node, then scan every
//! active record: pay debts of slots that borrow the old node and answer `PREPARE`/`CONFIRM`
//! fallback requests, and only then retire the old node (drop its shard biases and the store's
//! unit). Retiring after the scan is what keeps every node a reader may still touch alive.
//!
//! # Monotonicity
//!
//! A handed-over node was current at a moment after the reader's `PREPARE` (the writer checks
//! it is still current after seeing `PREPARE`), and a fast-path result was current between the
//! reader's two loads; so a thread never observes an older version than one it saw before.

use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use super::barrier::{self, Mode};
use super::domain::{Record, SNAPSHOT_SLOTS, domain, shard_of, with_record};
use super::node::{Meta, NewNode, Node, SHARDS};
use crate::pins::PinTracker;
use crate::sync::{AtomicPtr, Ordering, seq_cst_pair};
use std::sync::Arc;

/// Tag of a borrow slot whose debt a writer paid: the slot's owner now holds a strong unit.
const PAID: usize = 0b1;
/// Tag of a fallback slot: "reading this cell" (the address is the cell's).
const PREPARE: usize = 0b01;
/// Tag of a fallback slot: "about to take a unit of this node".
const CONFIRM: usize = 0b10;
const TAGS: usize = 0b11;

fn retry_marker() -> *mut () {
    ptr::without_provenance_mut(TAGS)
}

fn erase<T>(ptr: NonNull<Node<T>>) -> *mut () {
    ptr.as_ptr().cast()
}

fn tagged(ptr: *mut (), tag: usize) -> *mut () {
    ptr.map_addr(|addr| addr | tag)
}

fn untagged<T>(ptr: *mut ()) -> NonNull<Node<T>> {
    NonNull::new(ptr.map_addr(|addr| addr & !TAGS).cast()).expect("tagged node pointer is null")
}

/// The atomic pointer to the current node. Owns the store's unit of that node.
pub(crate) struct AtomicNode<T> {
    current: AtomicPtr<Node<T>>,
    /// Whether readers announce hazards with a plain store (publishes then run the heavy
    /// barrier, see `barrier.rs`) or with a locked swap, and the switches between the two.
    mode: Mode,
    /// Where retired versions that readers still hold are registered.
    tracker: Arc<PinTracker>,
    _owns: PhantomData<Node<T>>,
}

// SAFETY: the cell hands out `&T` to any thread (needs `T: Sync`) and may drop a `T` on any
// thread (needs `T: Send`); all shared state is atomic.
unsafe impl<T: Send + Sync> Send for AtomicNode<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for AtomicNode<T> {}

impl<T> AtomicNode<T> {
    /// Publishes `node` as the first version and returns a handle to it. With `asymmetric`,
    /// readers start with the asymmetric barrier if the platform has it, and the cell may
    /// switch (see [`mode`](Self::mode)); without, they use the symmetric one for good.
    pub(crate) fn new(
        node: NewNode<T>,
        tracker: Arc<PinTracker>,
        asymmetric: bool,
        adaptive: bool,
    ) -> (Self, Counted<T>) {
        let ptr = node.into_raw();
        let cell = Self {
            current: AtomicPtr::new(ptr.as_ptr()),
            mode: Mode::new(asymmetric, adaptive),
            tracker,
            _owns: PhantomData,
        };
        // The node's initial units include the store's and the publisher's.
        (cell, Counted::unit(ptr))
    }

    /// The cell's read barrier: what readers use now, counters, switches.
    pub(crate) fn mode(&self) -> &Mode {
        &self.mode
    }

    fn prepare_tag(&self) -> *mut () {
        tagged(ptr::from_ref(&self.current).cast_mut().cast(), PREPARE)
    }

    /// Whether `node` is the current node. One relaxed load: used by cached readers, which
    /// already hold the node they compare.
    #[inline]
    pub(crate) fn is_current(&self, node: &Counted<T>) -> bool {
        ptr::eq(self.current.load(Ordering::Relaxed), node.ptr.as_ptr())
    }

    /// Protects the current node for a short, thread-bound borrow.
    #[inline]
    pub(crate) fn protect(&self) -> Protected<T> {
        with_record(|record| {
            let current = self.current.load(Ordering::Relaxed);
            // The guard slot after the last one used is free unless this thread holds several
            // guards. Taking the guard slots in turn, rather than always the first, keeps one
            // guard's release and the next guard's publish off the same word: a locked
            // instruction on a word the previous one just wrote waits for it (0.5% of a
            // `load()` on the EPYC VM, bench-results/core/rotating-guard-slots.md).
            let index = record.guard_slot_to_try();
            if record.borrows[index].load(Ordering::Relaxed).is_null() {
                record.advance_guard_slot(index);
                self.protect_in_slot(record, index, current)
            } else {
                self.protect_find_slot(record, current)
            }
        })
    }

    #[inline]
    fn protect_in_slot(
        &self,
        record: &'static Record,
        index: usize,
        current: *mut Node<T>,
    ) -> Protected<T> {
        let slot = &record.borrows[index];
        let mode = self.mode.read();
        let asymmetric = Mode::is_asymmetric(mode);
        if asymmetric {
            // No locked instruction: a publish that may race with us runs the heavy barrier
            // before it scans the slots.
            slot.store(current.cast(), Ordering::Relaxed);
            barrier::light();
        } else {
            slot.store(current.cast(), Ordering::SeqCst);
        }
        seq_cst_pair();
        let checked = self.current.load(Ordering::SeqCst);
        // A switch to the symmetric barrier that began meanwhile may not have seen our plain
        // store: start over on the fallback path, which does not depend on the mode.
        if ptr::eq(checked, current) && (!asymmetric || self.mode.unchanged(mode)) {
            return Protected {
                ptr: NonNull::new(current).expect("the current node is never null"),
                slot: Some(slot),
            };
        }
        self.protect_outdated(record, slot, current)
    }

    #[cold]
    #[inline(never)]
    fn protect_find_slot(&self, record: &'static Record, current: *mut Node<T>) -> Protected<T> {
        match record
            .borrows
            .iter()
            .position(|slot| slot.load(Ordering::Relaxed).is_null())
        {
            Some(index) => self.protect_in_slot(record, index, current),
            None => self.protect_fallback(record),
        }
    }

    /// A publish raced with the fast path: take the slot back, or keep the unit a writer paid.
    #[cold]
    #[inline(never)]
    fn protect_outdated(
        &self,
        record: &'static Record,
        slot: &'static AtomicPtr<()>,
        stale: *mut Node<T>,
    ) -> Protected<T> {
        match slot.compare_exchange(
            stale.cast(),
            ptr::null_mut(),
            Ordering::SeqCst,
            Ordering::Acquire,
        ) {
            Ok(_) => self.protect_fallback(record),
            Err(paid) => {
                // A writer retired this node after our first load and paid us a unit; that
                // version was current during this call, so returning it is linearizable. The
                // payer's pointer (not our possibly stale one) carries the node's provenance.
                slot.store(ptr::null_mut(), Ordering::Release);
                Protected {
                    ptr: untagged(paid),
                    slot: None,
                }
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn protect_fallback(&self, record: &'static Record) -> Protected<T> {
        let fallback = &record.fallback;
        let prepare = self.prepare_tag();
        loop {
            fallback.store(prepare, Ordering::SeqCst);
            seq_cst_pair();
            let current = self.current.load(Ordering::SeqCst);
            let confirm = tagged(current.cast(), CONFIRM);
            match fallback.compare_exchange(prepare, confirm, Ordering::SeqCst, Ordering::Acquire) {
                Ok(_) => {}
                Err(answer) if answer == retry_marker() => {
                    // Our node went stale while a newer publish raced in: start over.
                    fallback.store(ptr::null_mut(), Ordering::Relaxed);
                    continue;
                }
                Err(handed) => {
                    // A writer handed us its node, with a unit, while it was current.
                    fallback.store(ptr::null_mut(), Ordering::Relaxed);
                    return Protected {
                        ptr: untagged(handed),
                        slot: None,
                    };
                }
            }
            let node = NonNull::new(current).expect("the current node is never null");
            // SAFETY: `CONFIRM(node)` is published; a writer retiring `node` after our load sees
            // `PREPARE` or `CONFIRM` in this slot and either changed it (making the CAS above
            // fail) or pays for `node` before retiring it, so `node` is alive.
            unsafe { Node::acquire_unit(node) };
            if fallback
                .compare_exchange(
                    confirm,
                    ptr::null_mut(),
                    Ordering::SeqCst,
                    Ordering::Acquire,
                )
                .is_err()
            {
                // A writer paid a unit for our confirmation meanwhile: we hold two, keep one.
                fallback.store(ptr::null_mut(), Ordering::Relaxed);
                // SAFETY: we own that extra unit, and still hold the other.
                unsafe { Node::release_unit(node) };
            }
            return Protected {
                ptr: node,
                slot: None,
            };
        }
    }

    /// A counted handle to the current node.
    ///
    /// While one of this thread's snapshot slots is free, the handle keeps that borrow slot:
    /// taking it costs what a `load()` costs, and dropping it (on any thread) one compare-and-
    /// swap. A thread that holds more snapshots than it has snapshot slots counts the rest in
    /// its shard of the node.
    #[inline]
    pub(crate) fn snapshot(&self) -> Counted<T> {
        with_record(|record| {
            let current = self.current.load(Ordering::Relaxed);
            // The search for a free slot, when the hinted one is busy, stays out of line: the
            // inline path is then as short as `protect`'s (bench-results/core/
            // snapshot-hint-and-cheaper-publish.md).
            let index = record.snapshot_slot_to_try();
            if record.borrows[index].load(Ordering::Relaxed).is_null() {
                self.protect_in_slot(record, index, current).into_held()
            } else {
                self.snapshot_find_slot(record, current)
            }
        })
    }

    #[cold]
    #[inline(never)]
    fn snapshot_find_slot(&self, record: &'static Record, current: *mut Node<T>) -> Counted<T> {
        match SNAPSHOT_SLOTS
            .rev()
            .find(|&i| record.borrows[i].load(Ordering::Relaxed).is_null())
        {
            Some(index) => {
                record.hint_snapshot_slot(index);
                self.protect_in_slot(record, index, current).into_held()
            }
            // Every snapshot slot is held: count in a shard, borrowing any free slot (or the
            // fallback) only while the count is taken.
            None => self
                .protect_find_slot(record, current)
                .into_counted_with(Some(&self.current)),
        }
    }

    /// Publishes `new` if the current node is still the one `expected` protects; on success,
    /// helps readers, retires the old node and returns a handle to `new`. On failure both come
    /// back. Protecting `expected` is what rules out ABA: its address cannot be recycled into a
    /// different node meanwhile.
    pub(crate) fn compare_and_swap(
        &self,
        expected: Protected<T>,
        new: NewNode<T>,
    ) -> Result<Counted<T>, (Protected<T>, NewNode<T>)> {
        let new_ptr = new.into_raw();
        match self.current.compare_exchange(
            expected.ptr.as_ptr(),
            new_ptr.as_ptr(),
            Ordering::SeqCst,
            Ordering::Relaxed,
        ) {
            Ok(old) => {
                seq_cst_pair();
                self.mode.after_swap(expected.slot.is_some());
                let old = NonNull::new(old).expect("the current node is never null");
                // The store's unit of `old`, ours now, keeps it alive until `retire`. Dropping our
                // own protection first keeps `help_readers` from paying a debt to ourselves (which
                // would also make the retired version look pinned).
                expected.release_unpaid();
                self.help_readers(old, new_ptr);
                // SAFETY: we replaced `old` as current and helped every reader first.
                unsafe { Node::retire(old, &self.tracker) };
                Ok(Counted::unit(new_ptr))
            }
            // SAFETY: the CAS failed, so `new_ptr` was never published.
            Err(_) => Err((expected, unsafe { NewNode::from_raw(new_ptr) })),
        }
    }

    /// Pays the debts of readers borrowing `old` and answers fallback requests on this cell.
    fn help_readers(&self, old: NonNull<Node<T>>, new: NonNull<Node<T>>) {
        let old_erased = erase(old);
        let prepare = self.prepare_tag();
        let confirm_old = tagged(old_erased, CONFIRM);
        domain().for_each_active(move |record| {
            for slot in &record.borrows {
                if slot.load(Ordering::SeqCst) == old_erased {
                    pay(slot, old, old_erased, tagged(old_erased, PAID));
                }
            }
            let fallback = &record.fallback;
            let request = fallback.load(Ordering::SeqCst);
            if request == prepare {
                let answer = if ptr::eq(self.current.load(Ordering::SeqCst), new.as_ptr()) {
                    // SAFETY: we hold the publisher's unit of `new`.
                    unsafe { Node::acquire_unit(new) };
                    erase(new)
                } else {
                    retry_marker()
                };
                if let Err(now) =
                    fallback.compare_exchange(prepare, answer, Ordering::SeqCst, Ordering::SeqCst)
                {
                    if answer != retry_marker() {
                        // SAFETY: the unit we just added was not handed over; we still hold
                        // the publisher's unit, so this cannot be the last one.
                        unsafe { Node::release_unit(new) };
                    }
                    if now == confirm_old {
                        pay(fallback, old, confirm_old, ptr::null_mut());
                    }
                }
            } else if request == confirm_old {
                pay(fallback, old, confirm_old, ptr::null_mut());
            }
        });
    }

    /// Drops the cell's node and clears slots that leaked guards left borrowing it.
    fn clear(&mut self) {
        let current = NonNull::new(self.current.load(Ordering::Acquire))
            .expect("the current node is never null");
        let erased = erase(current);
        // `&mut self` proves no guard borrows this cell any more, but a snapshot may still hold
        // a borrow slot on the node (snapshots outlive their store, on any thread): pay its
        // debt, as a publish would. A slot of a leaked guard (`mem::forget`) is paid too, so
        // a forgotten guard leaks its version, as a forgotten `Arc` would.
        let paid = tagged(erased, PAID);
        domain().for_each_active(|record| {
            for slot in &record.borrows {
                if slot.load(Ordering::SeqCst) == erased {
                    pay(slot, current, erased, paid);
                }
            }
        });
        // SAFETY: the cell owns the store's unit of its current node; this is its last use.
        unsafe { Node::retire(current, &self.tracker) };
    }
}

/// Gives the reader behind `slot` a unit of `node` if `slot` still holds `expected`.
fn pay<T>(slot: &AtomicPtr<()>, node: NonNull<Node<T>>, expected: *mut (), replacement: *mut ()) {
    // SAFETY: the paying writer still holds the store's unit of `node` (it retires it only
    // after helping), so the node is alive.
    unsafe { Node::acquire_unit(node) };
    // Acquire on failure: if the reader released the slot meanwhile, its reads of the node
    // must happen before the retirement that may now drop it (found by the loom model
    // `load_clone_races_with_store`).
    if slot
        .compare_exchange(expected, replacement, Ordering::SeqCst, Ordering::Acquire)
        .is_err()
    {
        // SAFETY: not handed over; the store's unit is still held, so this is not the last one.
        unsafe { Node::release_unit(node) };
    }
}

impl<T> Drop for AtomicNode<T> {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A protected node: either a borrow slot (`slot` is `Some`) or an owned strong unit.
pub(crate) struct Protected<T> {
    ptr: NonNull<Node<T>>,
    slot: Option<&'static AtomicPtr<()>>,
}

impl<T> Protected<T> {
    #[inline]
    pub(crate) fn value(&self) -> &T {
        // SAFETY: the protection keeps the value alive as long as `self`.
        unsafe { Node::value(self.ptr) }
    }

    #[inline]
    pub(crate) fn meta(&self) -> &Meta {
        // SAFETY: as above.
        unsafe { Node::meta(self.ptr) }
    }

    /// A counted handle to the same node.
    pub(crate) fn to_counted(&self) -> Counted<T> {
        self.counted_with(None)
    }

    /// `current` is the cell's pointer when the caller has it: then the first count of a shard
    /// also installs that shard's bias while the node is current.
    #[inline]
    fn counted_with(&self, current: Option<&AtomicPtr<Node<T>>>) -> Counted<T> {
        if let Some(slot) = self.slot {
            let shard = shard_of(slot);
            // SAFETY: the node is protected by our borrow slot.
            unsafe { Node::acquire_shard(self.ptr, shard, current) };
            Counted::new(self.ptr, Hold::Shard(shard))
        } else {
            // SAFETY: we hold a unit.
            unsafe { Node::acquire_unit(self.ptr) };
            Counted::unit(self.ptr)
        }
    }

    /// Turns the protection itself into the handle: a borrow slot, or the unit we own. No
    /// read-modify-write.
    #[inline]
    fn into_held(self) -> Counted<T> {
        let this = std::mem::ManuallyDrop::new(self);
        Counted::new(
            this.ptr,
            match this.slot {
                Some(slot) => Hold::Slot(slot),
                None => Hold::Unit,
            },
        )
    }

    #[inline]
    pub(crate) fn into_counted(self) -> Counted<T> {
        self.into_counted_with(None)
    }

    #[inline]
    fn into_counted_with(self, current: Option<&AtomicPtr<Node<T>>>) -> Counted<T> {
        if self.slot.is_some() {
            self.counted_with(current)
        } else {
            // Move our unit into the handle.
            self.into_held()
        }
    }
}

impl<T> Protected<T> {
    /// Ends a protection of a node that nobody can have retired yet: the caller is the writer
    /// whose compare-and-swap just replaced it, and only the writer that replaces a node pays
    /// debts on it (it has not helped readers yet). So a borrow slot still holds the node
    /// untagged, and a plain store empties it: no read-modify-write on the publish path.
    fn release_unpaid(self) {
        let this = std::mem::ManuallyDrop::new(self);
        match this.slot {
            Some(slot) => {
                debug_assert_eq!(
                    slot.load(Ordering::Relaxed),
                    erase(this.ptr),
                    "a node was paid for before its replacement was published"
                );
                slot.store(ptr::null_mut(), Ordering::Release);
            }
            // SAFETY: we own the unit.
            None => unsafe { Node::release_unit(this.ptr) },
        }
    }
}

impl<T> Drop for Protected<T> {
    #[inline]
    fn drop(&mut self) {
        match self.slot {
            Some(slot) => release_slot(slot, self.ptr),
            // SAFETY: we own the unit.
            None => unsafe { Node::release_unit(self.ptr) },
        }
    }
}

/// Empties a borrow slot that protects `node`; if a writer paid the slot's debt meanwhile,
/// gives that unit back.
#[inline]
fn release_slot<T>(slot: &AtomicPtr<()>, node: NonNull<Node<T>>) {
    if let Err(paid) = slot.compare_exchange(
        erase(node),
        ptr::null_mut(),
        Ordering::Release,
        Ordering::Acquire,
    ) {
        release_paid::<T>(slot, paid);
    }
}

#[cold]
#[inline(never)]
fn release_paid<T>(slot: &AtomicPtr<()>, paid: *mut ()) {
    debug_assert_eq!(
        paid.addr() & TAGS,
        PAID,
        "borrow slot changed under its guard"
    );
    slot.store(ptr::null_mut(), Ordering::Release);
    // SAFETY: a writer paid this unit for our borrow (the slot says `PAID`), and the slot is ours
    // again; the payer's pointer carries the node's provenance.
    unsafe { Node::<T>::release_unit(untagged(paid)) };
}

/// A counted handle: keeps its node's value alive.
pub(crate) struct Counted<T> {
    ptr: NonNull<Node<T>>,
    hold: PackedHold,
}

/// What keeps a [`Counted`] handle's node alive.
#[derive(Clone, Copy)]
enum Hold {
    /// A strong unit of its own.
    Unit,
    /// A count in this snapshot shard of the node.
    Shard(usize),
    /// A borrow slot of the thread that took the handle, holding the node (a writer that
    /// retires the node pays the slot a unit, as for a guard). Records are never freed and a
    /// record with a busy slot stays scanned after its thread exits, so the handle may move to,
    /// and be dropped on, any thread.
    Slot(&'static AtomicPtr<()>),
}

/// A [`Hold`] in one pointer-sized word, so that a handle (and a `Snapshot`) is two words, as
/// before slot-held snapshots existed: with a three-word handle a publish, which returns one,
/// took 14% longer (48 against 42 ns on the EPYC VM). A slot is stored as its address;
/// `Unit` and `Shard(i)` as the addresses 0 and `i + 1`, which no slot can have.
#[derive(Clone, Copy)]
struct PackedHold(*const AtomicPtr<()>);

impl PackedHold {
    #[inline]
    fn pack(hold: Hold) -> Self {
        Self(match hold {
            Hold::Unit => ptr::null(),
            Hold::Shard(shard) => ptr::without_provenance(shard + 1),
            Hold::Slot(slot) => ptr::from_ref(slot),
        })
    }

    #[inline]
    fn unpack(self) -> Hold {
        match self.0.addr() {
            0 => Hold::Unit,
            small if small <= SHARDS => Hold::Shard(small - 1),
            // SAFETY: only `pack` makes a larger address, from a `&'static` slot: a slot lives
            // in a record, and records are never freed.
            _ => Hold::Slot(unsafe { &*self.0 }),
        }
    }
}

impl<T> Counted<T> {
    #[inline]
    fn new(ptr: NonNull<Node<T>>, hold: Hold) -> Self {
        Self {
            ptr,
            hold: PackedHold::pack(hold),
        }
    }

    #[inline]
    fn unit(ptr: NonNull<Node<T>>) -> Self {
        Self::new(ptr, Hold::Unit)
    }
}

// SAFETY: a handle gives `&T` to its holder (needs `T: Sync`) and may drop the `T` on the
// thread that releases the last unit (needs `T: Send`); the counts and slots are atomic.
unsafe impl<T: Send + Sync> Send for Counted<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Counted<T> {}

impl<T> Counted<T> {
    #[inline]
    pub(crate) fn value(&self) -> &T {
        // SAFETY: the handle owns a count that keeps the value alive.
        unsafe { Node::value(self.ptr) }
    }

    #[inline]
    pub(crate) fn meta(&self) -> &Meta {
        // SAFETY: as above.
        unsafe { Node::meta(self.ptr) }
    }

    /// Identity of the node, for comparisons.
    #[inline]
    pub(crate) fn addr(&self) -> usize {
        self.ptr.as_ptr().addr()
    }

    pub(crate) fn downgrade(&self) -> WeakNode<T> {
        // SAFETY: we hold a strong count, or a borrow slot that keeps one alive.
        unsafe { Node::acquire_weak(self.ptr) };
        WeakNode { ptr: self.ptr }
    }
}

impl<T> Clone for Counted<T> {
    #[inline]
    fn clone(&self) -> Self {
        let hold = match self.hold.unpack() {
            Hold::Unit => {
                // SAFETY: we hold a unit.
                unsafe { Node::acquire_unit(self.ptr) };
                Hold::Unit
            }
            Hold::Shard(shard) => {
                // SAFETY: we hold a count in this shard, so the shard is non-zero (and the
                // count cannot start the shard: no bias to install).
                unsafe { Node::acquire_shard(self.ptr, shard, None) };
                Hold::Shard(shard)
            }
            Hold::Slot(slot) => {
                // The clone counts in the slot's shard: the slot stays ours alone.
                let shard = shard_of(slot);
                // SAFETY: our slot protects the node (or holds a unit a writer paid), and no
                // bias is installed without the cell's pointer.
                unsafe { Node::acquire_shard(self.ptr, shard, None) };
                Hold::Shard(shard)
            }
        };
        Self::new(self.ptr, hold)
    }
}

impl<T> Drop for Counted<T> {
    #[inline]
    fn drop(&mut self) {
        match self.hold.unpack() {
            // SAFETY: we own the unit.
            Hold::Unit => unsafe { Node::release_unit(self.ptr) },
            // SAFETY: we own the shard count.
            Hold::Shard(shard) => unsafe { Node::release_shard(self.ptr, shard) },
            Hold::Slot(slot) => release_slot(slot, self.ptr),
        }
    }
}

/// A weak handle: keeps the node's metadata, not its value.
pub(crate) struct WeakNode<T> {
    ptr: NonNull<Node<T>>,
}

// SAFETY: `upgrade` yields a `Counted<T>`, which needs the same bounds.
unsafe impl<T: Send + Sync> Send for WeakNode<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for WeakNode<T> {}

impl<T> WeakNode<T> {
    pub(crate) fn upgrade(&self) -> Option<Counted<T>> {
        // SAFETY: we hold a weak reference.
        unsafe { Node::try_upgrade(self.ptr) }.then(|| Counted::unit(self.ptr))
    }

    pub(crate) fn meta(&self) -> &Meta {
        // SAFETY: the weak reference keeps the allocation, and `meta` is immutable.
        unsafe { Node::meta(self.ptr) }
    }

    pub(crate) fn addr(&self) -> usize {
        self.ptr.as_ptr().addr()
    }
}

impl<T> Clone for WeakNode<T> {
    fn clone(&self) -> Self {
        // SAFETY: we hold a weak reference.
        unsafe { Node::acquire_weak(self.ptr) };
        Self { ptr: self.ptr }
    }
}

impl<T> Drop for WeakNode<T> {
    fn drop(&mut self) {
        // SAFETY: we own the weak reference.
        unsafe { Node::release_weak(self.ptr) };
    }
}
