//! [`Versions`]: the read side shared by every source of truth — the current version in a
//! `cowstore::Store`, the in-memory history, and the counters behind `/metrics`.
//!
//! Every read of the HTTP API goes through here; every source of truth (the embedded journal,
//! the watched file, and later a leader or etcd) publishes here, and only after the version is
//! durable wherever that source keeps it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use cowstore::{Guard, Store, Subscription};

use crate::record::VersionRecord;

/// A store value: one published version.
pub type Current = Arc<VersionRecord>;

/// Why [`Versions::publish`] refused a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("version {offered} cannot follow version {current}: versions only increase")]
pub struct OutOfOrder {
    /// The version offered.
    pub offered: u64,
    /// The version that stays current.
    pub current: u64,
}

/// The current version, recent history and counters; see the [module docs](self).
pub struct Versions {
    store: Store<Current>,
    history: RwLock<History>,
    limit: usize,
    /// Most bytes of documents the history holds (`--history-bytes`); the current version is
    /// kept even when it alone is larger.
    max_bytes: u64,
    updates: AtomicU64,
    reload_failures: AtomicU64,
}

/// The kept versions and the sum of their documents' sizes.
#[derive(Default)]
struct History {
    versions: BTreeMap<u64, Current>,
    bytes: u64,
}

impl History {
    fn from_records(records: impl IntoIterator<Item = Current>) -> Self {
        let mut history = Self::default();
        for record in records {
            history.insert(record);
        }
        history
    }

    fn insert(&mut self, record: Current) {
        let size = record.size() as u64;
        if let Some(replaced) = self.versions.insert(record.version(), record) {
            self.bytes -= replaced.size() as u64;
        }
        self.bytes += size;
    }

    /// Drops the oldest versions until at most `limit` remain and they hold at most
    /// `max_bytes` (the newest is always kept).
    fn prune(&mut self, limit: usize, max_bytes: u64) {
        while self.versions.len() > limit || (self.bytes > max_bytes && self.versions.len() > 1) {
            if let Some((_, oldest)) = self.versions.pop_first() {
                self.bytes -= oldest.size() as u64;
            }
        }
    }
}

impl Versions {
    /// Starts from `records` (oldest first, at least one; the last is current), keeping at
    /// most `limit` versions of history.
    ///
    /// ```
    /// use cowd::record::{Origin, VersionRecord};
    /// use cowd::versions::Versions;
    /// use std::time::SystemTime;
    ///
    /// let v = |n| VersionRecord::from_value(n, SystemTime::now(), Origin::Api, &serde_json::json!(n));
    /// let versions = Versions::new(vec![v(4), v(5)], 10);
    /// assert_eq!(versions.current().version(), 5);
    /// versions.publish(std::sync::Arc::new(v(6))).unwrap();
    /// assert_eq!(versions.get(4).unwrap().version(), 4);
    /// assert!(versions.publish(std::sync::Arc::new(v(6))).is_err());
    /// ```
    ///
    /// # Panics
    ///
    /// If `records` is empty.
    pub fn new(records: Vec<VersionRecord>, limit: usize) -> Self {
        let limit = limit.max(1);
        let mut history = History::from_records(records.into_iter().map(Arc::new));
        history.prune(limit, u64::MAX);
        let current = Arc::clone(
            history
                .versions
                .values()
                .next_back()
                .expect("Versions::new needs at least one record"),
        );
        Self::serving(current, history, limit)
    }

    /// A store publishing `current` (version numbers are the records' own), with `history`.
    fn serving(current: Current, history: History, limit: usize) -> Self {
        let store = Store::builder(current)
            .name("config")
            .size_of(|r: &Current| r.size())
            .build()
            .expect("no validators are registered");
        Self {
            store,
            history: RwLock::new(history),
            limit,
            max_bytes: u64::MAX,
            updates: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
        }
    }

    /// Also bounds the history by size: it keeps the newest versions whose documents add up
    /// to at most `max_bytes` (`--history-bytes`; the current version stays even if it alone
    /// is larger). The count limit still applies.
    ///
    /// ```
    /// use cowd::record::{Origin, VersionRecord};
    /// use cowd::versions::Versions;
    /// use std::time::SystemTime;
    ///
    /// let doc = |n: u64| VersionRecord::from_value(n, SystemTime::now(), Origin::Api, &serde_json::json!({"n": n}));
    /// // Each document is 7 bytes ({"n":1}); 20 bytes hold the newest two.
    /// let versions = Versions::new((1..=5).map(doc).collect(), 10).with_history_bytes(20);
    /// assert_eq!((versions.oldest(), versions.history_len(), versions.history_bytes()), (4, 2, 14));
    /// versions.publish(std::sync::Arc::new(doc(6))).unwrap();
    /// assert_eq!((versions.oldest(), versions.history_len()), (5, 2));
    /// assert!(versions.get(4).is_none());
    /// ```
    #[must_use]
    pub fn with_history_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self.history
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .prune(self.limit, max_bytes);
        self
    }

    /// Starts with nothing to serve yet: the current version is a placeholder numbered 0 (its
    /// document is `null`), absent from the history, until the first
    /// [`publish`](Self::publish). Used by nodes whose versions come from elsewhere (a leader,
    /// etcd); `GET /v1/config` answers 503 meanwhile.
    ///
    /// ```
    /// use cowd::record::{Origin, VersionRecord};
    /// use cowd::versions::Versions;
    /// use std::time::SystemTime;
    ///
    /// let versions = Versions::unsynced(10);
    /// assert!(!versions.is_synced());
    /// assert!(versions.get(0).is_none());
    /// assert!(versions.history().is_empty());
    /// let record = VersionRecord::from_value(42, SystemTime::now(), Origin::Api, &serde_json::json!({}));
    /// versions.publish(std::sync::Arc::new(record)).unwrap();
    /// assert!(versions.is_synced());
    /// assert_eq!(versions.history().len(), 1);
    /// ```
    pub fn unsynced(limit: usize) -> Self {
        let placeholder = Arc::new(VersionRecord::new(
            0,
            std::time::SystemTime::now(),
            crate::record::Origin::Init,
            bytes::Bytes::from_static(b"null"),
        ));
        Self::serving(placeholder, History::default(), limit.max(1))
    }

    /// Whether a real version is current (false only for [`unsynced`](Self::unsynced)
    /// before its first publish).
    pub fn is_synced(&self) -> bool {
        self.with_current(|current| current.version() > 0)
    }

    /// Runs `f` on the current version through a wait-free guard (the hot read path: no
    /// reference count is touched).
    ///
    /// The guard itself is not handed out on purpose: `Guard::version()` (the store's own
    /// per-process publish counter) would shadow [`VersionRecord::version`].
    #[inline]
    pub fn with_current<R>(&self, f: impl FnOnce(&VersionRecord) -> R) -> R {
        let guard: Guard<'_, Current> = self.store.load();
        let record: &VersionRecord = &guard;
        f(record)
    }

    /// The current version.
    pub fn current(&self) -> Current {
        Arc::clone(&self.store.load())
    }

    /// A version still in the history (the current one included).
    pub fn get(&self, version: u64) -> Option<Current> {
        let current = self.current();
        if current.version() == version {
            return (version > 0).then_some(current);
        }
        self.read_history().versions.get(&version).cloned()
    }

    /// Versions newer than `after`, oldest first (as far as the history reaches).
    pub fn since(&self, after: u64) -> Vec<Current> {
        self.read_history()
            .versions
            .range(after.saturating_add(1)..)
            .map(|(_, r)| Arc::clone(r))
            .collect()
    }

    /// The whole history, newest first.
    pub fn history(&self) -> Vec<Current> {
        self.read_history()
            .versions
            .values()
            .rev()
            .cloned()
            .collect()
    }

    /// The oldest version still in the history.
    pub fn oldest(&self) -> u64 {
        self.read_history()
            .versions
            .keys()
            .next()
            .copied()
            .unwrap_or_else(|| self.current().version())
    }

    /// Number of versions in the history.
    pub fn history_len(&self) -> usize {
        self.read_history().versions.len()
    }

    /// Total size of the documents in the history, bytes.
    pub fn history_bytes(&self) -> u64 {
        self.read_history().bytes
    }

    /// The history's size limit (`--history-bytes`; `u64::MAX` when unbounded).
    pub fn history_bytes_limit(&self) -> u64 {
        self.max_bytes
    }

    /// The history limit (`--history`).
    pub fn history_limit(&self) -> usize {
        self.limit
    }

    /// Subscribes to new versions (latest-value semantics; see [`cowstore::Subscription`]).
    pub fn subscribe(&self) -> Subscription<Current> {
        self.store.subscribe()
    }

    /// The underlying store, for its diagnostics ([`Store::stats`]).
    pub fn store(&self) -> &Store<Current> {
        &self.store
    }

    /// Makes `record` the current version. Callers publish only what is already durable, and
    /// serialize their publishes; versions must increase (not necessarily by one: a follower
    /// or an etcd revision may skip).
    pub fn publish(&self, record: Current) -> Result<(), OutOfOrder> {
        let current = self.current().version();
        if record.version() <= current {
            return Err(OutOfOrder {
                offered: record.version(),
                current,
            });
        }
        {
            // History first: a subscriber woken by the store finds every version up to the one
            // it was woken for.
            let mut history = self.history.write().unwrap_or_else(|e| e.into_inner());
            history.insert(Arc::clone(&record));
            history.prune(self.limit, self.max_bytes);
        }
        self.store
            .store(record)
            .expect("the config store has no validators");
        self.updates.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Adds `record`, a version *older* than the current one, to the history: one a node
    /// learns of after a newer one (an etcd node reading the key's earlier revisions back).
    /// Subscribers are not told (it is not news). Returns `false`, adding nothing, when the
    /// record is not older than the current version, is already there, or is older than
    /// every version of a history that is full (by count or by size).
    ///
    /// ```
    /// use cowd::record::{Origin, VersionRecord};
    /// use cowd::versions::Versions;
    /// use std::sync::Arc;
    /// use std::time::SystemTime;
    ///
    /// let v = |n| Arc::new(VersionRecord::from_value(n, SystemTime::now(), Origin::Api, &serde_json::json!(n)));
    /// let versions = Versions::unsynced(3);
    /// versions.publish(v(10)).unwrap();
    /// assert!(versions.insert_earlier(v(7)));
    /// assert!(versions.insert_earlier(v(4)));
    /// assert!(!versions.insert_earlier(v(2)), "the history is full of newer versions");
    /// assert!(!versions.insert_earlier(v(12)), "newer than the current version");
    /// assert_eq!(versions.get(7).unwrap().version(), 7);
    /// assert_eq!((versions.current().version(), versions.oldest()), (10, 4));
    /// ```
    pub fn insert_earlier(&self, record: Current) -> bool {
        if record.version() >= self.current().version() {
            return false;
        }
        let mut history = self.history.write().unwrap_or_else(|e| e.into_inner());
        let version = record.version();
        if history.versions.contains_key(&version) {
            return false;
        }
        history.insert(record);
        history.prune(self.limit, self.max_bytes);
        // Pruning drops the oldest first: if that was this one, the history had no room.
        history.versions.contains_key(&version)
    }

    /// Accepted new versions since the process started.
    pub fn updates_total(&self) -> u64 {
        self.updates.load(Ordering::Relaxed)
    }

    /// Counts a candidate document that was refused (unreadable file, parse or schema error).
    pub fn count_reload_failure(&self) {
        self.reload_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Refused candidate documents since the process started.
    pub fn reload_failures_total(&self) -> u64 {
        self.reload_failures.load(Ordering::Relaxed)
    }

    fn read_history(&self) -> RwLockReadGuard<'_, History> {
        self.history.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for Versions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Versions")
            .field("current", &self.current().version())
            .field("history", &self.history_len())
            .field("limit", &self.limit)
            .finish()
    }
}
