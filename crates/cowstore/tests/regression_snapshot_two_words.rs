//! Regression: when snapshots learned to keep their borrow slot (`4fa9ffa`), the handle inside
//! a `Snapshot` grew from two words (node, counter) to three (node, and an enum of unit, shard
//! or slot). Every publish returns a `Snapshot`, and `Store::store` became 14% slower (48
//! against 42 ns per publish on the EPYC VM, measured against the library before the change),
//! which took it past 2× hazarc's `store` there. The hold is now packed into one word again.
//! The handles must stay two words, and every kind of hold must still release what it holds.

use std::mem::size_of;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cowstore::{Snapshot, Store};

#[test]
fn a_snapshot_is_two_words_and_an_option_of_one_is_no_bigger() {
    assert_eq!(size_of::<Snapshot<u64>>(), 2 * size_of::<usize>());
    assert_eq!(size_of::<Snapshot<[u8; 4096]>>(), 2 * size_of::<usize>());
    assert_eq!(
        size_of::<Option<Snapshot<u64>>>(),
        size_of::<Snapshot<u64>>()
    );
}

/// Counts drops of its value.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn every_kind_of_hold_keeps_its_version_and_releases_it() {
    let drops = Arc::new(AtomicUsize::new(0));
    let store = Store::new(Counted(Arc::clone(&drops)));
    // A unit (what a publish returns), slot-held snapshots, shard-counted clones and more
    // snapshots than a thread has snapshot slots: all of version 2.
    let published = store.store(Counted(Arc::clone(&drops))).unwrap();
    let held: Vec<Snapshot<Counted>> = (0..8).map(|_| store.snapshot()).collect();
    let clones: Vec<Snapshot<Counted>> = held.iter().map(Clone::clone).collect();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "version 1 is gone");
    store.store(Counted(Arc::clone(&drops))).unwrap();
    assert!(
        held.iter()
            .chain(&clones)
            .all(|s| Snapshot::version(s) == 2)
    );
    assert_eq!(drops.load(Ordering::SeqCst), 1, "version 2 is pinned");
    drop(published);
    drop(clones);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the slot holders still pin it"
    );
    // Released on another thread, as a snapshot may be.
    std::thread::spawn(move || drop(held)).join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 2, "version 2 dropped once");
    drop(store);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}
