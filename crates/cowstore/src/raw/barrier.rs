//! Asymmetric memory barriers: a free one for readers, an expensive one for writers.
//!
//! A reader announcing a hazard must order its store (the slot) before its load (the pointer
//! again), and a writer must order its compare-and-swap before its scan of the slots: a
//! store–load (Dekker) pair, which on its own needs a full fence on *both* sides — on x86 a
//! locked instruction, half of what a `load()` costs. Linux's `membarrier` moves the reader's
//! half to the writer: [`heavy`] makes every running thread of the process execute a full
//! barrier before it returns, so a reader that stored its hazard with a plain store and only a
//! compiler barrier ([`light`]) either made the store visible before the writer's scan, or
//! executes its reload after the writer's compare-and-swap (and sees the new pointer). Threads
//! not running at the time passed through the kernel's context switch, which is a full barrier.
//!
//! Under loom and Miri both halves are `SeqCst` fences: the guarantee `membarrier` gives, in the
//! vocabulary the checkers understand, so the models explore the protocol that ships.

use std::sync::atomic::AtomicU8;
use std::time::Duration;

use super::domain::domain;
use crate::sync::{AtomicU64, Ordering};

const UNKNOWN: u8 = 0;
const ABSENT: u8 = 1;
const PRESENT: u8 = 2;

/// Whether the process registered for expedited `membarrier`; decided once.
static REGISTRATION: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether [`heavy`] is available. The first call registers the process with the kernel
/// (needed once before the first expedited barrier); every later call is one load.
pub(crate) fn available() -> bool {
    match REGISTRATION.load(std::sync::atomic::Ordering::Acquire) {
        PRESENT => true,
        ABSENT => false,
        _ => {
            let present = platform::register();
            // Racing first calls register twice, which the kernel accepts.
            REGISTRATION.store(
                if present { PRESENT } else { ABSENT },
                std::sync::atomic::Ordering::Release,
            );
            present
        }
    }
}

/// Readers of the cell announce with a plain store; publishes run the heavy barrier.
const ASYMMETRIC: u64 = 0;
/// On the way from asymmetric to symmetric: readers announce with a locked swap, publishes
/// still run the heavy barrier (a reader that saw `ASYMMETRIC` may still be announcing).
const FLIPPING: u64 = 1;
/// Readers announce with a locked swap; publishes run no heavy barrier.
const SYMMETRIC: u64 = 2;
const STATE: u64 = 0b11;
/// Every change of state adds this, so a mode word is never seen twice: a reader that reads
/// the same word before and after announcing knows no switch began in between.
const EPOCH: u64 = 0b100;

/// Which barrier a cell's readers use now, how publishes keep their side of it, and the
/// switches between the two (see `cell.rs` for the reader's side).
///
/// **Switching to symmetric** goes through `FLIPPING`: the switcher publishes it, runs the
/// heavy barrier, then publishes `SYMMETRIC`. A reader that saw `ASYMMETRIC`, announced with a
/// plain store and still reads the *same* word afterwards read it before the heavy barrier's
/// point in its thread, so its announcement is visible to every publish that reads
/// `SYMMETRIC` (and skips the barrier); a reader that reads a different word afterwards
/// starts over on the fallback path.
///
/// **Switching to asymmetric** publishes `ASYMMETRIC` directly. A publish reads the mode
/// after its compare-and-swap, all `SeqCst`: if it read a word older than the switch, a reader
/// that read the switch loads the pointer after that compare-and-swap, so it does not take the
/// replaced node from its fast path.
pub(crate) struct Mode {
    word: AtomicU64,
    /// Whether the cell may ever be asymmetric (requested and available).
    switchable: bool,
    /// Publishes that found another thread's record active.
    contended: AtomicU64,
    /// Publishes that ran the heavy barrier.
    heavy: AtomicU64,
    /// The switching policy, for `ReadBarrier::Adaptive`.
    adaptation: Option<Adaptation>,
}

impl Mode {
    /// Starts asymmetric if `asymmetric` and the platform has the barrier, else symmetric for
    /// good. With `adaptive`, contended publishes switch it (see [`Adaptation`]).
    pub(crate) fn new(asymmetric: bool, adaptive: bool) -> Self {
        let switchable = asymmetric && available();
        Self {
            word: AtomicU64::new(if switchable { ASYMMETRIC } else { SYMMETRIC }),
            switchable,
            contended: AtomicU64::new(0),
            heavy: AtomicU64::new(0),
            adaptation: (switchable && adaptive).then(Adaptation::new),
        }
    }

    /// The reader's first look: the word to compare later with [`unchanged`](Self::unchanged).
    #[inline(always)]
    pub(crate) fn read(&self) -> u64 {
        self.word.load(Ordering::SeqCst)
    }

    /// Whether a mode word says "announce with a plain store".
    #[inline(always)]
    pub(crate) fn is_asymmetric(word: u64) -> bool {
        word & STATE == ASYMMETRIC
    }

    /// The reader's second look, after announcing and reloading the pointer: no switch began.
    #[inline(always)]
    pub(crate) fn unchanged(&self, word: u64) -> bool {
        self.word.load(Ordering::Relaxed) == word
    }

    /// Whether the cell may ever use the asymmetric barrier (requested, and the platform
    /// has it).
    pub(crate) fn can_be_asymmetric(&self) -> bool {
        self.switchable
    }

    /// Whether the cell switches by itself (`ReadBarrier::Adaptive`).
    pub(crate) fn is_adaptive(&self) -> bool {
        self.adaptation.is_some()
    }

    /// Whether readers announce with a plain store right now.
    pub(crate) fn asymmetric_now(&self) -> bool {
        Self::is_asymmetric(self.read())
    }

    /// The publish's side, between its compare-and-swap and its scan of the hazard slots.
    /// `own_slot_busy`: the publisher protected the replaced node in one of its borrow slots,
    /// which it has not emptied yet, so its own record is one of the active ones.
    #[inline]
    pub(crate) fn after_swap(&self, own_slot_busy: bool) {
        if !self.switchable || !domain().others_active(own_slot_busy) {
            return;
        }
        self.contended.fetch_add(1, Ordering::Relaxed);
        if let Some(adaptation) = &self.adaptation {
            // Only contended publishes are counted, so only they need to look at the rate:
            // an uncontended publish pays nothing for the policy.
            adaptation.after_contended_publish(self);
        }
        // Read after our swap: see the type's documentation. A switch to symmetric made just
        // above ran its heavy barrier after our swap, which serves this publish too.
        if self.read() & STATE != SYMMETRIC {
            // A reader of another thread may have stored a hazard on the replaced node that
            // is not visible yet, and loaded the pointer before our swap: make both visible
            // before the scan.
            self.run_heavy();
        }
    }

    /// Runs the heavy barrier and counts it.
    fn run_heavy(&self) {
        heavy();
        self.heavy.fetch_add(1, Ordering::Relaxed);
    }

    /// The word after `word` with state `state`: one epoch on, so never seen before.
    fn next_word(word: u64, state: u64) -> u64 {
        (word & !STATE) + EPOCH + state
    }

    /// Switches readers to the plain-store announcement (`true`) or the locked one. Returns
    /// whether this call switched; a no-op on a cell that cannot be asymmetric.
    pub(crate) fn set_asymmetric(&self, asymmetric: bool) -> bool {
        if !self.switchable {
            return false;
        }
        let word = self.read();
        let state = word & STATE;
        if asymmetric {
            state == SYMMETRIC
                && self
                    .word
                    .compare_exchange(
                        word,
                        Self::next_word(word, ASYMMETRIC),
                        Ordering::SeqCst,
                        Ordering::Relaxed,
                    )
                    .is_ok()
        } else {
            let flipping = Self::next_word(word, FLIPPING);
            if state != ASYMMETRIC
                || self
                    .word
                    .compare_exchange(word, flipping, Ordering::SeqCst, Ordering::Relaxed)
                    .is_err()
            {
                return false;
            }
            self.run_heavy();
            self.word
                .store(Self::next_word(flipping, SYMMETRIC), Ordering::SeqCst);
            true
        }
    }

    /// Publishes that found another thread's hazard record active.
    pub(crate) fn contended(&self) -> u64 {
        self.contended.load(Ordering::Relaxed)
    }

    /// Heavy barriers run (by publishes and by switches).
    pub(crate) fn heavy_barriers(&self) -> u64 {
        self.heavy.load(Ordering::Relaxed)
    }
}

/// Contended publishes per second above which an adaptive cell switches to symmetric...
const TO_SYMMETRIC_PER_SEC: u64 = 1_000;
/// ...measured over this long.
const ASYMMETRIC_WINDOW: Duration = Duration::from_millis(100);
/// Contended publishes per second below which it switches back...
const TO_ASYMMETRIC_PER_SEC: u64 = 100;
/// ...measured over this long.
const SYMMETRIC_WINDOW: Duration = Duration::from_secs(1);

/// The policy of `ReadBarrier::Adaptive`: at a contended publish (one that found another
/// thread's hazard record active), once the current window is over, compare the rate of
/// contended publishes in it with the thresholds above. One publisher evaluates each window.
/// A cell left symmetric with no contended publish stays so until the next one, which then
/// sees a long window with a low rate and switches back.
struct Adaptation {
    /// When the current window began (the coarse monotonic clock, in ms).
    window_start_ms: AtomicU64,
    /// The cell's contended-publish count when it began.
    contended_at_start: AtomicU64,
}

impl Adaptation {
    fn new() -> Self {
        Self {
            window_start_ms: AtomicU64::new(now_ms()),
            contended_at_start: AtomicU64::new(0),
        }
    }

    fn after_contended_publish(&self, mode: &Mode) {
        let now = now_ms();
        let start = self.window_start_ms.load(Ordering::Relaxed);
        let elapsed = now.saturating_sub(start);
        let asymmetric = mode.asymmetric_now();
        let window = if asymmetric {
            ASYMMETRIC_WINDOW
        } else {
            SYMMETRIC_WINDOW
        };
        if elapsed < millis(window)
            || self
                .window_start_ms
                .compare_exchange(start, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let contended = mode.contended();
        let in_window =
            contended.saturating_sub(self.contended_at_start.swap(contended, Ordering::Relaxed));
        let per_sec = in_window.saturating_mul(1000) / elapsed.max(1);
        if asymmetric && per_sec > TO_SYMMETRIC_PER_SEC {
            mode.set_asymmetric(false);
        } else if !asymmetric && per_sec < TO_ASYMMETRIC_PER_SEC {
            mode.set_asymmetric(true);
        }
    }
}

fn now_ms() -> u64 {
    millis(crate::clock::publish_time(false))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The reader's half: keeps the compiler from moving the hazard store below the reload. Only
/// valid where [`available`] said yes and the writer calls [`heavy`].
#[inline(always)]
pub(crate) fn light() {
    platform::light();
}

/// The writer's half: returns after every thread of the process has passed a full barrier.
/// Only called where [`available`] said yes.
pub(crate) fn heavy() {
    platform::heavy();
}

#[cfg(all(target_os = "linux", not(miri), not(loom)))]
mod platform {
    use rustix::thread::{MembarrierCommand, membarrier, membarrier_query};
    use std::sync::atomic::{Ordering, compiler_fence, fence};

    pub(super) fn register() -> bool {
        membarrier_query().contains_command(MembarrierCommand::PrivateExpedited)
            && membarrier(MembarrierCommand::RegisterPrivateExpedited).is_ok()
    }

    #[inline(always)]
    pub(super) fn light() {
        compiler_fence(Ordering::SeqCst);
    }

    #[cold]
    fn heavy_global() {
        // The registration was lost (a kernel that does not keep it across `fork`): the
        // global command needs none; it waits for a scheduler grace period (milliseconds) but
        // gives the same guarantee. Without either, readers could miss a publish: give up.
        membarrier(MembarrierCommand::Global)
            .expect("membarrier worked at registration and must keep working");
    }

    pub(super) fn heavy() {
        // Our own plain stores before the call (the writer may read too) need no help; the
        // fence keeps the compiler from moving anything across the call.
        fence(Ordering::SeqCst);
        if membarrier(MembarrierCommand::PrivateExpedited).is_err() {
            heavy_global();
        }
        fence(Ordering::SeqCst);
    }
}

#[cfg(any(miri, loom))]
mod platform {
    #[cfg(loom)]
    use loom::sync::atomic::fence;
    use std::sync::atomic::Ordering;
    #[cfg(not(loom))]
    use std::sync::atomic::fence;

    pub(super) fn register() -> bool {
        true
    }

    #[inline(always)]
    pub(super) fn light() {
        fence(Ordering::SeqCst);
    }

    pub(super) fn heavy() {
        fence(Ordering::SeqCst);
    }
}

#[cfg(not(any(target_os = "linux", miri, loom)))]
mod platform {
    pub(super) fn register() -> bool {
        false
    }

    #[inline(always)]
    pub(super) fn light() {
        unreachable!("asymmetric barriers are unavailable on this platform");
    }

    pub(super) fn heavy() {
        unreachable!("asymmetric barriers are unavailable on this platform");
    }
}
