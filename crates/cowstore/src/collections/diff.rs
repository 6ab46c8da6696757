//! The result of comparing two versions of a map: [`DiffItem`] and the [`Diff`] iterator.

use std::fmt;

/// One difference between an old and a new version of a map.
///
/// ```
/// use cowstore::collections::{DiffItem, OrdMap};
///
/// let old: OrdMap<&str, i32> = [("a", 1), ("b", 2)].into_iter().collect();
/// let mut new = old.clone();
/// new.insert("b", 20);
/// new.insert("c", 3);
/// new.remove("a");
/// let changes: Vec<_> = old.diff(&new).collect();
/// assert_eq!(
///     changes,
///     [
///         DiffItem::Removed { key: &"a", value: &1 },
///         DiffItem::Changed { key: &"b", old: &2, new: &20 },
///         DiffItem::Added { key: &"c", value: &3 },
///     ]
/// );
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiffItem<'a, K, V> {
    /// The key is only in the new version.
    Added {
        /// The key.
        key: &'a K,
        /// Its value in the new version.
        value: &'a V,
    },
    /// The key is only in the old version.
    Removed {
        /// The key.
        key: &'a K,
        /// Its value in the old version.
        value: &'a V,
    },
    /// The key is in both versions with unequal values.
    Changed {
        /// The key (as stored in the new version).
        key: &'a K,
        /// Its value in the old version.
        old: &'a V,
        /// Its value in the new version.
        new: &'a V,
    },
}

impl<'a, K, V> DiffItem<'a, K, V> {
    /// The key this difference is about.
    ///
    /// ```
    /// use cowstore::collections::DiffItem;
    /// let item = DiffItem::Added { key: &1, value: &"one" };
    /// assert_eq!(item.key(), &1);
    /// ```
    pub fn key(&self) -> &'a K {
        match *self {
            Self::Added { key, .. } | Self::Removed { key, .. } | Self::Changed { key, .. } => key,
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for DiffItem<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Added { key, value } => write!(f, "Added({key:?}: {value:?})"),
            Self::Removed { key, value } => write!(f, "Removed({key:?}: {value:?})"),
            Self::Changed { key, old, new } => write!(f, "Changed({key:?}: {old:?} -> {new:?})"),
        }
    }
}

/// The differences between two versions of a map, from `HashMap::diff` or `OrdMap::diff`.
///
/// The comparison runs when the diff is created and visits only subtrees that the two versions
/// do not share, so its cost grows with the number of changes, not with the size of the maps.
///
/// ```
/// use cowstore::collections::HashMap;
///
/// let old: HashMap<u32, u32> = (0..10_000).map(|i| (i, i)).collect();
/// let mut new = old.clone();
/// new.insert(7, 70);
/// let diff = old.diff(&new);
/// assert_eq!(diff.len(), 1);
/// ```
pub struct Diff<'a, K, V> {
    items: std::vec::IntoIter<DiffItem<'a, K, V>>,
}

impl<'a, K, V> Diff<'a, K, V> {
    pub(crate) fn new(items: Vec<DiffItem<'a, K, V>>) -> Self {
        Self {
            items: items.into_iter(),
        }
    }
}

impl<'a, K, V> Iterator for Diff<'a, K, V> {
    type Item = DiffItem<'a, K, V>;

    fn next(&mut self) -> Option<Self::Item> {
        self.items.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl<K, V> ExactSizeIterator for Diff<'_, K, V> {}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Diff<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.items.as_slice()).finish()
    }
}
