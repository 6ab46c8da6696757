//! The monotonic clock behind publish timestamps.
//!
//! A publish reads the clock once. On Linux that read is `CLOCK_MONOTONIC_COARSE` (about 2 ns
//! through the vDSO, against about 17 ns for `CLOCK_MONOTONIC` on the machine the benchmarks
//! ran on; a fifth of a publish), which ticks every few milliseconds: versions published within
//! one tick share a timestamp. [`Builder::precise_timestamps`](crate::Builder::precise_timestamps)
//! opts back into the fine clock. Ages are always measured against the fine clock, which runs
//! on the same time base (the coarse clock reads the fine one's value at the last tick), so an
//! age is never negative and overstates by at most one tick.
//!
//! A publish records only the monotonic reading. Its wall-clock time is derived when asked,
//! through one wall-clock reading per process paired with a fine monotonic one
//! ([`wall_time_at`]), so a coarse timestamp reads at most one tick early.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// Added to every reading: the clocks start at boot (or at first use), and a version restored
/// with [`Builder::published_at`](crate::Builder::published_at) may have been published long
/// before that. Its monotonic instant is backdated from the current one, which must not
/// saturate at zero (that made a version restored an hour back look minutes old on a machine
/// booted minutes ago). 2^32 s is 136 years: room for any backdating, none for overflow.
const ORIGIN_OFFSET: Duration = Duration::from_secs(1 << 32);

/// Time on the monotonic clock, from an arbitrary fixed origin.
#[cfg(all(target_os = "linux", not(miri)))]
fn read(clock: crate::raw::os_clock::Monotonic) -> Duration {
    crate::raw::os_clock::read(clock) + ORIGIN_OFFSET
}

/// The fine monotonic clock.
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) fn now() -> Duration {
    read(crate::raw::os_clock::Monotonic::Fine)
}

/// The clock read once per publish: coarse unless `precise`.
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) fn publish_time(precise: bool) -> Duration {
    if precise {
        now()
    } else {
        read(crate::raw::os_clock::Monotonic::Coarse)
    }
}

#[cfg(not(all(target_os = "linux", not(miri))))]
fn origin() -> std::time::Instant {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(std::time::Instant::now)
}

/// The fine monotonic clock (elapsed since the first use in this process).
#[cfg(not(all(target_os = "linux", not(miri))))]
pub(crate) fn now() -> Duration {
    origin().elapsed() + ORIGIN_OFFSET
}

/// The clock read once per publish (no coarse clock here: always the fine one).
#[cfg(not(all(target_os = "linux", not(miri))))]
pub(crate) fn publish_time(_precise: bool) -> Duration {
    now()
}

/// The wall-clock time of the monotonic instant `mono` (of [`now`] or [`publish_time`]), which
/// may lie before the process started (a backdated initial version).
pub(crate) fn wall_time_at(mono: Duration) -> SystemTime {
    /// A wall-clock reading and the monotonic instant it was taken at.
    static EPOCH: OnceLock<(SystemTime, Duration)> = OnceLock::new();
    let &(wall, at) = EPOCH.get_or_init(|| (SystemTime::now(), now()));
    match mono.checked_sub(at) {
        Some(after) => wall + after,
        None => wall - (at - mono),
    }
}
