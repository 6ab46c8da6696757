//! Reads the kernel's monotonic clocks through libc.
//!
//! Through libc rather than rustix: rustix finds and parses the vDSO itself, and that crashes
//! every program run under Valgrind, which hides the vDSO from its guest (rustix#1559; pinned by
//! `tests/regression_valgrind_vdso.rs`). glibc reads the clock through the vDSO too when there
//! is one, and makes the system call when there is not.

use std::mem::MaybeUninit;
use std::time::Duration;

/// A monotonic clock of the kernel.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Monotonic {
    /// `CLOCK_MONOTONIC`.
    Fine,
    /// `CLOCK_MONOTONIC_COARSE`: the fine clock's value at the last tick.
    Coarse,
}

/// Reads `clock`: the time since an arbitrary origin (boot).
#[inline]
pub(crate) fn read(clock: Monotonic) -> Duration {
    let id = match clock {
        Monotonic::Fine => libc::CLOCK_MONOTONIC,
        Monotonic::Coarse => libc::CLOCK_MONOTONIC_COARSE,
    };
    let mut time = MaybeUninit::<libc::timespec>::uninit();
    // SAFETY: `time` is valid for writes of a `timespec` for the whole call.
    let status = unsafe { libc::clock_gettime(id, time.as_mut_ptr()) };
    // POSIX lets it fail only for an unknown clock or a bad pointer; Linux has had both clocks
    // since 2.6.32.
    assert_eq!(status, 0, "clock_gettime({clock:?}) failed");
    // SAFETY: it returned 0, so it wrote the whole `timespec`.
    let time = unsafe { time.assume_init() };
    // A monotonic clock never reads negative.
    Duration::new(
        u64::try_from(time.tv_sec).unwrap_or(0),
        u32::try_from(time.tv_nsec).unwrap_or(0),
    )
}
