//! Diagnostics: what version runs, since when, and who pins old versions.

use std::time::{Duration, SystemTime};

use crate::pins::PinnedVersion;
// Plain std atomics even under loom: counters are statistics, not part of any protocol.
use std::sync::atomic::{AtomicU64, Ordering};

/// A point-in-time view of a store's state and counters; see [`Store::stats`](crate::Store::stats).
///
/// The fields answer the production questions about copy-on-write state: which version is
/// current and how old it is, and how many *retired* versions are still alive because a reader
/// holds them (a long-lived snapshot, a stuck request), with their estimated memory.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// The current version.
    pub version: u64,
    /// When the current version was published.
    pub published_at: SystemTime,
    /// How long the current version has been current.
    pub age: Duration,
    /// Retired versions whose value is still alive because something holds them.
    pub pinned_versions: usize,
    /// Estimated bytes held by those versions (0 without a size estimator, see
    /// [`Builder::size_of`](crate::Builder::size_of)).
    pub pinned_bytes: usize,
    /// The oldest retired version still alive.
    pub oldest_pinned: Option<PinnedVersion>,
    /// Successful publishes since the store was created (the initial value excluded).
    pub publishes: u64,
    /// Writes refused by a validator.
    pub rejected: u64,
    /// `try_update` closures that returned an error.
    pub aborted: u64,
    /// `compare_and_set` calls that found another version current.
    pub conflicts: u64,
    /// Times a writer's compare-and-swap lost to a concurrent publish and had to run again.
    pub cas_retries: u64,
    /// Process-wide read barriers (Linux `membarrier`, microseconds each) this store ran:
    /// one per publish made while another thread may have been reading and the readers used
    /// the asymmetric barrier, and one per switch of an adaptive store to the symmetric one.
    /// Always 0 with [`ReadBarrier::Symmetric`](crate::ReadBarrier::Symmetric).
    pub read_barriers: u64,
    /// The barrier readers use right now: [`Asymmetric`](crate::ReadBarrier::Asymmetric) or
    /// [`Symmetric`](crate::ReadBarrier::Symmetric) (an adaptive store switches between them).
    pub read_barrier: crate::ReadBarrier,
    /// Live subscriptions, queue subscriptions and callbacks.
    pub subscribers: usize,
    /// Retired versions whose value has been dropped (`publishes - pinned_versions`).
    pub reclaimed: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) rejected: AtomicU64,
    pub(crate) aborted: AtomicU64,
    pub(crate) conflicts: AtomicU64,
    pub(crate) cas_retries: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

#[cfg(feature = "metrics")]
impl Stats {
    /// Exports these statistics through the [`metrics`] facade, labelled `store = name`.
    ///
    /// Gauges: `cowstore_version`, `cowstore_age_seconds`, `cowstore_pinned_versions`,
    /// `cowstore_pinned_bytes`, `cowstore_oldest_pinned_seconds`, `cowstore_subscribers`.
    /// Counters (absolute): `cowstore_publishes_total`, `cowstore_rejected_total`,
    /// `cowstore_aborted_total`, `cowstore_conflicts_total`, `cowstore_cas_retries_total`,
    /// `cowstore_read_barriers_total`, `cowstore_reclaimed_total`.
    ///
    /// ```
    /// let store = cowstore::Store::new(1);
    /// store.stats().export_metrics("example"); // a no-op without an installed recorder
    /// ```
    pub fn export_metrics(&self, name: &str) {
        let label = [("store", name.to_owned())];
        metrics::gauge!("cowstore_version", &label).set(self.version as f64);
        metrics::gauge!("cowstore_age_seconds", &label).set(self.age.as_secs_f64());
        metrics::gauge!("cowstore_pinned_versions", &label).set(self.pinned_versions as f64);
        metrics::gauge!("cowstore_pinned_bytes", &label).set(self.pinned_bytes as f64);
        metrics::gauge!("cowstore_oldest_pinned_seconds", &label).set(
            self.oldest_pinned
                .as_ref()
                .map_or(0.0, |p| p.retired_for.as_secs_f64()),
        );
        metrics::gauge!("cowstore_subscribers", &label).set(self.subscribers as f64);
        metrics::counter!("cowstore_publishes_total", &label).absolute(self.publishes);
        metrics::counter!("cowstore_rejected_total", &label).absolute(self.rejected);
        metrics::counter!("cowstore_aborted_total", &label).absolute(self.aborted);
        metrics::counter!("cowstore_conflicts_total", &label).absolute(self.conflicts);
        metrics::counter!("cowstore_cas_retries_total", &label).absolute(self.cas_retries);
        metrics::counter!("cowstore_read_barriers_total", &label).absolute(self.read_barriers);
        metrics::counter!("cowstore_reclaimed_total", &label).absolute(self.reclaimed);
    }
}
