//! Model tests of `collections::PrefixMap` against a `BTreeMap` of bit strings with a naive
//! longest-prefix match: random inserts and removes at any bit length, lookups, iteration order,
//! persistence of old versions, and the `==` shortcut.

use std::collections::BTreeMap;

use cowstore::collections::PrefixMap;
use proptest::prelude::*;

/// The first `bits` bits of `bytes`.
fn bit_string(bytes: &[u8], bits: u32) -> Vec<bool> {
    (0..bits as usize)
        .map(|i| bytes[i / 8] & (0x80 >> (i % 8)) != 0)
        .collect()
}

fn naive_longest_match(model: &BTreeMap<Vec<bool>, u32>, key: &[u8]) -> Option<(u32, u32)> {
    let key_bits = bit_string(key, key.len() as u32 * 8);
    model
        .iter()
        .filter(|(p, _)| key_bits.starts_with(p))
        .max_by_key(|(p, _)| p.len())
        .map(|(p, v)| (p.len() as u32, *v))
}

/// Bytes from a small alphabet so that prefixes share paths, plus a bit length.
fn prefix() -> impl Strategy<Value = (Vec<u8>, u32)> {
    proptest::collection::vec(
        prop_oneof![Just(0u8), Just(0x0F), Just(0x80), Just(0xFF), any::<u8>()],
        0..4,
    )
    .prop_flat_map(|bytes| {
        let max = bytes.len() as u32 * 8;
        (Just(bytes), 0..=max)
    })
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>, u32, u32),
    Remove(Vec<u8>, u32),
    Snapshot,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (prefix(), any::<u32>()).prop_map(|((k, b), v)| Op::Insert(k, b, v)),
        3 => prefix().prop_map(|(k, b)| Op::Remove(k, b)),
        1 => Just(Op::Snapshot),
    ]
}

fn check(map: &PrefixMap<u32>, model: &BTreeMap<Vec<bool>, u32>) -> Result<(), TestCaseError> {
    prop_assert_eq!(map.len(), model.len());
    let listed: Vec<(Vec<bool>, u32)> = map
        .iter()
        .map(|(bytes, bits, v)| (bit_string(&bytes, bits), *v))
        .collect();
    let expected: Vec<(Vec<bool>, u32)> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
    // `Vec<bool>` orders lexicographically with shorter prefixes first, like the trie.
    prop_assert_eq!(listed, expected);
    Ok(())
}

proptest! {
    #[test]
    fn model(
        ops in proptest::collection::vec(op(), 0..300),
        probes in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just(0u8), Just(0x0F), Just(0x80), Just(0xFF), any::<u8>()], 0..5), 0..40),
    ) {
        let mut map = PrefixMap::new();
        let mut model = BTreeMap::new();
        let mut versions = Vec::new();
        for op in &ops {
            match op {
                Op::Insert(k, bits, v) => {
                    prop_assert_eq!(map.insert_bits(k, *bits, *v), model.insert(bit_string(k, *bits), *v));
                }
                Op::Remove(k, bits) => {
                    prop_assert_eq!(map.remove_bits(k, *bits), model.remove(&bit_string(k, *bits)));
                }
                Op::Snapshot => versions.push((map.clone(), model.clone())),
            }
            prop_assert_eq!(map.len(), model.len());
        }
        for probe in &probes {
            let got = map.longest_match(probe).map(|(bits, v)| (bits, *v));
            prop_assert_eq!(got, naive_longest_match(&model, probe));
        }
        for op in &ops {
            if let Op::Insert(k, bits, _) | Op::Remove(k, bits) = op {
                prop_assert_eq!(map.get_bits(k, *bits), model.get(&bit_string(k, *bits)));
            }
        }
        check(&map, &model)?;
        // Rebuilt in another order (and so perhaps with other child layouts), still equal.
        let mut rebuilt = PrefixMap::new();
        for (bytes, bits, v) in map.iter().collect::<Vec<_>>().into_iter().rev() {
            rebuilt.insert_bits(&bytes, bits, *v);
        }
        prop_assert!(rebuilt == map);
        for (old, old_model) in &versions {
            check(old, old_model)?;
        }
    }
}

#[test]
fn many_children_switch_to_a_table_and_back() {
    let mut map = PrefixMap::new();
    for b in 0..=255u8 {
        map.insert(&[7, b], u32::from(b));
    }
    let full = map.clone();
    for b in 0..=255u8 {
        assert_eq!(map.longest_match(&[7, b, 1]), Some((16, &u32::from(b))));
    }
    for b in 0..=250u8 {
        assert_eq!(map.remove(&[7, b]), Some(u32::from(b)));
    }
    assert_eq!(map.len(), 5);
    for b in 251..=255u8 {
        assert_eq!(map.get(&[7, b]), Some(&u32::from(b)));
    }
    assert_eq!(full.len(), 256);
    assert_eq!(full.get(&[7, 3]), Some(&3));
    // The same five prefixes built directly: equal whatever the child layout.
    let direct: PrefixMap<u32> = (251..=255u8).map(|b| ([7, b], u32::from(b))).collect();
    assert!(direct == map);
}

#[test]
fn ipv4_routes() {
    let mut routes = PrefixMap::new();
    routes.insert_bits(&[0, 0, 0, 0], 0, "default");
    routes.insert_bits(&[10, 0, 0, 0], 8, "10/8");
    routes.insert_bits(&[10, 16, 0, 0], 12, "10.16/12");
    routes.insert_bits(&[10, 20, 0, 0], 14, "10.20/14");
    routes.insert_bits(&[10, 20, 3, 7], 32, "host");
    let lookup = |ip: [u8; 4]| routes.longest_match(&ip).map(|(_, v)| *v);
    assert_eq!(lookup([1, 2, 3, 4]), Some("default"));
    assert_eq!(lookup([10, 0, 0, 1]), Some("10/8"));
    assert_eq!(lookup([10, 31, 0, 1]), Some("10.16/12"));
    assert_eq!(lookup([10, 23, 0, 1]), Some("10.20/14"));
    assert_eq!(lookup([10, 20, 3, 7]), Some("host"));
    assert_eq!(lookup([10, 32, 0, 1]), Some("10/8"));
}

#[test]
fn eq_and_ptr_eq_after_updates() {
    let base: PrefixMap<u32> = (0..2000u32).map(|i| (i.to_be_bytes(), i)).collect();
    let mut changed = base.clone();
    assert!(changed.ptr_eq(&base));
    changed.insert(&5u32.to_be_bytes(), 0);
    assert!(changed != base);
    changed.insert(&5u32.to_be_bytes(), 5);
    assert!(changed == base);
    assert!(!changed.ptr_eq(&base));
}
