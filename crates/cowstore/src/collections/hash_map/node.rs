//! The CHAMP trie: bitmap-compressed 32-way nodes with separate data and node bitmaps.
//!
//! A node is one `Arc<[Slot]>` allocation: its entries first (in bit order of `datamap`), then
//! a gap of vacant slots, then its children in *reverse* bit order of `nodemap` ending at the
//! last slot (as in the CHAMP paper: a child's index is found with one population count, and
//! both regions grow into the gap, so a uniquely owned node takes new entries in place). A
//! child's two bitmaps live in the parent's slot next to the pointer, so a lookup touches one
//! allocation per level. Below the last level (all 64 hash bits used) a node is a *collision
//! node*: bitmaps zero, entries in no particular order.
//!
//! The `Arc` is [`triomphe`]'s: a count and no weak count (nothing here takes a `Weak`). A full
//! node of 32-byte slots is then 8 + 32 × 32 = 1032 bytes, the largest request glibc's
//! per-thread cache serves. With std's two counts (1040 bytes) every full node a path copy
//! allocated or freed went through the central heap, and arrived cold: each locked increment
//! of a child's count then waited on the store of the previous slot, so copies were staged in a
//! warm temporary vector. Now a copy is written straight into its node: shared inserts got
//! 17–26% faster and an entry takes 2–3 bytes less (BENCHMARKS.md, collections runs 6–7).
//!
//! The trie is canonical: a sub-node exists exactly where two or more entries share a hash prefix,
//! so two tries holding the same entries (hashed by the same function) have the same shape. Removal
//! keeps it so by inlining a sub-node that is left with a single entry into its parent.

use std::borrow::Borrow;
use std::mem;
use triomphe::Arc;

use crate::raw::{Kernel, with_popcnt};

/// Bits of the hash consumed per level.
pub(crate) const BITS: u32 = 5;
/// The deepest shift that still indexes by hash bits; deeper nodes are collision nodes.
pub(crate) const MAX_SHIFT: u32 = 60;

/// One key-value pair with its full hash.
#[derive(Clone)]
pub(crate) struct Entry<K, V> {
    pub(crate) hash: u64,
    pub(crate) key: K,
    pub(crate) value: V,
}

/// A slot of a node: an entry, a child, or (transiently, while a uniquely owned node is being
/// rebuilt) nothing.
#[derive(Clone)]
pub(crate) enum Slot<K, V> {
    Entry(Entry<K, V>),
    Child(Node<K, V>),
    Vacant,
}

/// A trie node: its bitmaps and its slots (entries, then children).
pub(crate) struct Node<K, V> {
    pub(crate) datamap: u32,
    pub(crate) nodemap: u32,
    pub(crate) slots: Arc<[Slot<K, V>]>,
}

impl<K, V> Clone for Node<K, V> {
    fn clone(&self) -> Self {
        Self {
            datamap: self.datamap,
            nodemap: self.nodemap,
            slots: Arc::clone(&self.slots),
        }
    }
}

#[inline]
pub(crate) fn bit_of(hash: u64, shift: u32) -> u32 {
    1 << ((hash >> shift) & 31)
}

#[inline(always)]
fn index(map: u32, bit: u32) -> usize {
    (map & (bit - 1)).count_ones() as usize
}

/// Index of the child for `bit` (children are stored last, in reverse bit order).
#[inline(always)]
pub(crate) fn child_index<K, V>(node: &Node<K, V>, bit: u32) -> usize {
    node.slots.len() - 1 - index(node.nodemap, bit)
}

impl<K, V> Node<K, V> {
    pub(crate) fn empty() -> Self {
        Self {
            datamap: 0,
            nodemap: 0,
            slots: Arc::from(Vec::new()),
        }
    }

    /// Number of entries stored directly in this node.
    #[inline]
    pub(crate) fn data_len(&self, shift: u32) -> usize {
        if shift > MAX_SHIFT {
            self.slots.len()
        } else {
            self.datamap.count_ones() as usize
        }
    }

    /// Whether both nodes are the same allocation (and so hold the same entries).
    #[inline]
    pub(crate) fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.slots, &other.slots)
    }

    pub(crate) fn entry_at(&self, i: usize) -> &Entry<K, V> {
        match &self.slots[i] {
            Slot::Entry(e) => e,
            _ => unreachable!("data slot holds no entry"),
        }
    }

    pub(crate) fn child_at(&self, i: usize) -> &Node<K, V> {
        match &self.slots[i] {
            Slot::Child(c) => c,
            _ => unreachable!("node slot holds no child"),
        }
    }

    /// Index of `key`'s entry in a collision node (entries in no particular order).
    fn colliding_index<Q>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.slots
            .iter()
            .position(|s| matches!(s, Slot::Entry(e) if e.key.borrow() == key))
    }

    /// The entry for `key`, whose hash is `hash`. Runs [`get`](Self::get) through
    /// [`with_popcnt`]: each level's index is a population count.
    #[inline]
    pub(crate) fn find<'a, Q>(&'a self, hash: u64, key: &Q) -> Option<&'a Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        with_popcnt(Lookup {
            node: self,
            hash,
            key,
        })
    }

    #[inline(always)]
    pub(crate) fn get<Q>(&self, hash: u64, key: &Q) -> Option<&Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let mut node = self;
        let mut shift = 0;
        loop {
            if shift > MAX_SHIFT {
                return node.colliding_index(key).map(|i| node.entry_at(i));
            }
            let bit = bit_of(hash, shift);
            if node.datamap & bit != 0 {
                // `get` instead of indexing: no panic path on the hot loop.
                return match node.slots.get(index(node.datamap, bit)) {
                    Some(Slot::Entry(e)) if e.hash == hash && e.key.borrow() == key => Some(e),
                    _ => None,
                };
            }
            if node.nodemap & bit == 0 {
                return None;
            }
            // A node whose 32 slots are all children (the top levels of a large map) needs no
            // population count: its child for position p is at 31 - p.
            let i = if node.nodemap == u32::MAX {
                31 - ((hash >> shift) & 31) as usize
            } else {
                child_index(node, bit)
            };
            match node.slots.get(i) {
                Some(Slot::Child(child)) => node = child,
                _ => return None,
            }
            shift += BITS;
        }
    }
}

/// A lookup, as a [`Kernel`] for [`with_popcnt`].
struct Lookup<'a, 'q, K, V, Q: ?Sized> {
    node: &'a Node<K, V>,
    hash: u64,
    key: &'q Q,
}

impl<'a, K, V, Q> Kernel for Lookup<'a, '_, K, V, Q>
where
    K: Borrow<Q>,
    Q: Eq + ?Sized,
{
    type Output = Option<&'a Entry<K, V>>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        self.node.get(self.hash, self.key)
    }
}

/// An insert, as a [`Kernel`] for [`with_popcnt`].
struct Insert<'a, K, V> {
    node: &'a mut Node<K, V>,
    shift: u32,
    entry: Entry<K, V>,
}

impl<K: Clone + Eq, V: Clone> Kernel for Insert<'_, K, V> {
    type Output = Option<V>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        self.node.insert_walk(self.shift, self.entry)
    }
}

/// `Arc::make_mut` for a node's slots: a shared node is copied.
#[inline]
fn make_unique<K: Clone, V: Clone>(slots: &mut Arc<[Slot<K, V>]>) -> &mut [Slot<K, V>] {
    if !Arc::is_unique(slots) {
        *slots = slots.iter().cloned().collect();
    }
    Arc::get_mut(slots).expect("a node just made unique")
}

/// Moves (when uniquely owned) or clones the slots of `old` into a new allocation with slot
/// `remove` taken out and then `insert` placed at its index (indices of the result).
fn splice<K: Clone, V: Clone>(
    old: &mut Arc<[Slot<K, V>]>,
    remove: Option<usize>,
    insert: Option<(usize, Slot<K, V>)>,
) {
    let len = old.len() - usize::from(remove.is_some()) + usize::from(insert.is_some());
    let (at, mut new) = match insert {
        Some((at, slot)) => (at, Some(slot)),
        None => (usize::MAX, None),
    };
    let source = move |i: usize| {
        let j = if i > at { i - 1 } else { i };
        match remove {
            Some(r) if j >= r => j + 1,
            _ => j,
        }
    };
    let rebuilt: Arc<[Slot<K, V>]> = match Arc::get_mut(old) {
        Some(unique) => (0..len)
            .map(|i| {
                if i == at {
                    new.take().unwrap_or(Slot::Vacant)
                } else {
                    mem::replace(&mut unique[source(i)], Slot::Vacant)
                }
            })
            .collect(),
        None => (0..len)
            .map(|i| {
                if i == at {
                    new.take().unwrap_or(Slot::Vacant)
                } else {
                    old[source(i)].clone()
                }
            })
            .collect(),
    };
    *old = rebuilt;
}

/// Takes slot `i` out of a node about to be rebuilt: moved if the node is uniquely owned,
/// cloned otherwise.
fn take_slot<K: Clone, V: Clone>(slots: &mut Arc<[Slot<K, V>]>, i: usize) -> Slot<K, V> {
    match Arc::get_mut(slots) {
        Some(unique) => mem::replace(&mut unique[i], Slot::Vacant),
        None => slots[i].clone(),
    }
}

fn into_entry<K, V>(slot: Slot<K, V>) -> Entry<K, V> {
    match slot {
        Slot::Entry(e) => e,
        _ => unreachable!("data slot holds no entry"),
    }
}

/// A sub-trie at `shift` holding the two entries `a` and `b` (distinct keys).
fn merge<K, V>(a: Entry<K, V>, b: Entry<K, V>, shift: u32) -> Node<K, V> {
    if shift > MAX_SHIFT {
        return Node {
            datamap: 0,
            nodemap: 0,
            slots: [Slot::Entry(a), Slot::Entry(b)].into_iter().collect(),
        };
    }
    let (bit_a, bit_b) = (bit_of(a.hash, shift), bit_of(b.hash, shift));
    if bit_a == bit_b {
        let child = merge(a, b, shift + BITS);
        Node {
            datamap: 0,
            nodemap: bit_a,
            slots: [Slot::Child(child)].into_iter().collect(),
        }
    } else {
        let pair = if bit_a < bit_b {
            [Slot::Entry(a), Slot::Entry(b)]
        } else {
            [Slot::Entry(b), Slot::Entry(a)]
        };
        Node {
            datamap: bit_a | bit_b,
            nodemap: 0,
            slots: pair.into_iter().collect(),
        }
    }
}

impl<K: Clone, V: Clone> Node<K, V> {
    /// Makes the slots uniquely owned with at least `extra` vacant slots in the gap between
    /// the entries and the children. A shared node is copied to the exact size it needs (path
    /// copies stay compact); a unique node that is full grows by an eighth plus one slot (so a
    /// map built by inserts mostly fills gaps in place instead of reallocating a node on every
    /// insert, and wastes little memory).
    #[inline(always)]
    fn reserve(&mut self, extra: usize) {
        let ndata = self.datamap.count_ones() as usize;
        let nnodes = self.nodemap.count_ones() as usize;
        let used = ndata + nnodes;
        let len = self.slots.len();
        // `&mut self` excludes a concurrent clone of our handle, so this stays true below.
        let unique = Arc::is_unique(&self.slots);
        if unique && len - used >= extra {
            return;
        }
        let cap = if unique {
            (used + extra + (used + extra) / 8 + 1).min(32)
        } else {
            used + extra
        };
        let source = |i: usize| {
            if i < ndata {
                Some(i)
            } else if i >= cap - nnodes {
                Some(len - (cap - i))
            } else {
                None
            }
        };
        let rebuilt: Arc<[Slot<K, V>]> = match Arc::get_mut(&mut self.slots) {
            Some(old) => (0..cap)
                .map(|i| {
                    source(i).map_or(Slot::Vacant, |j| mem::replace(&mut old[j], Slot::Vacant))
                })
                .collect(),
            None => (0..cap)
                .map(|i| source(i).map_or(Slot::Vacant, |j| self.slots[j].clone()))
                .collect(),
        };
        self.slots = rebuilt;
    }

    /// The slots, which `reserve` made uniquely owned.
    fn unique_slots(&mut self) -> &mut [Slot<K, V>] {
        Arc::get_mut(&mut self.slots).expect("reserved slots are unique")
    }

    /// The child for `bit` (present), made uniquely owned: copied first if shared.
    #[inline(always)]
    fn unique_child(&mut self, bit: u32) -> &mut Node<K, V> {
        let i = child_index(self, bit);
        match &mut make_unique(&mut self.slots)[i] {
            Slot::Child(child) => child,
            _ => unreachable!("node slot holds no child"),
        }
    }

    /// Inserts an entry for `bit` (a free position).
    #[inline(always)]
    fn insert_data(&mut self, bit: u32, entry: Entry<K, V>) {
        self.reserve(1);
        let (i, ndata) = (index(self.datamap, bit), self.datamap.count_ones() as usize);
        let slots = self.unique_slots();
        // `slots[ndata]` is the first vacant slot of the gap.
        slots[i..=ndata].rotate_right(1);
        slots[i] = Slot::Entry(entry);
        self.datamap |= bit;
    }

    /// Takes out the entry for `bit`.
    #[inline(always)]
    fn remove_data(&mut self, bit: u32) -> Entry<K, V> {
        self.reserve(0);
        let (i, ndata) = (index(self.datamap, bit), self.datamap.count_ones() as usize);
        let slots = self.unique_slots();
        let removed = mem::replace(&mut slots[i], Slot::Vacant);
        slots[i..ndata].rotate_left(1);
        self.datamap ^= bit;
        into_entry(removed)
    }

    /// Inserts a child for `bit` (a free position); needs a vacant slot.
    #[inline(always)]
    fn insert_child(&mut self, bit: u32, child: Node<K, V>) {
        self.reserve(1);
        let len = self.slots.len();
        let nnodes = self.nodemap.count_ones() as usize;
        let at = len - 1 - index(self.nodemap, bit);
        let slots = self.unique_slots();
        // `slots[len - nnodes - 1]` is the last vacant slot of the gap.
        slots[len - nnodes - 1..=at].rotate_left(1);
        slots[at] = Slot::Child(child);
        self.nodemap |= bit;
    }

    /// Takes out the child for `bit`.
    fn remove_child(&mut self, bit: u32) -> Node<K, V> {
        self.reserve(0);
        let len = self.slots.len();
        let nnodes = self.nodemap.count_ones() as usize;
        let at = len - 1 - index(self.nodemap, bit);
        let slots = self.unique_slots();
        let removed = mem::replace(&mut slots[at], Slot::Vacant);
        slots[len - nnodes..=at].rotate_right(1);
        self.nodemap ^= bit;
        match removed {
            Slot::Child(c) => c,
            _ => unreachable!("node slot holds no child"),
        }
    }
}

impl<K: Clone + Eq, V: Clone> Node<K, V> {
    /// Inserts or replaces; returns the previous value. Copies only the nodes on the path that
    /// are shared, and changes uniquely owned ones in place. Runs [`insert_walk`](Self::insert_walk)
    /// through [`with_popcnt`]: every level takes population counts.
    #[inline]
    pub(crate) fn insert(&mut self, shift: u32, entry: Entry<K, V>) -> Option<V> {
        with_popcnt(Insert {
            node: self,
            shift,
            entry,
        })
    }

    /// [`insert`](Self::insert)'s walk: a loop rather than a recursion, so that all of it can
    /// be inlined into the copy compiled with `popcnt`.
    #[inline(always)]
    pub(crate) fn insert_walk(&mut self, shift: u32, entry: Entry<K, V>) -> Option<V> {
        let mut node = self;
        let mut shift = shift;
        loop {
            if shift > MAX_SHIFT {
                return node.insert_colliding(entry);
            }
            let bit = bit_of(entry.hash, shift);
            if node.datamap & bit != 0 {
                let i = index(node.datamap, bit);
                let existing = node.entry_at(i);
                if existing.hash == entry.hash && existing.key == entry.key {
                    return match &mut make_unique(&mut node.slots)[i] {
                        Slot::Entry(e) => Some(mem::replace(&mut e.value, entry.value)),
                        _ => unreachable!("data slot holds no entry"),
                    };
                }
                let old = node.remove_data(bit);
                node.insert_child(bit, merge(old, entry, shift + BITS));
                return None;
            }
            if node.nodemap & bit == 0 {
                node.insert_data(bit, entry);
                return None;
            }
            node = node.unique_child(bit);
            shift += BITS;
        }
    }

    /// Inserts into a collision node (below the last level of hash bits).
    #[cold]
    fn insert_colliding(&mut self, entry: Entry<K, V>) -> Option<V> {
        match self.colliding_index(&entry.key) {
            Some(i) => match &mut make_unique(&mut self.slots)[i] {
                Slot::Entry(e) => Some(mem::replace(&mut e.value, entry.value)),
                _ => unreachable!("collision node holds a non-entry"),
            },
            None => {
                let at = self.slots.len();
                splice(&mut self.slots, None, Some((at, Slot::Entry(entry))));
                None
            }
        }
    }

    /// Removes `key` (whose hash is `hash`) if present; returns its entry. Keeps the trie
    /// canonical: a sub-node left with a single entry is inlined into its parent, and so on up.
    /// Runs [`remove_walk`](Self::remove_walk) through [`with_popcnt`], as inserts and lookups
    /// are.
    #[inline]
    pub(crate) fn remove<Q>(&mut self, hash: u64, key: &Q) -> Option<Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        with_popcnt(Remove {
            node: self,
            hash,
            key,
        })
    }

    /// [`remove`](Self::remove)'s two walks, loops rather than a recursion so that all of it can
    /// be inlined into the copy compiled with `popcnt`. The first reads: it finds the entry
    /// and how far up the removal collapses the trie, and copies nothing if the key is absent.
    /// The second copies the shared nodes down to where the change is made.
    #[inline(always)]
    pub(crate) fn remove_walk<Q>(&mut self, hash: u64, key: &Q) -> Option<Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let plan = self.plan_removal(hash, key)?;
        let stop = plan.collapse_into.unwrap_or(plan.depth);
        let mut node = self;
        let mut shift = 0;
        for _ in 0..stop {
            node = node.unique_child(bit_of(hash, shift));
            shift += BITS;
        }
        Some(match plan.collapse_into {
            None => node.remove_here(shift, hash, key),
            Some(into) => node.remove_collapsing(shift, plan.depth - into, hash, key),
        })
    }

    /// Finds the node holding `key` and where the removal's collapse stops, without changing
    /// anything.
    #[inline(always)]
    fn plan_removal<Q>(&self, hash: u64, key: &Q) -> Option<RemovalPlan>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let mut node = self;
        let mut shift = 0;
        let mut depth = 0;
        // The deepest node so far that would keep a surviving entry inlined into it: the root,
        // or a node that is more than a link to its only child. A link that takes one in is
        // left with a single entry itself, and is inlined further up.
        let mut keeper = 0;
        loop {
            if shift > MAX_SHIFT {
                node.colliding_index(key)?;
                // Collision nodes have no vacant slots: two slots are two entries.
                let leaves_one = node.slots.len() == 2;
                return Some(RemovalPlan::new(depth, leaves_one.then_some(keeper)));
            }
            let bit = bit_of(hash, shift);
            if node.datamap & bit != 0 {
                let e = node.entry_at(index(node.datamap, bit));
                if e.hash != hash || e.key.borrow() != key {
                    return None;
                }
                let leaves_one = depth > 0 && node.nodemap == 0 && node.datamap.count_ones() == 2;
                return Some(RemovalPlan::new(depth, leaves_one.then_some(keeper)));
            }
            if node.nodemap & bit == 0 {
                return None;
            }
            if depth == 0 || node.datamap != 0 || !node.nodemap.is_power_of_two() {
                keeper = depth;
            }
            node = node.child_at(child_index(node, bit));
            shift += BITS;
            depth += 1;
        }
    }

    /// Removes `key` from this node, which holds it and keeps at least one other entry or a
    /// child.
    #[inline(always)]
    fn remove_here<Q>(&mut self, shift: u32, hash: u64, key: &Q) -> Entry<K, V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        if shift > MAX_SHIFT {
            let i = self.colliding_index(key).expect("removed key is present");
            let removed = into_entry(take_slot(&mut self.slots, i));
            splice(&mut self.slots, Some(i), None);
            return removed;
        }
        self.remove_data(bit_of(hash, shift))
    }

    /// Removes `key` from the sub-trie `levels` below this node (at `shift`), which holds just
    /// `key` and one other entry: the sub-trie is taken out and the survivor becomes an entry
    /// of this node. Kept out of the kernel: inlined it was no faster
    /// (`bench-results/collections/remove-kernel/collapse-inlined/`).
    #[cold]
    fn remove_collapsing<Q>(&mut self, shift: u32, levels: u32, hash: u64, key: &Q) -> Entry<K, V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let bit = bit_of(hash, shift);
        let mut sub = self.remove_child(bit);
        // Down the links (nodes whose only slot in use is one child, stored last) to the node
        // holding the two entries, moving what is uniquely owned and cloning what is shared.
        for _ in 1..levels {
            let last = sub.slots.len() - 1;
            sub = match take_slot(&mut sub.slots, last) {
                Slot::Child(child) => child,
                _ => unreachable!("a link's last slot holds no child"),
            };
        }
        let first = into_entry(take_slot(&mut sub.slots, 0));
        let second = into_entry(take_slot(&mut sub.slots, 1));
        let (removed, survivor) = if first.key.borrow() == key {
            (first, second)
        } else {
            (second, first)
        };
        self.insert_data(bit, survivor);
        removed
    }
}

/// Where a removal changes the trie, found before anything is copied.
struct RemovalPlan {
    /// Depth of the node holding the entry (the root is at depth 0).
    depth: u32,
    /// When the removal leaves that node (not the root) with one entry: the depth of the
    /// ancestor that takes the survivor in. Every node between is a link that collapses too.
    collapse_into: Option<u32>,
}

impl RemovalPlan {
    #[inline(always)]
    fn new(depth: u32, collapse_into: Option<u32>) -> Self {
        Self {
            depth,
            collapse_into,
        }
    }
}

/// A removal, as a [`Kernel`] for [`with_popcnt`].
struct Remove<'a, 'q, K, V, Q: ?Sized> {
    node: &'a mut Node<K, V>,
    hash: u64,
    key: &'q Q,
}

impl<K, V, Q> Kernel for Remove<'_, '_, K, V, Q>
where
    K: Clone + Eq + Borrow<Q>,
    V: Clone,
    Q: Eq + ?Sized,
{
    type Output = Option<Entry<K, V>>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        self.node.remove_walk(self.hash, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::super::diff::nodes_equal;
    use super::*;

    fn trie(keys: u64, hash: impl Fn(u64) -> u64) -> Node<u64, u64> {
        trie_of(&(0..keys).collect::<Vec<_>>(), hash)
    }

    /// `insert` runs the copy of the insert walk compiled with `popcnt` when the CPU has it;
    /// `insert_walk` called directly runs the baseline copy. Built from the same entries, in
    /// the same order, the two tries must be the same, collision nodes and shared (copied)
    /// nodes included, and return the same previous values.
    #[test]
    fn insert_with_and_without_popcnt_agree() {
        let spread = |k: u64| k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let colliding = |k: u64| (k % 7) << 60 | (k % 3);
        for hash in [&spread as &dyn Fn(u64) -> u64, &colliding] {
            let (mut kernel, mut baseline) = (Node::empty(), Node::empty());
            let mut versions = Vec::new();
            for round in 0..3u64 {
                for key in 0..2_000u64 {
                    let entry = |k: u64| Entry {
                        hash: hash(k),
                        key: k,
                        value: k * 10 + round,
                    };
                    assert_eq!(
                        kernel.insert(0, entry(key)),
                        baseline.insert_walk(0, entry(key)),
                        "previous value of {key} in round {round}"
                    );
                }
                // Keep a version, so the next round copies shared nodes instead of changing
                // them in place.
                versions.push((kernel.clone(), baseline.clone()));
            }
            for (k, b) in versions.iter().chain([(kernel, baseline)].iter()) {
                for key in 0..2_100u64 {
                    let value = |n: &Node<u64, u64>| n.get(hash(key), &key).map(|e| e.value);
                    assert_eq!(value(k), value(b), "key {key}");
                }
                assert_eq!(k.slots.len(), b.slots.len());
            }
        }
    }

    /// `find` runs the copy of the trie walk compiled with `popcnt` when the CPU has it;
    /// calling the kernel directly runs the baseline copy. Both must give the same answers,
    /// collision nodes included.
    #[test]
    fn lookup_with_and_without_popcnt_agree() {
        let spread = |k: u64| k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let colliding = |k: u64| (k % 7) << 60 | (k % 3);
        for hash in [&spread as &dyn Fn(u64) -> u64, &colliding] {
            let root = trie(3_000, hash);
            for key in 0..3_500u64 {
                let baseline = Lookup {
                    node: &root,
                    hash: hash(key),
                    key: &key,
                }
                .run();
                let dispatched = root.find(hash(key), &key);
                assert_eq!(baseline.map(|e| e.value), dispatched.map(|e| e.value));
                assert_eq!(
                    dispatched.map(|e| e.value),
                    (key < 3_000).then_some(key * 2)
                );
            }
        }
    }

    fn trie_of(keys: &[u64], hash: impl Fn(u64) -> u64) -> Node<u64, u64> {
        let mut root = Node::empty();
        for &key in keys {
            root.insert(
                0,
                Entry {
                    hash: hash(key),
                    key,
                    value: key * 2,
                },
            );
        }
        root
    }

    /// `remove` runs the copy of the removal walks compiled with `popcnt` when the CPU has it;
    /// `remove_walk` called directly runs the baseline copy. Removing the same keys from the
    /// same tries, with versions kept so that shared nodes are copied, the two must return the
    /// same entries and leave tries equal to each other and to one built from what is left.
    #[test]
    fn remove_with_and_without_popcnt_agree() {
        let spread = |k: u64| k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let colliding = |k: u64| (k % 7) << 60 | (k % 3);
        for hash in [&spread as &dyn Fn(u64) -> u64, &colliding] {
            let (mut kernel, mut baseline) = (trie(2_000, hash), trie(2_000, hash));
            let mut kept = Vec::new();
            for key in (0..2_100u64).step_by(3).chain((0..2_100).step_by(2)) {
                let removed = |e: Option<Entry<u64, u64>>| e.map(|e| (e.key, e.value));
                assert_eq!(
                    removed(kernel.remove(hash(key), &key)),
                    removed(baseline.remove_walk(hash(key), &key)),
                    "removing {key}"
                );
                if key % 97 == 0 {
                    kept.push((kernel.clone(), baseline.clone()));
                }
            }
            let left: Vec<u64> = (0..2_000).filter(|k| k % 3 != 0 && k % 2 != 0).collect();
            let rebuilt = trie_of(&left, hash);
            assert!(nodes_equal(&kernel, &baseline, 0));
            assert!(
                nodes_equal(&kernel, &rebuilt, 0),
                "the trie is not canonical"
            );
            for (k, b) in &kept {
                assert!(nodes_equal(k, b, 0));
            }
        }
    }

    /// Two entries whose hashes share 40 bits sit eight levels below the node where their
    /// prefix parts from a third entry's. Removing one must inline the other into that node
    /// and drop the chain of links between, as a trie built without it would look; removing
    /// a key that is absent copies nothing; the version kept before is unchanged.
    #[test]
    fn removal_collapses_a_chain_of_links_into_the_node_that_keeps_the_survivor() {
        const PREFIX: u64 = 0x00AB_CDEF_1234;
        let hash = |k: u64| match k {
            3 => (PREFIX & 0x3FF) | (7 << 10),
            _ => (k << 40) | PREFIX,
        };
        let mut root = trie_of(&[1, 2, 3], hash);
        let before = root.clone();
        assert_eq!(root.remove(hash(9), &9).map(|e| e.key), None);
        assert!(
            root.ptr_eq(&before),
            "removing an absent key copied the root"
        );

        let removed = root.remove(hash(1), &1).expect("key 1 is present");
        assert_eq!((removed.key, removed.value), (1, 2));
        assert!(nodes_equal(&root, &trie_of(&[2, 3], hash), 0));
        // The keeper is the node at shift 10, two levels down: it now holds both entries.
        let keeper = root.child_at(child_index(&root, bit_of(PREFIX, 0)));
        let keeper = keeper.child_at(child_index(keeper, bit_of(PREFIX, 5)));
        assert_eq!((keeper.datamap.count_ones(), keeper.nodemap), (2, 0));
        assert!(nodes_equal(&before, &trie_of(&[1, 2, 3], hash), 0));

        let removed = root.remove(hash(2), &2).expect("key 2 is present");
        assert_eq!(removed.key, 2);
        assert!(nodes_equal(&root, &trie_of(&[3], hash), 0));
        assert_eq!((root.datamap.count_ones(), root.nodemap), (1, 0));
    }
}
