//! [`PrefixMap`]: a persistent trie keyed by byte strings (or bit strings) with longest-prefix
//! match — routing tables, IP prefix lists, URL path prefixes.

mod node;

use std::fmt;
use std::sync::Arc;

use self::node::{Node, mask};

/// A persistent prefix map: a trie with an 8-bit stride, one node per prefix byte, with
/// longest-prefix match.
///
/// Prefixes are bit strings: [`insert`](Self::insert) takes whole bytes (`/users/`, or the
/// octets of `10.1.0.0/16`), [`insert_bits`](Self::insert_bits) any bit length (`10.0.0.0/12`).
/// [`longest_match`](Self::longest_match) finds the most specific prefix of a key in one walk
/// down the trie: at most one node per key byte, whatever the number of prefixes.
///
/// Like the other maps, [`clone`](Clone::clone) is O(1) and an update copies only the nodes on
/// its path: a route table of 50K prefixes changes one route without a rebuild while readers
/// keep using the previous version.
///
/// # Limits
///
/// The trie has no path compression: a prefix of `b` bytes makes `b` nodes (shared with every
/// prefix that starts the same way). It suits IP prefixes and URL-path prefixes of up to a few
/// hundred bytes; very long keys (tens of thousands of bytes) make deep chains whose
/// recursive drop and removal use stack in proportion to the key length.
///
/// ```
/// use cowstore::collections::PrefixMap;
///
/// let mut routes = PrefixMap::new();
/// routes.insert_bits(&[10, 0, 0, 0], 8, "core");
/// routes.insert_bits(&[10, 1, 0, 0], 16, "edge");
/// routes.insert_bits(&[10, 1, 128, 0], 17, "edge-b");
/// assert_eq!(routes.longest_match(&[10, 1, 200, 3]), Some((17, &"edge-b")));
/// assert_eq!(routes.longest_match(&[10, 1, 3, 4]), Some((16, &"edge")));
/// assert_eq!(routes.longest_match(&[10, 9, 9, 9]), Some((8, &"core")));
/// assert_eq!(routes.longest_match(&[192, 168, 0, 1]), None);
/// ```
pub struct PrefixMap<V> {
    root: Arc<Node<V>>,
    len: usize,
}

/// Splits a prefix of `bits` bits into its whole bytes and the trailing `(r, bits)` part.
fn split(key: &[u8], bits: u32) -> (&[u8], u8, u8) {
    assert!(
        bits as usize <= key.len() * 8,
        "prefix of {bits} bits is longer than its {} bytes",
        key.len()
    );
    let whole = (bits / 8) as usize;
    let r = (bits % 8) as u8;
    let tail = if r == 0 { 0 } else { key[whole] & mask(r) };
    (&key[..whole], r, tail)
}

impl<V> PrefixMap<V> {
    /// An empty map.
    ///
    /// ```
    /// assert!(cowstore::collections::PrefixMap::<u8>::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self {
            root: Arc::new(Node::empty()),
            len: 0,
        }
    }

    /// Number of prefixes.
    ///
    /// ```
    /// let mut map = cowstore::collections::PrefixMap::new();
    /// map.insert(b"/a", 1);
    /// map.insert(b"/a/b", 2);
    /// assert_eq!(map.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map has no prefixes.
    ///
    /// ```
    /// assert!(cowstore::collections::PrefixMap::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether both maps share their whole trie. O(1).
    ///
    /// ```
    /// let map = cowstore::collections::PrefixMap::<u8>::new();
    /// assert!(map.ptr_eq(&map.clone()));
    /// ```
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.root, &other.root)
    }

    /// The value of the longest stored prefix of `key`, with that prefix's length in bits.
    ///
    /// ```
    /// let mut paths = cowstore::collections::PrefixMap::new();
    /// paths.insert(b"/", "root");
    /// paths.insert(b"/api/", "api");
    /// paths.insert(b"/api/v2/", "api v2");
    /// assert_eq!(paths.longest_match(b"/api/v2/users"), Some((64, &"api v2")));
    /// assert_eq!(paths.longest_match(b"/api/v1/users"), Some((40, &"api")));
    /// assert_eq!(paths.longest_match(b"/index.html"), Some((8, &"root")));
    /// ```
    #[inline]
    pub fn longest_match(&self, key: &[u8]) -> Option<(u32, &V)> {
        let mut best = None;
        let mut node = &*self.root;
        let mut depth = 0;
        loop {
            let next = key.get(depth).copied();
            if !node.values.is_empty() {
                if let Some((r, v)) = node.best_here(next) {
                    best = Some((depth as u32 * 8 + u32::from(r), v));
                }
            }
            match next.and_then(|b| node.child(b)) {
                Some(child) => node = child,
                None => return best,
            }
            depth += 1;
        }
    }

    /// The value stored for exactly the whole-byte prefix `prefix`.
    ///
    /// ```
    /// let mut map = cowstore::collections::PrefixMap::new();
    /// map.insert(b"ab", 1);
    /// assert_eq!(map.get(b"ab"), Some(&1));
    /// assert_eq!(map.get(b"a"), None);
    /// ```
    pub fn get(&self, prefix: &[u8]) -> Option<&V> {
        self.get_bits(prefix, prefix.len() as u32 * 8)
    }

    /// The value stored for exactly the first `bits` bits of `prefix`.
    ///
    /// # Panics
    ///
    /// If `bits` exceeds the bits of `prefix`.
    ///
    /// ```
    /// let mut map = cowstore::collections::PrefixMap::new();
    /// map.insert_bits(&[172, 16, 0, 0], 12, "private");
    /// assert_eq!(map.get_bits(&[172, 31, 0, 0], 12), Some(&"private")); // same 12 bits
    /// assert_eq!(map.get_bits(&[172, 16, 0, 0], 16), None);
    /// ```
    pub fn get_bits(&self, prefix: &[u8], bits: u32) -> Option<&V> {
        let (whole, r, tail) = split(prefix, bits);
        let mut node = &*self.root;
        for &b in whole {
            node = node.child(b)?;
        }
        node.value(r, tail)
    }

    /// Every stored prefix as `(bytes, bits, value)`, in lexicographic order of the bits
    /// (shorter first when one is a prefix of another). The trailing bits of the last byte
    /// past `bits` are zero.
    ///
    /// ```
    /// let mut map = cowstore::collections::PrefixMap::new();
    /// map.insert(b"b", 2);
    /// map.insert(b"a", 1);
    /// map.insert_bits(&[0x60], 3, 0);
    /// let all: Vec<_> = map.iter().collect();
    /// assert_eq!(all, [(vec![0x60], 3, &0), (b"a".to_vec(), 8, &1), (b"b".to_vec(), 8, &2)]);
    /// ```
    pub fn iter(&self) -> Iter<'_, V> {
        let mut out = Vec::with_capacity(self.len);
        let mut path = Vec::new();
        collect(&self.root, &mut path, &mut out);
        Iter {
            items: out.into_iter(),
        }
    }
}

/// Pre-order walk: values of a node (by bit string), interleaved with its children.
fn collect<'a, V>(node: &'a Node<V>, path: &mut Vec<u8>, out: &mut Vec<(Vec<u8>, u32, &'a V)>) {
    let depth_bits = path.len() as u32 * 8;
    // Values sort by their bit string: `(bits << (8 - r), r)` orders a shorter prefix first.
    let mut values: Vec<_> = node.values.iter().collect();
    values.sort_by_key(|(r, bits, _)| (*bits, *r));
    let children = node.children();
    let (mut vi, mut ci) = (0, 0);
    while vi < values.len() || ci < children.len() {
        // A value with tail bits `t` (r bits) precedes child byte `c` iff `t <= c`.
        let take_value = match (values.get(vi), children.get(ci)) {
            (Some((_, t, _)), Some((c, _))) => t <= c,
            (Some(_), None) => true,
            _ => false,
        };
        if take_value {
            let (r, t, v) = values[vi];
            let mut key = path.clone();
            if *r > 0 {
                key.push(*t);
            }
            out.push((key, depth_bits + u32::from(*r), v));
            vi += 1;
        } else {
            let (c, child) = children[ci];
            path.push(c);
            collect(child, path, out);
            path.pop();
            ci += 1;
        }
    }
}

impl<V: Clone> PrefixMap<V> {
    /// Stores `value` for the whole-byte prefix `prefix`; returns the value it replaces.
    ///
    /// ```
    /// let mut map = cowstore::collections::PrefixMap::new();
    /// assert_eq!(map.insert(b"/api", 1), None);
    /// assert_eq!(map.insert(b"/api", 2), Some(1));
    /// ```
    pub fn insert(&mut self, prefix: &[u8], value: V) -> Option<V> {
        self.insert_bits(prefix, prefix.len() as u32 * 8, value)
    }

    /// Stores `value` for the first `bits` bits of `prefix` (bits past them are ignored);
    /// returns the value it replaces. Copies only the shared nodes on the path.
    ///
    /// # Panics
    ///
    /// If `bits` exceeds the bits of `prefix`.
    ///
    /// ```
    /// let mut map = cowstore::collections::PrefixMap::new();
    /// map.insert_bits(&[0b1010_0000], 3, "101");
    /// assert_eq!(map.longest_match(&[0b1011_1111]), Some((3, &"101")));
    /// assert_eq!(map.longest_match(&[0b1000_0000]), None);
    /// ```
    pub fn insert_bits(&mut self, prefix: &[u8], bits: u32, value: V) -> Option<V> {
        let (whole, r, tail) = split(prefix, bits);
        let mut node = Arc::make_mut(&mut self.root);
        for &b in whole {
            node = node.child_mut(b);
        }
        let old = node.set_value(r, tail, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes the whole-byte prefix `prefix`; returns its value. A missing prefix copies
    /// nothing.
    ///
    /// ```
    /// let mut map = cowstore::collections::PrefixMap::new();
    /// map.insert(b"/a", 1);
    /// assert_eq!(map.remove(b"/a"), Some(1));
    /// assert!(map.is_empty());
    /// ```
    pub fn remove(&mut self, prefix: &[u8]) -> Option<V> {
        self.remove_bits(prefix, prefix.len() as u32 * 8)
    }

    /// Removes the prefix of `bits` bits; returns its value. Nodes left empty are pruned.
    ///
    /// # Panics
    ///
    /// If `bits` exceeds the bits of `prefix`.
    ///
    /// ```
    /// let mut map = cowstore::collections::PrefixMap::new();
    /// map.insert_bits(&[10, 0, 0, 0], 8, 'a');
    /// assert_eq!(map.remove_bits(&[10, 0, 0, 0], 16), None);
    /// assert_eq!(map.remove_bits(&[10, 0, 0, 0], 8), Some('a'));
    /// ```
    pub fn remove_bits(&mut self, prefix: &[u8], bits: u32) -> Option<V> {
        self.get_bits(prefix, bits)?;
        let (whole, r, tail) = split(prefix, bits);
        let removed = remove_at(Arc::make_mut(&mut self.root), whole, r, tail);
        self.len -= 1;
        Some(removed)
    }
}

/// Removes a present value below `node`, pruning nodes that end up empty.
fn remove_at<V: Clone>(node: &mut Node<V>, whole: &[u8], r: u8, tail: u8) -> V {
    match whole.split_first() {
        None => node.take_value(r, tail).expect("removed prefix is present"),
        Some((&b, rest)) => {
            let child = node.existing_child_mut(b).expect("path exists");
            let removed = remove_at(child, rest, r, tail);
            if child.is_empty() {
                node.remove_child(b);
            }
            removed
        }
    }
}

/// Iterator over a [`PrefixMap`]'s `(bytes, bits, value)` triples, from
/// [`PrefixMap::iter`]. Collected when created.
///
/// ```
/// let mut map = cowstore::collections::PrefixMap::new();
/// map.insert(b"x", 1);
/// assert_eq!(map.iter().len(), 1);
/// ```
pub struct Iter<'a, V> {
    items: std::vec::IntoIter<(Vec<u8>, u32, &'a V)>,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (Vec<u8>, u32, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        self.items.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl<V> ExactSizeIterator for Iter<'_, V> {}

impl<V: fmt::Debug> fmt::Debug for Iter<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.items.as_slice()).finish()
    }
}

impl<V> Clone for PrefixMap<V> {
    /// O(1): shares the whole trie.
    fn clone(&self) -> Self {
        Self {
            root: Arc::clone(&self.root),
            len: self.len,
        }
    }
}

impl<V> Default for PrefixMap<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: PartialEq> PartialEq for PrefixMap<V> {
    /// Subtrees shared by both maps are equal without being walked.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && node::equal(&self.root, &other.root)
    }
}

impl<V: Eq> Eq for PrefixMap<V> {}

impl<V: fmt::Debug> fmt::Debug for PrefixMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (bytes, bits, v) in self.iter() {
            map.entry(&format_args!("{bytes:02x?}/{bits}"), v);
        }
        map.finish()
    }
}

impl<K: AsRef<[u8]>, V: Clone> FromIterator<(K, V)> for PrefixMap<V> {
    /// Collects whole-byte prefixes.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        map.extend(iter);
        map
    }
}

impl<K: AsRef<[u8]>, V: Clone> Extend<(K, V)> for PrefixMap<V> {
    /// Inserts whole-byte prefixes.
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k.as_ref(), v);
        }
    }
}
