//! Bookkeeping of retired versions that readers still pin.
//!
//! A node reports here when it outlives its retirement because a reader still holds it
//! (`on_retire`) and when its value is finally dropped (`on_reclaim`). A version nobody pins is
//! dropped by the publish that retires it and never enters the map. Both happen at most once per
//! version, off the read path, so a plain mutex is fine. It is deliberately `std`'s mutex even under loom: the critical sections contain
//! no modelled operation, so a loom thread can never be switched out while holding it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::raw::Meta;

/// A retired version that is still alive because some reader holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedVersion {
    /// The version number.
    pub version: u64,
    /// When it was published.
    pub published_at: SystemTime,
    /// How long ago it stopped being current.
    pub retired_for: Duration,
    /// Estimated heap size of the value (0 unless the store has a size estimator).
    pub bytes: usize,
}

#[derive(Debug)]
struct Retired {
    published_at: SystemTime,
    retired_at: Instant,
    bytes: usize,
}

#[derive(Debug, Default)]
pub(crate) struct PinTracker {
    retired: Mutex<BTreeMap<u64, Retired>>,
}

impl PinTracker {
    pub(crate) fn on_retire(&self, meta: &Meta) {
        let mut retired = self.lock();
        retired.insert(
            meta.version,
            Retired {
                published_at: meta.published_at,
                retired_at: Instant::now(),
                bytes: meta.bytes,
            },
        );
    }

    /// A version registered by `on_retire` was dropped.
    pub(crate) fn on_reclaim(&self, version: u64) {
        self.lock().remove(&version);
    }

    /// Retired versions still alive, oldest first.
    pub(crate) fn pinned(&self) -> Vec<PinnedVersion> {
        let now = Instant::now();
        self.lock()
            .iter()
            .map(|(&version, retired)| PinnedVersion {
                version,
                published_at: retired.published_at,
                retired_for: now.saturating_duration_since(retired.retired_at),
                bytes: retired.bytes,
            })
            .collect()
    }

    /// Count, total bytes and the oldest of the pinned versions, without allocating.
    pub(crate) fn summary(&self) -> (usize, usize, Option<PinnedVersion>) {
        let now = Instant::now();
        let retired = self.lock();
        let bytes = retired.values().map(|r| r.bytes).sum();
        let oldest = retired.iter().next().map(|(&version, r)| PinnedVersion {
            version,
            published_at: r.published_at,
            retired_for: now.saturating_duration_since(r.retired_at),
            bytes: r.bytes,
        });
        (retired.len(), bytes, oldest)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Retired>> {
        self.retired
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
