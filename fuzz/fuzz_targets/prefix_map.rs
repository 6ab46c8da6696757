//! `collections::PrefixMap` against a `BTreeMap` of bit strings with a naive longest-prefix
//! match: inserts and removes at any bit length, lookups, iteration, kept versions.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use cowstore::collections::PrefixMap;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Insert(Vec<u8>, u8, u8),
    Remove(Vec<u8>, u8),
    Lookup(Vec<u8>),
    Keep,
}

fn bits_of(bytes: &[u8], bits: u32) -> Vec<bool> {
    (0..bits as usize)
        .map(|i| bytes[i / 8] & (0x80 >> (i % 8)) != 0)
        .collect()
}

/// Clamps a fuzzed `(bytes, bits)` to a valid, short prefix.
fn prefix(bytes: &[u8], bits: u8) -> (&[u8], u32) {
    let bytes = &bytes[..bytes.len().min(4)];
    (bytes, u32::from(bits) % (bytes.len() as u32 * 8 + 1))
}

fuzz_target!(|ops: Vec<Op>| {
    let mut map = PrefixMap::new();
    let mut model: BTreeMap<Vec<bool>, u8> = BTreeMap::new();
    let mut kept = Vec::new();
    for op in &ops {
        match op {
            Op::Insert(bytes, bits, v) => {
                let (bytes, bits) = prefix(bytes, *bits);
                assert_eq!(
                    map.insert_bits(bytes, bits, *v),
                    model.insert(bits_of(bytes, bits), *v)
                );
            }
            Op::Remove(bytes, bits) => {
                let (bytes, bits) = prefix(bytes, *bits);
                assert_eq!(
                    map.remove_bits(bytes, bits),
                    model.remove(&bits_of(bytes, bits))
                );
            }
            Op::Lookup(key) => {
                let key_bits = bits_of(key, key.len() as u32 * 8);
                let expected = model
                    .iter()
                    .filter(|(p, _)| key_bits.starts_with(p))
                    .max_by_key(|(p, _)| p.len())
                    .map(|(p, v)| (p.len() as u32, v));
                assert_eq!(map.longest_match(key), expected);
            }
            Op::Keep => kept.push((map.clone(), model.clone())),
        }
        assert_eq!(map.len(), model.len());
    }
    let listed: Vec<(Vec<bool>, u8)> = map.iter().map(|(b, n, v)| (bits_of(&b, n), *v)).collect();
    assert_eq!(listed, model.into_iter().collect::<Vec<_>>());
    for (old, old_model) in kept {
        let listed: Vec<(Vec<bool>, u8)> =
            old.iter().map(|(b, n, v)| (bits_of(&b, n), *v)).collect();
        assert_eq!(listed, old_model.into_iter().collect::<Vec<_>>());
    }
});
