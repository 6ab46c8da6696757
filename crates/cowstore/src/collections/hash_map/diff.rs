//! Structural comparison of two CHAMP tries: `diff` and `==` skip subtrees both share.

use std::hash::{BuildHasher, Hash};

use super::HashMap;
use super::iter::Entries;
use super::node::{BITS, Entry, MAX_SHIFT, Node, child_index};
use crate::collections::diff::DiffItem;

/// What a node holds at one bit position.
enum At<'a, K, V> {
    Nothing,
    Entry(&'a Entry<K, V>),
    Child(&'a Node<K, V>),
}

fn at<K, V>(node: &Node<K, V>, bit: u32) -> At<'_, K, V> {
    if node.datamap & bit != 0 {
        At::Entry(node.entry_at((node.datamap & (bit - 1)).count_ones() as usize))
    } else if node.nodemap & bit != 0 {
        At::Child(node.child_at(child_index(node, bit)))
    } else {
        At::Nothing
    }
}

fn added<'a, K, V>(e: &'a Entry<K, V>) -> DiffItem<'a, K, V> {
    DiffItem::Added {
        key: &e.key,
        value: &e.value,
    }
}

fn removed<'a, K, V>(e: &'a Entry<K, V>) -> DiffItem<'a, K, V> {
    DiffItem::Removed {
        key: &e.key,
        value: &e.value,
    }
}

fn same_key<K: Eq, V>(a: &Entry<K, V>, b: &Entry<K, V>) -> bool {
    a.hash == b.hash && a.key == b.key
}

/// Compares two entries with the same key.
fn compare<'a, K, V: PartialEq>(
    old: &'a Entry<K, V>,
    new: &'a Entry<K, V>,
    out: &mut Vec<DiffItem<'a, K, V>>,
) {
    if old.value != new.value {
        out.push(DiffItem::Changed {
            key: &new.key,
            old: &old.value,
            new: &new.value,
        });
    }
}

/// Old entry `one` against the new subtree `many` at the same position.
fn entry_vs_subtree<'a, K: Eq, V: PartialEq>(
    one: &'a Entry<K, V>,
    many: &'a Node<K, V>,
    one_is_old: bool,
    out: &mut Vec<DiffItem<'a, K, V>>,
) {
    let mut matched = false;
    for e in Entries::new(many) {
        if same_key(one, e) {
            matched = true;
            if one_is_old {
                compare(one, e, out);
            } else {
                compare(e, one, out);
            }
        } else {
            out.push(if one_is_old { added(e) } else { removed(e) });
        }
    }
    if !matched {
        out.push(if one_is_old { removed(one) } else { added(one) });
    }
}

pub(super) fn diff_nodes<'a, K: Eq, V: PartialEq>(
    old: &'a Node<K, V>,
    new: &'a Node<K, V>,
    shift: u32,
    out: &mut Vec<DiffItem<'a, K, V>>,
) {
    if old.ptr_eq(new) {
        return;
    }
    if shift > MAX_SHIFT {
        let (old_entries, new_entries) = (Entries::new(old), Entries::new(new));
        for o in old_entries.clone() {
            match new_entries.clone().find(|n| n.key == o.key) {
                Some(n) => compare(o, n, out),
                None => out.push(removed(o)),
            }
        }
        for n in new_entries {
            if !old_entries.clone().any(|o| o.key == n.key) {
                out.push(added(n));
            }
        }
        return;
    }
    let mut bits = old.datamap | old.nodemap | new.datamap | new.nodemap;
    while bits != 0 {
        let bit = bits & bits.wrapping_neg();
        bits ^= bit;
        match (at(old, bit), at(new, bit)) {
            (At::Entry(o), At::Entry(n)) => {
                if same_key(o, n) {
                    compare(o, n, out);
                } else {
                    out.push(removed(o));
                    out.push(added(n));
                }
            }
            (At::Entry(o), At::Child(n)) => entry_vs_subtree(o, n, true, out),
            (At::Child(o), At::Entry(n)) => entry_vs_subtree(n, o, false, out),
            (At::Child(o), At::Child(n)) => diff_nodes(o, n, shift + BITS, out),
            (At::Entry(o), At::Nothing) => out.push(removed(o)),
            (At::Child(o), At::Nothing) => out.extend(Entries::new(o).map(removed)),
            (At::Nothing, At::Entry(n)) => out.push(added(n)),
            (At::Nothing, At::Child(n)) => out.extend(Entries::new(n).map(added)),
            (At::Nothing, At::Nothing) => {}
        }
    }
}

/// Structural equality of two canonical tries built with the same hash function.
pub(super) fn nodes_equal<K: Eq, V: PartialEq>(a: &Node<K, V>, b: &Node<K, V>, shift: u32) -> bool {
    if a.ptr_eq(b) {
        return true;
    }
    if shift > MAX_SHIFT {
        // Collision nodes hold their entries in insertion order.
        return a.slots.len() == b.slots.len()
            && Entries::new(a)
                .all(|x| Entries::new(b).any(|y| x.key == y.key && x.value == y.value));
    }
    if a.datamap != b.datamap || a.nodemap != b.nodemap {
        return false;
    }
    let ndata = a.data_len(shift);
    let nnodes = a.nodemap.count_ones() as usize;
    let (la, lb) = (a.slots.len(), b.slots.len());
    (0..ndata).all(|i| {
        let (x, y) = (a.entry_at(i), b.entry_at(i));
        same_key(x, y) && x.value == y.value
    }) && (1..=nnodes).all(|r| nodes_equal(a.child_at(la - r), b.child_at(lb - r), shift + BITS))
}

/// Diff of maps that do not hash alike: look every key up in the other map.
pub(super) fn diff_by_lookup<'a, K, V, S>(
    old: &'a HashMap<K, V, S>,
    new: &'a HashMap<K, V, S>,
    out: &mut Vec<DiffItem<'a, K, V>>,
) where
    K: Hash + Eq,
    V: PartialEq,
    S: BuildHasher,
{
    for (key, value) in old {
        match new.get_key_value(key) {
            Some((key, v)) if v != value => out.push(DiffItem::Changed {
                key,
                old: value,
                new: v,
            }),
            Some(_) => {}
            None => out.push(DiffItem::Removed { key, value }),
        }
    }
    for (key, value) in new {
        if !old.contains_key(key) {
            out.push(DiffItem::Added { key, value });
        }
    }
}
