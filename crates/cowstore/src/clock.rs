//! The monotonic clock behind publish timestamps.
//!
//! A publish reads the clock once. On Linux that read is `CLOCK_MONOTONIC_COARSE` (about 2 ns
//! through the vDSO, against about 17 ns for `CLOCK_MONOTONIC` on the machine the benchmarks
//! ran on; a fifth of a publish), which ticks every few milliseconds: versions published within
//! one tick share a timestamp. [`Builder::precise_timestamps`](crate::Builder::precise_timestamps)
//! opts back into the fine clock. Ages are always measured against the fine clock, which runs
//! on the same time base (the coarse clock reads the fine one's value at the last tick), so an
//! age is never negative and overstates by at most one tick.

use std::time::Duration;

/// Added to every reading: the clocks start at boot (or at first use), and a version restored
/// with [`Builder::published_at`](crate::Builder::published_at) may have been published long
/// before that. Its monotonic instant is backdated from the current one, which must not
/// saturate at zero (that made a version restored an hour back look minutes old on a machine
/// booted minutes ago). 2^32 s is 136 years: room for any backdating, none for overflow.
const ORIGIN_OFFSET: Duration = Duration::from_secs(1 << 32);

/// Time on the monotonic clock, from an arbitrary fixed origin.
#[cfg(all(target_os = "linux", not(miri)))]
fn read(clock: rustix::time::ClockId) -> Duration {
    let t = rustix::time::clock_gettime(clock);
    // The monotonic clock never reads negative.
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    ) + ORIGIN_OFFSET
}

/// The fine monotonic clock.
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) fn now() -> Duration {
    read(rustix::time::ClockId::Monotonic)
}

/// The clock read once per publish: coarse unless `precise`.
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) fn publish_time(precise: bool) -> Duration {
    if precise {
        now()
    } else {
        read(rustix::time::ClockId::MonotonicCoarse)
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
