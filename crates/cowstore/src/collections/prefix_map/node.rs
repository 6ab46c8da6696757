//! The trie: one node per byte of prefix (an 8-bit stride). A prefix of `8·d + r` bits
//! (`r < 8`) is stored in the node at depth `d`, as `(r, its r leading bits of byte d)`.
//! Children are a sorted byte list while few, a 256-slot table once many.

use std::sync::Arc;

/// Children kept as a sorted list up to this many; a table above.
const SPARSE_MAX: usize = 16;
/// A table shrinks back to a list below this many children.
const DENSE_MIN: usize = 8;

/// The `r` leading bits of a byte.
#[inline]
pub(crate) fn mask(r: u8) -> u8 {
    if r == 0 { 0 } else { !(0xFF >> r) }
}

#[derive(Clone)]
pub(crate) struct Node<V> {
    /// Prefixes ending in this node: `(extra bits r in 0..8, those bits of the next byte, value)`,
    /// longest first.
    pub(crate) values: Vec<(u8, u8, V)>,
    pub(crate) children: Children<V>,
}

#[derive(Clone)]
pub(crate) enum Children<V> {
    /// Sorted by byte; one buffer, so a lookup scans it and follows the pointer it finds
    /// without touching a second allocation.
    Sparse(Vec<(u8, Arc<Node<V>>)>),
    Dense {
        count: usize,
        table: Box<[Option<Arc<Node<V>>>; 256]>,
    },
}

impl<V> Node<V> {
    pub(crate) fn empty() -> Self {
        Self {
            values: Vec::new(),
            children: Children::Sparse(Vec::new()),
        }
    }

    #[inline]
    pub(crate) fn child(&self, byte: u8) -> Option<&Arc<Node<V>>> {
        match &self.children {
            Children::Sparse(list) => list.iter().find(|(b, _)| *b == byte).map(|(_, n)| n),
            Children::Dense { table, .. } => table[usize::from(byte)].as_ref(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
            && match &self.children {
                Children::Sparse(list) => list.is_empty(),
                Children::Dense { count, .. } => *count == 0,
            }
    }

    /// The value of the longest prefix stored here that matches `next` (the key's byte after
    /// this node, if any).
    #[inline]
    pub(crate) fn best_here(&self, next: Option<u8>) -> Option<(u8, &V)> {
        self.values.iter().find_map(|(r, bits, v)| {
            let hit = *r == 0 || next.is_some_and(|b| b & mask(*r) == *bits);
            hit.then_some((*r, v))
        })
    }

    pub(crate) fn value(&self, r: u8, bits: u8) -> Option<&V> {
        self.values
            .iter()
            .find(|(r2, b2, _)| *r2 == r && *b2 == bits)
            .map(|(_, _, v)| v)
    }

    /// Children in byte order.
    pub(crate) fn children(&self) -> Vec<(u8, &Arc<Node<V>>)> {
        match &self.children {
            Children::Sparse(list) => list.iter().map(|(b, n)| (*b, n)).collect(),
            Children::Dense { table, .. } => table
                .iter()
                .enumerate()
                .filter_map(|(b, n)| Some((b as u8, n.as_ref()?)))
                .collect(),
        }
    }
}

impl<V: Clone> Node<V> {
    /// Sets the value of `(r, bits)`; returns the previous one.
    pub(crate) fn set_value(&mut self, r: u8, bits: u8, value: V) -> Option<V> {
        match self
            .values
            .iter_mut()
            .find(|(r2, b2, _)| *r2 == r && *b2 == bits)
        {
            Some(slot) => Some(std::mem::replace(&mut slot.2, value)),
            None => {
                let at = self
                    .values
                    .partition_point(|(r2, b2, _)| (*r2, *b2) > (r, bits));
                self.values.insert(at, (r, bits, value));
                None
            }
        }
    }

    pub(crate) fn take_value(&mut self, r: u8, bits: u8) -> Option<V> {
        let i = self
            .values
            .iter()
            .position(|(r2, b2, _)| *r2 == r && *b2 == bits)?;
        Some(self.values.remove(i).2)
    }

    /// The child for `byte`, created empty if missing; copied first if shared.
    pub(crate) fn child_mut(&mut self, byte: u8) -> &mut Node<V> {
        if let Children::Sparse(list) = &mut self.children {
            if list.len() >= SPARSE_MAX && list.iter().all(|(b, _)| *b != byte) {
                let mut table: Box<[Option<Arc<Node<V>>>; 256]> =
                    Box::new(std::array::from_fn(|_| None));
                let count = list.len();
                for (b, n) in list.drain(..) {
                    table[usize::from(b)] = Some(n);
                }
                self.children = Children::Dense { count, table };
            }
        }
        let slot = match &mut self.children {
            Children::Sparse(list) => {
                let i = match list.binary_search_by_key(&byte, |(b, _)| *b) {
                    Ok(i) => i,
                    Err(i) => {
                        list.insert(i, (byte, Arc::new(Node::empty())));
                        i
                    }
                };
                &mut list[i].1
            }
            Children::Dense { count, table } => {
                let slot = &mut table[usize::from(byte)];
                if slot.is_none() {
                    *count += 1;
                }
                slot.get_or_insert_with(|| Arc::new(Node::empty()))
            }
        };
        Arc::make_mut(slot)
    }

    /// The existing child for `byte`, copied first if shared.
    pub(crate) fn existing_child_mut(&mut self, byte: u8) -> Option<&mut Node<V>> {
        let slot = match &mut self.children {
            Children::Sparse(list) => {
                let i = list.binary_search_by_key(&byte, |(b, _)| *b).ok()?;
                &mut list[i].1
            }
            Children::Dense { table, .. } => table[usize::from(byte)].as_mut()?,
        };
        Some(Arc::make_mut(slot))
    }

    /// Drops the child for `byte`.
    pub(crate) fn remove_child(&mut self, byte: u8) {
        match &mut self.children {
            Children::Sparse(list) => {
                if let Ok(i) = list.binary_search_by_key(&byte, |(b, _)| *b) {
                    list.remove(i);
                }
            }
            Children::Dense { count, table } => {
                if table[usize::from(byte)].take().is_some() {
                    *count -= 1;
                }
                if *count < DENSE_MIN {
                    let list = (0..=255u8)
                        .filter_map(|b| Some((b, table[usize::from(b)].take()?)))
                        .collect();
                    self.children = Children::Sparse(list);
                }
            }
        }
    }
}

/// Structural equality; shared subtrees are equal without being walked.
pub(crate) fn equal<V: PartialEq>(a: &Arc<Node<V>>, b: &Arc<Node<V>>) -> bool {
    if Arc::ptr_eq(a, b) {
        return true;
    }
    let (ca, cb) = (a.children(), b.children());
    a.values == b.values
        && ca.len() == cb.len()
        && ca
            .iter()
            .zip(&cb)
            .all(|((ba, na), (bb, nb))| ba == bb && equal(na, nb))
}
