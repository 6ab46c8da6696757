//! Many readers and writers for a bounded time. Asserts: no lost update, every snapshot
//! internally consistent, versions never go backwards for any reader, and every value created
//! is dropped by the end (no leak, no double drop).
//!
//! `COWSTORE_STRESS_MS` sets the duration (default 3000 ms, a third per read barrier); `COWSTORE_STRESS_READERS` and
//! `COWSTORE_STRESS_WRITERS` the thread counts (defaults 64 and 8).

use cowstore::Guard;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use cowstore::{ReadBarrier, Snapshot, Store, UpdateError};

static CREATED: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Several fields that every writer changes together; a torn or mixed read would break
/// `check`.
#[derive(Debug)]
struct State {
    counter: u64,
    doubled: u64,
    history_len: u64,
    history: Vec<u64>,
    checksum: u64,
}

impl State {
    fn new() -> Self {
        CREATED.fetch_add(1, Ordering::SeqCst);
        let mut state = Self {
            counter: 0,
            doubled: 0,
            history_len: 0,
            history: Vec::new(),
            checksum: 0,
        };
        state.seal();
        state
    }

    fn increment(&mut self, writer: u64) {
        self.counter += 1;
        self.doubled = self.counter * 2;
        self.history.push(writer);
        if self.history.len() > 16 {
            self.history.remove(0);
        }
        self.history_len = self.history.len() as u64;
        self.seal();
    }

    fn seal(&mut self) {
        self.checksum =
            self.counter ^ self.doubled.rotate_left(7) ^ self.history.iter().sum::<u64>();
    }

    fn check(&self) {
        assert_eq!(self.doubled, self.counter * 2, "torn snapshot: {self:?}");
        assert_eq!(
            self.history_len as usize,
            self.history.len(),
            "torn snapshot: {self:?}"
        );
        let expected =
            self.counter ^ self.doubled.rotate_left(7) ^ self.history.iter().sum::<u64>();
        assert_eq!(self.checksum, expected, "torn snapshot: {self:?}");
    }
}

impl Clone for State {
    fn clone(&self) -> Self {
        CREATED.fetch_add(1, Ordering::SeqCst);
        Self {
            counter: self.counter,
            doubled: self.doubled,
            history_len: self.history_len,
            history: self.history.clone(),
            checksum: self.checksum,
        }
    }
}

impl Drop for State {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every read barrier, one after the other (one test: the drop counters are global), each for
/// a third of `COWSTORE_STRESS_MS`.
#[test]
fn many_readers_and_writers() {
    let duration = Duration::from_millis(env("COWSTORE_STRESS_MS", 3000)) / 3;
    let readers = env("COWSTORE_STRESS_READERS", 64) as usize;
    let writers = env("COWSTORE_STRESS_WRITERS", 8) as usize;
    for barrier in [
        ReadBarrier::Adaptive,
        ReadBarrier::Asymmetric,
        ReadBarrier::Symmetric,
    ] {
        stress(barrier, duration, readers, writers);
    }
}

fn stress(barrier: ReadBarrier, duration: Duration, readers: usize, writers: usize) {
    let store = Store::builder(State::new())
        .read_barrier(barrier)
        .build()
        .unwrap();
    let store = Arc::new(store);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(readers + writers + 1));
    let reads = Arc::new(AtomicU64::new(0));

    let writer_threads: Vec<_> = (0..writers)
        .map(|w| {
            let (store, stop, start) = (Arc::clone(&store), Arc::clone(&stop), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let mut done = 0u64;
                let mut round = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    round += 1;
                    let result = match round % 4 {
                        0 => store.update(|s| s.increment(w as u64)).map(drop),
                        1 => store.update_cas(|s| s.increment(w as u64)).map(drop),
                        2 => {
                            let seen = store.version();
                            match store.compare_and_set(seen, |s| s.increment(w as u64)) {
                                Err(UpdateError::Conflict { .. }) => continue,
                                other => other.map(drop),
                            }
                        }
                        _ => store
                            .batch()
                            .then(|s: &mut State| s.increment(w as u64))
                            .then(|s: &mut State| s.increment(w as u64))
                            .commit()
                            .map(|_| done += 1),
                    };
                    result.expect("no validator, no conflict: the write must succeed");
                    done += 1;
                }
                done
            })
        })
        .collect();

    let reader_threads: Vec<_> = (0..readers)
        .map(|r| {
            let (store, stop, start, reads) = (
                Arc::clone(&store),
                Arc::clone(&stop),
                Arc::clone(&start),
                Arc::clone(&reads),
            );
            std::thread::spawn(move || {
                start.wait();
                let mut last_version = 0u64;
                let mut last_counter = 0u64;
                let mut observe = |version: u64, state: &State| {
                    state.check();
                    assert!(
                        version >= last_version,
                        "version went backwards: {version} < {last_version}"
                    );
                    assert!(state.counter >= last_counter, "counter went backwards");
                    last_version = version;
                    last_counter = state.counter;
                };
                let mut reader = store.reader();
                let mut kept: Vec<Snapshot<State>> = Vec::new();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    match (n + r as u64) % 5 {
                        0 => {
                            let guard = store.load();
                            observe(Guard::version(&guard), &guard);
                        }
                        1 => {
                            let snapshot = store.snapshot();
                            observe(Snapshot::version(&snapshot), &snapshot);
                            if n % 64 == 1 {
                                kept.push(snapshot); // pin a few old versions for a while
                            }
                        }
                        2 => {
                            let snapshot = reader.load();
                            observe(Snapshot::version(snapshot), snapshot);
                        }
                        3 => {
                            // Nested guards: more than a thread's borrow slots.
                            let guards: Vec<_> = (0..10).map(|_| store.load()).collect();
                            for guard in &guards {
                                guard.check();
                            }
                            let newest = guards.iter().map(Guard::version).max().unwrap();
                            observe(newest, guards.last().unwrap());
                        }
                        _ => {
                            if let Some(old) = kept.first() {
                                let weak = Snapshot::downgrade(old);
                                let upgraded = weak.upgrade().expect("pinned by `kept`");
                                upgraded.check();
                            }
                            if kept.len() > 8 {
                                kept.drain(..4);
                            }
                        }
                    }
                }
                reads.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();

    start.wait();
    let began = Instant::now();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let increments: u64 = writer_threads.into_iter().map(|t| t.join().unwrap()).sum();
    for reader in reader_threads {
        reader.join().unwrap();
    }
    let elapsed = began.elapsed();

    let final_state = store.snapshot();
    final_state.check();
    assert_eq!(final_state.counter, increments, "lost updates");
    assert!(increments > 0 && reads.load(Ordering::Relaxed) > 0);

    let stats = store.stats();
    assert_eq!(
        stats.pinned_versions, 0,
        "retired versions still pinned after every reader ended"
    );
    assert_eq!(stats.version, Snapshot::version(&final_state));
    eprintln!(
        "stress ({:?}, readers now {:?}, {} membarriers): {readers} readers, {writers} writers, {elapsed:?}: \
         {} reads, {increments} increments, {} publishes, {} cas retries",
        store.read_barrier(),
        stats.read_barrier,
        stats.read_barriers,
        reads.load(Ordering::Relaxed),
        stats.publishes,
        stats.cas_retries
    );
    drop(final_state);
    drop(store);
    assert_eq!(
        CREATED.load(Ordering::SeqCst),
        DROPPED.load(Ordering::SeqCst),
        "every value created must be dropped exactly once"
    );
}
