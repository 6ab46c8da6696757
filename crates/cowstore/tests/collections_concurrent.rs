//! `ShardedMap` (with its `ShardedReader`) and `LayeredMap`: model tests against
//! `std::collections::HashMap`, and concurrency tests with real threads (monotonic reads per
//! key, no lost writes, stable values across compactions, snapshots unaffected by later
//! writes).

use cowstore::Snapshot;
use std::collections::HashMap as StdMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use cowstore::collections::{HashMap, LayeredMap, ShardedMap};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(u16, u32),
    Remove(u16),
    Alter(u16, Option<u32>),
    Reset(u16),
    Compact,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..200u16, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (0..200u16).prop_map(Op::Remove),
        1 => (0..200u16, proptest::option::of(any::<u32>())).prop_map(|(k, v)| Op::Alter(k, v)),
        1 => (0..200u16).prop_map(Op::Reset),
        1 => Just(Op::Compact),
    ]
}

proptest! {
    #[test]
    fn sharded_map_model(ops in proptest::collection::vec(op(), 0..300), shards in 1..20usize) {
        let map = ShardedMap::with_shards(shards);
        let mut model = StdMap::new();
        // Taken before any write: it must follow every change to the shards it reads.
        let mut reader = map.reader();
        for op in &ops {
            let key = match *op {
                Op::Insert(k, v) => {
                    prop_assert_eq!(map.insert(k, v), model.insert(k, v));
                    k
                }
                Op::Remove(k) | Op::Reset(k) => {
                    prop_assert_eq!(map.remove(&k), model.remove(&k));
                    k
                }
                Op::Alter(k, v) => {
                    let expected = match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                    prop_assert_eq!(map.alter(k, |_| v), expected);
                    k
                }
                Op::Compact => continue,
            };
            prop_assert_eq!(reader.get(&key), model.get(&key));
        }
        prop_assert_eq!(map.len(), model.len());
        let snapshot = map.snapshot();
        for k in 0..200u16 {
            prop_assert_eq!(map.get(&k), model.get(&k).copied());
            prop_assert_eq!(snapshot.get(&k), model.get(&k));
            prop_assert_eq!(reader.get(&k), model.get(&k));
        }
        let mut all: Vec<_> = snapshot.iter().map(|(k, v)| (*k, *v)).collect();
        all.sort_unstable();
        let mut expected: Vec<_> = model.into_iter().collect();
        expected.sort_unstable();
        prop_assert_eq!(all, expected);
    }

    #[test]
    fn layered_map_model(
        base in proptest::collection::vec((0..200u16, any::<u32>()), 0..100),
        ops in proptest::collection::vec(op(), 0..200),
    ) {
        let base_map: HashMap<u16, u32> = base.iter().copied().collect();
        let base_model: StdMap<u16, u32> = base.iter().copied().collect();
        let map = LayeredMap::new(base_map);
        let mut model = base_model.clone();
        for op in &ops {
            match *op {
                Op::Insert(k, v) | Op::Alter(k, Some(v)) => {
                    map.set(k, v);
                    model.insert(k, v);
                }
                Op::Remove(k) | Op::Alter(k, None) => {
                    map.remove(&k);
                    model.remove(&k);
                }
                Op::Reset(k) => {
                    // The base value shows again unless a compaction folded an override in.
                    map.reset(&k);
                    let layers = map.snapshot();
                    match layers.base().get(&k) {
                        Some(v) => model.insert(k, *v),
                        None => model.remove(&k),
                    };
                }
                Op::Compact => {
                    let before = map.version();
                    map.compact();
                    prop_assert_eq!(map.version(), before + 1);
                    prop_assert!(map.snapshot().overrides().is_empty());
                }
            }
        }
        let layers = map.snapshot();
        prop_assert_eq!(layers.len(), model.len());
        for k in 0..200u16 {
            prop_assert_eq!(map.get(&k), model.get(&k).copied());
        }
        let mut all: Vec<_> = layers.iter().map(|(k, v)| (*k, *v)).collect();
        all.sort_unstable();
        let mut expected: Vec<_> = model.iter().map(|(k, v)| (*k, *v)).collect();
        expected.sort_unstable();
        prop_assert_eq!(all, expected);
        let merged = layers.merged();
        prop_assert_eq!(merged.len(), model.len());
    }
}

/// Writers each own a key range and write increasing values, then remove half of the keys;
/// readers check that each key's state never goes backwards (absent, 1, 2, …, removed) and
/// that nothing written is lost.
#[test]
fn sharded_map_concurrent_writers_and_readers() {
    const WRITERS: u32 = 4;
    const KEYS: u32 = 64;
    const ROUNDS: u32 = 300;
    let map = Arc::new(ShardedMap::<u32, u32>::new());
    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(WRITERS as usize + 2));
    // Reader 0 uses `ShardedMap::get`, reader 1 a `ShardedReader`.
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (map, done, start) = (Arc::clone(&map), Arc::clone(&done), Arc::clone(&start));
            thread::spawn(move || {
                let mut cached = (r == 1).then(|| map.reader());
                let mut get = |k: &u32| match &mut cached {
                    Some(reader) => reader.get(k).copied(),
                    None => map.get(k),
                };
                start.wait();
                let mut last = vec![0u32; (WRITERS * KEYS) as usize];
                let mut reads = 0u64;
                // At least one full pass, however fast the writers are.
                loop {
                    let finished = done.load(Ordering::Acquire);
                    for k in 0..WRITERS * KEYS {
                        // `None` before the first write is 0; after a value it can only mean
                        // the final removal, the largest state.
                        let seen = last[k as usize];
                        let v = get(&k).unwrap_or(if seen > 0 { u32::MAX } else { 0 });
                        assert!(
                            v >= last[k as usize],
                            "key {k} went back from {} to {v}",
                            last[k as usize]
                        );
                        last[k as usize] = v;
                        reads += 1;
                    }
                    if finished {
                        break;
                    }
                }
                reads
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (map, start) = (Arc::clone(&map), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                for round in 1..=ROUNDS {
                    for i in 0..KEYS {
                        map.insert(w * KEYS + i, round);
                    }
                }
                // Remove every other key at the end.
                for i in (0..KEYS).step_by(2) {
                    assert_eq!(map.remove(&(w * KEYS + i)), Some(ROUNDS));
                }
            })
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(map.len(), (WRITERS * KEYS / 2) as usize);
    for k in 0..WRITERS * KEYS {
        let expected = if k % 2 == 0 { None } else { Some(ROUNDS) };
        assert_eq!(map.get(&k), expected, "key {k}");
    }
}

/// A `ShardedReader` keeps the version of a shard it looked at until its next lookup in that
/// shard: then the replaced version, and the values only it held, are freed.
#[test]
fn sharded_reader_pins_a_shard_version_until_its_next_lookup_there() {
    let map = ShardedMap::with_shards(1);
    let old_value = Arc::new("old");
    map.insert(1, Arc::clone(&old_value));
    let mut reader = map.reader();
    assert_eq!(reader.get(&1).map(|v| **v), Some("old"));
    map.insert(1, Arc::new("new"));
    assert_eq!(
        Arc::strong_count(&old_value),
        2,
        "the reader's cached version still holds the old value"
    );
    assert_eq!(reader.get(&1).map(|v| **v), Some("new"));
    assert_eq!(
        Arc::strong_count(&old_value),
        1,
        "the old version was freed when the reader moved on"
    );
    drop(reader);
    assert_eq!(map.get(&1).map(|v| *v), Some("new"));
}

#[test]
fn sharded_map_concurrent_alter_loses_no_increment() {
    let map = Arc::new(ShardedMap::<u8, u64>::with_shards(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let map = Arc::clone(&map);
            thread::spawn(move || {
                for i in 0..2000u32 {
                    map.alter((i % 8) as u8, |n| Some(n.copied().unwrap_or(0) + 1));
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let total: u64 = map.snapshot().iter().map(|(_, v)| *v).sum();
    assert_eq!(total, 8000);
}

#[test]
fn sharded_snapshots_are_unaffected_by_later_writes() {
    let map = ShardedMap::with_shards(4);
    for k in 0..100u32 {
        map.insert(k, k);
    }
    let snapshot = map.snapshot();
    let shard0 = map.shard_snapshot(0);
    let shard0_len = shard0.len();
    for k in 0..100u32 {
        map.insert(k, k + 1000);
    }
    for k in 100..200u32 {
        map.insert(k, k);
    }
    assert_eq!(snapshot.len(), 100);
    assert_eq!(shard0.len(), shard0_len);
    for k in 0..100u32 {
        assert_eq!(snapshot.get(&k), Some(&k));
        assert_eq!(map.get(&k), Some(k + 1000));
    }
    // Each shard got its own versions: 1 + one publish per write to it.
    let versions: u64 = map
        .snapshot()
        .shards()
        .iter()
        .map(|s| Snapshot::version(s) - 1)
        .sum();
    assert_eq!(versions, 300);
}

/// A writer keeps setting, removing and compacting; readers check that untouched keys never
/// flicker (not even during a compaction) and that the counter key never goes backwards.
#[test]
fn layered_map_compaction_is_invisible_to_concurrent_readers() {
    let base: HashMap<u32, u32> = (0..1000).map(|k| (k, k)).collect();
    let map = Arc::new(LayeredMap::new(base));
    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(3));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (map, done, start) = (Arc::clone(&map), Arc::clone(&done), Arc::clone(&start));
            thread::spawn(move || {
                let mut last = 0;
                let mut checks = 0u64;
                start.wait();
                loop {
                    let finished = done.load(Ordering::Acquire);
                    let layers = map.snapshot();
                    // Keys 500.. are never written.
                    for k in (500..1000).step_by(7) {
                        assert_eq!(layers.get(&k), Some(&k));
                    }
                    let counter = layers.get(&1_000_000).copied().unwrap_or(0);
                    assert!(
                        counter >= last,
                        "counter went back from {last} to {counter}"
                    );
                    last = counter;
                    checks += 1;
                    if finished {
                        break;
                    }
                }
                checks
            })
        })
        .collect();
    start.wait();
    for i in 1..=2000u32 {
        map.set(1_000_000, i);
        map.set(i % 500, i);
        if i % 3 == 0 {
            map.remove(&((i + 1) % 500));
        }
        if i % 50 == 0 {
            map.compact();
        }
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    map.compact();
    let layers = map.snapshot();
    assert!(layers.overrides().is_empty());
    assert_eq!(layers.get(&1_000_000), Some(&2000));
    assert_eq!(layers.get(&999), Some(&999));
}

#[test]
fn sharded_insert_many_equals_inserting_one_by_one_with_one_publish_per_shard() {
    use cowstore::collections::ShardedMap;
    let entries: Vec<(u32, u32)> = (0..5000u32)
        .map(|k| (k.wrapping_mul(2654435761) % 7919, k))
        .collect();
    let bulk = ShardedMap::with_shards(8);
    bulk.insert_many(entries.iter().copied());
    let single = ShardedMap::with_shards(8);
    for &(k, v) in &entries {
        single.insert(k, v);
    }
    let mut a: Vec<_> = bulk.snapshot().iter().map(|(k, v)| (*k, *v)).collect();
    let mut b: Vec<_> = single.snapshot().iter().map(|(k, v)| (*k, *v)).collect();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b, "later duplicates win in both");
    for shard in 0..8 {
        assert_eq!(
            Snapshot::version(&bulk.shard_snapshot(shard)),
            2,
            "one publish per shard"
        );
    }
}
