//! The copy-on-write B+-tree: entries live in leaves, branches hold separator keys and their
//! children's sizes. Every change goes through `Arc::make_mut`, so a node shared with another
//! version is copied (path copying) and a uniquely owned one is changed in place.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::mem;
use std::sync::Arc;

/// Most entries in a leaf and most children of a branch.
pub(crate) const MAX: usize = 32;
/// Fewest entries (children) of a non-root leaf (branch); fewer trigger a merge or a
/// redistribution with a sibling.
pub(crate) const MIN: usize = MAX / 4;

#[derive(Clone)]
pub(crate) enum Node<K, V> {
    Leaf(Vec<(K, V)>),
    Branch(Branch<K, V>),
}

/// `keys[i]` is the smallest key of `children[i + 1]`.
#[derive(Clone)]
pub(crate) struct Branch<K, V> {
    pub(crate) keys: Vec<K>,
    pub(crate) children: Vec<Child<K, V>>,
}

/// A child and the number of entries below it.
#[derive(Clone)]
pub(crate) struct Child<K, V> {
    pub(crate) len: usize,
    pub(crate) node: Arc<Node<K, V>>,
}

impl<K, V> Node<K, V> {
    /// Entries of a leaf, children of a branch.
    pub(crate) fn width(&self) -> usize {
        match self {
            Node::Leaf(entries) => entries.len(),
            Node::Branch(b) => b.children.len(),
        }
    }
}

impl<K, V> Branch<K, V> {
    /// Index of the child whose key range holds `key`.
    #[inline]
    pub(crate) fn child_for<Q>(&self, key: &Q) -> usize
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.keys.partition_point(|s| s.borrow() <= key)
    }
}

pub(crate) fn get<'a, K, V, Q>(mut node: &'a Node<K, V>, key: &Q) -> Option<&'a (K, V)>
where
    K: Borrow<Q>,
    Q: Ord + ?Sized,
{
    loop {
        match node {
            Node::Leaf(entries) => {
                return entries
                    .binary_search_by(|(k, _)| k.borrow().cmp(key))
                    .ok()
                    .map(|i| &entries[i]);
            }
            Node::Branch(b) => node = &b.children[b.child_for(key)].node,
        }
    }
}

/// What an insert did below a node.
pub(crate) struct Inserted<K, V> {
    pub(crate) old: Option<V>,
    /// The node overflowed and was split: the separator and the new right sibling.
    pub(crate) split: Option<(K, Child<K, V>)>,
}

pub(crate) fn insert<K: Ord + Clone, V: Clone>(
    node: &mut Arc<Node<K, V>>,
    key: K,
    value: V,
) -> Inserted<K, V> {
    match Arc::make_mut(node) {
        Node::Leaf(entries) => match entries.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => Inserted {
                old: Some(mem::replace(&mut entries[i].1, value)),
                split: None,
            },
            Err(i) => {
                entries.insert(i, (key, value));
                let split = (entries.len() > MAX).then(|| {
                    let right = entries.split_off(entries.len() / 2);
                    let sep = right[0].0.clone();
                    let child = Child {
                        len: right.len(),
                        node: Arc::new(Node::Leaf(right)),
                    };
                    (sep, child)
                });
                Inserted { old: None, split }
            }
        },
        Node::Branch(b) => {
            let i = b.child_for(&key);
            let below = insert(&mut b.children[i].node, key, value);
            if below.old.is_none() {
                b.children[i].len += 1;
            }
            let mut split = None;
            if let Some((sep, right)) = below.split {
                b.children[i].len -= right.len;
                b.keys.insert(i, sep);
                b.children.insert(i + 1, right);
                if b.children.len() > MAX {
                    let mid = b.children.len() / 2;
                    let children = b.children.split_off(mid);
                    let keys = b.keys.split_off(mid);
                    let sep = b.keys.pop().expect("a full branch has separators");
                    let len = children.iter().map(|c| c.len).sum();
                    let node = Arc::new(Node::Branch(Branch { keys, children }));
                    split = Some((sep, Child { len, node }));
                }
            }
            Inserted {
                old: below.old,
                split,
            }
        }
    }
}

/// Removes `key`, which the caller has checked is present. Children that fall below `MIN` are
/// merged with or refilled from a sibling.
pub(crate) fn remove<K, V, Q>(node: &mut Arc<Node<K, V>>, key: &Q) -> (K, V)
where
    K: Ord + Clone + Borrow<Q>,
    V: Clone,
    Q: Ord + ?Sized,
{
    match Arc::make_mut(node) {
        Node::Leaf(entries) => {
            let i = entries
                .binary_search_by(|(k, _)| k.borrow().cmp(key))
                .expect("removed key is present");
            entries.remove(i)
        }
        Node::Branch(b) => {
            let i = b.child_for(key);
            let removed = remove(&mut b.children[i].node, key);
            b.children[i].len -= 1;
            if b.children[i].node.width() < MIN && b.children.len() > 1 {
                rebalance(b, if i > 0 { i - 1 } else { 0 });
            }
            removed
        }
    }
}

/// Merges children `l` and `l + 1` if they fit in one node, otherwise shares their contents
/// evenly between them.
fn rebalance<K: Ord + Clone, V: Clone>(b: &mut Branch<K, V>, l: usize) {
    let total = b.children[l].len + b.children[l + 1].len;
    let right = b.children.remove(l + 1);
    let sep = b.keys.remove(l);
    let right = Arc::unwrap_or_clone(right.node);
    let left = Arc::make_mut(&mut b.children[l].node);
    match (left, right) {
        (Node::Leaf(left), Node::Leaf(mut right)) => {
            left.append(&mut right);
            if left.len() > MAX {
                let right = left.split_off(left.len() / 2);
                let sep = right[0].0.clone();
                b.children[l].len = left.len();
                b.keys.insert(l, sep);
                b.children.insert(
                    l + 1,
                    Child {
                        len: right.len(),
                        node: Arc::new(Node::Leaf(right)),
                    },
                );
            } else {
                b.children[l].len = total;
            }
        }
        (Node::Branch(left), Node::Branch(mut right)) => {
            left.keys.push(sep);
            left.keys.append(&mut right.keys);
            left.children.append(&mut right.children);
            if left.children.len() > MAX {
                let mid = left.children.len() / 2;
                let children = left.children.split_off(mid);
                let keys = left.keys.split_off(mid);
                let sep = left.keys.pop().expect("a full branch has separators");
                let len = children.iter().map(|c| c.len).sum();
                b.children[l].len = total - len;
                b.keys.insert(l, sep);
                b.children.insert(
                    l + 1,
                    Child {
                        len,
                        node: Arc::new(Node::Branch(Branch { keys, children })),
                    },
                );
            } else {
                b.children[l].len = total;
            }
        }
        _ => unreachable!("siblings have the same height"),
    }
}

/// Number of entries with a key below `bound` (or not above it, if `inclusive`).
pub(crate) fn rank<K, V, Q>(mut node: &Node<K, V>, bound: &Q, inclusive: bool) -> usize
where
    K: Borrow<Q>,
    Q: Ord + ?Sized,
{
    let below = |k: &K| match k.borrow().cmp(bound) {
        Ordering::Less => true,
        Ordering::Equal => inclusive,
        Ordering::Greater => false,
    };
    let mut rank = 0;
    loop {
        match node {
            Node::Leaf(entries) => return rank + entries.partition_point(|(k, _)| below(k)),
            Node::Branch(b) => {
                // Children before `i` are entirely below the bound.
                let i = b.keys.partition_point(|s| below(s));
                rank += b.children[..i].iter().map(|c| c.len).sum::<usize>();
                node = &b.children[i].node;
            }
        }
    }
}
