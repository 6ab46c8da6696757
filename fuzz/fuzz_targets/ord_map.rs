//! `collections::OrdMap` against `std::collections::BTreeMap`: inserts, removes, ranges from
//! both ends, kept versions and diffs between versions.
#![no_main]

use std::collections::BTreeMap;
use std::ops::Bound;

use arbitrary::Arbitrary;
use cowstore::collections::{DiffItem, OrdMap};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Insert(u16, u8),
    /// Many consecutive keys at once, to grow several levels quickly.
    InsertRun(u16, u8, u8),
    Remove(u16),
    RemoveRun(u16, u8),
    Range(u16, u16, bool),
    Keep,
    DiffWithKept(u8),
}

fn pairs<'a>(iter: impl Iterator<Item = (&'a u16, &'a u8)>) -> Vec<(u16, u8)> {
    iter.map(|(k, v)| (*k, *v)).collect()
}

fuzz_target!(|ops: Vec<Op>| {
    let mut map = OrdMap::new();
    let mut model = BTreeMap::new();
    let mut kept: Vec<(OrdMap<u16, u8>, BTreeMap<u16, u8>)> = Vec::new();
    for op in &ops {
        match *op {
            Op::Insert(k, v) => assert_eq!(map.insert(k, v), model.insert(k, v)),
            Op::InsertRun(k, n, v) => {
                for k in k..k.saturating_add(u16::from(n) * 4) {
                    assert_eq!(map.insert(k, v), model.insert(k, v));
                }
            }
            Op::Remove(k) => assert_eq!(map.remove(&k), model.remove(&k)),
            Op::RemoveRun(k, n) => {
                for k in k..k.saturating_add(u16::from(n) * 4) {
                    assert_eq!(map.remove(&k), model.remove(&k));
                }
            }
            Op::Range(a, b, inclusive) => {
                let (lo, hi) = (a.min(b), a.max(b));
                let hi_bound = if inclusive {
                    Bound::Included(hi)
                } else {
                    Bound::Excluded(hi)
                };
                if inclusive || lo < hi {
                    let expected = pairs(model.range((Bound::Included(lo), hi_bound)));
                    let range = map.range((Bound::Included(lo), hi_bound));
                    assert_eq!(range.len(), expected.len());
                    let mut back = pairs(range.clone().rev());
                    back.reverse();
                    assert_eq!(pairs(range), expected);
                    assert_eq!(back, expected);
                }
            }
            Op::Keep => kept.push((map.clone(), model.clone())),
            Op::DiffWithKept(i) => {
                if let Some((old, old_model)) = kept.get(usize::from(i) % kept.len().max(1)) {
                    let got: Vec<_> = old
                        .diff(&map)
                        .map(|d| match d {
                            DiffItem::Added { key, value } => (*key, None, Some(*value)),
                            DiffItem::Removed { key, value } => (*key, Some(*value), None),
                            DiffItem::Changed { key, old, new } => (*key, Some(*old), Some(*new)),
                        })
                        .collect();
                    let mut expected: Vec<_> = old_model
                        .iter()
                        .filter(|(k, v)| model.get(k) != Some(v))
                        .map(|(k, v)| (*k, Some(*v), model.get(k).copied()))
                        .chain(
                            model
                                .iter()
                                .filter(|(k, _)| !old_model.contains_key(k))
                                .map(|(k, v)| (*k, None, Some(*v))),
                        )
                        .collect();
                    expected.sort_unstable();
                    assert_eq!(*old == map, expected.is_empty());
                    assert_eq!(got, expected);
                }
            }
        }
        assert_eq!(map.len(), model.len());
    }
    assert_eq!(pairs(map.iter()), pairs(model.iter()));
    assert_eq!(map.first_key_value(), model.first_key_value());
    assert_eq!(map.last_key_value(), model.last_key_value());
    for (old, old_model) in &kept {
        assert_eq!(pairs(old.iter()), pairs(old_model.iter()));
    }
});
