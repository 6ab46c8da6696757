//! Double-ended iterators over an [`OrdMap`](super::OrdMap), built on a cursor that can start
//! at any position (by rank) in O(log n).

use std::fmt;
use std::iter::FusedIterator;
use std::sync::Arc;

use super::node::{Child, Node};

/// A position in the in-order sequence of entries: the path of branch positions from the root
/// and an index into the current leaf (which may equal the leaf's length).
struct Cursor<'a, K, V> {
    path: Vec<(&'a [Child<K, V>], usize)>,
    leaf: &'a [(K, V)],
    index: usize,
}

impl<K, V> Clone for Cursor<'_, K, V> {
    fn clone(&self) -> Self {
        Self {
            path: self.path.clone(),
            leaf: self.leaf,
            index: self.index,
        }
    }
}

impl<'a, K, V> Cursor<'a, K, V> {
    /// The cursor before the entry of rank `rank` (`rank` may equal the length).
    fn seek(root: &'a Node<K, V>, mut rank: usize) -> Self {
        let mut path = Vec::new();
        let mut node = root;
        loop {
            match node {
                Node::Leaf(entries) => {
                    return Self {
                        path,
                        leaf: entries,
                        index: rank,
                    };
                }
                Node::Branch(b) => {
                    let mut i = 0;
                    while i + 1 < b.children.len() && rank >= b.children[i].len {
                        rank -= b.children[i].len;
                        i += 1;
                    }
                    path.push((&b.children[..], i));
                    node = &b.children[i].node;
                }
            }
        }
    }

    /// Descends from `node` to its first (or last) leaf.
    fn descend(&mut self, mut node: &'a Arc<Node<K, V>>, last: bool) {
        loop {
            match &**node {
                Node::Leaf(entries) => {
                    self.leaf = entries;
                    self.index = if last { entries.len() } else { 0 };
                    return;
                }
                Node::Branch(b) => {
                    let i = if last { b.children.len() - 1 } else { 0 };
                    self.path.push((&b.children[..], i));
                    node = &b.children[i].node;
                }
            }
        }
    }

    /// The entry after the cursor; moves past it. The caller guarantees there is one.
    fn next(&mut self) -> &'a (K, V) {
        while self.index == self.leaf.len() {
            // Up to the first ancestor with a next child, then down its leftmost path.
            loop {
                let (children, i) = self.path.pop().expect("cursor moved past the end");
                if i + 1 < children.len() {
                    self.path.push((children, i + 1));
                    self.descend(&children[i + 1].node, false);
                    break;
                }
            }
        }
        self.index += 1;
        &self.leaf[self.index - 1]
    }

    /// The entry before the cursor; moves before it. The caller guarantees there is one.
    fn prev(&mut self) -> &'a (K, V) {
        while self.index == 0 {
            loop {
                let (children, i) = self.path.pop().expect("cursor moved past the start");
                if i > 0 {
                    self.path.push((children, i - 1));
                    self.descend(&children[i - 1].node, true);
                    break;
                }
            }
        }
        self.index -= 1;
        &self.leaf[self.index]
    }
}

/// Iterator over the entries of an [`OrdMap`](super::OrdMap) in key order, from
/// [`OrdMap::iter`](super::OrdMap::iter) or [`OrdMap::range`](super::OrdMap::range).
///
/// ```
/// let map: cowstore::collections::OrdMap<_, _> = (1..=5).map(|i| (i, i * i)).collect();
/// let mut range = map.range(2..4);
/// assert_eq!(range.len(), 2);
/// assert_eq!(range.next(), Some((&2, &4)));
/// assert_eq!(range.next_back(), Some((&3, &9)));
/// assert_eq!(range.next(), None);
/// ```
pub struct Iter<'a, K, V> {
    front: Cursor<'a, K, V>,
    back: Cursor<'a, K, V>,
    remaining: usize,
}

impl<'a, K, V> Iter<'a, K, V> {
    /// The entries of rank `start..end`.
    pub(crate) fn new(root: &'a Node<K, V>, start: usize, end: usize) -> Self {
        Self {
            front: Cursor::seek(root, start),
            back: Cursor::seek(root, end.max(start)),
            remaining: end.saturating_sub(start),
        }
    }
}

impl<K, V> Clone for Iter<'_, K, V> {
    fn clone(&self) -> Self {
        Self {
            front: self.front.clone(),
            back: self.back.clone(),
            remaining: self.remaining,
        }
    }
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let (k, v) = self.front.next();
        Some((k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> DoubleEndedIterator for Iter<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let (k, v) = self.back.prev();
        Some((k, v))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}
impl<K, V> FusedIterator for Iter<'_, K, V> {}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// Iterator over the keys of an [`OrdMap`](super::OrdMap) in order, from
/// [`OrdMap::keys`](super::OrdMap::keys).
///
/// ```
/// let map: cowstore::collections::OrdMap<_, _> = [(2, 'b'), (1, 'a')].into_iter().collect();
/// assert_eq!(map.keys().copied().collect::<Vec<_>>(), [1, 2]);
/// ```
pub struct Keys<'a, K, V>(pub(super) Iter<'a, K, V>);

impl<'a, K, V> Iterator for Keys<'a, K, V> {
    type Item = &'a K;

    fn next(&mut self) -> Option<&'a K> {
        self.0.next().map(|(k, _)| k)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<K, V> DoubleEndedIterator for Keys<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, _)| k)
    }
}

impl<K, V> ExactSizeIterator for Keys<'_, K, V> {}
impl<K, V> FusedIterator for Keys<'_, K, V> {}

impl<K: fmt::Debug, V> fmt::Debug for Keys<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.clone().map(|(k, _)| k))
            .finish()
    }
}

/// Iterator over the values of an [`OrdMap`](super::OrdMap) in key order, from
/// [`OrdMap::values`](super::OrdMap::values).
///
/// ```
/// let map: cowstore::collections::OrdMap<_, _> = [(2, 'b'), (1, 'a')].into_iter().collect();
/// assert_eq!(map.values().collect::<String>(), "ab");
/// ```
pub struct Values<'a, K, V>(pub(super) Iter<'a, K, V>);

impl<'a, K, V> Iterator for Values<'a, K, V> {
    type Item = &'a V;

    fn next(&mut self) -> Option<&'a V> {
        self.0.next().map(|(_, v)| v)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<K, V> DoubleEndedIterator for Values<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(_, v)| v)
    }
}

impl<K, V> ExactSizeIterator for Values<'_, K, V> {}
impl<K, V> FusedIterator for Values<'_, K, V> {}

impl<K, V: fmt::Debug> fmt::Debug for Values<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.clone().map(|(_, v)| v))
            .finish()
    }
}
