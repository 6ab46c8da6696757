//! `collections::HashMap` against `std::collections::HashMap`: inserts, removes, entry-style
//! updates, kept versions (checked at the end) and diffs between versions.
#![no_main]

use std::collections::HashMap as StdMap;
use std::hash::{BuildHasher, Hasher};

use arbitrary::Arbitrary;
use cowstore::collections::{DefaultHashBuilder, DiffItem, HashMap};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Insert(u16, u8),
    Remove(u16),
    Alter(u16, Option<u8>),
    Keep,
    DiffWithKept(u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    colliding: bool,
    ops: Vec<Op>,
}

/// Hashes to `key % 8` in the top bits: deep shared prefixes and full collisions.
#[derive(Clone, Default)]
struct Colliding;

struct CollidingHasher(u64);

impl Hasher for CollidingHasher {
    fn finish(&self) -> u64 {
        (self.0 % 8) << 61
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.wrapping_mul(257).wrapping_add(u64::from(*b));
        }
    }
}

impl BuildHasher for Colliding {
    type Hasher = CollidingHasher;
    fn build_hasher(&self) -> CollidingHasher {
        CollidingHasher(0)
    }
}

fn naive_diff(old: &StdMap<u16, u8>, new: &StdMap<u16, u8>) -> Vec<(u16, Option<u8>, Option<u8>)> {
    let mut out: Vec<_> = old
        .iter()
        .filter(|(k, v)| new.get(k) != Some(v))
        .map(|(k, v)| (*k, Some(*v), new.get(k).copied()))
        .chain(
            new.iter()
                .filter(|(k, _)| !old.contains_key(k))
                .map(|(k, v)| (*k, None, Some(*v))),
        )
        .collect();
    out.sort_unstable();
    out
}

fn run<S: BuildHasher + Clone + Default>(ops: &[Op]) {
    let mut map: HashMap<u16, u8, S> = HashMap::default();
    let mut model = StdMap::new();
    let mut kept: Vec<(HashMap<u16, u8, S>, StdMap<u16, u8>)> = Vec::new();
    for op in ops {
        match *op {
            Op::Insert(k, v) => assert_eq!(map.insert(k, v), model.insert(k, v)),
            Op::Remove(k) => assert_eq!(map.remove(&k), model.remove(&k)),
            Op::Alter(k, v) => {
                let expected = match v {
                    Some(v) => model.insert(k, v),
                    None => model.remove(&k),
                };
                assert_eq!(map.alter(k, |_| v), expected);
            }
            Op::Keep => kept.push((map.clone(), model.clone())),
            Op::DiffWithKept(i) => {
                if let Some((old, old_model)) = kept.get(usize::from(i) % kept.len().max(1)) {
                    let mut got: Vec<_> = old
                        .diff(&map)
                        .map(|d| match d {
                            DiffItem::Added { key, value } => (*key, None, Some(*value)),
                            DiffItem::Removed { key, value } => (*key, Some(*value), None),
                            DiffItem::Changed { key, old, new } => (*key, Some(*old), Some(*new)),
                        })
                        .collect();
                    got.sort_unstable();
                    let expected = naive_diff(old_model, &model);
                    assert_eq!(*old == map, expected.is_empty());
                    assert_eq!(got, expected);
                }
            }
        }
        assert_eq!(map.len(), model.len());
    }
    for (k, v) in &model {
        assert_eq!(map.get(k), Some(v));
    }
    assert_eq!(map.iter().count(), model.len());
    for (old, old_model) in &kept {
        assert_eq!(old.len(), old_model.len());
        for (k, v) in old_model {
            assert_eq!(old.get(k), Some(v));
        }
    }
}

fuzz_target!(|input: Input| {
    if input.colliding {
        run::<Colliding>(&input.ops);
    } else {
        run::<DefaultHashBuilder>(&input.ops);
    }
});
