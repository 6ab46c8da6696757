//! Loom model checks of the publish/read/reclaim protocol.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p cowstore --release
//! --test loom_store`. Values are loom `UnsafeCell`s, so loom itself checks that every read of a
//! value happens-before the value's drop (a use-after-free shows up as a causality violation),
//! and a drop counter checks that each value is dropped exactly once.
#![cfg(loom)]

use cowstore::{Guard, Snapshot};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use cowstore::{ReadBarrier, Store};

/// A value whose reads and drop loom tracks; `drops` counts drops of every instance, clones
/// included, `live` the instances alive.
struct Tracked {
    cell: UnsafeCell<u64>,
    drops: Arc<AtomicUsize>,
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Self::new(self.read(), &self.drops)
    }
}

// SAFETY: the cell is written only when the value is created; afterwards it is only read, and
// loom checks each read against the drop.
unsafe impl Sync for Tracked {}

impl Tracked {
    fn new(value: u64, drops: &Arc<AtomicUsize>) -> Self {
        Self {
            cell: UnsafeCell::new(value),
            drops: Arc::clone(drops),
        }
    }

    fn read(&self) -> u64 {
        // SAFETY: see the `Sync` impl; loom tracks this access.
        self.cell.with(|p| unsafe { *p })
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.cell.with_mut(|_| {});
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// A store whose version 1 holds the tracked value 1, and the drop counter of its values.
/// The default read barrier: asymmetric, which loom models with `SeqCst` fences on both sides
/// (the guarantee `membarrier` gives), so readers announce with a relaxed store.
fn tracked_store() -> (Arc<AtomicUsize>, Arc<Store<Tracked>>) {
    tracked_store_with(ReadBarrier::Asymmetric)
}

fn tracked_store_with(barrier: ReadBarrier) -> (Arc<AtomicUsize>, Arc<Store<Tracked>>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let store = Store::builder(Tracked::new(1, &drops))
        .read_barrier(barrier)
        .build()
        .unwrap();
    assert_eq!(store.read_barrier(), barrier);
    (drops, Arc::new(store))
}

/// Runs `read` on a second thread while this one publishes version 2; returns what `read`
/// returned.
fn read_while_storing<R: Send + 'static>(
    drops: &Arc<AtomicUsize>,
    store: &Arc<Store<Tracked>>,
    read: impl FnOnce(&Store<Tracked>) -> R + Send + 'static,
) -> R {
    let reader = {
        let store = Arc::clone(store);
        thread::spawn(move || read(&store))
    };
    store.store(Tracked::new(2, drops)).unwrap();
    reader.join().unwrap()
}

/// Checks the end state of a model that published version 2 once: the retired version, which
/// nothing holds any more, was dropped exactly once; dropping the store drops the other.
fn assert_retired_then_dropped(drops: &Arc<AtomicUsize>, store: Arc<Store<Tracked>>) {
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the retired version is freed once nothing holds it"
    );
    drop(store);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// Runs `f` under loom (preemption bound 2 unless `LOOM_MAX_PREEMPTIONS` says otherwise) and
/// checks that the model explored more than a trivial number of interleavings.
fn model(f: impl Fn() + Sync + Send + 'static) {
    static ITERATIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    let before = ITERATIONS.load(std::sync::atomic::Ordering::SeqCst);
    builder.check(move || {
        ITERATIONS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        f();
    });
    let explored = ITERATIONS.load(std::sync::atomic::Ordering::SeqCst) - before;
    eprintln!("loom explored {explored} interleavings");
    assert!(
        explored > 10,
        "the model should branch on the races it is about"
    );
}

#[test]
fn load_races_with_store() {
    load_races_with_store_with(ReadBarrier::Asymmetric);
}

#[test]
fn load_races_with_store_symmetric() {
    load_races_with_store_with(ReadBarrier::Symmetric);
}

fn load_races_with_store_with(barrier: ReadBarrier) {
    model(move || {
        let (drops, store) = tracked_store_with(barrier);
        read_while_storing(&drops, &store, |store| {
            let guard = store.load();
            let value = guard.read();
            assert_eq!(value, Guard::version(&guard));
        });
        assert_retired_then_dropped(&drops, store);
    });
}

/// Regression: a writer that found a reader's slot borrowing the old node, and then failed to
/// mark it paid because the reader had just released it, read that release with a relaxed
/// ordering, so the reader's last reads did not happen before the writer dropped the node.
#[test]
fn load_clone_races_with_store() {
    model(|| {
        let (drops, store) = tracked_store();
        let seen = read_while_storing(&drops, &store, |store| {
            let guard = store.load();
            let copy = Tracked::clone(&guard);
            drop(guard);
            copy.read()
        });
        assert!(matches!(seen, 1 | 2));
        drop(store);
    });
}

#[test]
fn snapshot_races_with_store() {
    snapshot_races_with_store_with(ReadBarrier::Asymmetric);
}

#[test]
fn snapshot_races_with_store_symmetric() {
    snapshot_races_with_store_with(ReadBarrier::Symmetric);
}

fn snapshot_races_with_store_with(barrier: ReadBarrier) {
    model(move || {
        let (drops, store) = tracked_store_with(barrier);
        let snapshot = read_while_storing(&drops, &store, |store| {
            let snapshot = store.snapshot();
            assert_eq!(snapshot.read(), Snapshot::version(&snapshot));
            snapshot
        });
        assert_eq!(snapshot.read(), Snapshot::version(&snapshot));
        let expected_alive = if Snapshot::version(&snapshot) == 1 {
            2
        } else {
            1
        };
        assert_eq!(2 - drops.load(Ordering::SeqCst) as u64, expected_alive);
        drop(snapshot);
        assert_retired_then_dropped(&drops, store);
    });
}

/// Readers switched from the asymmetric barrier to the symmetric one while a reader announces:
/// the publish after the switch runs no heavy barrier, so a reader that announced with a plain
/// store must either be seen by it or start over (its second look at the mode word differs).
#[test]
fn switch_to_symmetric_races_with_load_and_store() {
    model(|| {
        let (drops, store) = tracked_store_with(ReadBarrier::Asymmetric);
        let reader = {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                let guard = store.load();
                assert_eq!(guard.read(), Guard::version(&guard));
                let snapshot = store.snapshot();
                assert_eq!(snapshot.read(), Snapshot::version(&snapshot));
            })
        };
        assert!(store.loom_switch_read_barrier(false));
        store.store(Tracked::new(2, &drops)).unwrap();
        reader.join().unwrap();
        assert_retired_then_dropped(&drops, store);
    });
}

/// Readers switched back to the asymmetric barrier while a publish that read the old
/// (symmetric) mode runs without the heavy barrier.
#[test]
fn switch_to_asymmetric_races_with_load_and_store() {
    model(|| {
        let (drops, store) = tracked_store_with(ReadBarrier::Asymmetric);
        assert!(store.loom_switch_read_barrier(false));
        let switcher = {
            let store = Arc::clone(&store);
            thread::spawn(move || assert!(store.loom_switch_read_barrier(true)))
        };
        let reader = {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                let guard = store.load();
                assert_eq!(guard.read(), Guard::version(&guard));
            })
        };
        store.store(Tracked::new(2, &drops)).unwrap();
        switcher.join().unwrap();
        reader.join().unwrap();
        assert_retired_then_dropped(&drops, store);
    });
}

/// A first snapshot in a shard installs a bias while the node is current; the writer that
/// retires the node must not leave that bias behind (the version would never be freed), even
/// when the install races with the retirement. Loom builds have one snapshot slot, so the
/// second snapshot is the one counted in a shard.
#[test]
fn snapshot_bias_install_races_with_retire() {
    model(|| {
        let (drops, store) = tracked_store();
        let seen = read_while_storing(&drops, &store, |store| {
            let in_slot = store.snapshot();
            let snapshot = store.snapshot();
            let version = Snapshot::version(&snapshot);
            assert_eq!(snapshot.read(), version);
            assert!(Snapshot::version(&in_slot) <= version);
            drop(in_slot);
            assert_eq!(snapshot.read(), version);
            version
        });
        assert!(matches!(seen, 1 | 2));
        assert_retired_then_dropped(&drops, store);
    });
}

#[test]
fn guard_survives_two_publishes() {
    model(|| {
        let (drops, store) = tracked_store();
        let writer = {
            let (store, drops) = (Arc::clone(&store), Arc::clone(&drops));
            thread::spawn(move || {
                store.store(Tracked::new(2, &drops)).unwrap();
                store.store(Tracked::new(3, &drops)).unwrap();
            })
        };
        {
            let guard = store.load();
            assert_eq!(guard.read(), Guard::version(&guard));
            assert_eq!(guard.read(), Guard::version(&guard));
        }
        writer.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        drop(store);
        assert_eq!(drops.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn fallback_load_races_with_store() {
    model(|| {
        let (drops, store) = tracked_store();
        let reader = {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                // Loom builds use two borrow slots: the third guard takes the fallback path.
                let a = store.load();
                let b = store.load();
                let c = store.load();
                for guard in [&a, &b, &c] {
                    assert_eq!(guard.read(), Guard::version(guard));
                }
                assert!(
                    Guard::version(&a) <= Guard::version(&c),
                    "versions never go backwards"
                );
            })
        };
        store.store(Tracked::new(2, &drops)).unwrap();
        reader.join().unwrap();
        drop(store);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn concurrent_cas_writers_and_a_reader() {
    model(|| {
        let (drops, store) = tracked_store();
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let store = Arc::clone(&store);
                thread::spawn(move || {
                    // SAFETY: the clone being prepared is not shared yet.
                    store
                        .update_cas(|next| next.cell.with_mut(|p| unsafe { *p += 1 }))
                        .unwrap();
                })
            })
            .collect();
        let first = Guard::version(&store.load());
        let second = store.snapshot();
        assert!(first <= Snapshot::version(&second));
        assert_eq!(second.read(), Snapshot::version(&second));
        drop(second);
        for writer in writers {
            writer.join().unwrap();
        }
        let last = store.load();
        assert_eq!(
            (Guard::version(&last), last.read()),
            (3, 3),
            "no lost update"
        );
        drop(last);
        drop(store);
        // Every instance (initial, published, discarded clones of lost races) dropped once:
        // a double drop would make loom report the second `with_mut` on a dead cell.
        assert!(drops.load(Ordering::SeqCst) >= 3);
    });
}

#[test]
fn cached_reader_races_with_store() {
    model(|| {
        let (drops, store) = tracked_store();
        let reader = {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                let mut reader = store.reader();
                let first = Snapshot::version(reader.load());
                let snapshot = reader.load();
                assert_eq!(snapshot.read(), Snapshot::version(snapshot));
                assert!(Snapshot::version(snapshot) >= first);
            })
        };
        store.store(Tracked::new(2, &drops)).unwrap();
        reader.join().unwrap();
        assert_retired_then_dropped(&drops, store);
    });
}

#[test]
fn weak_upgrade_races_with_retire() {
    model(|| {
        let (drops, store) = tracked_store();
        let weak = Snapshot::downgrade(&store.snapshot());
        let upgrader = thread::spawn(move || {
            if let Some(snapshot) = weak.upgrade() {
                assert_eq!(snapshot.read(), 1);
            }
        });
        store.store(Tracked::new(2, &drops)).unwrap();
        upgrader.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

/// A snapshot keeps the borrow slot of the thread that took it; here that thread has ended
/// before the snapshot is read, cloned and dropped on another one, while the store publishes
/// and is then dropped itself: the version must stay alive until the last handle goes, and be
/// dropped exactly once.
#[test]
fn slot_snapshot_outlives_its_thread_and_the_store() {
    model(|| {
        let (drops, store) = tracked_store();
        let snapshot = read_while_storing(&drops, &store, |store| {
            let snapshot = store.snapshot();
            assert_eq!(snapshot.read(), Snapshot::version(&snapshot));
            snapshot
        });
        let version = Snapshot::version(&snapshot);
        let clone = snapshot.clone();
        drop(store);
        assert_eq!(snapshot.read(), version);
        drop(snapshot);
        assert_eq!(clone.read(), version);
        assert_eq!(drops.load(Ordering::SeqCst), 1, "the other version is gone");
        drop(clone);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// A slot-held snapshot cloned (into a shard count) and dropped while a writer retires its
/// version: the clone must keep the value alive on its own.
#[test]
fn slot_snapshot_clone_races_with_store() {
    model(|| {
        let (drops, store) = tracked_store();
        let seen = read_while_storing(&drops, &store, |store| {
            let snapshot = store.snapshot();
            let clone = snapshot.clone();
            drop(snapshot);
            assert_eq!(clone.read(), Snapshot::version(&clone));
            Snapshot::version(&clone)
        });
        assert!(matches!(seen, 1 | 2));
        assert_retired_then_dropped(&drops, store);
    });
}
