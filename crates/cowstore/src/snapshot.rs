//! Read handles: [`Guard`] (borrowed, thread-bound), [`Snapshot`] (owned, `'static`) and
//! [`WeakSnapshot`] (does not pin).

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::time::{Duration, SystemTime};

use crate::raw::{Counted, Protected, WeakNode};

/// A short-lived, thread-bound view of the current version, returned by
/// [`Store::load`](crate::Store::load).
///
/// Taking and dropping a guard writes only to the calling thread's own hazard slot — no shared
/// reference count — so reads scale with cores. Keep it for the duration of a request; for
/// anything longer, or to send it to another thread, turn it into a [`Snapshot`].
///
/// ```
/// let store = cowstore::Store::new(vec![1, 2, 3]);
/// let guard = store.load();
/// assert_eq!(guard.len(), 3);
/// assert_eq!(cowstore::Guard::version(&guard), 1);
/// ```
///
/// Its metadata accessors are associated functions (`Guard::version(&g)`), so they never shadow
/// methods of `T`.
///
/// A guard cannot cross threads:
///
/// ```compile_fail,E0277
/// let store = cowstore::Store::new(1);
/// let guard = store.load();
/// std::thread::scope(|s| {
///     s.spawn(move || *guard + 1);
/// });
/// ```
///
/// Its owned twin can:
///
/// ```
/// let store = cowstore::Store::new(1);
/// let snapshot = cowstore::Guard::to_snapshot(&store.load());
/// std::thread::scope(|s| {
///     s.spawn(move || *snapshot + 1);
/// });
/// ```
pub struct Guard<'store, T> {
    inner: Protected<T>,
    _store: PhantomData<&'store ()>,
}

impl<T> Guard<'_, T> {
    pub(crate) fn new(inner: Protected<T>) -> Self {
        Self {
            inner,
            _store: PhantomData,
        }
    }

    pub(crate) fn into_protected(self) -> Protected<T> {
        self.inner
    }

    /// The version this guard reads.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// store.store(5).unwrap();
    /// assert_eq!(cowstore::Guard::version(&store.load()), 2);
    /// ```
    pub fn version(this: &Self) -> u64 {
        this.inner.meta().version
    }

    /// When this version was published.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// assert!(cowstore::Guard::published_at(&store.load()) <= std::time::SystemTime::now());
    /// ```
    pub fn published_at(this: &Self) -> SystemTime {
        this.inner.meta().published_at()
    }

    /// Time elapsed since this version was published (monotonic clock).
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// assert!(cowstore::Guard::age(&store.load()) < std::time::Duration::from_secs(60));
    /// ```
    pub fn age(this: &Self) -> Duration {
        crate::clock::now().saturating_sub(this.inner.meta().published_mono)
    }

    /// An owned handle to the same version, which may outlive the guard and cross threads.
    ///
    /// ```
    /// let store = cowstore::Store::new("v1");
    /// let snapshot = cowstore::Guard::to_snapshot(&store.load());
    /// store.store("v2").unwrap();
    /// assert_eq!(*snapshot, "v1");
    /// ```
    pub fn to_snapshot(this: &Self) -> Snapshot<T> {
        Snapshot::new(this.inner.to_counted())
    }

    /// Converts the guard into an owned handle.
    ///
    /// ```
    /// let store = cowstore::Store::new(1);
    /// let snapshot = cowstore::Guard::into_snapshot(store.load());
    /// assert_eq!(cowstore::Snapshot::version(&snapshot), 1);
    /// ```
    pub fn into_snapshot(this: Self) -> Snapshot<T> {
        Snapshot::new(this.inner.into_counted())
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        self.inner.value()
    }
}

impl<T: fmt::Debug> fmt::Debug for Guard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("version", &Guard::version(self))
            .field("value", &**self)
            .finish()
    }
}

/// An owned, immutable version of a store's value: `Send + Sync + 'static`, cheap to clone.
///
/// A snapshot pins its version: the value is dropped when the last snapshot, guard or reader
/// holding it goes away, never earlier, and never while it is current. Taking one writes only
/// to the calling thread's own hazard slot, which the snapshot keeps (a thread has four for
/// snapshots); clones, and snapshots beyond those four, count in a reference count sharded by
/// thread. Either way many threads can take snapshots of the same version without fighting
/// over one cache line.
///
/// ```
/// use cowstore::Store;
///
/// let store = Store::new(String::from("hello"));
/// let before = store.snapshot();
/// store.update(|s| s.push_str(", world")).unwrap();
/// assert_eq!(*before, "hello");            // old versions never change
/// assert_eq!(*store.snapshot(), "hello, world");
/// assert_eq!((cowstore::Snapshot::version(&before), store.version()), (1, 2));
/// ```
///
/// Like `Arc`, a snapshot adds no methods that could shadow `T`'s: its metadata accessors are
/// associated functions (`Snapshot::version(&s)`), so `s.version()` always means `T`'s own
/// method.
///
/// A published snapshot is immutable: there is no way to get `&mut T` from it.
///
/// ```compile_fail,E0596
/// let store = cowstore::Store::new(vec![1]);
/// let mut snapshot = store.snapshot();
/// snapshot.push(2); // error: cannot borrow data in dereference of `Snapshot<Vec<i32>>` as mutable
/// ```
///
/// Change it by publishing a new version instead:
///
/// ```
/// let store = cowstore::Store::new(vec![1]);
/// let snapshot = store.update(|v| v.push(2)).unwrap();
/// assert_eq!(*snapshot, [1, 2]);
/// ```
pub struct Snapshot<T> {
    inner: Counted<T>,
}

impl<T> Snapshot<T> {
    pub(crate) fn new(inner: Counted<T>) -> Self {
        Self { inner }
    }

    pub(crate) fn counted(&self) -> &Counted<T> {
        &self.inner
    }

    /// The version number: 1 for the initial value, +1 for every publish.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// assert_eq!(cowstore::Snapshot::version(&store.snapshot()), 1);
    /// ```
    pub fn version(this: &Self) -> u64 {
        this.inner.meta().version
    }

    /// Wall-clock time of publication.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// assert!(cowstore::Snapshot::published_at(&store.snapshot()) <= std::time::SystemTime::now());
    /// ```
    pub fn published_at(this: &Self) -> SystemTime {
        this.inner.meta().published_at()
    }

    /// Time elapsed since publication (monotonic clock).
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// assert!(cowstore::Snapshot::age(&store.snapshot()) < std::time::Duration::from_secs(60));
    /// ```
    pub fn age(this: &Self) -> Duration {
        crate::clock::now().saturating_sub(this.inner.meta().published_mono)
    }

    /// A weak handle that identifies this version without pinning it.
    ///
    /// ```
    /// let store = cowstore::Store::new(vec![0u8; 1024]);
    /// let weak = cowstore::Snapshot::downgrade(&store.snapshot()); // the temporary snapshot is dropped here
    /// assert!(weak.upgrade().is_some());        // still current
    /// store.store(vec![]).unwrap();
    /// assert!(weak.upgrade().is_none());        // retired and no longer pinned: freed
    /// assert_eq!(weak.version(), 1);
    /// ```
    pub fn downgrade(this: &Self) -> WeakSnapshot<T> {
        WeakSnapshot {
            inner: this.inner.downgrade(),
        }
    }

    /// Whether two snapshots are the same version of the same store.
    ///
    /// ```
    /// let store = cowstore::Store::new(1);
    /// let (a, b) = (store.snapshot(), store.snapshot());
    /// assert!(cowstore::Snapshot::ptr_eq(&a, &b));
    /// ```
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.inner.addr() == b.inner.addr()
    }
}

impl<T> Clone for Snapshot<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Deref for Snapshot<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        self.inner.value()
    }
}

impl<T> AsRef<T> for Snapshot<T> {
    fn as_ref(&self) -> &T {
        self
    }
}

impl<T: fmt::Debug> fmt::Debug for Snapshot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("version", &Snapshot::version(self))
            .field("value", &**self)
            .finish()
    }
}

/// Compares the values, like `Arc` does; see [`Snapshot::ptr_eq`] for identity.
///
/// ```
/// let a = cowstore::Store::new(1);
/// let b = cowstore::Store::new(1);
/// assert_eq!(a.snapshot(), b.snapshot());
/// ```
impl<T: PartialEq> PartialEq for Snapshot<T> {
    fn eq(&self, other: &Self) -> bool {
        Self::ptr_eq(self, other) || **self == **other
    }
}

impl<T: Eq> Eq for Snapshot<T> {}

impl<T: std::hash::Hash> std::hash::Hash for Snapshot<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl<T: fmt::Display> fmt::Display for Snapshot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// A handle that names a version without keeping its value alive; see
/// [`Snapshot::downgrade`]. Useful as the key of a memo cache: compare with
/// [`WeakSnapshot::is_version_of`] and the cache never pins old versions.
pub struct WeakSnapshot<T> {
    inner: WeakNode<T>,
}

impl<T> WeakSnapshot<T> {
    /// The snapshot, if its value is still alive.
    ///
    /// ```
    /// let store = cowstore::Store::new(1);
    /// let snapshot = store.snapshot();
    /// assert_eq!(*cowstore::Snapshot::downgrade(&snapshot).upgrade().unwrap(), 1);
    /// ```
    pub fn upgrade(&self) -> Option<Snapshot<T>> {
        self.inner.upgrade().map(Snapshot::new)
    }

    /// The version number (available even after the value is dropped).
    ///
    /// ```
    /// let store = cowstore::Store::new(1);
    /// assert_eq!(cowstore::Snapshot::downgrade(&store.snapshot()).version(), 1);
    /// ```
    pub fn version(&self) -> u64 {
        self.inner.meta().version
    }

    /// Whether `snapshot` is the version this weak handle names.
    ///
    /// ```
    /// let store = cowstore::Store::new(1);
    /// let snapshot = store.snapshot();
    /// let weak = cowstore::Snapshot::downgrade(&snapshot);
    /// assert!(weak.is_version_of(&snapshot));
    /// let next = store.store(2).unwrap();
    /// assert!(!weak.is_version_of(&next));
    /// ```
    pub fn is_version_of(&self, snapshot: &Snapshot<T>) -> bool {
        self.inner.addr() == snapshot.counted().addr()
    }
}

impl<T> Clone for WeakSnapshot<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for WeakSnapshot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakSnapshot")
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}
