//! [`ShardedReader`]: one thread's cached view of every shard of a [`ShardedMap`].

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};

use super::{DefaultHashBuilder, HashMap, ShardedMap};
use crate::Reader;

/// A per-thread reading handle for a [`ShardedMap`]: a [`Reader`] for each shard.
///
/// [`ShardedMap::get`] takes a short-lived guard on the key's shard for every lookup (two
/// atomic read-modify-writes on the thread's own hazard slot). A `ShardedReader` keeps the
/// shard's current version instead, so a lookup whose shard did not change since this reader
/// last looked costs one atomic load plus the trie walk, like [`Reader::load`] on one store.
/// Take one per thread for a hot loop, from [`ShardedMap::reader`].
///
/// **It pins what it caches.** Like a [`Reader`], it holds the version of every shard it has
/// looked at until its next lookup in that shard or until it is dropped, so an idle reader
/// keeps up to one outdated version of each shard alive. Drop readers you stop using; do not
/// keep them in long-lived idle structures.
///
/// **It is for read-mostly maps.** After a write to a shard, the reader's next lookup there
/// drops the replaced version it held (and frees what only that version used), work that a
/// guard-based [`ShardedMap::get`] leaves to the writer. In the project's benchmarks (2
/// threads, each running the mix) it read 10–30% faster than `get` without writes, about the
/// same at 1% writes, and slower, with far longer read tails, at 10% and 50% writes.
///
/// ```
/// use cowstore::collections::ShardedMap;
///
/// let routes = ShardedMap::new();
/// routes.insert("/login", 1);
/// let mut reader = routes.reader();
/// assert_eq!(reader.get("/login"), Some(&1));
/// routes.insert("/login", 2);
/// assert_eq!(reader.get("/login"), Some(&2)); // the changed shard is reloaded
/// assert_eq!(reader.get("/logout"), None);
/// ```
pub struct ShardedReader<'map, K, V, S = DefaultHashBuilder> {
    map: &'map ShardedMap<K, V, S>,
    readers: Box<[Reader<'map, HashMap<K, V, S>>]>,
}

impl<'map, K, V, S> ShardedReader<'map, K, V, S> {
    pub(super) fn new(map: &'map ShardedMap<K, V, S>) -> Self {
        Self {
            map,
            readers: map.stores().iter().map(crate::Store::reader).collect(),
        }
    }

    /// The map this reader reads.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::<u8, u8>::with_shards(4);
    /// assert_eq!(map.reader().map().shard_count(), 4);
    /// ```
    pub fn map(&self) -> &'map ShardedMap<K, V, S> {
        self.map
    }
}

impl<K, V, S> ShardedReader<'_, K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// The current value for `key`, borrowed from the key's shard as this reader caches it
    /// (reloaded first if that shard changed). Wait-free.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::new();
    /// map.insert(7u64, "seven".to_string());
    /// let mut reader = map.reader();
    /// assert_eq!(reader.get(&7).map(String::as_str), Some("seven"));
    /// ```
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.readers[self.map.shard_index(key)].load().get(key)
    }

    /// Whether `key` currently has a value. Wait-free.
    ///
    /// ```
    /// let map = cowstore::collections::ShardedMap::new();
    /// map.insert('x', ());
    /// let mut reader = map.reader();
    /// assert!(reader.contains_key(&'x'));
    /// assert!(!reader.contains_key(&'y'));
    /// ```
    pub fn contains_key<Q>(&mut self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }
}

impl<K, V, S> Clone for ShardedReader<'_, K, V, S> {
    fn clone(&self) -> Self {
        Self {
            map: self.map,
            readers: self.readers.clone(),
        }
    }
}

impl<K, V, S> fmt::Debug for ShardedReader<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardedReader")
            .field("shards", &self.readers.len())
            .finish_non_exhaustive()
    }
}
