//! Exact diff of two B+-trees that skips the subtrees both versions share.
//!
//! Each side is a stack of pending items — whole subtrees or single entries — whose in-order
//! concatenation is the rest of that version. When both tops are the same subtree (pointer
//! equality), both sides hold that subtree's entries as their next smallest keys, so dropping it
//! from both changes nothing in the diff: this is exact wherever the shared subtree sits in
//! either tree. Otherwise the taller top is expanded into its children (both, at equal
//! heights) until two entries meet and are merged like sorted lists. After a change the two
//! sides are expanded alike along the changed path and realign on the first shared sibling.
//!
//! The failure mode reported against imbl's `OrdMap::diff` (imbl issues #160 and #161: single-key
//! updates next to shared leaves going unreported) cannot happen here: a subtree is skipped only
//! when it is the next pending item on *both* sides. The property tests pin that.

use std::cmp::Ordering;
use std::ops::ControlFlow;
use std::sync::Arc;

use super::node::Node;
use crate::collections::diff::DiffItem;

enum Item<'a, K, V> {
    Node(&'a Arc<Node<K, V>>, usize),
    Entry(&'a (K, V)),
}

struct Side<'a, K, V> {
    stack: Vec<Item<'a, K, V>>,
}

impl<'a, K, V> Side<'a, K, V> {
    fn new(root: &'a Arc<Node<K, V>>, height: usize) -> Self {
        Self {
            stack: vec![Item::Node(root, height)],
        }
    }

    /// Replaces the top subtree by its children (or entries), in order.
    fn expand(&mut self) {
        let Some(Item::Node(node, height)) = self.stack.pop() else {
            unreachable!("only subtrees are expanded")
        };
        match &**node {
            Node::Leaf(entries) => self.stack.extend(entries.iter().rev().map(Item::Entry)),
            Node::Branch(b) => self.stack.extend(
                b.children
                    .iter()
                    .rev()
                    .map(|c| Item::Node(&c.node, height - 1)),
            ),
        }
    }

    /// The next entry, expanding subtrees as needed.
    fn next_entry(&mut self) -> Option<&'a (K, V)> {
        loop {
            match self.stack.last()? {
                Item::Entry(e) => {
                    let e = *e;
                    self.stack.pop();
                    return Some(e);
                }
                Item::Node(..) => self.expand(),
            }
        }
    }
}

/// Calls `visit` with each difference from `old` to `new`, in key order, until it breaks.
pub(super) fn walk<'a, K: Ord, V: PartialEq>(
    old: (&'a Arc<Node<K, V>>, usize),
    new: (&'a Arc<Node<K, V>>, usize),
    mut visit: impl FnMut(DiffItem<'a, K, V>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let mut a = Side::new(old.0, old.1);
    let mut b = Side::new(new.0, new.1);
    loop {
        match (a.stack.last(), b.stack.last()) {
            (None, None) => return ControlFlow::Continue(()),
            (Some(_), None) => {
                while let Some((key, value)) = a.next_entry() {
                    visit(DiffItem::Removed { key, value })?;
                }
            }
            (None, Some(_)) => {
                while let Some((key, value)) = b.next_entry() {
                    visit(DiffItem::Added { key, value })?;
                }
            }
            (Some(Item::Node(x, hx)), Some(Item::Node(y, hy))) => {
                if Arc::ptr_eq(x, y) {
                    a.stack.pop();
                    b.stack.pop();
                } else {
                    let (hx, hy) = (*hx, *hy);
                    if hx >= hy {
                        a.expand();
                    }
                    if hy >= hx {
                        b.expand();
                    }
                }
            }
            (Some(Item::Node(..)), Some(Item::Entry(_))) => a.expand(),
            (Some(Item::Entry(_)), Some(Item::Node(..))) => b.expand(),
            (Some(Item::Entry(x)), Some(Item::Entry(y))) => {
                let ((kx, vx), (ky, vy)) = (*x, *y);
                match kx.cmp(ky) {
                    Ordering::Less => {
                        a.stack.pop();
                        visit(DiffItem::Removed { key: kx, value: vx })?;
                    }
                    Ordering::Greater => {
                        b.stack.pop();
                        visit(DiffItem::Added { key: ky, value: vy })?;
                    }
                    Ordering::Equal => {
                        a.stack.pop();
                        b.stack.pop();
                        if vx != vy {
                            visit(DiffItem::Changed {
                                key: ky,
                                old: vx,
                                new: vy,
                            })?;
                        }
                    }
                }
            }
        }
    }
}
