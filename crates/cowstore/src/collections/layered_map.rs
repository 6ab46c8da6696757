//! [`LayeredMap`]: a base map plus an override layer in one [`Store`], compacted in one
//! publish.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};

use super::{DefaultHashBuilder, HashMap};
use crate::{Snapshot, Store, Subscription};

/// One version of a [`LayeredMap`]: a base map and the overrides on top of it.
///
/// An override is either a value (it replaces or adds the key) or a tombstone (it hides the
/// key of the base). Reads check the overrides first, then the base.
///
/// ```
/// use cowstore::collections::{HashMap, LayeredMap};
///
/// let base: HashMap<&str, u32> = [("a", 1), ("b", 2)].into_iter().collect();
/// let map = LayeredMap::new(base);
/// map.set("a", 10);
/// map.remove(&"b");
/// let layers = map.snapshot();
/// assert_eq!(layers.get("a"), Some(&10));
/// assert_eq!(layers.get("b"), None);
/// assert_eq!(layers.base().get("b"), Some(&2)); // still in the base, hidden
/// ```
pub struct Layers<K, V, S = DefaultHashBuilder> {
    base: HashMap<K, V, S>,
    overrides: HashMap<K, Option<V>, S>,
}

impl<K, V, S: Clone> Clone for Layers<K, V, S> {
    fn clone(&self) -> Self {
        Self {
            base: self.base.clone(),
            overrides: self.overrides.clone(),
        }
    }
}

impl<K, V, S> Layers<K, V, S> {
    /// The base layer.
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::new([(1, 'a')].into_iter().collect());
    /// assert_eq!(map.snapshot().base().len(), 1);
    /// ```
    pub fn base(&self) -> &HashMap<K, V, S> {
        &self.base
    }

    /// The override layer: `Some(value)` replaces or adds a key, `None` hides it.
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::<u8, char>::default();
    /// map.set(1, 'x');
    /// assert_eq!(map.snapshot().overrides().get(&1), Some(&Some('x')));
    /// ```
    pub fn overrides(&self) -> &HashMap<K, Option<V>, S> {
        &self.overrides
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> Layers<K, V, S> {
    /// The effective value for `key`: its override if any, else its base value.
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::new([(1, 'a')].into_iter().collect());
    /// map.set(1, 'b');
    /// assert_eq!(map.snapshot().get(&1), Some(&'b'));
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.overrides.get(key) {
            Some(over) => over.as_ref(),
            None => self.base.get(key),
        }
    }

    /// Iterates over the effective entries: overridden values, then base entries without an
    /// override.
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::new([(1, 'a'), (2, 'b')].into_iter().collect());
    /// map.remove(&2);
    /// map.set(3, 'c');
    /// let mut all: Vec<_> = map.snapshot().iter().map(|(k, v)| (*k, *v)).collect();
    /// all.sort();
    /// assert_eq!(all, [(1, 'a'), (3, 'c')]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let overrides = self
            .overrides
            .iter()
            .filter_map(|(k, v)| Some((k, v.as_ref()?)));
        let base = self
            .base
            .iter()
            .filter(|(k, _)| !self.overrides.contains_key(*k));
        overrides.chain(base)
    }

    /// Number of effective entries. O(number of overrides).
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::new([(1, 'a')].into_iter().collect());
    /// map.set(2, 'b');
    /// assert_eq!(map.snapshot().len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        let mut len = self.base.len();
        for (k, v) in &self.overrides {
            match (self.base.contains_key(k), v.is_some()) {
                (true, false) => len -= 1,
                (false, true) => len += 1,
                _ => {}
            }
        }
        len
    }

    /// Whether there is no effective entry.
    ///
    /// ```
    /// assert!(cowstore::collections::LayeredMap::<u8, u8>::default().snapshot().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K, V, S> Layers<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    /// The overrides merged into the base: O(overrides · log n), sharing the rest of the base.
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::new([(1, 'a')].into_iter().collect());
    /// map.set(1, 'z');
    /// assert_eq!(map.snapshot().merged().get(&1), Some(&'z'));
    /// ```
    pub fn merged(&self) -> HashMap<K, V, S> {
        let mut base = self.base.clone();
        for (k, v) in &self.overrides {
            match v {
                Some(v) => base.insert(k.clone(), v.clone()),
                None => base.remove(k),
            };
        }
        base
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for Layers<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layers")
            .field("base", &self.base)
            .field("overrides", &self.overrides)
            .finish()
    }
}

/// A shared map made of a base layer (say, loaded from a file) and an override layer (changes
/// made at run time), in one [`Store`].
///
/// Reads check the overrides, then the base; they are wait-free. Each write is one publish.
/// [`compact`](Self::compact) folds the overrides into a new base in **one publish**: readers
/// see either the two layers or the merged base, with the same effective contents, never a
/// mixture. [`replace_base`](Self::replace_base) swaps the base (a reload) and keeps the
/// overrides on top.
///
/// ```
/// use cowstore::collections::{HashMap, LayeredMap};
///
/// let defaults: HashMap<String, u32> =
///     [("timeout_ms".to_string(), 500), ("retries".to_string(), 3)].into_iter().collect();
/// let config = LayeredMap::new(defaults);
/// config.set("timeout_ms".to_string(), 250); // a run-time override
/// assert_eq!(config.get("timeout_ms"), Some(250));
/// config.compact(); // one publish: the override becomes the base
/// let layers = config.snapshot();
/// assert!(layers.overrides().is_empty());
/// assert_eq!(layers.base().get("timeout_ms"), Some(&250));
/// ```
pub struct LayeredMap<K, V, S = DefaultHashBuilder> {
    store: Store<Layers<K, V, S>>,
}

impl<K, V> LayeredMap<K, V> {
    /// A map over `base` (with the default hasher), with no overrides.
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::new([(1, 2)].into_iter().collect());
    /// assert_eq!(map.get(&1), Some(2));
    /// ```
    pub fn new(base: HashMap<K, V>) -> Self {
        Self::with_base(base)
    }
}

impl<K, V, S: Clone> LayeredMap<K, V, S> {
    /// A map over `base`, with any hasher, with no overrides.
    ///
    /// ```
    /// use cowstore::collections::{HashMap, LayeredMap};
    /// use std::collections::hash_map::RandomState;
    ///
    /// let mut base = HashMap::with_hasher(RandomState::new());
    /// base.insert("k", 1);
    /// let map = LayeredMap::with_base(base);
    /// assert_eq!(map.get("k"), Some(1));
    /// ```
    pub fn with_base(base: HashMap<K, V, S>) -> Self {
        let overrides = HashMap::with_hasher(base.hasher().clone());
        Self {
            store: Store::new(Layers { base, overrides }),
        }
    }
}

impl<K, V, S> LayeredMap<K, V, S> {
    /// The current version of both layers (pinned until dropped).
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::<u8, u8>::default();
    /// assert_eq!(cowstore::Snapshot::version(&map.snapshot()), 1);
    /// ```
    pub fn snapshot(&self) -> Snapshot<Layers<K, V, S>> {
        self.store.snapshot()
    }

    /// The current version number (every write and every compaction publishes one).
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::default();
    /// map.set(1, 1);
    /// assert_eq!(map.version(), 2);
    /// ```
    pub fn version(&self) -> u64 {
        self.store.version()
    }

    /// Subscribes to new versions (latest-value semantics); see [`Store::subscribe`].
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::default();
    /// let mut sub = map.subscribe();
    /// map.set("k", 1);
    /// assert_eq!(sub.try_recv().unwrap().get("k"), Some(&1));
    /// ```
    pub fn subscribe(&self) -> Subscription<Layers<K, V, S>> {
        self.store.subscribe()
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> LayeredMap<K, V, S> {
    /// Calls `f` with the effective value for `key`, without cloning it. Wait-free.
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::new([(1, "one".to_string())].into_iter().collect());
    /// assert_eq!(map.get_with(&1, |v| v.map(String::len)), Some(3));
    /// ```
    pub fn get_with<Q, R>(&self, key: &Q, f: impl FnOnce(Option<&V>) -> R) -> R
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        f(self.store.load().get(key))
    }

    /// A clone of the effective value for `key`. Wait-free.
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::new([(1, 'a')].into_iter().collect());
    /// assert_eq!(map.get(&1), Some('a'));
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.get_with(key, |v| v.cloned())
    }
}

impl<K, V, S> LayeredMap<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    fn write(&self, mut f: impl FnMut(&mut Layers<K, V, S>)) {
        // No validators are registered and the closures do not write to the map: cannot fail.
        if let Err(e) = self.store.update(|layers| f(layers)) {
            panic!("LayeredMap write failed: {e}");
        }
    }

    /// Overrides `key` with `value` (one publish).
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::new([(1, 'a')].into_iter().collect());
    /// map.set(1, 'b');
    /// assert_eq!(map.get(&1), Some('b'));
    /// ```
    pub fn set(&self, key: K, value: V) {
        self.write(|layers| {
            layers.overrides.insert(key.clone(), Some(value.clone()));
        });
    }

    /// Hides `key` with a tombstone in the override layer, whether or not the base has it
    /// (one publish).
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::new([(1, 'a')].into_iter().collect());
    /// map.remove(&1);
    /// assert_eq!(map.get(&1), None);
    /// ```
    pub fn remove(&self, key: &K) {
        self.write(|layers| {
            layers.overrides.insert(key.clone(), None);
        });
    }

    /// Drops the override of `key`, so its base value (if any) shows again (one publish).
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::new([(1, 'a')].into_iter().collect());
    /// map.set(1, 'b');
    /// map.reset(&1);
    /// assert_eq!(map.get(&1), Some('a'));
    /// ```
    pub fn reset(&self, key: &K) {
        self.write(|layers| {
            layers.overrides.remove(key);
        });
    }

    /// Replaces the base (say, after reloading a file) and keeps the overrides on top (one
    /// publish).
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::new([(1, 'a')].into_iter().collect());
    /// map.set(2, 'x');
    /// map.replace_base([(1, 'A'), (3, 'C')].into_iter().collect());
    /// assert_eq!((map.get(&1), map.get(&2), map.get(&3)), (Some('A'), Some('x'), Some('C')));
    /// ```
    pub fn replace_base(&self, base: HashMap<K, V, S>) {
        self.write(|layers| layers.base = base.clone());
    }

    /// Merges the overrides into a new base and clears them, in one publish; the effective
    /// contents do not change. Costs O(overrides · log n): the rest of the base is shared.
    ///
    /// ```
    /// let map = cowstore::collections::LayeredMap::new([(1, 'a'), (2, 'b')].into_iter().collect());
    /// map.set(1, 'z');
    /// map.remove(&2);
    /// let before = map.version();
    /// map.compact();
    /// assert_eq!(map.version(), before + 1);
    /// let layers = map.snapshot();
    /// assert_eq!(layers.base().len(), 1);
    /// assert_eq!(layers.get(&1), Some(&'z'));
    /// ```
    pub fn compact(&self) {
        self.write(|layers| {
            layers.base = layers.merged();
            layers.overrides = HashMap::with_hasher(layers.base.hasher().clone());
        });
    }
}

impl<K, V> Default for LayeredMap<K, V> {
    fn default() -> Self {
        Self::new(HashMap::default())
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for LayeredMap<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayeredMap")
            .field("version", &self.store.version())
            .field("layers", &*self.store.load())
            .finish()
    }
}
