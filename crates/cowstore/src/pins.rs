//! Bookkeeping of retired versions that readers still pin.
//!
//! The writer that retires a version a reader still holds registers a weak handle to it here
//! (`on_retire`). Nothing happens when the version is finally dropped — often on a reader's
//! thread, which must never take a lock — the handle just starts reporting the value as gone,
//! and dead handles are pruned when statistics are read or when the list has doubled. A version
//! nobody pins is dropped by the publish that retires it and never enters the list.
//!
//! The mutex is `std`'s even under loom: its critical sections contain no modelled operation,
//! so a loom thread can never be switched out while holding it.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::raw::PinnedHandle;

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

struct Retired {
    handle: PinnedHandle,
    retired_at: Instant,
}

impl Retired {
    fn describe(&self, now: Instant) -> PinnedVersion {
        let meta = self.handle.meta();
        PinnedVersion {
            version: meta.version,
            published_at: meta.published_at(),
            retired_for: now.saturating_duration_since(self.retired_at),
            bytes: meta.bytes,
        }
    }
}

#[derive(Default)]
struct List {
    /// In retirement order (version order unless `update_cas` publishers race).
    retired: Vec<Retired>,
    /// Prune when the list reaches this length (amortizes pruning on the writer's side).
    prune_at: usize,
}

impl List {
    fn prune(&mut self) {
        self.retired.retain(|r| r.handle.is_alive());
        self.prune_at = (self.retired.len() * 2).max(64);
    }
}

#[derive(Default)]
pub(crate) struct PinTracker {
    list: Mutex<List>,
}

impl std::fmt::Debug for PinTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinTracker").finish_non_exhaustive()
    }
}

impl PinTracker {
    /// A version outlived its retirement: some reader still holds it.
    pub(crate) fn on_retire(&self, handle: PinnedHandle) {
        let mut list = self.lock();
        if list.retired.len() >= list.prune_at {
            list.prune();
        }
        list.retired.push(Retired {
            handle,
            retired_at: Instant::now(),
        });
    }

    /// Retired versions still alive, oldest first.
    pub(crate) fn pinned(&self) -> Vec<PinnedVersion> {
        let now = Instant::now();
        let mut list = self.lock();
        list.prune();
        let mut pinned: Vec<PinnedVersion> = list.retired.iter().map(|r| r.describe(now)).collect();
        // Concurrent publishers may retire slightly out of version order.
        pinned.sort_by_key(|p| p.version);
        pinned
    }

    /// Count, total bytes and the oldest of the pinned versions.
    pub(crate) fn summary(&self) -> (usize, usize, Option<PinnedVersion>) {
        let now = Instant::now();
        let mut list = self.lock();
        list.prune();
        let bytes = list.retired.iter().map(|r| r.handle.meta().bytes).sum();
        let oldest = list
            .retired
            .iter()
            .min_by_key(|r| r.handle.meta().version)
            .map(|r| r.describe(now));
        (list.retired.len(), bytes, oldest)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, List> {
        self.list
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
