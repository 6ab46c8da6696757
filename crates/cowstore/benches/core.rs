//! `Store` read and publish costs, each measured in the same run as its anchors: arc-swap,
//! hazarc, `std::sync::RwLock`, `Mutex` and a raw `AtomicPtr` load (the floor).
//!
//! `cargo bench -p cowstore --bench core` (add `-- <filter>` to select groups). Groups:
//!
//! - `read/1-thread/*`: one read (and one field access) per iteration, nothing else running;
//! - `read/2-readers+writer/*`: the same on the measuring thread while a second reader thread
//!   hammers the same value and a writer publishes every millisecond;
//! - `publish/*`: one publish per iteration, first on a fresh process, then (`after-64-readers`)
//!   after 64 threads have each read every contender once, concurrently, and exited.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Barrier, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use cowstore::Store;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hazarc::AtomicArc;

/// A small configuration-like value; reads touch `level`, the rest gives it a realistic size.
#[derive(Clone, Debug, Default)]
#[allow(dead_code)]
struct Value {
    level: u64,
    timeout_ms: u64,
    flags: [u64; 4],
}

fn value(n: u64) -> Value {
    Value {
        level: n,
        timeout_ms: n * 2,
        flags: [n; 4],
    }
}

/// Every contender, holding the same value.
struct Contenders {
    cow: Store<Value>,
    arc_swap: ArcSwap<Value>,
    hazarc: AtomicArc<Value>,
    rwlock: RwLock<Arc<Value>>,
    mutex: Mutex<Arc<Value>>,
    raw: AtomicPtr<Value>,
}

impl Contenders {
    fn new() -> Self {
        Self {
            cow: Store::new(value(1)),
            arc_swap: ArcSwap::from_pointee(value(1)),
            hazarc: AtomicArc::from(value(1)),
            rwlock: RwLock::new(Arc::new(value(1))),
            mutex: Mutex::new(Arc::new(value(1))),
            // Leaked on purpose: the floor only loads it.
            raw: AtomicPtr::new(Box::into_raw(Box::new(value(1)))),
        }
    }

    /// Publishes a new value in every contender (used by the background writer).
    fn publish_all(&self, n: u64) {
        self.cow.store(value(n)).unwrap();
        self.arc_swap.store(Arc::new(value(n)));
        self.hazarc.store(Arc::new(value(n)));
        *self.rwlock.write().unwrap() = Arc::new(value(n));
        *self.mutex.lock().unwrap() = Arc::new(value(n));
    }
}

/// A read path under test: `setup` runs once per thread and returns the per-thread state,
/// `read` does one read and returns a field of the value.
type ReadFn = fn(&Contenders, &mut ReadState) -> u64;

#[derive(Default)]
struct ReadState<'a> {
    cow_reader: Option<cowstore::Reader<'a, Value>>,
    arc_swap_cache: Option<arc_swap::Cache<&'a ArcSwap<Value>, Arc<Value>>>,
    hazarc_cache: Option<hazarc::Cache<&'a AtomicArc<Value>>>,
}

fn reads() -> Vec<(&'static str, ReadFn)> {
    vec![
        ("cowstore::load", |c, _| c.cow.load().level),
        ("cowstore::snapshot", |c, _| c.cow.snapshot().level),
        ("cowstore::Reader::load", |_, s| {
            s.cow_reader.as_mut().expect("reader set up").load().level
        }),
        ("arc_swap::load", |c, _| c.arc_swap.load().level),
        ("arc_swap::load_full", |c, _| c.arc_swap.load_full().level),
        ("arc_swap::Cache::load", |_, s| {
            s.arc_swap_cache
                .as_mut()
                .expect("cache set up")
                .load()
                .level
        }),
        ("hazarc::load", |c, _| c.hazarc.load().level),
        ("hazarc::load_owned", |c, _| c.hazarc.load_owned().level),
        ("hazarc::Cache::load", |_, s| {
            s.hazarc_cache.as_mut().expect("cache set up").load().level
        }),
        ("RwLock::read", |c, _| c.rwlock.read().unwrap().level),
        ("Mutex::lock", |c, _| c.mutex.lock().unwrap().level),
        ("AtomicPtr::load (floor)", |c, _| {
            // SAFETY: the pointee is leaked and never freed or written after creation.
            unsafe { (*c.raw.load(Ordering::Acquire)).level }
        }),
    ]
}

fn read_state(c: &Contenders) -> ReadState<'_> {
    ReadState {
        cow_reader: Some(c.cow.reader()),
        arc_swap_cache: Some(arc_swap::Cache::new(&c.arc_swap)),
        hazarc_cache: Some(hazarc::Cache::new(&c.hazarc)),
    }
}

fn read_single_thread(c: &mut Criterion) {
    let contenders = Contenders::new();
    let mut group = c.benchmark_group("read/1-thread");
    for (name, read) in reads() {
        let mut state = read_state(&contenders);
        group.bench_function(name, |b| {
            b.iter(|| black_box(read(&contenders, &mut state)))
        });
    }
    group.finish();
}

/// Runs `read` on the measuring thread while another thread runs it in a loop and a writer
/// publishes every millisecond.
fn read_contended(c: &mut Criterion) {
    let contenders = Contenders::new();
    let mut group = c.benchmark_group("read/2-readers+writer");
    for (name, read) in reads() {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let stop = AtomicBool::new(false);
                let ready = Barrier::new(3);
                thread::scope(|s| {
                    s.spawn(|| {
                        let mut state = read_state(&contenders);
                        ready.wait();
                        while !stop.load(Ordering::Relaxed) {
                            for _ in 0..64 {
                                black_box(read(&contenders, &mut state));
                            }
                        }
                    });
                    s.spawn(|| {
                        ready.wait();
                        let mut n = 2;
                        while !stop.load(Ordering::Relaxed) {
                            thread::sleep(Duration::from_millis(1));
                            contenders.publish_all(n);
                            n += 1;
                        }
                    });
                    let mut state = read_state(&contenders);
                    ready.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(read(&contenders, &mut state));
                    }
                    let elapsed = start.elapsed();
                    stop.store(true, Ordering::Relaxed);
                    elapsed
                })
            })
        });
    }
    group.finish();
}

fn publish_group(c: &mut Criterion, label: &str, contenders: &Contenders) {
    let mut group = c.benchmark_group("publish");
    let mut n = 0u64;
    let mut next = || {
        n += 1;
        n
    };
    group.bench_function(BenchmarkId::new("cowstore::store", label), |b| {
        b.iter(|| contenders.cow.store(value(next())).unwrap())
    });
    group.bench_function(BenchmarkId::new("cowstore::update", label), |b| {
        b.iter(|| contenders.cow.update(|v| v.level += 1).unwrap())
    });
    group.bench_function(BenchmarkId::new("arc_swap::store", label), |b| {
        b.iter(|| contenders.arc_swap.store(Arc::new(value(next()))))
    });
    group.bench_function(BenchmarkId::new("hazarc::store", label), |b| {
        b.iter(|| contenders.hazarc.store(Arc::new(value(next()))))
    });
    group.bench_function(BenchmarkId::new("RwLock::write", label), |b| {
        b.iter(|| *contenders.rwlock.write().unwrap() = Arc::new(value(next())))
    });
    group.finish();
}

/// 64 threads read every contender once, all alive at the same time, then exit.
fn read_from_64_threads(contenders: &Contenders) {
    let barrier = Barrier::new(64);
    thread::scope(|s| {
        for _ in 0..64 {
            s.spawn(|| {
                let guards = (
                    contenders.cow.load(),
                    contenders.arc_swap.load(),
                    contenders.hazarc.load(),
                );
                barrier.wait();
                black_box(guards.0.level + guards.1.level + guards.2.level);
            });
        }
    });
}

fn publish(c: &mut Criterion) {
    let contenders = Contenders::new();
    publish_group(c, "fresh", &contenders);
    read_from_64_threads(&contenders);
    publish_group(c, "after-64-readers", &contenders);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40);
    targets = read_single_thread, read_contended, publish
}
criterion_main!(benches);
