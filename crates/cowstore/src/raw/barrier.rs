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

use std::sync::atomic::{AtomicU8, Ordering};

const UNKNOWN: u8 = 0;
const ABSENT: u8 = 1;
const PRESENT: u8 = 2;

/// Whether the process registered for expedited `membarrier`; decided once.
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether [`heavy`] is available. The first call registers the process with the kernel
/// (needed once before the first expedited barrier); every later call is one load.
pub(crate) fn available() -> bool {
    match STATE.load(Ordering::Acquire) {
        PRESENT => true,
        ABSENT => false,
        _ => {
            let present = platform::register();
            // Racing first calls register twice, which the kernel accepts.
            STATE.store(if present { PRESENT } else { ABSENT }, Ordering::Release);
            present
        }
    }
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
