//! Small concurrent workloads sized for Miri, which checks every access of the unsafe protocol
//! for undefined behaviour (use-after-free, data races, provenance) under many thread
//! schedules: `MIRIFLAGS="-Zmiri-strict-provenance -Zmiri-disable-isolation
//! -Zmiri-many-seeds=0..8" cargo +nightly miri test -p cowstore --test concurrency_small`.
//! They also run, quickly, as ordinary tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cowstore::{Overflow, ReadBarrier, Store};

/// A value with a heap part, so a use-after-free or double free is visible to Miri, and a
/// shared live-instance counter.
struct Value {
    payload: Box<[u64; 4]>,
    live: Arc<AtomicUsize>,
}

impl Value {
    fn new(n: u64, live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Self {
            payload: Box::new([n, n + 1, n + 2, n + 3]),
            live: Arc::clone(live),
        }
    }

    fn check(&self) -> u64 {
        let n = self.payload[0];
        assert_eq!(*self.payload, [n, n + 1, n + 2, n + 3]);
        n
    }
}

impl Clone for Value {
    fn clone(&self) -> Self {
        Self::new(self.payload[0], &self.live)
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

const OPS: u64 = if cfg!(miri) { 12 } else { 2_000 };

#[test]
fn readers_writers_and_subscribers_asymmetric() {
    readers_writers_and_subscribers(ReadBarrier::Asymmetric);
}

#[test]
fn readers_writers_and_subscribers_adaptive() {
    readers_writers_and_subscribers(ReadBarrier::Adaptive);
}

#[test]
fn readers_writers_and_subscribers_symmetric() {
    readers_writers_and_subscribers(ReadBarrier::Symmetric);
}

fn readers_writers_and_subscribers(barrier: ReadBarrier) {
    let live = Arc::new(AtomicUsize::new(0));
    let store = Store::builder(Value::new(0, &live))
        .read_barrier(barrier)
        .build()
        .unwrap();
    if barrier == ReadBarrier::Symmetric || cfg!(miri) {
        // Miri runs the asymmetric protocol with fences in place of `membarrier`.
        assert_eq!(store.read_barrier(), barrier);
    }
    let store = Arc::new(store);
    let mut queue = store.subscribe_queue(4, Overflow::DropOldest);
    let mut latest = store.subscribe();

    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (store, live) = (Arc::clone(&store), Arc::clone(&live));
            std::thread::spawn(move || {
                for i in 0..OPS {
                    if w == 0 {
                        store
                            .update(|v| *v = Value::new(v.check() + 1, &live))
                            .unwrap();
                    } else if i % 2 == 0 {
                        store
                            .update_cas(|v| *v = Value::new(v.check() + 1, &live))
                            .unwrap();
                    } else {
                        let next = store.load().check() + 1;
                        let _ =
                            store.compare_and_set(next, |v| *v = Value::new(v.check() + 1, &live));
                    }
                }
            })
        })
        .collect();

    let readers: Vec<_> = (0..3)
        .map(|r| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut reader = store.reader();
                let mut last = 0;
                let mut held = Vec::new();
                for i in 0..OPS * 2 {
                    let seen = match (i + r) % 4 {
                        0 => store.load().check(),
                        1 => {
                            let snapshot = store.snapshot();
                            let n = snapshot.check();
                            held.push(snapshot);
                            if held.len() > 3 {
                                held.remove(0);
                            }
                            n
                        }
                        2 => reader.load().check(),
                        _ => {
                            let guards: Vec<_> = (0..9).map(|_| store.load()).collect();
                            guards.iter().map(|g| g.check()).max().unwrap()
                        }
                    };
                    assert!(seen >= last, "went backwards: {seen} < {last}");
                    last = seen;
                }
            })
        })
        .collect();

    for t in writers.into_iter().chain(readers) {
        t.join().unwrap();
    }
    let final_value = store.load().check();
    assert!(final_value >= OPS, "writer 0 alone made {OPS} increments");
    assert_eq!(latest.try_recv().map(|s| s.check()).ok(), Some(final_value));
    while let Ok(snapshot) = queue.try_recv() {
        snapshot.check();
    }
    drop((queue, latest));
    assert_eq!(store.stats().pinned_versions, 0);
    drop(store);
    assert_eq!(
        live.load(Ordering::SeqCst),
        0,
        "every value dropped exactly once"
    );
}

#[test]
fn snapshots_dropped_on_other_threads() {
    let live = Arc::new(AtomicUsize::new(0));
    let store = Arc::new(Store::new(Value::new(0, &live)));
    let mut snapshots = Vec::new();
    for i in 1..=4 {
        snapshots.push(store.snapshot());
        store.store(Value::new(i, &live)).unwrap();
    }
    let droppers: Vec<_> = snapshots
        .into_iter()
        .map(|s| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let clone = s.clone();
                let guard = store.load();
                guard.check();
                drop(s);
                clone.check()
            })
        })
        .collect();
    let seen: Vec<u64> = droppers.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(seen, [0, 1, 2, 3]);
    assert_eq!(live.load(Ordering::SeqCst), 1);
    drop(store);
    assert_eq!(live.load(Ordering::SeqCst), 0);
}
