//! [`ShardedMap`]: a concurrent hash map made of N independent [`Store`]s of persistent maps.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};

use super::{DefaultHashBuilder, HashMap, ShardedReader};
use crate::{ReadBarrier, Snapshot, Store};

/// A concurrent map split into shards (16 by default), each a [`Store`] holding a persistent
/// [`HashMap`].
///
/// - **Reads** ([`get`](Self::get), [`get_with`](Self::get_with)) load one shard's current
///   version: wait-free, no lock, no shared write.
/// - **Writes** ([`insert`](Self::insert), [`remove`](Self::remove), [`alter`](Self::alter)) are
///   serialized per shard and publish a new version of that shard only; writes to different
///   shards proceed in parallel. Each write copies only the path to the entry (O(log n)), not
///   the shard.
/// - Shards are built with [`ReadBarrier::Symmetric`](crate::ReadBarrier::Symmetric): a read
///   costs two locked instructions, and a write never interrupts the readers' CPUs.
///
/// # Consistency across shards
///
/// Each shard is linearizable on its own: a write is visible to every read that starts after
/// it returns, and [`shard_snapshot`](Self::shard_snapshot) is one consistent version of a
/// shard. **There is no atomic cut across shards.** [`snapshot`](Self::snapshot) captures the
/// shards one after another, so with concurrent writers it may contain a later write to one
/// shard without an earlier write to another (a writer that inserts `a` then `b`, landing in
/// different shards, may be captured with `b` and without `a`). Each captured shard is
/// internally consistent and never changes afterwards, and once writers are quiet a snapshot is
/// exactly the current contents. [`len`](Self::len) sums shard lengths read at slightly
/// different moments in the same way. When several keys must change together, keep them in one
/// `Store<HashMap<..>>` (one publish) instead.
///
/// ```
/// use cowstore::collections::ShardedMap;
/// use std::sync::Arc;
///
/// let sessions = Arc::new(ShardedMap::new());
/// let writers: Vec<_> = (0..4u32)
///     .map(|t| {
///         let sessions = Arc::clone(&sessions);
///         std::thread::spawn(move || {
///             for i in 0..100 {
///                 sessions.insert(t * 1000 + i, format!("user-{t}-{i}"));
///             }
///         })
///     })
///     .collect();
/// writers.into_iter().for_each(|w| w.join().unwrap());
/// assert_eq!(sessions.len(), 400);
/// assert_eq!(sessions.get(&2005).as_deref(), Some("user-2-5"));
/// ```
pub struct ShardedMap<K, V, S = DefaultHashBuilder> {
    shards: Box<[Store<HashMap<K, V, S>>]>,
    hasher: S,
}

/// Default number of shards.
const DEFAULT_SHARDS: usize = 16;

impl<K, V> ShardedMap<K, V> {
    /// An empty map with 16 shards and the default hasher.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::<u32, u32>::new();
    /// assert_eq!(map.shard_count(), 16);
    /// ```
    pub fn new() -> Self {
        Self::with_shards(DEFAULT_SHARDS)
    }

    /// An empty map with `shards` shards (at least 1) and the default hasher.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::<u32, u32>::with_shards(4);
    /// assert_eq!(map.shard_count(), 4);
    /// ```
    pub fn with_shards(shards: usize) -> Self {
        Self::with_shards_and_hasher(shards, DefaultHashBuilder::default())
    }
}

impl<K, V, S: Clone> ShardedMap<K, V, S> {
    /// An empty map with `shards` shards (at least 1) hashing with `hasher` (which picks the
    /// shard, and hashes inside it).
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    /// let map = cowstore::collections::ShardedMap::<u32, u32, _>::with_shards_and_hasher(8, RandomState::new());
    /// map.insert(1, 1);
    /// assert_eq!(map.get(&1), Some(1));
    /// ```
    pub fn with_shards_and_hasher(shards: usize, hasher: S) -> Self {
        // Shards exist to take many writes while other threads read: a read costs one locked
        // instruction more, a publish no process-wide barrier (see `ReadBarrier`).
        let shards = (0..shards.max(1))
            .map(|_| {
                Store::builder(HashMap::with_hasher(hasher.clone()))
                    .read_barrier(ReadBarrier::Symmetric)
                    .build()
                    .expect("a store without validators always builds")
            })
            .collect();
        Self { shards, hasher }
    }
}

impl<K, V, S> ShardedMap<K, V, S> {
    /// Number of shards.
    ///
    /// ```
    /// assert_eq!(cowstore::collections::ShardedMap::<u8, u8>::with_shards(3).shard_count(), 3);
    /// ```
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// A reading handle for one thread that caches each shard's current version: lookups
    /// through it skip the per-lookup guard of [`get`](Self::get). See [`ShardedReader`]
    /// (it pins what it caches until its next lookup in that shard).
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::new();
    /// map.insert(1, "one");
    /// let mut reader = map.reader();
    /// assert_eq!(reader.get(&1), Some(&"one"));
    /// ```
    pub fn reader(&self) -> ShardedReader<'_, K, V, S> {
        ShardedReader::new(self)
    }

    pub(super) fn stores(&self) -> &[Store<HashMap<K, V, S>>] {
        &self.shards
    }

    /// The current version of shard `index` (a consistent view of that shard, pinned until
    /// dropped).
    ///
    /// # Panics
    ///
    /// If `index >= shard_count()`.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::with_shards(2);
    /// map.insert("k", 1);
    /// let total: usize = (0..2).map(|i| map.shard_snapshot(i).len()).sum();
    /// assert_eq!(total, 1);
    /// ```
    pub fn shard_snapshot(&self, index: usize) -> Snapshot<HashMap<K, V, S>> {
        self.shards[index].snapshot()
    }

    /// Captures every shard, one after another; see the type's notes on consistency across
    /// shards.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::new();
    /// map.insert(1, "a");
    /// let snapshot = map.snapshot();
    /// map.insert(2, "b");
    /// assert_eq!(snapshot.len(), 1); // unaffected by later writes
    /// assert_eq!(snapshot.get(&1), Some(&"a"));
    /// ```
    pub fn snapshot(&self) -> ShardedSnapshot<K, V, S>
    where
        S: Clone,
    {
        ShardedSnapshot {
            shards: self.shards.iter().map(Store::snapshot).collect(),
            hasher: self.hasher.clone(),
        }
    }

    /// Total number of entries (the shards are read one after another).
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::new();
    /// map.insert(1, 1);
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.load().len()).sum()
    }

    /// Whether every shard is empty.
    ///
    /// ```
    /// assert!(cowstore::collections::ShardedMap::<u8, u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| s.load().is_empty())
    }
}

/// Shard of a hash: the high bits, which the trie inside a shard looks at last.
fn shard_of(hash: u64, shards: usize) -> usize {
    ((u128::from(hash) * shards as u128) >> 64) as usize
}

impl<K, V, S> ShardedMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// Index of the shard that holds `key`.
    pub(super) fn shard_index<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        shard_of(self.hasher.hash_one(key), self.shards.len())
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &Store<HashMap<K, V, S>> {
        &self.shards[self.shard_index(key)]
    }

    /// Calls `f` with the current value for `key`, without cloning it. Wait-free.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::new();
    /// map.insert("k", vec![1, 2, 3]);
    /// assert_eq!(map.get_with("k", |v| v.map(Vec::len)), Some(3));
    /// ```
    pub fn get_with<Q, R>(&self, key: &Q, f: impl FnOnce(Option<&V>) -> R) -> R
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        f(self.shard(key).load().get(key))
    }

    /// A clone of the current value for `key`. Wait-free.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::new();
    /// map.insert(1, "one");
    /// assert_eq!(map.get(&1), Some("one"));
    /// assert_eq!(map.get(&2), None);
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.get_with(key, |v| v.cloned())
    }

    /// Whether `key` has a value. Wait-free.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::new();
    /// map.insert(1, ());
    /// assert!(map.contains_key(&1));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_with(key, |v| v.is_some())
    }
}

impl<K, V, S> ShardedMap<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    /// Sets `key` to `value` in its shard (one publish of that shard); returns the previous
    /// value.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::new();
    /// assert_eq!(map.insert("k", 1), None);
    /// assert_eq!(map.insert("k", 2), Some(1));
    /// ```
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        let mut entry = Some((key, value));
        let mut old = None;
        // The shard stores are private and only written through their serialized paths, so
        // the closure runs exactly once.
        write(self.shard_for_owned(&entry), |map| {
            if let Some((key, value)) = entry.take() {
                old = map.insert(key, value);
            }
            Ok::<_, ()>(())
        });
        old
    }

    /// Removes `key`; returns its value. Publishes nothing when the key is absent.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::new();
    /// map.insert(1, 'a');
    /// assert_eq!(map.remove(&1), Some('a'));
    /// assert_eq!(map.remove(&1), None);
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut old = None;
        write(self.shard(key), |map| {
            old = map.remove(key);
            // Nothing removed: roll back instead of publishing an identical version.
            old.as_ref().map(|_| ()).ok_or(())
        });
        old
    }

    /// Entry-style update of `key` in one publish of its shard: `f` sees the current value
    /// and returns the new one, or `None` to remove it. Returns the previous value.
    ///
    /// # Panics
    ///
    /// If `f` writes to this map (the shard's writer is busy running `f`).
    ///
    /// ```
    /// let counters = cowstore::collections::ShardedMap::new();
    /// for _ in 0..3 {
    ///     counters.alter("hits", |n: Option<&u64>| Some(n.map_or(1, |n| n + 1)));
    /// }
    /// assert_eq!(counters.get("hits"), Some(3));
    /// ```
    pub fn alter<F>(&self, key: K, f: F) -> Option<V>
    where
        F: FnOnce(Option<&V>) -> Option<V>,
    {
        let mut job = Some((key, f));
        let mut old = None;
        let shard = self.shard(&job.as_ref().expect("job is set").0);
        write(shard, |map| {
            if let Some((key, f)) = job.take() {
                old = map.alter(key, f);
            }
            Ok::<_, ()>(())
        });
        old
    }

    /// Inserts many entries with at most one publish per shard (instead of one per entry):
    /// the way to load a map. Each shard's part appears atomically; across shards, see the
    /// notes on consistency.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::with_shards(4);
    /// map.insert_many((0..1000).map(|k| (k, k * 2)));
    /// assert_eq!(map.len(), 1000);
    /// assert_eq!(map.get(&7), Some(14));
    /// let versions: u64 = (0..4).map(|i| cowstore::Snapshot::version(&map.shard_snapshot(i))).sum();
    /// assert_eq!(versions, 4 + 4, "one publish per shard");
    /// ```
    pub fn insert_many(&self, entries: impl IntoIterator<Item = (K, V)>) {
        let mut buckets: Vec<Vec<(K, V)>> = (0..self.shards.len()).map(|_| Vec::new()).collect();
        for (key, value) in entries {
            buckets[self.shard_index(&key)].push((key, value));
        }
        for (store, bucket) in self.shards.iter().zip(buckets) {
            if bucket.is_empty() {
                continue;
            }
            let mut bucket = Some(bucket);
            // Runs once: see `insert`.
            write(store, |map| {
                map.extend(bucket.take().into_iter().flatten());
                Ok(())
            });
        }
    }

    fn shard_for_owned(&self, entry: &Option<(K, V)>) -> &Store<HashMap<K, V, S>> {
        self.shard(&entry.as_ref().expect("entry is set").0)
    }
}

/// Runs a write on a shard; `Err` from `f` means "nothing changed" and publishes nothing.
fn write<T: Clone>(store: &Store<T>, f: impl FnMut(&mut T) -> Result<(), ()>) {
    match store.try_update(f) {
        Ok(_) | Err(crate::UpdateError::Aborted(())) => {}
        // No validators are registered: only a nested write (from the closure of `alter`) fails.
        Err(e) => {
            panic!("ShardedMap write failed ({e:?}): `alter` closures must not write to the map")
        }
    }
}

impl<K, V> FromIterator<(K, V)> for ShardedMap<K, V>
where
    K: Hash + Eq + Clone,
    V: Clone,
{
    /// A 16-shard map holding `iter`'s entries, built with one publish per shard.
    ///
    /// ```
    /// let map: cowstore::collections::ShardedMap<u32, &str> = [(1, "a"), (2, "b")].into_iter().collect();
    /// assert_eq!(map.get(&2), Some("b"));
    /// ```
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let map = Self::new();
        map.insert_many(iter);
        map
    }
}

impl<K, V> Default for ShardedMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, S> fmt::Debug for ShardedMap<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardedMap")
            .field("shards", &self.shards.len())
            .field("len", &self.len())
            .finish()
    }
}

/// Every shard of a [`ShardedMap`], captured one after another by
/// [`ShardedMap::snapshot`]. Each shard's part is one consistent version; see the map's
/// notes on consistency across shards.
///
/// ```
/// let map = cowstore::collections::ShardedMap::new();
/// map.insert(1, 10);
/// map.insert(2, 20);
/// let snapshot = map.snapshot();
/// let mut all: Vec<_> = snapshot.iter().map(|(k, v)| (*k, *v)).collect();
/// all.sort();
/// assert_eq!(all, [(1, 10), (2, 20)]);
/// ```
pub struct ShardedSnapshot<K, V, S = DefaultHashBuilder> {
    shards: Vec<Snapshot<HashMap<K, V, S>>>,
    hasher: S,
}

impl<K, V, S> ShardedSnapshot<K, V, S> {
    /// Total number of entries in the captured shards.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::<u8, u8>::new();
    /// assert_eq!(map.snapshot().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len()).sum()
    }

    /// Whether the captured shards are all empty.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::<u8, u8>::new();
    /// assert!(map.snapshot().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| s.is_empty())
    }

    /// The captured shards, each with its version number.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::<u8, u8>::with_shards(2);
    /// map.insert(1, 1);
    /// let versions: u64 = map.snapshot().shards().iter().map(|s| cowstore::Snapshot::version(&s)).sum();
    /// assert_eq!(versions, 3); // one shard at version 2, the other still at 1
    /// ```
    pub fn shards(&self) -> &[Snapshot<HashMap<K, V, S>>] {
        &self.shards
    }

    /// Iterates over the entries of every captured shard.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::new();
    /// map.insert('a', 1);
    /// assert_eq!(map.snapshot().iter().count(), 1);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards.iter().flat_map(|s| s.iter())
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> ShardedSnapshot<K, V, S> {
    /// The value for `key` in the captured shards.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::new();
    /// map.insert("k", 1);
    /// assert_eq!(map.snapshot().get("k"), Some(&1));
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shards[shard_of(self.hasher.hash_one(key), self.shards.len())].get(key)
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for ShardedSnapshot<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
