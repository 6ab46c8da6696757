//! Persistent collection benchmarks against imbl, rpds and std.
//!
//! `cargo bench -p cowstore --bench collections` runs everything (about ten minutes on two
//! cores); pass a filter such as `-- hash_map/lookup` to run one group. Measurement times are
//! set in code (short, small samples) so the full run stays practical on a small machine.
//!
//! Contenders, all with `Arc`-based (thread-safe) nodes:
//! - `cowstore` — `collections::HashMap` with its default hasher (foldhash);
//! - `cowstore_sip` — the same map with std's `RandomState` (SipHash-1-3), the hasher imbl,
//!   rpds and std use by default: the like-for-like comparison of the data structures;
//! - `imbl` — `imbl::HashMap` (default `RandomState`); `imbl_fold` — with foldhash;
//! - `rpds` — `rpds::HashTrieMapSync` (default `RandomState`); `rpds_fold` — with foldhash;
//! - `std` — `std::collections::HashMap` (default `RandomState`); `std_fold` — with foldhash.

use std::collections::hash_map::RandomState;
use std::hint::black_box;
use std::time::{Duration, Instant};

use cowstore::collections::{DefaultHashBuilder, HashMap, OrdMap, PrefixMap};
use criterion::{BenchmarkId, Criterion, Throughput};

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];
/// Lookups per measured iteration.
const BATCH: usize = 1_000;

type Fold = DefaultHashBuilder;
type Ours<S> = HashMap<u64, u64, S>;
type Imbl<S> = imbl::GenericHashMap<u64, u64, S, imbl::shared_ptr::DefaultSharedPtr>;
type Rpds<S> = rpds::HashTrieMapSync<u64, u64, S>;
type Std<S> = std::collections::HashMap<u64, u64, S>;

/// Pseudo-random distinct keys (a bijective mix of 0..n).
fn keys(n: usize) -> Vec<u64> {
    (0..n as u64).map(mix).collect()
}

fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// `BATCH` present keys in random order.
fn probes(keys: &[u64]) -> Vec<u64> {
    (0..BATCH as u64)
        .map(|i| keys[(mix(i ^ 0xABCD) % keys.len() as u64) as usize])
        .collect()
}

fn config(c: &mut Criterion) -> &mut Criterion {
    c
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(900));
    g
}

macro_rules! build {
    (ours, $s:expr, $keys:expr) => {{
        let mut m: Ours<_> = HashMap::with_hasher($s);
        for &k in $keys {
            m.insert(k, k);
        }
        m
    }};
    (imbl, $s:expr, $keys:expr) => {{
        let mut m: Imbl<_> = imbl::GenericHashMap::with_hasher($s);
        for &k in $keys {
            m.insert(k, k);
        }
        m
    }};
    (rpds, $s:expr, $keys:expr) => {{
        let mut m: Rpds<_> = rpds::HashTrieMap::new_with_hasher_and_ptr_kind($s);
        for &k in $keys {
            m.insert_mut(k, k);
        }
        m
    }};
    (std, $s:expr, $keys:expr) => {{
        let mut m: Std<_> = std::collections::HashMap::with_hasher($s);
        for &k in $keys {
            m.insert(k, k);
        }
        m
    }};
}

fn hash_lookup(c: &mut Criterion) {
    let mut g = group(c, "hash_map/lookup");
    for n in SIZES {
        let keys = keys(n);
        let probes = probes(&keys);
        g.throughput(Throughput::Elements(BATCH as u64));
        macro_rules! bench {
            ($name:literal, $kind:ident, $s:expr) => {{
                let m = build!($kind, $s, &keys);
                g.bench_with_input(BenchmarkId::new($name, n), &probes, |b, probes| {
                    b.iter(|| {
                        let mut sum = 0u64;
                        for k in probes {
                            sum = sum.wrapping_add(*m.get(k).unwrap());
                        }
                        sum
                    })
                });
            }};
        }
        bench!("cowstore", ours, Fold::default());
        bench!("cowstore_sip", ours, RandomState::new());
        bench!("imbl", imbl, RandomState::new());
        bench!("imbl_fold", imbl, Fold::default());
        bench!("rpds", rpds, RandomState::new());
        bench!("rpds_fold", rpds, Fold::default());
        bench!("std", std, RandomState::new());
        bench!("std_fold", std, Fold::default());
    }
    g.finish();
}

/// One insert of a new key into a map shared with another version (the write path of a
/// `Store`): persistent maps copy a path, std must clone the whole map first.
fn hash_insert(c: &mut Criterion) {
    let mut g = group(c, "hash_map/insert_shared");
    for n in SIZES {
        let keys = keys(n);
        g.throughput(Throughput::Elements(1));
        macro_rules! bench {
            ($name:literal, $kind:ident, $s:expr, |$m:ident, $k:ident| $op:expr) => {{
                let $m = build!($kind, $s, &keys);
                let mut i = 0u64;
                g.bench_function(BenchmarkId::new($name, n), |b| {
                    b.iter(|| {
                        i += 1;
                        let $k = mix(n as u64 + i % 1_000_000);
                        black_box($op)
                    })
                });
            }};
        }
        bench!("cowstore", ours, Fold::default(), |m, k| {
            let mut m = m.clone();
            m.insert(k, k);
            m
        });
        bench!("cowstore_sip", ours, RandomState::new(), |m, k| {
            let mut m = m.clone();
            m.insert(k, k);
            m
        });
        bench!("imbl", imbl, RandomState::new(), |m, k| m.update(k, k));
        bench!("imbl_fold", imbl, Fold::default(), |m, k| m.update(k, k));
        bench!("rpds", rpds, RandomState::new(), |m, k| m.insert(k, k));
        bench!("rpds_fold", rpds, Fold::default(), |m, k| m.insert(k, k));
        bench!("std_clone", std, RandomState::new(), |m, k| {
            let mut m = m.clone();
            m.insert(k, k);
            m
        });
    }
    g.finish();
}

/// Building a map of n entries by inserting into a map nobody else holds (in place).
fn hash_build(c: &mut Criterion) {
    let mut g = group(c, "hash_map/insert_unique");
    for n in SIZES {
        let keys = keys(n);
        g.throughput(Throughput::Elements(n as u64));
        macro_rules! bench {
            ($name:literal, $kind:ident, $s:expr) => {{
                g.bench_function(BenchmarkId::new($name, n), |b| {
                    b.iter(|| black_box(build!($kind, $s, &keys)))
                });
            }};
        }
        bench!("cowstore", ours, Fold::default());
        bench!("cowstore_sip", ours, RandomState::new());
        bench!("imbl", imbl, RandomState::new());
        bench!("imbl_fold", imbl, Fold::default());
        bench!("rpds", rpds, RandomState::new());
        bench!("rpds_fold", rpds, Fold::default());
        bench!("std", std, RandomState::new());
        bench!("std_fold", std, Fold::default());
    }
    g.finish();
}

/// One remove of a present key from a map shared with another version.
fn hash_remove(c: &mut Criterion) {
    let mut g = group(c, "hash_map/remove_shared");
    for n in SIZES {
        let keys = keys(n);
        g.throughput(Throughput::Elements(1));
        macro_rules! bench {
            ($name:literal, $kind:ident, $s:expr, |$m:ident, $k:ident| $op:expr) => {{
                let $m = build!($kind, $s, &keys);
                let mut i = 0usize;
                g.bench_function(BenchmarkId::new($name, n), |b| {
                    b.iter(|| {
                        i = (i + 7919) % n;
                        let $k = &keys[i];
                        black_box($op)
                    })
                });
            }};
        }
        bench!("cowstore", ours, Fold::default(), |m, k| {
            let mut m = m.clone();
            m.remove(k);
            m
        });
        bench!("cowstore_sip", ours, RandomState::new(), |m, k| {
            let mut m = m.clone();
            m.remove(k);
            m
        });
        bench!("imbl", imbl, RandomState::new(), |m, k| m.without(k));
        bench!("rpds", rpds, RandomState::new(), |m, k| m.remove(k));
        bench!("std_clone", std, RandomState::new(), |m, k| {
            let mut m = m.clone();
            m.remove(k);
            m
        });
    }
    g.finish();
}

fn hash_iterate(c: &mut Criterion) {
    let mut g = group(c, "hash_map/iterate");
    for n in SIZES {
        let keys = keys(n);
        g.throughput(Throughput::Elements(n as u64));
        macro_rules! bench {
            ($name:literal, $kind:ident, $s:expr) => {{
                let m = build!($kind, $s, &keys);
                g.bench_function(BenchmarkId::new($name, n), |b| {
                    b.iter(|| m.values().fold(0u64, |a, v| a.wrapping_add(*v)))
                });
            }};
        }
        bench!("cowstore", ours, Fold::default());
        bench!("imbl", imbl, RandomState::new());
        bench!("rpds", rpds, RandomState::new());
        bench!("std", std, RandomState::new());
    }
    g.finish();
}

/// Two 1M-entry versions, the second derived from the first by updating 10 existing keys.
fn diff(c: &mut Criterion) {
    let mut g = group(c, "diff_1m_10_changes");
    let n = 1_000_000;
    let keys = keys(n);
    let changed: Vec<u64> = (0..10)
        .map(|i| keys[(mix(i) % n as u64) as usize])
        .collect();
    let old = build!(ours, Fold::default(), &keys);
    let mut new = old.clone();
    for k in &changed {
        new.insert(*k, 0);
    }
    assert_eq!(old.diff(&new).count(), 10);
    g.bench_function("cowstore_hash_map", |b| b.iter(|| old.diff(&new).count()));
    let old: OrdMap<u64, u64> = keys.iter().map(|&k| (k, k)).collect();
    let mut new = old.clone();
    for k in &changed {
        new.insert(*k, 0);
    }
    assert_eq!(old.diff(&new).count(), 10);
    g.bench_function("cowstore_ord_map", |b| b.iter(|| old.diff(&new).count()));
    let old: imbl::OrdMap<u64, u64> = keys.iter().map(|&k| (k, k)).collect();
    let mut new = old.clone();
    for k in &changed {
        new.insert(*k, 0);
    }
    g.bench_function("imbl_ord_map", |b| b.iter(|| old.diff(&new).count()));
    g.finish();
}

/// 50K IPv4 routes, lengths spread like a routing table (mostly /24, some /16–/23, few
/// shorter), one per random network.
fn routes() -> Vec<([u8; 4], u32)> {
    (0..50_000u64)
        .map(|i| {
            let r = mix(i ^ 0x5EED);
            let bits = match r % 100 {
                0..=59 => 24,
                60..=89 => 16 + (r >> 8) as u32 % 8,
                90..=97 => 8 + (r >> 8) as u32 % 8,
                _ => 25 + (r >> 8) as u32 % 8,
            };
            let addr = ((r >> 32) as u32) & (u32::MAX << (32 - bits));
            (addr.to_be_bytes(), bits)
        })
        .collect()
}

fn prefix_table() -> PrefixMap<u32> {
    let mut table = PrefixMap::new();
    for (i, (addr, bits)) in routes().into_iter().enumerate() {
        table.insert_bits(&addr, bits, i as u32);
    }
    table
}

/// Random addresses, four in five inside a stored route.
fn addresses(count: u64) -> Vec<[u8; 4]> {
    let routes = routes();
    (0..count)
        .map(|i| {
            let r = mix(i ^ 0xADD);
            if r % 5 == 0 {
                ((r >> 32) as u32).to_be_bytes()
            } else {
                let (addr, bits) = routes[(r % routes.len() as u64) as usize];
                let host = if bits == 32 {
                    0
                } else {
                    (r >> 40) as u32 & (u32::MAX >> bits)
                };
                (u32::from_be_bytes(addr) | host).to_be_bytes()
            }
        })
        .collect()
}

fn prefix_map(c: &mut Criterion) {
    let table = prefix_table();
    let probes = addresses(BATCH as u64);
    let mut g = group(c, "prefix_map_50k");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("longest_match", |b| {
        b.iter(|| {
            probes
                .iter()
                .filter_map(|a| table.longest_match(a))
                .fold(0u32, |acc, (bits, v)| acc.wrapping_add(bits ^ v))
        })
    });
    g.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    g.bench_function("update_one_route_shared", |b| {
        b.iter(|| {
            i += 1;
            let mut next = table.clone();
            next.insert_bits(&((mix(i) as u32) & 0xFFFF_FF00).to_be_bytes(), 24, 7);
            next
        })
    });
    g.bench_function("rebuild_table", |b| b.iter(prefix_table));
    g.finish();
}

/// Latency distribution of single longest-prefix lookups, timed one by one.
fn prefix_latency() {
    let table = prefix_table();
    let probes = addresses(200_000);
    let mut empty: Vec<u64> = (0..200_000)
        .map(|_| {
            let t = Instant::now();
            black_box(());
            t.elapsed().as_nanos() as u64
        })
        .collect();
    empty.sort_unstable();
    let overhead = empty[empty.len() / 2];
    for _round in 0..2 {
        let mut times: Vec<u64> = probes
            .iter()
            .map(|a| {
                let t = Instant::now();
                black_box(table.longest_match(black_box(a)));
                t.elapsed().as_nanos() as u64
            })
            .collect();
        times.sort_unstable();
        let q = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
        println!(
            "prefix_map_50k/longest_match latency (ns, timed singly, timer overhead {overhead} ns \
             included): p50 {} p90 {} p99 {} p99.9 {} max {}",
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            times[times.len() - 1]
        );
    }
}

/// A contender of the ratio harness: runs `ops` operations, returns a checksum.
type Run<'a> = Box<dyn FnMut(u64) -> u64 + 'a>;

/// Interleaved min-of-rounds timing, for ratios that survive a shared, noisy machine: every
/// round times each contender once, in turn; a contender's per-operation time is its best
/// round (the least disturbed one); its median round is printed too. The first contender is
/// the reference of the printed ratios.
fn rounds(title: &str, size: usize, ops: u64, contenders: &mut [(&str, Run<'_>)]) {
    const ROUNDS: usize = 9;
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    let mut sink = 0u64;
    for _ in 0..ROUNDS {
        for (i, (_, run)) in contenders.iter_mut().enumerate() {
            let t = Instant::now();
            sink = sink.wrapping_add(run(ops));
            times[i].push(t.elapsed().as_nanos() as f64 / ops as f64);
        }
    }
    black_box(sink);
    let best: Vec<f64> = times
        .iter()
        .map(|t| t.iter().copied().fold(f64::MAX, f64::min))
        .collect();
    let cells: Vec<String> = contenders
        .iter()
        .zip(&best)
        .zip(&mut times)
        .map(|(((name, _), b), t)| {
            t.sort_by(f64::total_cmp);
            format!(
                "{name} {b:.1} (med {:.1}, {:.2}x)",
                t[t.len() / 2],
                b / best[0]
            )
        })
        .collect();
    println!("{title} {size}: {}", cells.join(" | "));
}

/// A boxed contender from a closure over the op index.
fn run<'a>(mut op: impl FnMut(u64) -> u64 + 'a) -> Run<'a> {
    let mut i = 0u64;
    Box::new(move |ops| {
        let mut sum = 0u64;
        for _ in 0..ops {
            i += 1;
            sum = sum.wrapping_add(op(i));
        }
        sum
    })
}

/// `COWSTORE_RATIOS=1 cargo bench -p cowstore --bench collections`: the ratio table.
fn ratio_table() {
    println!(
        "ns per operation, best of 9 interleaved rounds (median round in parentheses); \
         Nx = time / time of the first contender of the row"
    );
    for n in SIZES {
        let keys = keys(n);
        let probes = probes(&keys);
        let ours = build!(ours, Fold::default(), &keys);
        let ours_sip = build!(ours, RandomState::new(), &keys);
        let im = build!(imbl, RandomState::new(), &keys);
        let im_fold = build!(imbl, Fold::default(), &keys);
        let rp = build!(rpds, RandomState::new(), &keys);
        let rp_fold = build!(rpds, Fold::default(), &keys);
        let st = build!(std, RandomState::new(), &keys);
        let st_fold = build!(std, Fold::default(), &keys);
        let probe = |i: u64| probes[(i % BATCH as u64) as usize];
        let fresh = |i: u64| mix(n as u64 + i % 1_000_000);
        let present = |i: u64| keys[(i.wrapping_mul(7919) % n as u64) as usize];
        // One row per map, looking up the key `$key(i)` in operation `i`.
        macro_rules! lookup_rows {
            ($key:ident) => {
                [
                    ("cowstore", run(|i| *ours.get(&$key(i)).unwrap())),
                    ("imbl", run(|i| *im.get(&$key(i)).unwrap())),
                    ("rpds", run(|i| *rp.get(&$key(i)).unwrap())),
                    ("std", run(|i| *st.get(&$key(i)).unwrap())),
                    ("cowstore_sip", run(|i| *ours_sip.get(&$key(i)).unwrap())),
                    ("imbl_fold", run(|i| *im_fold.get(&$key(i)).unwrap())),
                    ("rpds_fold", run(|i| *rp_fold.get(&$key(i)).unwrap())),
                    ("std_fold", run(|i| *st_fold.get(&$key(i)).unwrap())),
                ]
            };
        }
        rounds("lookup", n, 20_000, &mut lookup_rows!(probe));
        // The rows above cycle through `BATCH` probe keys, whose paths stay cached: they time
        // the walk itself. These draw every key of the map in a scattered order, so they also
        // time the cache and TLB misses of a working set as large as the map.
        let anywhere = |i: u64| keys[(mix(i ^ 0x5EED) % n as u64) as usize];
        rounds("lookup_all_keys", n, 200_000, &mut lookup_rows!(anywhere));
        rounds(
            "insert_shared",
            n,
            2_000,
            &mut [
                (
                    "cowstore",
                    run(|i| {
                        let mut m = ours.clone();
                        m.insert(fresh(i), i);
                        black_box(m).len() as u64
                    }),
                ),
                (
                    "imbl",
                    run(|i| black_box(im.update(fresh(i), i)).len() as u64),
                ),
                (
                    "rpds",
                    run(|i| black_box(rp.insert(fresh(i), i)).size() as u64),
                ),
                (
                    "cowstore_sip",
                    run(|i| {
                        let mut m = ours_sip.clone();
                        m.insert(fresh(i), i);
                        black_box(m).len() as u64
                    }),
                ),
                (
                    "imbl_fold",
                    run(|i| black_box(im_fold.update(fresh(i), i)).len() as u64),
                ),
                (
                    "rpds_fold",
                    run(|i| black_box(rp_fold.insert(fresh(i), i)).size() as u64),
                ),
            ],
        );
        // Timed in its own rows: at 1M one operation takes milliseconds.
        rounds(
            "insert_shared_vs_std_clone",
            n,
            if n >= 100_000 { 3 } else { 100 },
            &mut [
                (
                    "cowstore",
                    run(|i| {
                        let mut m = ours.clone();
                        m.insert(fresh(i), i);
                        black_box(m).len() as u64
                    }),
                ),
                (
                    "std_clone_insert",
                    run(|i| {
                        let mut m = st.clone();
                        m.insert(fresh(i), i);
                        black_box(m).len() as u64
                    }),
                ),
            ],
        );
        rounds(
            "remove_shared",
            n,
            2_000,
            &mut [
                (
                    "cowstore",
                    run(|i| {
                        let mut m = ours.clone();
                        m.remove(&present(i));
                        black_box(m).len() as u64
                    }),
                ),
                (
                    "imbl",
                    run(|i| black_box(im.without(&present(i))).len() as u64),
                ),
                (
                    "rpds",
                    run(|i| black_box(rp.remove(&present(i))).size() as u64),
                ),
            ],
        );
        // Maps owned by one holder (as inside one `update` that makes several changes): every
        // node is changed in place, so these time the walks themselves, not path copies.
        let mut rp_own = build!(rpds, RandomState::new(), &keys);
        // cowstore, imbl and std share the `remove` / `insert` signatures; rpds' differ.
        macro_rules! remove_and_put_back {
            ($map:expr) => {{
                let mut map = $map;
                run(move |i| {
                    let k = present(i);
                    let v = map.remove(&k).expect("present");
                    map.insert(k, v);
                    v
                })
            }};
        }
        rounds(
            "remove_insert_unique",
            n,
            20_000,
            &mut [
                (
                    "cowstore",
                    remove_and_put_back!(build!(ours, Fold::default(), &keys)),
                ),
                (
                    "imbl",
                    remove_and_put_back!(build!(imbl, RandomState::new(), &keys)),
                ),
                (
                    "rpds",
                    run(move |i| {
                        let k = present(i);
                        let v = *rp_own.get(&k).expect("present");
                        rp_own.remove_mut(&k);
                        rp_own.insert_mut(k, v);
                        v
                    }),
                ),
                (
                    "std",
                    remove_and_put_back!(build!(std, RandomState::new(), &keys)),
                ),
            ],
        );
        let builds = (200_000 / n as u64).max(1);
        rounds(
            "insert_unique (per map)",
            n,
            builds,
            &mut [
                (
                    "cowstore",
                    run(|_| build!(ours, Fold::default(), &keys).len() as u64),
                ),
                (
                    "imbl",
                    run(|_| build!(imbl, RandomState::new(), &keys).len() as u64),
                ),
                (
                    "rpds",
                    run(|_| build!(rpds, RandomState::new(), &keys).size() as u64),
                ),
                (
                    "std",
                    run(|_| build!(std, RandomState::new(), &keys).len() as u64),
                ),
                (
                    "cowstore_sip",
                    run(|_| build!(ours, RandomState::new(), &keys).len() as u64),
                ),
                (
                    "imbl_fold",
                    run(|_| build!(imbl, Fold::default(), &keys).len() as u64),
                ),
                (
                    "rpds_fold",
                    run(|_| build!(rpds, Fold::default(), &keys).size() as u64),
                ),
            ],
        );
        rounds(
            "iterate (per map)",
            n,
            builds,
            &mut [
                ("cowstore", run(|_| ours.values().fold(0, |a, v| a ^ v))),
                ("imbl", run(|_| im.values().fold(0, |a, v| a ^ v))),
                ("rpds", run(|_| rp.values().fold(0, |a, v| a ^ v))),
                ("std", run(|_| st.values().fold(0, |a, v| a ^ v))),
            ],
        );
    }
}

fn main() {
    if std::env::var_os("COWSTORE_RATIOS").is_some() {
        ratio_table();
        prefix_latency();
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    hash_lookup(config(&mut c));
    hash_insert(config(&mut c));
    hash_build(config(&mut c));
    hash_remove(config(&mut c));
    hash_iterate(config(&mut c));
    diff(config(&mut c));
    prefix_map(config(&mut c));
    c.final_summary();
    if std::env::args().all(|a| a != "--list") {
        prefix_latency();
    }
}
