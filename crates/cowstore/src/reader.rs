//! [`Reader`]: a per-thread handle that caches the current snapshot.

use std::fmt;

use crate::snapshot::Snapshot;
use crate::store::Store;

/// Caches the current snapshot of a store for one thread; see [`Store::reader`].
///
/// [`load`](Self::load) compares the cached version with the store's current pointer — a single
/// atomic load — and only takes a new snapshot when something was published. It is the fastest
/// read path for a loop that reads the same store over and over.
///
/// The cached snapshot pins its version until the next `load` after a publish (or until the
/// reader is dropped), exactly like a [`Snapshot`] would. So when publishes are frequent, the
/// reader's `load` after each one drops the version it held, and often frees it: work that
/// with a [`Store::load`] guard per read the writer does. With 10% writes or more the
/// project's benchmarks read about as fast through `Store::load` with much shorter read tails;
/// a `Reader` pays off when publishes are rare.
///
/// ```
/// use cowstore::Store;
///
/// let store = Store::new(vec!["a"]);
/// let mut reader = store.reader();
/// assert_eq!(reader.load().len(), 1);
/// store.update(|v| v.push("b")).unwrap();
/// assert_eq!(reader.load().len(), 2);
/// assert_eq!(cowstore::Snapshot::version(&reader.load()), 2);
/// ```
pub struct Reader<'store, T> {
    store: &'store Store<T>,
    cached: Snapshot<T>,
}

impl<'store, T> Reader<'store, T> {
    pub(crate) fn new(store: &'store Store<T>) -> Self {
        Self {
            store,
            cached: store.snapshot(),
        }
    }

    /// The current snapshot: the cached one if it is still current, a fresh one otherwise.
    ///
    /// ```
    /// let store = cowstore::Store::new(1);
    /// let mut reader = store.reader();
    /// let first = reader.load().clone();
    /// assert!(cowstore::Snapshot::ptr_eq(&first, reader.load())); // nothing changed: same one
    /// ```
    #[inline]
    pub fn load(&mut self) -> &Snapshot<T> {
        if !self.store.is_current(&self.cached) {
            self.refresh();
        }
        &self.cached
    }

    #[cold]
    #[inline(never)]
    fn refresh(&mut self) {
        self.cached = self.store.snapshot();
    }

    /// The cached snapshot, without checking for a newer one.
    ///
    /// ```
    /// let store = cowstore::Store::new(1);
    /// let mut reader = store.reader();
    /// store.store(2).unwrap();
    /// assert_eq!(**reader.cached(), 1);
    /// assert_eq!(**reader.load(), 2);
    /// ```
    pub fn cached(&self) -> &Snapshot<T> {
        &self.cached
    }

    /// The store this reader follows.
    ///
    /// ```
    /// let store = cowstore::Store::new(1);
    /// let reader = store.reader();
    /// assert_eq!(reader.store().version(), 1);
    /// ```
    pub fn store(&self) -> &'store Store<T> {
        self.store
    }
}

impl<T> Clone for Reader<'_, T> {
    fn clone(&self) -> Self {
        Self {
            store: self.store,
            cached: self.cached.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Reader<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("cached", &self.cached)
            .finish_non_exhaustive()
    }
}
