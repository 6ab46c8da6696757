//! Every retired value is dropped exactly once, as soon as no guard, snapshot or reader holds it.

use cowstore::{Guard, Snapshot};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cowstore::{Overflow, ReadBarrier, Store};
use std::sync::mpsc;

/// A value that counts its drops, and panics on a second drop of the same instance.
#[derive(Debug)]
struct Tracked {
    id: usize,
    drops: Arc<DropLog>,
    dropped: AtomicUsize,
}

#[derive(Debug, Default)]
struct DropLog {
    created: AtomicUsize,
    dropped: AtomicUsize,
}

impl DropLog {
    fn make(self: &Arc<Self>, id: usize) -> Tracked {
        self.created.fetch_add(1, Ordering::SeqCst);
        Tracked {
            id,
            drops: Arc::clone(self),
            dropped: AtomicUsize::new(0),
        }
    }

    fn alive(&self) -> usize {
        self.created.load(Ordering::SeqCst) - self.dropped.load(Ordering::SeqCst)
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        self.drops.make(self.id)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        assert_eq!(
            self.dropped.fetch_add(1, Ordering::SeqCst),
            0,
            "double drop"
        );
        self.drops.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn retired_value_is_dropped_at_once_when_unpinned() {
    let log = Arc::new(DropLog::default());
    let store = Store::new(log.make(1));
    assert_eq!(log.alive(), 1);
    store.store(log.make(2)).unwrap();
    assert_eq!(
        log.alive(),
        1,
        "version 1 was not pinned: dropped by the publish"
    );
    drop(store);
    assert_eq!(log.alive(), 0, "dropping the store drops the current value");
}

#[test]
fn guard_pins_until_dropped() {
    let log = Arc::new(DropLog::default());
    let store = Store::new(log.make(1));
    let guard = store.load();
    store.store(log.make(2)).unwrap();
    assert_eq!(guard.id, 1);
    assert_eq!(log.alive(), 2, "the guard pins version 1");
    drop(guard);
    assert_eq!(log.alive(), 1, "released with the guard");
}

/// A guard on another live thread (whose record is active, so the default store's publish
/// runs the process-wide barrier) pins its version until dropped; a publish while that thread
/// holds nothing drops the retired version at once. With both read barriers.
#[test]
fn guard_on_a_live_thread_pins_until_dropped_with_either_barrier() {
    for barrier in [
        ReadBarrier::Adaptive,
        ReadBarrier::Asymmetric,
        ReadBarrier::Symmetric,
    ] {
        let log = Arc::new(DropLog::default());
        let store = Store::builder(log.make(1))
            .read_barrier(barrier)
            .build()
            .unwrap();
        if cfg!(target_os = "linux") || barrier == ReadBarrier::Symmetric {
            assert_eq!(store.read_barrier(), barrier);
        }
        let (to_reader, reader_gets) = mpsc::channel::<()>();
        let (to_main, main_gets) = mpsc::channel::<usize>();
        let shared = &store;
        std::thread::scope(|s| {
            s.spawn(move || {
                let guard = shared.load();
                to_main.send(guard.id).unwrap();
                reader_gets.recv().unwrap(); // main published version 2
                to_main.send(guard.id).unwrap();
                drop(guard);
                to_main.send(0).unwrap();
                reader_gets.recv().unwrap(); // main published version 3
            });
            assert_eq!(main_gets.recv().unwrap(), 1);
            let barriers = store.stats().read_barriers;
            store.store(log.make(2)).unwrap();
            // Another thread is reading: an asymmetric store's publish must run the barrier.
            let expected = u64::from(store.read_barrier() != ReadBarrier::Symmetric);
            assert_eq!(
                store.stats().read_barriers,
                barriers + expected,
                "{barrier:?}"
            );
            assert_eq!(
                log.alive(),
                2,
                "{barrier:?}: the other thread's guard pins version 1"
            );
            to_reader.send(()).unwrap();
            assert_eq!(
                main_gets.recv().unwrap(),
                1,
                "{barrier:?}: the guard still reads 1"
            );
            main_gets.recv().unwrap();
            assert_eq!(log.alive(), 1, "{barrier:?}: released with the guard");
            // The reader thread is alive, its record active, and it holds nothing.
            store.store(log.make(3)).unwrap();
            assert_eq!(
                log.alive(),
                1,
                "{barrier:?}: version 2 dropped by the publish"
            );
            to_reader.send(()).unwrap();
        });
        drop(store);
        assert_eq!(log.alive(), 0);
    }
}

#[test]
fn snapshot_pins_until_last_clone_dropped() {
    let log = Arc::new(DropLog::default());
    let store = Store::new(log.make(1));
    let a = store.snapshot();
    let b = a.clone();
    store.store(log.make(2)).unwrap();
    store.store(log.make(3)).unwrap();
    assert_eq!(log.alive(), 2);
    drop(a);
    assert_eq!(log.alive(), 2, "b still pins version 1");
    let c = std::thread::spawn(move || {
        let c = b.clone();
        drop(b);
        c
    })
    .join()
    .unwrap();
    assert_eq!(log.alive(), 2);
    drop(c);
    assert_eq!(log.alive(), 1);
}

#[test]
fn reader_pins_cached_version_until_next_load() {
    let log = Arc::new(DropLog::default());
    let store = Store::new(log.make(1));
    let mut reader = store.reader();
    assert_eq!(reader.load().id, 1);
    store.store(log.make(2)).unwrap();
    assert_eq!(log.alive(), 2, "the reader's cache pins version 1");
    assert_eq!(reader.load().id, 2);
    assert_eq!(log.alive(), 1, "refreshing the cache released version 1");
    drop(reader);
    drop(store);
    assert_eq!(log.alive(), 0);
}

#[test]
fn guard_held_across_many_publishes_is_paid_and_released() {
    let log = Arc::new(DropLog::default());
    let store = Store::new(log.make(0));
    let guards: Vec<_> = (0..3).map(|_| store.load()).collect();
    for i in 1..=10 {
        store.store(log.make(i)).unwrap();
    }
    assert!(guards.iter().all(|g| g.id == 0));
    assert_eq!(log.alive(), 2);
    drop(guards);
    assert_eq!(log.alive(), 1);
}

#[test]
fn more_guards_than_slots_use_the_fallback_and_release() {
    let log = Arc::new(DropLog::default());
    let store = Store::new(log.make(0));
    // More nested guards than a thread has borrow slots: the rest take counted units.
    let guards: Vec<_> = (0..40).map(|_| store.load()).collect();
    store.store(log.make(1)).unwrap();
    assert!(guards.iter().all(|g| g.id == 0 && Guard::version(g) == 1));
    assert_eq!(log.alive(), 2);
    drop(guards);
    assert_eq!(log.alive(), 1);
    assert_eq!(store.load().id, 1);
}

/// `load()` takes the guard slots in turn: later loads come round to a held guard's slot and
/// must step past it, and publishes meanwhile must pay the held guard, not the passers-by.
#[test]
fn held_guards_survive_loads_rotating_past_their_slots() {
    let log = Arc::new(DropLog::default());
    let store = Store::new(log.make(0));
    let first = store.load();
    let second = store.load();
    for i in 1..=20 {
        let passing = store.load();
        assert_eq!(passing.id, i - 1);
        store.store(log.make(i)).unwrap();
        assert_eq!(passing.id, i - 1);
        drop(passing);
        assert_eq!(
            log.alive(),
            2,
            "only the held version and the current one are alive"
        );
    }
    assert_eq!((first.id, second.id), (0, 0));
    drop(first);
    assert_eq!(log.alive(), 2, "the second guard still pins version 1");
    drop(second);
    assert_eq!(log.alive(), 1);
    assert_eq!(store.load().id, 20);
}

#[test]
fn weak_snapshot_does_not_pin() {
    let log = Arc::new(DropLog::default());
    let store = Store::new(log.make(1));
    let weak = Snapshot::downgrade(&store.snapshot());
    store.store(log.make(2)).unwrap();
    assert_eq!(log.alive(), 1);
    assert!(weak.upgrade().is_none());
    assert_eq!(weak.version(), 1);
}

#[test]
fn rejected_and_aborted_candidates_are_dropped_once() {
    let log = Arc::new(DropLog::default());
    let store = Store::builder(log.make(1))
        .validator("small ids", |t: &Tracked| {
            if t.id < 100 {
                Ok(())
            } else {
                Err("id too large".into())
            }
        })
        .build()
        .unwrap();
    assert!(store.store(log.make(500)).is_err());
    assert!(store.update(|t| t.id = 700).is_err());
    assert!(store.try_update(|_| Err::<(), _>("no")).is_err());
    assert_eq!(log.alive(), 1);
    assert_eq!(store.version(), 1);
}

#[test]
fn subscriptions_release_versions_they_no_longer_need() {
    let log = Arc::new(DropLog::default());
    let store = Store::new(log.make(0));
    let mut latest = store.subscribe();
    let mut queue = store.subscribe_queue(2, Overflow::DropOldest);
    for i in 1..=5 {
        store.store(log.make(i)).unwrap();
    }
    // Current (5) + queue holds 4 and 5; the latest-value slot holds 5.
    assert_eq!(log.alive(), 2);
    assert_eq!(latest.try_recv().unwrap().id, 5);
    assert_eq!(queue.try_recv().unwrap().id, 4);
    assert_eq!(log.alive(), 1, "4 left the queue and nothing else holds it");
    drop((latest, queue));
    drop(store);
    assert_eq!(log.alive(), 0);
}

#[test]
fn stats_report_pinned_versions_and_reclaims() {
    let log = Arc::new(DropLog::default());
    let store = Store::new(log.make(1));
    let pinned = store.snapshot();
    store.store(log.make(2)).unwrap();
    store.store(log.make(3)).unwrap();
    let stats = store.stats();
    assert_eq!(stats.pinned_versions, 1);
    assert_eq!(stats.oldest_pinned.as_ref().map(|p| p.version), Some(1));
    assert_eq!(stats.reclaimed, 1, "version 2 was never pinned");
    drop(pinned);
    let stats = store.stats();
    assert_eq!((stats.pinned_versions, stats.reclaimed), (0, 2));
}

#[test]
fn values_are_dropped_on_the_thread_that_releases_them_last() {
    let log = Arc::new(DropLog::default());
    let store = Arc::new(Store::new(log.make(1)));
    let snapshot = store.snapshot();
    store.store(log.make(2)).unwrap();
    let log2 = Arc::clone(&log);
    std::thread::spawn(move || {
        assert_eq!(log2.alive(), 2);
        drop(snapshot);
        assert_eq!(log2.alive(), 1);
    })
    .join()
    .unwrap();
}

/// A thread keeps its first few snapshots in borrow slots and counts the rest; either kind
/// pins its version, may outlive the thread that took it and the store, and drops its version
/// exactly once on whichever thread lets go last.
#[test]
fn snapshots_in_slots_and_in_shards_outlive_their_thread_and_the_store() {
    let log = Arc::new(DropLog::default());
    let store = Arc::new(Store::new(log.make(1)));
    // More snapshots than a thread has borrow slots, on a thread that then ends.
    let mut taken = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || (0..20).map(|_| store.snapshot()).collect::<Vec<_>>())
            .join()
            .unwrap()
    };
    assert!(taken.iter().all(|s| s.id == 1 && Snapshot::version(s) == 1));
    store.store(log.make(2)).unwrap();
    assert_eq!(log.alive(), 2, "the snapshots pin version 1");
    assert_eq!(store.stats().pinned_versions, 1);
    let current = store.snapshot();
    drop(Arc::into_inner(store).expect("the only handle"));
    assert_eq!(
        log.alive(),
        2,
        "version 2 outlives its store through a snapshot"
    );
    assert_eq!(current.id, 2);
    let rest = taken.split_off(1);
    let clone = taken[0].clone();
    std::thread::spawn(move || drop(rest)).join().unwrap();
    assert_eq!(log.alive(), 2);
    drop(taken);
    assert_eq!(log.alive(), 2, "the clone still pins version 1");
    std::thread::spawn(move || drop(clone)).join().unwrap();
    assert_eq!(log.alive(), 1);
    drop(current);
    assert_eq!(log.alive(), 0);
}

/// `snapshot()` first tries the snapshot slot the last one found free, so a long-lived snapshot
/// (a reader's) moves that hint once instead of sending every later snapshot searching. Short
/// snapshots taken beside long-lived ones, and released out of order, still pin exactly their
/// versions and drop each version once.
#[test]
fn short_snapshots_beside_long_lived_ones_pin_exactly_their_versions() {
    let log = Arc::new(DropLog::default());
    let store = Store::new(log.make(1));
    let mut reader = store.reader();
    let long = store.snapshot();
    for n in 2..=40 {
        let short = store.snapshot();
        let shorter = store.snapshot();
        assert_eq!((short.id, shorter.id), (n - 1, n - 1));
        store.store(log.make(n)).unwrap();
        // Versions 1 (reader and `long`), n - 1 (the two short ones) and n (current).
        assert_eq!(log.alive(), if n == 2 { 2 } else { 3 });
        drop(short);
        assert_eq!(log.alive(), if n == 2 { 2 } else { 3 });
        drop(shorter);
        assert_eq!(log.alive(), 2, "version {} outlived its snapshots", n - 1);
    }
    assert_eq!(reader.load().id, 40);
    assert_eq!(log.alive(), 2, "`long` still pins version 1");
    drop(long);
    assert_eq!(log.alive(), 1);
    drop(reader);
    drop(store);
    assert_eq!(log.alive(), 0);
}
