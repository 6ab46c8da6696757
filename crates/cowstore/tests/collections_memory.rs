//! Memory per entry, measured with a counting global allocator: bytes live after building a
//! map of `u64 → u64`, divided by its number of entries, for ours, imbl, rpds and std.
//!
//! `cargo test -p cowstore --test collections_memory` checks the 100K case (ours ≤ imbl);
//! `cargo test --release -p cowstore --test collections_memory -- --ignored --nocapture`
//! prints the table for 1K to 1M entries.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicIsize, Ordering};

use cowstore::collections::{DefaultHashBuilder, HashMap, OrdMap};

/// Counts the bytes currently allocated (requested sizes, not allocator overhead).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes per entry held by the value `build` returns.
fn per_entry<T>(n: usize, build: impl FnOnce(&[u64]) -> T) -> f64 {
    let keys: Vec<u64> = (0..n as u64)
        .map(|i| DefaultHashBuilder::default().hash_one(i))
        .collect();
    let before = LIVE.load(Ordering::Relaxed);
    let map = build(&keys);
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    drop(map);
    bytes as f64 / n as f64
}

fn ours(n: usize) -> f64 {
    per_entry(n, |keys| {
        let mut m: HashMap<u64, u64> = HashMap::new();
        keys.iter().for_each(|&k| {
            m.insert(k, k);
        });
        m
    })
}

fn imbl(n: usize) -> f64 {
    per_entry(n, |keys| {
        let mut m = imbl::HashMap::new();
        keys.iter().for_each(|&k| {
            m.insert(k, k);
        });
        m
    })
}

fn rpds(n: usize) -> f64 {
    per_entry(n, |keys| {
        let mut m = rpds::HashTrieMap::new_sync();
        keys.iter().for_each(|&k| m.insert_mut(k, k));
        m
    })
}

fn std_map(n: usize) -> f64 {
    per_entry(n, |keys| {
        keys.iter()
            .map(|&k| (k, k))
            .collect::<std::collections::HashMap<u64, u64>>()
    })
}

fn ours_ord(n: usize) -> f64 {
    per_entry(n, |keys| {
        keys.iter().map(|&k| (k, k)).collect::<OrdMap<u64, u64>>()
    })
}

fn imbl_ord(n: usize) -> f64 {
    per_entry(n, |keys| {
        keys.iter()
            .map(|&k| (k, k))
            .collect::<imbl::OrdMap<u64, u64>>()
    })
}

// One test only: the allocator counts every thread of this binary.
#[test]
fn hash_map_uses_no_more_memory_per_entry_than_imbl() {
    let n = 100_000;
    let (ours, imbl) = (ours(n), imbl(n));
    println!("100K u64→u64 entries: cowstore {ours:.1} B/entry, imbl {imbl:.1} B/entry");
    assert!(
        ours > 16.0,
        "cannot store 16 bytes of entry in {ours} bytes"
    );
    assert!(
        ours <= imbl,
        "cowstore {ours:.1} B/entry > imbl {imbl:.1} B/entry"
    );
}

#[test]
#[ignore = "prints the memory table; run in release with --ignored --nocapture"]
fn memory_table() {
    println!("bytes per u64→u64 entry (live heap bytes after building / entries)");
    println!(
        "{:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>9}",
        "entries", "cowstore", "imbl", "rpds", "std", "cow_ordmap", "imbl_ord"
    );
    for n in [1_000, 10_000, 100_000, 1_000_000] {
        println!(
            "{n:>9} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>11.1} {:>9.1}",
            ours(n),
            imbl(n),
            rpds(n),
            std_map(n),
            ours_ord(n),
            imbl_ord(n)
        );
    }
}
