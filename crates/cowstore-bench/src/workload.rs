//! The workload: threads doing a mix of uniform random reads and writes on one shared map.

use std::hint::black_box;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::alloc;
use crate::machine::CpuSample;

/// A shared key-value map under test, as a user of it would set it up.
pub(crate) trait Contender: Sync + Sized {
    /// A map holding keys `0..size`, each mapped to itself.
    fn build(size: u64) -> Self;
    /// One thread's handle: the place to keep per-thread read caches.
    fn handle(&self) -> impl Handle + '_;
}

/// What one worker thread does to a contender.
pub(crate) trait Handle {
    /// Looks `key` up.
    fn read(&mut self, key: u64) -> Option<u64>;
    /// Sets `key` (always an existing key in this workload) to `value`.
    fn write(&mut self, key: u64, value: u64);
}

/// A read/write mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub(crate) enum Mix {
    /// 100% reads.
    #[value(name = "100-0")]
    #[serde(rename = "100/0")]
    ReadOnly,
    /// 99% reads, 1% writes.
    #[value(name = "99-1")]
    #[serde(rename = "99/1")]
    R99,
    /// 90% reads, 10% writes.
    #[value(name = "90-10")]
    #[serde(rename = "90/10")]
    R90,
    /// 50% reads, 50% writes.
    #[value(name = "50-50")]
    #[serde(rename = "50/50")]
    R50,
}

impl Mix {
    /// Every mix, in report order.
    pub(crate) const ALL: [Mix; 4] = [Mix::ReadOnly, Mix::R99, Mix::R90, Mix::R50];

    /// Share of operations that are writes.
    pub(crate) fn write_fraction(self) -> f64 {
        match self {
            Mix::ReadOnly => 0.0,
            Mix::R99 => 0.01,
            Mix::R90 => 0.10,
            Mix::R50 => 0.50,
        }
    }

    /// "reads/writes" label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Mix::ReadOnly => "100/0",
            Mix::R99 => "99/1",
            Mix::R90 => "90/10",
            Mix::R50 => "50/50",
        }
    }

    /// A file-name-safe label.
    pub(crate) fn slug(self) -> &'static str {
        match self {
            Mix::ReadOnly => "100-0",
            Mix::R99 => "99-1",
            Mix::R90 => "90-10",
            Mix::R50 => "50-50",
        }
    }
}

/// splitmix64: tiny, fast, good enough to pick keys and operations.
struct Rng(u64);

impl Rng {
    #[inline]
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Operations between two looks at the phase flag.
const BATCH: u32 = 8;
/// One read in this many has its latency recorded.
pub(crate) const READ_SAMPLE_EVERY: u64 = 64;
/// One write in this many has its latency recorded.
pub(crate) const WRITE_SAMPLE_EVERY: u64 = 8;

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// The parameters of one cell of the matrix.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CellSpec {
    /// Read/write mix.
    pub(crate) mix: Mix,
    /// Entries in the map (keys `0..size`).
    pub(crate) size: u64,
    /// Worker threads.
    pub(crate) threads: usize,
    /// Length of the measured phase.
    pub(crate) duration: Duration,
    /// Length of the unmeasured phase before it.
    pub(crate) warmup: Duration,
}

/// What one worker measured.
struct ThreadResult {
    reads: u64,
    writes: u64,
    misses: u64,
    elapsed: Duration,
    read_hist: Histogram<u64>,
    write_hist: Histogram<u64>,
    alloc_bytes: u64,
    allocs: u64,
}

/// What one cell measured (all threads together).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Measured {
    /// Reads completed in the measured phase.
    pub(crate) reads: u64,
    /// Writes completed in the measured phase.
    pub(crate) writes: u64,
    /// Reads that did not find their key (must be 0: every key exists).
    pub(crate) misses: u64,
    /// Mean over threads of the measured phase length, seconds.
    pub(crate) seconds: f64,
    /// Sum over threads of reads / that thread's measured time.
    pub(crate) read_ops_per_s: f64,
    /// Sum over threads of writes / that thread's measured time.
    pub(crate) write_ops_per_s: f64,
    /// Read latency percentiles (ns), from a sample of one read in [`READ_SAMPLE_EVERY`].
    pub(crate) read_p50_ns: Option<u64>,
    /// See `read_p50_ns`.
    pub(crate) read_p99_ns: Option<u64>,
    /// See `read_p50_ns`.
    pub(crate) read_p999_ns: Option<u64>,
    /// Largest sampled read latency (ns).
    pub(crate) read_max_ns: Option<u64>,
    /// Number of sampled reads.
    pub(crate) read_samples: u64,
    /// Write latency percentiles (ns), from a sample of one write in [`WRITE_SAMPLE_EVERY`].
    pub(crate) write_p50_ns: Option<u64>,
    /// See `write_p50_ns`.
    pub(crate) write_p99_ns: Option<u64>,
    /// Number of sampled writes.
    pub(crate) write_samples: u64,
    /// Bytes allocated by the worker threads during the measured phase.
    pub(crate) allocated_bytes: u64,
    /// Allocations made by the worker threads during the measured phase.
    pub(crate) allocations: u64,
    /// `allocated_bytes / writes` (none when there were no writes).
    pub(crate) bytes_per_write: Option<f64>,
    /// `allocations / writes`.
    pub(crate) allocs_per_write: Option<f64>,
    /// Heap held by the populated map before the run (bytes).
    pub(crate) base_heap_bytes: i64,
    /// High-water mark of the heap during the measured phase, above the heap before the map
    /// was built (bytes): the map, the versions still pinned, and garbage not yet freed.
    pub(crate) peak_heap_bytes: i64,
    /// Time to build and populate the map (seconds).
    pub(crate) build_seconds: f64,
    /// Operations per second of the slowest thread ÷ that of the fastest (1 = fair; near 0 =
    /// one thread starved the others, which inflates the total of an unfair lock).
    pub(crate) thread_fairness: f64,
    /// Operations per second of each thread.
    pub(crate) per_thread_ops_per_s: Vec<f64>,
    /// Share of the machine's CPU capacity (percent) used by other processes during the
    /// measured phase (from /proc/stat): how disturbed this cell was.
    pub(crate) others_cpu_percent: Option<f64>,
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

fn percentile(h: &Histogram<u64>, q: f64) -> Option<u64> {
    (!h.is_empty()).then(|| h.value_at_quantile(q))
}

/// Runs one cell: builds a fresh `C`, runs `spec.threads` workers, measures.
pub(crate) fn run_cell<C: Contender>(spec: &CellSpec, seed: u64) -> Measured {
    // Everything the harness itself needs is allocated before the baseline is taken.
    let mut hists: Vec<(Histogram<u64>, Histogram<u64>)> = (0..spec.threads)
        .map(|_| (new_hist(), new_hist()))
        .collect();
    let mut results: Vec<ThreadResult> = Vec::with_capacity(spec.threads);
    let phase = AtomicU8::new(WARMUP);
    let barrier = Barrier::new(spec.threads + 1);

    let heap_before = alloc::live_bytes();
    let built = Instant::now();
    let map = C::build(spec.size);
    let build_seconds = built.elapsed().as_secs_f64();
    let base_heap_bytes = alloc::live_bytes() - heap_before;

    let (mut cpu_before, mut cpu_after) = (None, None);
    let write_threshold = (spec.mix.write_fraction() * f64::from(u32::MAX) + 0.5) as u64;
    std::thread::scope(|s| {
        let workers: Vec<_> = hists
            .drain(..)
            .enumerate()
            .map(|(i, (read_hist, write_hist))| {
                let (map, phase, barrier) = (&map, &phase, &barrier);
                let rng = Rng(seed ^ (i as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F));
                s.spawn(move || {
                    let handle = map.handle();
                    barrier.wait();
                    worker(
                        handle,
                        spec.size,
                        write_threshold,
                        phase,
                        rng,
                        read_hist,
                        write_hist,
                    )
                })
            })
            .collect();
        barrier.wait();
        std::thread::sleep(spec.warmup);
        cpu_before = CpuSample::now();
        alloc::reset_peak();
        phase.store(MEASURE, Ordering::Release);
        std::thread::sleep(spec.duration);
        phase.store(STOP, Ordering::Release);
        cpu_after = CpuSample::now();
        for w in workers {
            results.push(w.join().expect("worker panicked"));
        }
    });
    let peak_heap_bytes = alloc::peak_bytes() - heap_before;
    drop(map);
    let mut measured = summarize(&results, base_heap_bytes, peak_heap_bytes, build_seconds);
    measured.others_cpu_percent = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) => a.others_percent(&b),
        _ => None,
    };
    measured
}

fn summarize(
    results: &[ThreadResult],
    base_heap_bytes: i64,
    peak_heap_bytes: i64,
    build_seconds: f64,
) -> Measured {
    let mut read_hist = new_hist();
    let mut write_hist = new_hist();
    let (mut reads, mut writes, mut misses, mut alloc_bytes, mut allocs) = (0, 0, 0, 0, 0);
    let (mut read_rate, mut write_rate, mut seconds) = (0.0, 0.0, 0.0);
    for r in results {
        let secs = r.elapsed.as_secs_f64().max(1e-9);
        reads += r.reads;
        writes += r.writes;
        misses += r.misses;
        alloc_bytes += r.alloc_bytes;
        allocs += r.allocs;
        read_rate += r.reads as f64 / secs;
        write_rate += r.writes as f64 / secs;
        seconds += secs;
        read_hist.add(&r.read_hist).expect("same histogram bounds");
        write_hist
            .add(&r.write_hist)
            .expect("same histogram bounds");
    }
    let per_write = |x: u64| (writes > 0).then(|| x as f64 / writes as f64);
    let per_thread: Vec<f64> = results
        .iter()
        .map(|r| (r.reads + r.writes) as f64 / r.elapsed.as_secs_f64().max(1e-9))
        .collect();
    let slowest = per_thread.iter().copied().fold(f64::INFINITY, f64::min);
    let fastest = per_thread.iter().copied().fold(0.0, f64::max);
    Measured {
        reads,
        writes,
        misses,
        seconds: seconds / results.len().max(1) as f64,
        read_ops_per_s: read_rate,
        write_ops_per_s: write_rate,
        read_p50_ns: percentile(&read_hist, 0.50),
        read_p99_ns: percentile(&read_hist, 0.99),
        read_p999_ns: percentile(&read_hist, 0.999),
        read_max_ns: (!read_hist.is_empty()).then(|| read_hist.max()),
        read_samples: read_hist.len(),
        write_p50_ns: percentile(&write_hist, 0.50),
        write_p99_ns: percentile(&write_hist, 0.99),
        write_samples: write_hist.len(),
        allocated_bytes: alloc_bytes,
        allocations: allocs,
        bytes_per_write: per_write(alloc_bytes),
        allocs_per_write: per_write(allocs),
        base_heap_bytes,
        peak_heap_bytes,
        build_seconds,
        thread_fairness: if fastest > 0.0 {
            slowest / fastest
        } else {
            1.0
        },
        per_thread_ops_per_s: per_thread,
        others_cpu_percent: None,
    }
}

/// The measured loop of one thread.
#[allow(clippy::too_many_arguments)]
fn worker<H: Handle>(
    mut handle: H,
    size: u64,
    write_threshold: u64,
    phase: &AtomicU8,
    mut rng: Rng,
    mut read_hist: Histogram<u64>,
    mut write_hist: Histogram<u64>,
) -> ThreadResult {
    let (mut reads, mut writes, mut misses) = (0u64, 0u64, 0u64);
    let mut measuring = false;
    let mut started = Instant::now();
    let mut alloc_start = (0, 0);
    let mut checksum = 0u64;
    loop {
        match phase.load(Ordering::Acquire) {
            STOP => break,
            MEASURE if !measuring => {
                measuring = true;
                reads = 0;
                writes = 0;
                misses = 0;
                read_hist.reset();
                write_hist.reset();
                alloc_start = alloc::thread_allocated();
                started = Instant::now();
            }
            _ => {}
        }
        for _ in 0..BATCH {
            let r = rng.next();
            // Uniform over the populated key space (multiply-shift range reduction).
            let key = ((r >> 32) * size) >> 32;
            if (r & 0xFFFF_FFFF) < write_threshold {
                if writes % WRITE_SAMPLE_EVERY == 0 {
                    let t = Instant::now();
                    handle.write(key, r);
                    write_hist.saturating_record(t.elapsed().as_nanos() as u64);
                } else {
                    handle.write(key, r);
                }
                writes += 1;
            } else {
                let found = if reads % READ_SAMPLE_EVERY == 0 {
                    let t = Instant::now();
                    let found = black_box(handle.read(black_box(key)));
                    read_hist.saturating_record(t.elapsed().as_nanos() as u64);
                    found
                } else {
                    black_box(handle.read(black_box(key)))
                };
                match found {
                    Some(v) => checksum = checksum.wrapping_add(v),
                    None => misses += 1,
                }
                reads += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    let alloc_end = alloc::thread_allocated();
    if !measuring {
        // The measured phase began and ended inside one batch of this thread: nothing counts.
        (reads, writes, misses) = (0, 0, 0);
        read_hist.reset();
        write_hist.reset();
        alloc_start = alloc_end;
    }
    black_box(checksum);
    drop(handle);
    alloc::flush();
    ThreadResult {
        reads,
        writes,
        misses,
        elapsed: if measuring { elapsed } else { Duration::ZERO },
        read_hist,
        write_hist,
        alloc_bytes: alloc_end.0 - alloc_start.0,
        allocs: alloc_end.1 - alloc_start.1,
    }
}
