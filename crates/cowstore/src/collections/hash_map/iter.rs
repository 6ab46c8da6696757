//! Iterators over a [`HashMap`](super::HashMap).

use std::fmt;
use std::iter::FusedIterator;
use std::slice;

use super::node::{Entry, Node, Slot};

/// Depth-first walk over the entries of a (sub-)trie.
pub(crate) struct Entries<'a, K, V> {
    current: slice::Iter<'a, Slot<K, V>>,
    stack: Vec<slice::Iter<'a, Slot<K, V>>>,
}

impl<'a, K, V> Entries<'a, K, V> {
    pub(crate) fn new(root: &'a Node<K, V>) -> Self {
        Self {
            current: root.slots.iter(),
            stack: Vec::new(),
        }
    }
}

impl<K, V> Clone for Entries<'_, K, V> {
    fn clone(&self) -> Self {
        Self {
            current: self.current.clone(),
            stack: self.stack.clone(),
        }
    }
}

impl<'a, K, V> Iterator for Entries<'a, K, V> {
    type Item = &'a Entry<K, V>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.current.next() {
                Some(Slot::Entry(e)) => return Some(e),
                Some(Slot::Child(child)) => {
                    let parent = std::mem::replace(&mut self.current, child.slots.iter());
                    self.stack.push(parent);
                }
                Some(Slot::Vacant) => {}
                None => self.current = self.stack.pop()?,
            }
        }
    }
}

/// Iterator over the entries of a [`HashMap`](super::HashMap), from
/// [`HashMap::iter`](super::HashMap::iter).
///
/// ```
/// let map: cowstore::collections::HashMap<_, _> = [(1, 2)].into_iter().collect();
/// let mut iter = map.iter();
/// assert_eq!(iter.len(), 1);
/// assert_eq!(iter.next(), Some((&1, &2)));
/// ```
pub struct Iter<'a, K, V> {
    entries: Entries<'a, K, V>,
    remaining: usize,
}

impl<'a, K, V> Iter<'a, K, V> {
    pub(crate) fn new(root: &'a Node<K, V>, len: usize) -> Self {
        Self {
            entries: Entries::new(root),
            remaining: len,
        }
    }
}

impl<K, V> Clone for Iter<'_, K, V> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            remaining: self.remaining,
        }
    }
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let e = self.entries.next()?;
        self.remaining -= 1;
        Some((&e.key, &e.value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}
impl<K, V> FusedIterator for Iter<'_, K, V> {}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// Iterator over the keys of a [`HashMap`](super::HashMap), from
/// [`HashMap::keys`](super::HashMap::keys).
///
/// ```
/// let map: cowstore::collections::HashMap<_, _> = [(1, 2)].into_iter().collect();
/// assert_eq!(map.keys().len(), 1);
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

impl<K, V> ExactSizeIterator for Keys<'_, K, V> {}
impl<K, V> FusedIterator for Keys<'_, K, V> {}

impl<K: fmt::Debug, V> fmt::Debug for Keys<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.clone().map(|(k, _)| k))
            .finish()
    }
}

/// Iterator over the values of a [`HashMap`](super::HashMap), from
/// [`HashMap::values`](super::HashMap::values).
///
/// ```
/// let map: cowstore::collections::HashMap<_, _> = [(1, 2)].into_iter().collect();
/// assert_eq!(map.values().copied().collect::<Vec<_>>(), [2]);
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

impl<K, V> ExactSizeIterator for Values<'_, K, V> {}
impl<K, V> FusedIterator for Values<'_, K, V> {}

impl<K, V: fmt::Debug> fmt::Debug for Values<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.clone().map(|(_, v)| v))
            .finish()
    }
}
