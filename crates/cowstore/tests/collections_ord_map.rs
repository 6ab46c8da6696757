//! Model tests of `collections::OrdMap` against `std::collections::BTreeMap`: random operation
//! sequences, ranges from both ends, persistence of old versions, `diff` against a naive diff
//! (mostly updates of existing keys, the case reported as missed by imbl's diff), and the `==` shortcut.

use std::collections::BTreeMap;
use std::ops::Bound;

use cowstore::collections::{DiffItem, OrdMap};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(u16, u32),
    Remove(u16),
    Alter(u16, Option<u32>),
    Snapshot,
}

fn op(keys: u16) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (0..keys).prop_map(Op::Remove),
        1 => (0..keys, proptest::option::of(any::<u32>())).prop_map(|(k, v)| Op::Alter(k, v)),
        1 => Just(Op::Snapshot),
    ]
}

fn bound(b: (u8, u16)) -> Bound<u16> {
    match b.0 % 3 {
        0 => Bound::Included(b.1),
        1 => Bound::Excluded(b.1),
        _ => Bound::Unbounded,
    }
}

fn pairs<'a>(iter: impl Iterator<Item = (&'a u16, &'a u32)>) -> Vec<(u16, u32)> {
    iter.map(|(k, v)| (*k, *v)).collect()
}

proptest! {
    #[test]
    fn model(
        ops in proptest::collection::vec(op(600), 0..1500),
        ranges in proptest::collection::vec(((any::<u8>(), 0..620u16), (any::<u8>(), 0..620u16)), 0..8),
        probe in 0..600u16,
    ) {
        let mut map = OrdMap::new();
        let mut model = BTreeMap::new();
        let mut versions = Vec::new();
        for op in &ops {
            match *op {
                Op::Insert(k, v) => prop_assert_eq!(map.insert(k, v), model.insert(k, v)),
                Op::Remove(k) => prop_assert_eq!(map.remove(&k), model.remove(&k)),
                Op::Alter(k, v) => {
                    let expected_seen = model.get(&k).copied();
                    let old = map.alter(k, |seen| {
                        assert_eq!(seen.copied(), expected_seen);
                        v
                    });
                    let expected = match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                    prop_assert_eq!(old, expected);
                }
                Op::Snapshot => versions.push((map.clone(), model.clone())),
            }
            prop_assert_eq!(map.len(), model.len());
        }
        prop_assert_eq!(pairs(map.iter()), pairs(model.iter()));
        prop_assert_eq!(pairs(map.iter().rev()), pairs(model.iter().rev()));
        prop_assert_eq!(map.first_key_value(), model.first_key_value());
        prop_assert_eq!(map.last_key_value(), model.last_key_value());
        prop_assert_eq!(map.get(&probe), model.get(&probe));
        for (i, entry) in model.iter().enumerate().step_by(37) {
            prop_assert_eq!(map.get_index(i), Some(entry));
        }
        for &(lo, hi) in &ranges {
            let (lo, hi) = (bound(lo), bound(hi));
            // std panics on inverted or empty-excluded ranges; ours yields nothing.
            let valid = match (lo, hi) {
                (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
                    a < b || (a == b && matches!((lo, hi), (Bound::Included(_), Bound::Included(_))))
                }
                _ => true,
            };
            let ours = map.range((lo, hi));
            if valid {
                let expected = pairs(model.range((lo, hi)));
                prop_assert_eq!(ours.len(), expected.len());
                prop_assert_eq!(pairs(ours.clone()), expected.clone());
                let mut back = pairs(ours.rev());
                back.reverse();
                prop_assert_eq!(back, expected);
            } else {
                prop_assert_eq!(ours.count(), 0);
            }
        }
        // Mixed front/back iteration meets in the middle exactly once.
        let mut it = map.iter();
        let mut seen = Vec::new();
        let mut flip = false;
        while let Some(entry) = if flip { it.next_back() } else { it.next() } {
            seen.push(*entry.0);
            flip = !flip;
        }
        seen.sort_unstable();
        prop_assert_eq!(seen, model.keys().copied().collect::<Vec<_>>());
        let rebuilt: OrdMap<u16, u32> = model.iter().rev().map(|(k, v)| (*k, *v)).collect();
        prop_assert!(rebuilt == map);
        for (old, old_model) in &versions {
            prop_assert_eq!(pairs(old.iter()), pairs(old_model.iter()));
        }
    }
}

#[derive(Debug, Clone)]
enum Change {
    Update(usize, u32),
    Insert(u32, u32),
    Remove(usize),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        8 => (any::<usize>(), any::<u32>()).prop_map(|(i, v)| Change::Update(i, v)),
        1 => (any::<u32>(), any::<u32>()).prop_map(|(k, v)| Change::Insert(k, v)),
        1 => any::<usize>().prop_map(Change::Remove),
    ]
}

type Flat = Vec<(u32, Option<u32>, Option<u32>)>;

fn naive_diff(old: &BTreeMap<u32, u32>, new: &BTreeMap<u32, u32>) -> Flat {
    let mut out = Vec::new();
    for (k, v) in old {
        match new.get(k) {
            Some(n) if n != v => out.push((*k, Some(*v), Some(*n))),
            Some(_) => {}
            None => out.push((*k, Some(*v), None)),
        }
    }
    for (k, v) in new {
        if !old.contains_key(k) {
            out.push((*k, None, Some(*v)));
        }
    }
    out.sort_unstable();
    out
}

fn flatten(items: Vec<DiffItem<'_, u32, u32>>) -> Flat {
    items
        .into_iter()
        .map(|item| match item {
            DiffItem::Added { key, value } => (*key, None, Some(*value)),
            DiffItem::Removed { key, value } => (*key, Some(*value), None),
            DiffItem::Changed { key, old, new } => (*key, Some(*old), Some(*new)),
        })
        .collect()
}

proptest! {
    /// Mostly updates of existing keys, on maps of a few leaves to a few levels: the case
    /// reported as missed by imbl's diff (imbl #160/#161).
    #[test]
    fn diff_matches_naive_diff(
        initial in proptest::collection::vec((any::<u32>(), any::<u32>()), 0..3000),
        dense in any::<bool>(),
        changes in proptest::collection::vec(change(), 0..10),
    ) {
        // Dense keys make neighbouring leaves; sparse random keys spread the changes.
        let initial: Vec<(u32, u32)> = if dense {
            initial.iter().enumerate().map(|(i, (_, v))| (i as u32, *v)).collect()
        } else {
            initial
        };
        let old: OrdMap<u32, u32> = initial.iter().copied().collect();
        let old_model: BTreeMap<u32, u32> = initial.iter().copied().collect();
        let mut new = old.clone();
        let mut new_model = old_model.clone();
        for c in &changes {
            let keys: Vec<u32> = new_model.keys().copied().collect();
            match *c {
                Change::Update(i, v) if !keys.is_empty() => {
                    let k = keys[i % keys.len()];
                    new.insert(k, v);
                    new_model.insert(k, v);
                }
                Change::Remove(i) if !keys.is_empty() => {
                    let k = keys[i % keys.len()];
                    new.remove(&k);
                    new_model.remove(&k);
                }
                Change::Insert(k, v) => {
                    new.insert(k, v);
                    new_model.insert(k, v);
                }
                _ => {}
            }
        }
        let expected = naive_diff(&old_model, &new_model);
        // Our diff is in key order already: compare unsorted.
        prop_assert_eq!(flatten(old.diff(&new).collect()), expected.clone());
        prop_assert_eq!(flatten(new.diff(&old).collect()), naive_diff(&new_model, &old_model));
        prop_assert_eq!(old == new, expected.is_empty());
    }
}

#[test]
fn diff_after_splits_and_merges() {
    let old: OrdMap<u32, u32> = (0..20_000).map(|i| (i * 2, i)).collect();
    let mut new = old.clone();
    let mut model_old: BTreeMap<u32, u32> = (0..20_000).map(|i| (i * 2, i)).collect();
    let mut model_new = model_old.clone();
    // Fill a gap (splits leaves) and empty a run (merges them).
    for k in (1001..1400).step_by(2) {
        new.insert(k, 7);
        model_new.insert(k, 7);
    }
    for k in (30_000..31_000).step_by(2) {
        new.remove(&k);
        model_new.remove(&k);
    }
    assert_eq!(
        flatten(old.diff(&new).collect()),
        naive_diff(&model_old, &model_new)
    );
    model_old.clear();
    assert_eq!(OrdMap::new().diff(&new).count(), model_new.len());
}

#[test]
fn old_versions_unchanged_after_many_updates_on_clones() {
    let mut versions = vec![OrdMap::new()];
    let mut models = vec![BTreeMap::new()];
    for round in 0..150u32 {
        let mut next = versions.last().unwrap().clone();
        let mut model = models.last().unwrap().clone();
        for i in 0..60u32 {
            let k = (round * 7919 + i * 104_729) % 4000;
            if i % 4 == 0 {
                assert_eq!(next.remove(&k), model.remove(&k));
            } else {
                assert_eq!(next.insert(k, round), model.insert(k, round));
            }
        }
        versions.push(next);
        models.push(model);
    }
    for (version, model) in versions.iter().zip(&models) {
        assert!(version.iter().eq(model.iter()));
    }
}

#[test]
fn eq_skips_shared_subtrees() {
    #[derive(Clone, Debug)]
    struct Counted(u32, std::rc::Rc<std::cell::Cell<usize>>);
    impl PartialEq for Counted {
        fn eq(&self, other: &Self) -> bool {
            self.1.set(self.1.get() + 1);
            self.0 == other.0
        }
    }
    let calls = std::rc::Rc::new(std::cell::Cell::new(0));
    let a: OrdMap<u32, Counted> = (0..100_000)
        .map(|i| (i, Counted(i, calls.clone())))
        .collect();
    let mut b = a.clone();
    assert!(a == b);
    assert_eq!(calls.get(), 0);
    b.insert(77_777, Counted(1, calls.clone()));
    assert!(a != b);
    b.insert(77_777, Counted(77_777, calls.clone()));
    calls.set(0);
    assert!(a == b);
    assert!(
        calls.get() <= 64,
        "compared {} values for one changed leaf",
        calls.get()
    );
}

#[test]
fn unique_map_is_changed_in_place_shared_one_is_copied() {
    #[derive(Debug)]
    struct CloneCounted(std::rc::Rc<std::cell::Cell<usize>>);
    impl Clone for CloneCounted {
        fn clone(&self) -> Self {
            self.0.set(self.0.get() + 1);
            Self(self.0.clone())
        }
    }
    let clones = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut map: OrdMap<u32, CloneCounted> = (0..10_000)
        .map(|i| (i, CloneCounted(clones.clone())))
        .collect();
    map.remove(&5);
    assert_eq!(clones.get(), 0, "a unique map is changed in place");
    let before = map.clone();
    map.insert(5, CloneCounted(clones.clone()));
    assert!(
        clones.get() > 0 && clones.get() <= 32,
        "copied {} values",
        clones.get()
    );
    assert_eq!((before.len(), map.len()), (9_999, 10_000));
}
