//! Per-thread hazard records, shared by every store in the process.
//!
//! Each thread that reads gets a [`Record`]: a few *borrow slots* in which `load()` announces the
//! node it is reading (a hazard pointer), and one *fallback slot* for the wait-free slow path.
//! Writers scan the records of all active threads after each publish (see `cell.rs`).
//!
//! Records live in chunks of 64 that are never freed, so a record reference stays valid for the
//! life of the process even if its thread exits while a guard is still around (thread-local
//! destruction order is unspecified). A thread's exit returns its record for reuse and clears the
//! record's *active* bit, so writers skip it: publishing costs the same after 64 threads have come
//! and gone as before — the scan visits only records of live readers.

use std::cell::Cell;
use std::ptr;

use super::node::{CachePadded, SHARDS};
use crate::sync::{
    AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering, thread_local_with_drop,
};

/// Borrow slots per thread: how many `load()` guards a thread can hold before the next one takes
/// the (still wait-free, but counted) fallback path.
/// A power of two, so the next-slot index wraps with a mask.
pub(crate) const BORROW_SLOTS: usize = if cfg!(loom) { 2 } else { 8 };

/// The borrow slots a snapshot may keep: the upper half, so that the guard slots `load()` takes
/// in turn (the lower half) stay free for guards.
pub(crate) const SNAPSHOT_SLOTS: std::ops::Range<usize> = BORROW_SLOTS / 2..BORROW_SLOTS;

/// The borrow slots `load()` tries first, in turn: the lower half. A power of two.
const GUARD_SLOTS: usize = SNAPSHOT_SLOTS.start;

const RECORDS_PER_CHUNK: usize = if cfg!(loom) { 4 } else { 64 };

pub(crate) struct Record {
    pub(crate) borrows: [AtomicPtr<()>; BORROW_SLOTS],
    pub(crate) fallback: AtomicPtr<()>,
    /// The guard slot `load()` tries next. Only the record's owning thread touches it, so
    /// relaxed loads and stores (plain moves) suffice; writers never read it.
    next_guard_slot: AtomicUsize,
    /// The snapshot slot `snapshot()` tries first: the last one it found free. Owner-only, like
    /// `next_guard_slot`.
    snapshot_slot_hint: AtomicUsize,
    in_use: AtomicBool,
}

impl Record {
    /// The borrow slot a `load()` guard should try first.
    #[inline(always)]
    // Under loom `GUARD_SLOTS` is 1 and the early return makes the modulo unreachable.
    #[cfg_attr(loom, allow(clippy::modulo_one))]
    pub(crate) fn guard_slot_to_try(&self) -> usize {
        if GUARD_SLOTS == 1 {
            // Loom's two slots leave one guard slot: no rotation to model.
            return 0;
        }
        self.next_guard_slot.load(Ordering::Relaxed) % GUARD_SLOTS
    }

    /// The snapshot slot a `snapshot()` should try first. A snapshot usually lives no longer
    /// than the next one is taken, so the slot the last one found free is free again; a
    /// long-lived one (a [`Reader`](crate::Reader)'s) moves the hint once, not on every call.
    #[inline(always)]
    pub(crate) fn snapshot_slot_to_try(&self) -> usize {
        if SNAPSHOT_SLOTS.len() == 1 {
            // Loom's single snapshot slot: nothing to remember.
            return SNAPSHOT_SLOTS.start;
        }
        self.snapshot_slot_hint.load(Ordering::Relaxed)
    }

    /// Remembers that snapshot slot `index` was free when the hinted one was not.
    pub(crate) fn hint_snapshot_slot(&self, index: usize) {
        if SNAPSHOT_SLOTS.len() > 1 {
            self.snapshot_slot_hint.store(index, Ordering::Relaxed);
        }
    }

    /// Records that guard slot `index` was taken, so the next `load()` tries the one after.
    #[inline(always)]
    #[cfg_attr(loom, allow(clippy::modulo_one))]
    pub(crate) fn advance_guard_slot(&self, index: usize) {
        if GUARD_SLOTS > 1 {
            self.next_guard_slot
                .store((index + 1) % GUARD_SLOTS, Ordering::Relaxed);
        }
    }
}

// Every record sits alone in its 128-byte block, which is what numbers it in `shard_of`.
const _: () = assert!(std::mem::size_of::<Record>() <= 128);

/// The snapshot counting shard of the thread whose record holds `slot`: records are 128-byte
/// aligned and smaller than that, so an address divided by 128 numbers them, and neighbouring
/// records (threads) get different shards.
#[inline]
pub(crate) fn shard_of(slot: &AtomicPtr<()>) -> usize {
    (ptr::from_ref(slot).addr() >> 7) % SHARDS
}

struct Chunk {
    records: Box<[CachePadded<Record>]>,
    /// Bit `i` set: record `i` may hold hazards and must be scanned.
    active: AtomicU64,
    next: AtomicPtr<Chunk>,
}

impl Chunk {
    fn new() -> Self {
        let records = (0..RECORDS_PER_CHUNK)
            .map(|_| {
                CachePadded(Record {
                    borrows: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
                    fallback: AtomicPtr::new(ptr::null_mut()),
                    next_guard_slot: AtomicUsize::new(0),
                    snapshot_slot_hint: AtomicUsize::new(SNAPSHOT_SLOTS.end - 1),
                    in_use: AtomicBool::new(false),
                })
            })
            .collect();
        Self {
            records,
            active: AtomicU64::new(0),
            next: AtomicPtr::new(ptr::null_mut()),
        }
    }
}

/// A thread's claim on one record.
#[derive(Clone, Copy)]
pub(crate) struct RecordHandle {
    pub(crate) record: &'static Record,
    active: &'static AtomicU64,
    bit: u64,
    /// The domain's count of active records (not reached through `domain()`, which loom's
    /// per-execution domain forbids while thread-locals are destroyed).
    active_records: &'static AtomicUsize,
}

pub(crate) struct Domain {
    head: AtomicPtr<Chunk>,
    /// Records whose active bit is set: what a publish checks to skip the heavy barrier.
    active_records: AtomicUsize,
}

impl Domain {
    #[cfg(not(loom))]
    const fn new() -> Self {
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
            active_records: AtomicUsize::new(0),
        }
    }

    #[cfg(loom)]
    fn new() -> Self {
        Self {
            head: AtomicPtr::new(ptr::null_mut()),
            active_records: AtomicUsize::new(0),
        }
    }

    fn chunk_ref(ptr: *mut Chunk) -> Option<&'static Chunk> {
        // SAFETY: chunks are published once with a release CAS and never freed while the domain
        // is reachable (the process-wide domain is never dropped; loom's per-execution domain
        // outlives every thread of the execution).
        unsafe { ptr.as_ref() }
    }

    pub(crate) fn acquire(&'static self) -> RecordHandle {
        let mut link = &self.head;
        loop {
            let mut chunk = link.load(Ordering::Acquire);
            if chunk.is_null() {
                let fresh = Box::into_raw(Box::new(Chunk::new()));
                match link.compare_exchange(
                    ptr::null_mut(),
                    fresh,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => chunk = fresh,
                    Err(existing) => {
                        // SAFETY: `fresh` was never shared.
                        drop(unsafe { Box::from_raw(fresh) });
                        chunk = existing;
                    }
                }
            }
            let chunk = Self::chunk_ref(chunk).expect("chunk pointer is non-null here");
            for (i, padded) in chunk.records.iter().enumerate() {
                let record = &padded.0;
                if !record.in_use.load(Ordering::Relaxed)
                    && record
                        .in_use
                        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                {
                    let bit = 1u64 << i;
                    // SeqCst: ordered before any hazard this thread publishes, so a writer that
                    // misses this bit also misses nothing the thread protects (see `cell.rs`).
                    let was = chunk.active.fetch_or(bit, Ordering::SeqCst);
                    if was & bit == 0 {
                        // Counted once per activation: a record given back with a busy slot
                        // kept its bit, and its count, and is reused as it is.
                        self.active_records.fetch_add(1, Ordering::SeqCst);
                    }
                    return RecordHandle {
                        record,
                        active: &chunk.active,
                        bit,
                        active_records: &self.active_records,
                    };
                }
            }
            link = &chunk.next;
        }
    }
}

impl RecordHandle {
    /// Gives the record back for reuse by another thread.
    pub(crate) fn release(self) {
        let (record, handle) = (self.record, self);
        let idle = record
            .borrows
            .iter()
            .chain(std::iter::once(&record.fallback))
            .all(|slot| slot.load(Ordering::SeqCst).is_null());
        if idle {
            handle.active.fetch_and(!handle.bit, Ordering::SeqCst);
            handle.active_records.fetch_sub(1, Ordering::SeqCst);
        }
        // A record released with a slot still in use (a guard that outlived its thread's
        // thread-locals) stays active, so writers keep paying its debts; it is reusable anyway
        // because owners only ever take empty slots.
        record.in_use.store(false, Ordering::Release);
    }
}

impl Domain {
    /// Calls `f` on every record that may hold a hazard.
    #[inline]
    pub(crate) fn for_each_active(&self, mut f: impl FnMut(&Record)) {
        let mut chunk = Self::chunk_ref(self.head.load(Ordering::Acquire));
        while let Some(c) = chunk {
            let mut bits = c.active.load(Ordering::SeqCst);
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                f(&c.records[i].0);
                bits &= bits - 1;
            }
            chunk = Self::chunk_ref(c.next.load(Ordering::Acquire));
        }
    }

    /// Whether a record other than the caller's may hold a hazard: if not, no other thread
    /// can be inside a read, and a publish needs no barrier for readers. `own_active` says
    /// whether the caller's record is among the active ones (it is while it holds a busy
    /// slot); if unknown, pass `false`, which may answer `true` needlessly but never wrongly.
    /// A thread that takes a record after this returned `false` counts it with a `SeqCst`
    /// read-modify-write before it reads any pointer, so it sees whatever the caller
    /// published before calling this.
    #[inline]
    pub(crate) fn others_active(&self, own_active: bool) -> bool {
        self.active_records.load(Ordering::SeqCst) > usize::from(own_active)
    }
}

#[cfg(loom)]
impl Drop for Domain {
    fn drop(&mut self) {
        let mut chunk = self.head.load(Ordering::Acquire);
        while !chunk.is_null() {
            // SAFETY: loom drops the domain after all threads of the execution ended; chunks came
            // from `Box::into_raw`.
            let boxed = unsafe { Box::from_raw(chunk) };
            chunk = boxed.next.load(Ordering::Acquire);
        }
    }
}

#[cfg(not(loom))]
static DOMAIN: Domain = Domain::new();

#[cfg(not(loom))]
pub(crate) fn domain() -> &'static Domain {
    &DOMAIN
}

// Loom drops its statics before the main thread's thread-locals, so under loom every
// thread-local record keeps the (per-execution) domain alive through an `Arc`.
#[cfg(loom)]
loom::lazy_static! {
    static ref DOMAIN: std::sync::Arc<Domain> = std::sync::Arc::new(Domain::new());
}

#[cfg(loom)]
pub(crate) fn domain() -> &'static Domain {
    &DOMAIN
}

struct LocalRecord {
    handle: Cell<Option<RecordHandle>>,
    #[cfg(loom)]
    keep_domain: std::cell::RefCell<Option<std::sync::Arc<Domain>>>,
}

impl LocalRecord {
    fn get(&self) -> &'static Record {
        match self.handle.get() {
            Some(handle) => handle.record,
            None => {
                #[cfg(loom)]
                self.keep_domain
                    .replace(Some(std::sync::Arc::clone(&DOMAIN)));
                let handle = domain().acquire();
                self.handle.set(Some(handle));
                set_cached_record(Some(handle.record));
                handle.record
            }
        }
    }
}

impl Drop for LocalRecord {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            set_cached_record(None);
            handle.release();
        }
    }
}

thread_local_with_drop! {
    static LOCAL: LocalRecord = LocalRecord {
        handle: Cell::new(None),
        #[cfg(loom)]
        keep_domain: std::cell::RefCell::new(None),
    };
}

// The fast path reads a `const`-initialised thread-local without a destructor: a plain
// thread-pointer-relative load with no lazy-initialisation check. The record is owned by a second
// thread-local (`LOCAL`) whose destructor gives it back and clears the fast one.
#[cfg(not(loom))]
std::thread_local! {
    static FAST: Cell<Option<&'static Record>> = const { Cell::new(None) };
}

#[cfg(not(loom))]
#[inline(always)]
fn cached_record() -> Option<&'static Record> {
    FAST.with(Cell::get)
}

#[cfg(not(loom))]
fn set_cached_record(record: Option<&'static Record>) {
    FAST.with(|fast| fast.set(record));
}

#[cfg(loom)]
fn cached_record() -> Option<&'static Record> {
    None
}

#[cfg(loom)]
fn set_cached_record(_: Option<&'static Record>) {}

/// Runs `f` with this thread's record.
///
/// During thread teardown, after the thread-local is gone, `f` gets a record borrowed for the
/// call and returned right after; anything `f` leaves in a slot stays safe because records are
/// never freed and a released record with a busy slot stays active.
#[inline(always)]
pub(crate) fn with_record<R>(f: impl FnOnce(&'static Record) -> R) -> R {
    match cached_record() {
        Some(record) => f(record),
        None => with_record_slow(f),
    }
}

#[cold]
#[inline(never)]
fn with_record_slow<R>(f: impl FnOnce(&'static Record) -> R) -> R {
    match LOCAL.try_with(LocalRecord::get) {
        Ok(record) => f(record),
        Err(_) => {
            let handle = domain().acquire();
            let result = f(handle.record);
            handle.release();
            result
        }
    }
}
