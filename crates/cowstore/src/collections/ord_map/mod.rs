//! [`OrdMap`]: a persistent ordered map (a copy-on-write B+-tree), and its iterators.
//!
//! ```
//! use cowstore::collections::ord_map::OrdMap;
//! let map: OrdMap<u32, &str> = [(2, "b"), (1, "a")].into_iter().collect();
//! assert_eq!(map.first_key_value(), Some((&1, &"a")));
//! ```

mod diff;
mod iter;
mod node;

use std::borrow::Borrow;
use std::fmt;
use std::ops::{Bound, ControlFlow, RangeBounds};
use std::sync::Arc;

pub use iter::{Iter, Keys, Values};

use self::node::{Branch, Child, Node};
use super::diff::Diff;

/// A persistent ordered map: a B+-tree (up to 32 entries per leaf, 32 children per branch)
/// with copy-on-write nodes.
///
/// [`clone`](Clone::clone) is O(1). [`insert`](Self::insert) and [`remove`](Self::remove) copy
/// the O(log n) nodes on the path to the entry that another version still shares and change
/// uniquely owned nodes in place; every other node stays shared. Iteration is in key order and
/// double-ended; [`range`](Self::range) starts anywhere in O(log n) and knows its length.
///
/// ```
/// use cowstore::collections::OrdMap;
///
/// let mut v1 = OrdMap::new();
/// for (i, name) in ["ann", "bob", "cy"].into_iter().enumerate() {
///     v1.insert(i as u32, name);
/// }
/// let mut v2 = v1.clone();
/// v2.remove(&1);
/// assert_eq!(v1.values().copied().collect::<Vec<_>>(), ["ann", "bob", "cy"]);
/// assert_eq!(v2.values().copied().collect::<Vec<_>>(), ["ann", "cy"]);
/// ```
pub struct OrdMap<K, V> {
    root: Arc<Node<K, V>>,
    len: usize,
    /// Height of the root: 0 when it is a leaf.
    height: usize,
}

impl<K, V> OrdMap<K, V> {
    /// An empty map.
    ///
    /// ```
    /// assert!(cowstore::collections::OrdMap::<u8, u8>::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self {
            root: Arc::new(Node::Leaf(Vec::new())),
            len: 0,
            height: 0,
        }
    }

    /// Number of entries.
    ///
    /// ```
    /// let map: cowstore::collections::OrdMap<_, _> = [(1, 1), (2, 2)].into_iter().collect();
    /// assert_eq!(map.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map has no entries.
    ///
    /// ```
    /// assert!(cowstore::collections::OrdMap::<u8, u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether both maps share their whole tree. O(1); `false` does not mean the contents
    /// differ.
    ///
    /// ```
    /// let a: cowstore::collections::OrdMap<_, _> = [(1, 1)].into_iter().collect();
    /// let b = a.clone();
    /// assert!(a.ptr_eq(&b));
    /// ```
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.root, &other.root)
    }

    /// Iterates over the entries in key order.
    ///
    /// ```
    /// let map: cowstore::collections::OrdMap<_, _> = [(3, 'c'), (1, 'a')].into_iter().collect();
    /// assert_eq!(map.iter().collect::<Vec<_>>(), [(&1, &'a'), (&3, &'c')]);
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter::new(&self.root, 0, self.len)
    }

    /// Iterates over the keys in order.
    ///
    /// ```
    /// let map: cowstore::collections::OrdMap<_, _> = [(3, 'c'), (1, 'a')].into_iter().collect();
    /// assert_eq!(map.keys().rev().collect::<Vec<_>>(), [&3, &1]);
    /// ```
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys(self.iter())
    }

    /// Iterates over the values in key order.
    ///
    /// ```
    /// let map: cowstore::collections::OrdMap<_, _> = [(3, 'c'), (1, 'a')].into_iter().collect();
    /// assert_eq!(map.values().collect::<String>(), "ac");
    /// ```
    pub fn values(&self) -> Values<'_, K, V> {
        Values(self.iter())
    }

    /// The entry with the smallest key.
    ///
    /// ```
    /// let map: cowstore::collections::OrdMap<_, _> = [(3, 'c'), (1, 'a')].into_iter().collect();
    /// assert_eq!(map.first_key_value(), Some((&1, &'a')));
    /// ```
    pub fn first_key_value(&self) -> Option<(&K, &V)> {
        self.iter().next()
    }

    /// The entry with the largest key.
    ///
    /// ```
    /// let map: cowstore::collections::OrdMap<_, _> = [(3, 'c'), (1, 'a')].into_iter().collect();
    /// assert_eq!(map.last_key_value(), Some((&3, &'c')));
    /// ```
    pub fn last_key_value(&self) -> Option<(&K, &V)> {
        self.iter().next_back()
    }

    /// The entry of rank `index` (0 is the smallest key), in O(log n).
    ///
    /// ```
    /// let map: cowstore::collections::OrdMap<_, _> = (0..100).map(|i| (i * 2, ())).collect();
    /// assert_eq!(map.get_index(10).map(|(k, _)| *k), Some(20));
    /// assert_eq!(map.get_index(100), None);
    /// ```
    pub fn get_index(&self, index: usize) -> Option<(&K, &V)> {
        (index < self.len).then(|| Iter::new(&self.root, index, index + 1).next())?
    }
}

impl<K: Ord, V> OrdMap<K, V> {
    /// The value stored for `key`.
    ///
    /// ```
    /// let map: cowstore::collections::OrdMap<String, u32> =
    ///     [("a".to_string(), 1)].into_iter().collect();
    /// assert_eq!(map.get("a"), Some(&1));
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        node::get(&self.root, key).map(|(_, v)| v)
    }

    /// The stored key and value for `key`.
    ///
    /// ```
    /// let map: cowstore::collections::OrdMap<_, _> = [("a", 1)].into_iter().collect();
    /// assert_eq!(map.get_key_value("a"), Some((&"a", &1)));
    /// ```
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        node::get(&self.root, key).map(|(k, v)| (k, v))
    }

    /// Whether `key` has a value.
    ///
    /// ```
    /// let map: cowstore::collections::OrdMap<_, _> = [(1, ())].into_iter().collect();
    /// assert!(map.contains_key(&1));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.get(key).is_some()
    }

    /// Iterates in key order over the entries whose keys fall in `range`, in O(log n) to
    /// start. An empty or inverted range yields nothing.
    ///
    /// ```
    /// let map: cowstore::collections::OrdMap<_, _> = (0..10).map(|i| (i, i)).collect();
    /// assert_eq!(map.range(3..6).map(|(k, _)| *k).collect::<Vec<_>>(), [3, 4, 5]);
    /// assert_eq!(map.range(8..).count(), 2);
    /// assert_eq!(map.range(..=1).next_back(), Some((&1, &1)));
    /// ```
    pub fn range<Q, R>(&self, range: R) -> Iter<'_, K, V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
        R: RangeBounds<Q>,
    {
        let start = match range.start_bound() {
            Bound::Included(q) => node::rank(&self.root, q, false),
            Bound::Excluded(q) => node::rank(&self.root, q, true),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(q) => node::rank(&self.root, q, true),
            Bound::Excluded(q) => node::rank(&self.root, q, false),
            Bound::Unbounded => self.len,
        };
        Iter::new(&self.root, start, end)
    }
}

impl<K: Ord + Clone, V: Clone> OrdMap<K, V> {
    /// Inserts `value` for `key`; returns the value it replaces. Copies only the shared nodes
    /// on the path to the entry.
    ///
    /// ```
    /// let mut map = cowstore::collections::OrdMap::new();
    /// assert_eq!(map.insert(1, "a"), None);
    /// assert_eq!(map.insert(1, "b"), Some("a"));
    /// ```
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let inserted = node::insert(&mut self.root, key, value);
        if inserted.old.is_none() {
            self.len += 1;
        }
        if let Some((sep, right)) = inserted.split {
            let left = Child {
                len: self.len - right.len,
                node: Arc::clone(&self.root),
            };
            self.root = Arc::new(Node::Branch(Branch {
                keys: vec![sep],
                children: vec![left, right],
            }));
            self.height += 1;
        }
        inserted.old
    }

    /// Removes `key`; returns its value. A missing key copies nothing.
    ///
    /// ```
    /// let mut map: cowstore::collections::OrdMap<_, _> = [(1, "a")].into_iter().collect();
    /// assert_eq!(map.remove(&1), Some("a"));
    /// assert_eq!(map.remove(&1), None);
    /// ```
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes `key`; returns the stored key and its value.
    ///
    /// ```
    /// let mut map: cowstore::collections::OrdMap<_, _> = [("a", 1)].into_iter().collect();
    /// assert_eq!(map.remove_entry("a"), Some(("a", 1)));
    /// ```
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        node::get(&self.root, key)?;
        let removed = node::remove(&mut self.root, key);
        self.len -= 1;
        // A branch root left with one child gives way to it.
        while let Node::Branch(b) = &*self.root {
            if b.children.len() != 1 {
                break;
            }
            self.root = Arc::clone(&b.children[0].node);
            self.height -= 1;
        }
        Some(removed)
    }

    /// Entry-style update: `f` sees the current value (if any) and returns the new one, or
    /// `None` to remove the key. Returns the previous value.
    ///
    /// ```
    /// let mut stock = cowstore::collections::OrdMap::new();
    /// stock.alter("apple", |n: Option<&u32>| Some(n.copied().unwrap_or(0) + 5));
    /// stock.alter("apple", |n| n.and_then(|n| n.checked_sub(5)).filter(|n| *n > 0));
    /// assert!(stock.is_empty());
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
    /// let empty = cowstore::collections::OrdMap::new();
    /// let one = empty.update(1, "one");
    /// assert_eq!((empty.len(), one.len()), (0, 1));
    /// ```
    #[must_use]
    pub fn update(&self, key: K, value: V) -> Self {
        let mut next = self.clone();
        next.insert(key, value);
        next
    }

    /// A copy of this map without `key`; `self` is unchanged. O(log n).
    ///
    /// ```
    /// let map: cowstore::collections::OrdMap<_, _> = [(1, 'a'), (2, 'b')].into_iter().collect();
    /// assert_eq!(map.without(&1).len(), 1);
    /// ```
    #[must_use]
    pub fn without<Q>(&self, key: &Q) -> Self
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let mut next = self.clone();
        next.remove(key);
        next
    }
}

impl<K: Ord, V: PartialEq> OrdMap<K, V> {
    /// The entries added, removed and changed from `self` (the old version) to `new`, in key
    /// order.
    ///
    /// Subtrees the two versions share are skipped without being visited: for a version
    /// derived from the other by a few updates the cost is O(changes · log n). Exact wherever
    /// the changes sit, including next to shared leaves.
    ///
    /// ```
    /// use cowstore::collections::{DiffItem, OrdMap};
    ///
    /// let old: OrdMap<u32, u32> = (0..100_000).map(|i| (i, i)).collect();
    /// let mut new = old.clone();
    /// new.insert(500, 0);
    /// new.remove(&501);
    /// let changes: Vec<_> = old.diff(&new).collect();
    /// assert_eq!(
    ///     changes,
    ///     [
    ///         DiffItem::Changed { key: &500, old: &500, new: &0 },
    ///         DiffItem::Removed { key: &501, value: &501 },
    ///     ]
    /// );
    /// ```
    pub fn diff<'a>(&'a self, new: &'a Self) -> Diff<'a, K, V> {
        let mut out = Vec::new();
        let _ = diff::walk((&self.root, self.height), (&new.root, new.height), |item| {
            out.push(item);
            ControlFlow::Continue(())
        });
        Diff::new(out)
    }
}

impl<K, V> Clone for OrdMap<K, V> {
    /// O(1): shares the whole tree.
    fn clone(&self) -> Self {
        Self {
            root: Arc::clone(&self.root),
            len: self.len,
            height: self.height,
        }
    }
}

impl<K, V> Default for OrdMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord, V: PartialEq> PartialEq for OrdMap<K, V> {
    /// Subtrees shared by both maps are equal without being walked.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
            && diff::walk(
                (&self.root, self.height),
                (&other.root, other.height),
                |_| ControlFlow::Break(()),
            )
            .is_continue()
    }
}

impl<K: Ord, V: Eq> Eq for OrdMap<K, V> {}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for OrdMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Ord + Clone, V: Clone> FromIterator<(K, V)> for OrdMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        map.extend(iter);
        map
    }
}

impl<K: Ord + Clone, V: Clone> Extend<(K, V)> for OrdMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a, K, V> IntoIterator for &'a OrdMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<K, V, Q> std::ops::Index<&Q> for OrdMap<K, V>
where
    K: Ord + Borrow<Q>,
    Q: Ord + ?Sized,
{
    type Output = V;

    /// # Panics
    ///
    /// If `key` has no value.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("key not in OrdMap")
    }
}

impl<K: Ord + Clone, V: Clone, const N: usize> From<[(K, V); N]> for OrdMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the B+-tree invariants: sizes, separators, fill, equal leaf depth.
    fn check<K: Ord + Clone + fmt::Debug, V>(map: &OrdMap<K, V>) {
        fn walk<K: Ord + Clone + fmt::Debug, V>(
            node: &Node<K, V>,
            height: usize,
            is_root: bool,
            lo: Option<&K>,
            hi: Option<&K>,
        ) -> usize {
            if !is_root {
                assert!(node.width() >= node::MIN, "underfull node");
            }
            assert!(node.width() <= node::MAX, "overfull node");
            match node {
                Node::Leaf(entries) => {
                    assert_eq!(height, 0, "leaves at equal depth");
                    assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
                    for (k, _) in entries {
                        assert!(lo.is_none_or(|lo| lo <= k) && hi.is_none_or(|hi| k < hi));
                    }
                    entries.len()
                }
                Node::Branch(b) => {
                    assert!(height > 0);
                    assert_eq!(b.keys.len() + 1, b.children.len());
                    if is_root {
                        assert!(b.children.len() >= 2);
                    }
                    let mut total = 0;
                    for (i, c) in b.children.iter().enumerate() {
                        let lo = if i == 0 { lo } else { Some(&b.keys[i - 1]) };
                        let hi = b.keys.get(i).or(hi);
                        let n = walk(&c.node, height - 1, false, lo, hi);
                        assert_eq!(n, c.len, "child size");
                        total += n;
                    }
                    total
                }
            }
        }
        assert_eq!(walk(&map.root, map.height, true, None, None), map.len);
    }

    #[test]
    fn invariants_hold_through_inserts_and_removes() {
        let mut map = OrdMap::new();
        let mut x = 1u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % 5000
        };
        for round in 0..20_000 {
            let k = next();
            if round % 3 == 0 {
                map.remove(&k);
            } else {
                map.insert(k, round);
            }
            if round % 997 == 0 {
                check(&map);
            }
        }
        check(&map);
        for k in 0..5000 {
            map.remove(&k);
            if k % 251 == 0 {
                check(&map);
            }
        }
        assert!(map.is_empty());
        check(&map);
    }
}
