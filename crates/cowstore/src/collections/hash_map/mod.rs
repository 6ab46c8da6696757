//! [`HashMap`]: a persistent hash map (a CHAMP trie), and its iterators.
//!
//! The layout follows Steindorfer & Vinju, *Optimizing Hash-Array Mapped Tries for Fast and Lean
//! Immutable JVM Collections* (OOPSLA 2015): each node has a 32-bit `datamap` for the entries it
//! stores inline and a 32-bit `nodemap` for its sub-nodes, and stores only the occupied slots.
//!
//! ```
//! use cowstore::collections::hash_map::HashMap;
//! let map: HashMap<&str, u32> = [("a", 1)].into_iter().collect();
//! assert_eq!(map["a"], 1);
//! ```

mod diff;
mod iter;
mod node;

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};

pub use iter::{Iter, Keys, Values};

use self::node::{Entry, Node};
use super::DefaultHashBuilder;
use super::diff::Diff;

/// A persistent hash map: a CHAMP hash trie (compressed 32-way nodes) with structural sharing.
///
/// [`clone`](Clone::clone) is O(1): it shares the whole trie. [`insert`](Self::insert) and
/// [`remove`](Self::remove) copy only the O(log₃₂ n) nodes on the path to the changed entry
/// that another version still shares, and change uniquely owned nodes in place. Old versions
/// are never affected, which is what makes a map like this cheap to keep in a
/// [`Store`](crate::Store): every publish shares all untouched nodes with the previous version.
///
/// Keys and values must be `Clone` because a shared node is copied before it is changed.
///
/// ```
/// use cowstore::collections::HashMap;
///
/// let mut v1 = HashMap::new();
/// v1.insert("host", "a.example");
/// let mut v2 = v1.clone(); // O(1)
/// v2.insert("host", "b.example");
/// v2.insert("port", "443");
/// assert_eq!(v1.get("host"), Some(&"a.example")); // the old version is unchanged
/// assert_eq!((v1.len(), v2.len()), (1, 2));
/// ```
///
/// # Hashing
///
/// The default [`DefaultHashBuilder`] (foldhash, seeded once per process) makes every map in a
/// process hash alike. `==` and [`diff`](Self::diff) compare two maps structurally when they
/// hash alike (checked on one key of each), and fall back to key-by-key lookups otherwise.
pub struct HashMap<K, V, S = DefaultHashBuilder> {
    root: Node<K, V>,
    len: usize,
    hasher: S,
}

impl<K, V> HashMap<K, V> {
    /// An empty map with the default hasher.
    ///
    /// ```
    /// let map: cowstore::collections::HashMap<u8, u8> = cowstore::collections::HashMap::new();
    /// assert!(map.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_hasher(DefaultHashBuilder::default())
    }
}

impl<K, V, S> HashMap<K, V, S> {
    /// An empty map that hashes keys with `hasher`.
    ///
    /// ```
    /// use cowstore::collections::HashMap;
    /// use std::collections::hash_map::RandomState;
    ///
    /// let mut map = HashMap::with_hasher(RandomState::new());
    /// map.insert(1, "one");
    /// assert_eq!(map.get(&1), Some(&"one"));
    /// ```
    pub fn with_hasher(hasher: S) -> Self {
        Self {
            root: Node::empty(),
            len: 0,
            hasher,
        }
    }

    /// Number of entries.
    ///
    /// ```
    /// let map: cowstore::collections::HashMap<_, _> = [(1, 'a'), (2, 'b')].into_iter().collect();
    /// assert_eq!(map.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map has no entries.
    ///
    /// ```
    /// assert!(cowstore::collections::HashMap::<u8, u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The map's hasher.
    ///
    /// ```
    /// use std::hash::BuildHasher;
    /// let map = cowstore::collections::HashMap::<u8, u8>::new();
    /// let _ = map.hasher().hash_one(1u8);
    /// ```
    pub fn hasher(&self) -> &S {
        &self.hasher
    }

    /// Whether both maps share their whole trie (one is an unchanged clone of the other).
    /// O(1); `false` does not mean the contents differ.
    ///
    /// ```
    /// let a: cowstore::collections::HashMap<_, _> = [(1, 1)].into_iter().collect();
    /// let mut b = a.clone();
    /// assert!(a.ptr_eq(&b));
    /// b.insert(2, 2);
    /// assert!(!a.ptr_eq(&b));
    /// ```
    pub fn ptr_eq(&self, other: &Self) -> bool {
        self.root.ptr_eq(&other.root)
    }

    /// Iterates over the entries, in an unspecified order.
    ///
    /// ```
    /// let map: cowstore::collections::HashMap<_, _> = (1..=3).map(|i| (i, i * 10)).collect();
    /// let mut pairs: Vec<_> = map.iter().map(|(k, v)| (*k, *v)).collect();
    /// pairs.sort();
    /// assert_eq!(pairs, [(1, 10), (2, 20), (3, 30)]);
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter::new(&self.root, self.len)
    }

    /// Iterates over the keys, in an unspecified order.
    ///
    /// ```
    /// let map: cowstore::collections::HashMap<_, _> = [("a", 1)].into_iter().collect();
    /// assert_eq!(map.keys().collect::<Vec<_>>(), [&"a"]);
    /// ```
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys(self.iter())
    }

    /// Iterates over the values, in an unspecified order.
    ///
    /// ```
    /// let map: cowstore::collections::HashMap<_, _> = [("a", 1), ("b", 2)].into_iter().collect();
    /// assert_eq!(map.values().sum::<i32>(), 3);
    /// ```
    pub fn values(&self) -> Values<'_, K, V> {
        Values(self.iter())
    }
}

impl<K, V, S> HashMap<K, V, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// The value stored for `key`.
    ///
    /// ```
    /// let map: cowstore::collections::HashMap<String, u32> =
    ///     [("a".to_string(), 1)].into_iter().collect();
    /// assert_eq!(map.get("a"), Some(&1));
    /// assert_eq!(map.get("b"), None);
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.root
            .find(self.hasher.hash_one(key), key)
            .map(|e| &e.value)
    }

    /// The stored key and value for `key`.
    ///
    /// ```
    /// let map: cowstore::collections::HashMap<_, _> = [("a", 1)].into_iter().collect();
    /// assert_eq!(map.get_key_value("a"), Some((&"a", &1)));
    /// ```
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.root
            .find(self.hasher.hash_one(key), key)
            .map(|e| (&e.key, &e.value))
    }

    /// Whether `key` has a value.
    ///
    /// ```
    /// let map: cowstore::collections::HashMap<_, _> = [(1, ())].into_iter().collect();
    /// assert!(map.contains_key(&1));
    /// assert!(!map.contains_key(&2));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// Whether the two maps hash alike, tested on one key of each: if they do, equal contents
    /// mean equal trie shapes.
    fn hashes_alike(&self, other: &Self) -> bool {
        let probe = |map: &Self, by: &S| {
            map.iter_entries()
                .next()
                .is_none_or(|e| by.hash_one(&e.key) == e.hash)
        };
        self.ptr_eq(other) || (probe(self, &other.hasher) && probe(other, &self.hasher))
    }

    fn iter_entries(&self) -> iter::Entries<'_, K, V> {
        iter::Entries::new(&self.root)
    }
}

impl<K, V, S> HashMap<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher,
{
    /// Inserts `value` for `key`; returns the value it replaces.
    ///
    /// Copies the path to the entry where it is shared with another version; a map nobody
    /// else shares is changed in place.
    ///
    /// ```
    /// let mut map = cowstore::collections::HashMap::new();
    /// assert_eq!(map.insert("k", 1), None);
    /// assert_eq!(map.insert("k", 2), Some(1));
    /// assert_eq!(map.get("k"), Some(&2));
    /// ```
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let hash = self.hasher.hash_one(&key);
        let old = self.root.insert(0, Entry { hash, key, value });
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes `key`; returns its value. A missing key copies nothing.
    ///
    /// ```
    /// let mut map: cowstore::collections::HashMap<_, _> = [(1, "a")].into_iter().collect();
    /// assert_eq!(map.remove(&1), Some("a"));
    /// assert_eq!(map.remove(&1), None);
    /// ```
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes `key`; returns the stored key and its value.
    ///
    /// ```
    /// let mut map: cowstore::collections::HashMap<_, _> = [("a", 1)].into_iter().collect();
    /// assert_eq!(map.remove_entry("a"), Some(("a", 1)));
    /// ```
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let removed = self.root.remove(hash, key)?;
        self.len -= 1;
        Some((removed.key, removed.value))
    }

    /// Entry-style update: `f` sees the current value (if any) and returns the new one, or
    /// `None` to remove the key. Returns the previous value. Nothing is copied when `f` keeps
    /// an absent key absent.
    ///
    /// ```
    /// let mut hits = cowstore::collections::HashMap::new();
    /// for page in ["/", "/about", "/"] {
    ///     hits.alter(page, |n: Option<&u32>| Some(n.map_or(1, |n| n + 1)));
    /// }
    /// assert_eq!(hits.get("/"), Some(&2));
    /// hits.alter("/about", |_| None); // removes
    /// assert!(!hits.contains_key("/about"));
    /// ```
    pub fn alter<F>(&mut self, key: K, f: F) -> Option<V>
    where
        F: FnOnce(Option<&V>) -> Option<V>,
    {
        match f(self.get(&key)) {
            Some(value) => self.insert(key, value),
            None => self.remove(&key),
        }
    }

    /// A copy of this map with `key` set to `value`; `self` is unchanged. O(log n).
    ///
    /// ```
    /// let empty = cowstore::collections::HashMap::new();
    /// let one = empty.update(1, "one");
    /// assert_eq!((empty.len(), one.len()), (0, 1));
    /// ```
    #[must_use]
    pub fn update(&self, key: K, value: V) -> Self
    where
        S: Clone,
    {
        let mut next = self.clone();
        next.insert(key, value);
        next
    }

    /// A copy of this map without `key`; `self` is unchanged. O(log n).
    ///
    /// ```
    /// let map: cowstore::collections::HashMap<_, _> = [(1, 'a'), (2, 'b')].into_iter().collect();
    /// let smaller = map.without(&1);
    /// assert_eq!((map.len(), smaller.len()), (2, 1));
    /// ```
    #[must_use]
    pub fn without<Q>(&self, key: &Q) -> Self
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        S: Clone,
    {
        let mut next = self.clone();
        next.remove(key);
        next
    }
}

impl<K, V, S> HashMap<K, V, S>
where
    K: Hash + Eq,
    V: PartialEq,
    S: BuildHasher,
{
    /// The entries added, removed and changed from `self` (the old version) to `new`.
    ///
    /// Subtrees the two versions share are skipped without being visited, so for a version
    /// derived from the other by a few updates the cost is O(changes · log n), not O(n).
    /// Exact: every added, removed or changed key is reported once. Maps that do not hash alike
    /// (different hasher states) are compared key by key instead, in O(n).
    ///
    /// ```
    /// use cowstore::collections::{DiffItem, HashMap};
    ///
    /// let old: HashMap<u32, &str> = [(1, "a"), (2, "b")].into_iter().collect();
    /// let mut new = old.clone();
    /// new.insert(2, "B");
    /// let changes: Vec<_> = old.diff(&new).collect();
    /// assert_eq!(changes, [DiffItem::Changed { key: &2, old: &"b", new: &"B" }]);
    /// ```
    pub fn diff<'a>(&'a self, new: &'a Self) -> Diff<'a, K, V> {
        let mut out = Vec::new();
        if self.hashes_alike(new) {
            diff::diff_nodes(&self.root, &new.root, 0, &mut out);
        } else {
            diff::diff_by_lookup(self, new, &mut out);
        }
        Diff::new(out)
    }
}

impl<K, V, S: Clone> Clone for HashMap<K, V, S> {
    /// O(1): shares the whole trie.
    fn clone(&self) -> Self {
        Self {
            root: self.root.clone(),
            len: self.len,
            hasher: self.hasher.clone(),
        }
    }
}

impl<K, V, S: Default> Default for HashMap<K, V, S> {
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

impl<K, V, S> PartialEq for HashMap<K, V, S>
where
    K: Hash + Eq,
    V: PartialEq,
    S: BuildHasher,
{
    /// Subtrees shared by both maps are equal without being walked; maps that do not hash
    /// alike are compared key by key.
    fn eq(&self, other: &Self) -> bool {
        if self.len != other.len {
            return false;
        }
        if self.hashes_alike(other) {
            diff::nodes_equal(&self.root, &other.root, 0)
        } else {
            self.iter().all(|(k, v)| other.get(k) == Some(v))
        }
    }
}

impl<K: Hash + Eq, V: Eq, S: BuildHasher> Eq for HashMap<K, V, S> {}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for HashMap<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V, S> FromIterator<(K, V)> for HashMap<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher + Default,
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Self::default();
        map.extend(iter);
        map
    }
}

impl<K, V, S> Extend<(K, V)> for HashMap<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a, K, V, S> IntoIterator for &'a HashMap<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<K, V, S, Q> std::ops::Index<&Q> for HashMap<K, V, S>
where
    K: Hash + Eq + Borrow<Q>,
    Q: Hash + Eq + ?Sized,
    S: BuildHasher,
{
    type Output = V;

    /// # Panics
    ///
    /// If `key` has no value.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("key not in HashMap")
    }
}

impl<K, V, S, const N: usize> From<[(K, V); N]> for HashMap<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher + Default,
{
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}
