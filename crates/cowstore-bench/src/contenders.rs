//! The contenders: every shared-map design a Rust user would pick, each used the way a
//! competent user would use it.
//!
//! All maps hold `u64 -> u64` and use their default hasher: `RandomState` (SipHash-1-3) for std,
//! DashMap and imbl; foldhash for cowstore's maps. One extra contender, `cow-hashmap-sip`, is a
//! cowstore map with SipHash, to separate the hasher's share of any difference.

use std::collections::HashMap as StdHashMap;
use std::sync::{Mutex, RwLock};

use arc_swap::{ArcSwap, Cache};
use cowstore::{Reader, Store};
use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use crate::workload::{Contender, Handle};

/// The designs under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
pub(crate) enum Kind {
    /// `Store<cowstore::collections::HashMap>`: COW with a persistent (path-copying) map.
    #[value(name = "cow-hashmap")]
    CowHashMap,
    /// `Store<cowstore::collections::HashMap>` built with std's `RandomState` (SipHash), like
    /// the std-based contenders: isolates the effect of the hasher from that of the design.
    #[value(name = "cow-hashmap-sip")]
    CowHashMapSip,
    /// `cowstore::collections::ShardedMap`: 16 shards, each a `Store` of a persistent map.
    #[value(name = "sharded")]
    Sharded,
    /// `Store<std::collections::HashMap>`: COW that clones the whole map on every write.
    #[value(name = "cow-std")]
    CowStd,
    /// `std::sync::RwLock<std::collections::HashMap>`.
    #[value(name = "rwlock")]
    RwLock,
    /// `std::sync::Mutex<std::collections::HashMap>`.
    #[value(name = "mutex")]
    Mutex,
    /// `dashmap::DashMap` (sharded `RwLock`s).
    #[value(name = "dashmap")]
    DashMap,
    /// `arc_swap::ArcSwap<imbl::HashMap>`: the arc-swap + persistent map idiom, writes via `rcu`.
    #[value(name = "arcswap-imbl")]
    ArcSwapImbl,
}

impl Kind {
    /// Every contender, in report order.
    pub(crate) const ALL: [Kind; 8] = [
        Kind::CowHashMap,
        Kind::CowHashMapSip,
        Kind::Sharded,
        Kind::CowStd,
        Kind::RwLock,
        Kind::Mutex,
        Kind::DashMap,
        Kind::ArcSwapImbl,
    ];

    /// The name used in tables, plots and JSON.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::CowHashMap => "Store<cowstore::HashMap>",
            Kind::CowHashMapSip => "Store<cowstore::HashMap> (SipHash)",
            Kind::Sharded => "cowstore::ShardedMap",
            Kind::CowStd => "Store<std::HashMap> (full copy)",
            Kind::RwLock => "RwLock<std::HashMap>",
            Kind::Mutex => "Mutex<std::HashMap>",
            Kind::DashMap => "DashMap",
            Kind::ArcSwapImbl => "ArcSwap<imbl::HashMap>",
        }
    }

    /// The `--only` identifier.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Kind::CowHashMap => "cow-hashmap",
            Kind::CowHashMapSip => "cow-hashmap-sip",
            Kind::Sharded => "sharded",
            Kind::CowStd => "cow-std",
            Kind::RwLock => "rwlock",
            Kind::Mutex => "mutex",
            Kind::DashMap => "dashmap",
            Kind::ArcSwapImbl => "arcswap-imbl",
        }
    }

    /// How a reader and a writer use it, for the report.
    pub(crate) fn usage(self) -> &'static str {
        match self {
            Kind::CowHashMap => {
                "read: per-thread `Reader::load()` then `get`; write: `Store::update(|m| m.insert(k, v))` (O(1) clone + path copy); default hasher (foldhash); `ReadBarrier::Symmetric`"
            }
            Kind::CowHashMapSip => {
                "as above, but built with `std::hash::RandomState` (SipHash-1-3, the hasher of the std, DashMap and imbl contenders)"
            }
            Kind::Sharded => {
                "read: `ShardedMap::get` (a `load()` guard on the key's shard; a per-thread `ShardedReader` reads faster at 100/0 but slower once writes are in the mix); write: `ShardedMap::insert` (one publish of that shard); 16 shards, foldhash"
            }
            Kind::CowStd => {
                "read: per-thread `Reader::load()` then `get`; write: `Store::update(|m| m.insert(k, v))` (clones the whole map); `ReadBarrier::Symmetric`"
            }
            Kind::RwLock => "read: `read()` then `get`; write: `write()` then `insert`",
            Kind::Mutex => "read and write: `lock()` then `get`/`insert`",
            Kind::DashMap => "read: `get` (shard read lock); write: `insert` (shard write lock)",
            Kind::ArcSwapImbl => {
                "read: per-thread `arc_swap::Cache::load()` then `get`; write: `rcu(|m| { let mut m = (**m).clone(); m.insert(k, v); m })`"
            }
        }
    }
}

/// A store with `ReadBarrier::Symmetric`, the setting `cowstore`'s docs give for stores
/// published thousands of times a second while other threads read (every mix here but 100/0):
/// the default adaptive barrier would make each cell's first 100 ms of publishes interrupt
/// every reader before switching, and the published matrix measured this protocol.
fn symmetric_store<T>(value: T) -> Store<T> {
    Store::builder(value)
        .read_barrier(cowstore::ReadBarrier::Symmetric)
        .build()
        .expect("no validators")
}

fn std_map(size: u64) -> StdHashMap<u64, u64> {
    (0..size).map(|k| (k, k)).collect()
}

/// `Store<std::collections::HashMap>`: every write clones the whole map.
pub(crate) struct CowStd(Store<StdHashMap<u64, u64>>);

impl Contender for CowStd {
    fn build(size: u64) -> Self {
        Self(symmetric_store(std_map(size)))
    }

    fn handle(&self) -> impl Handle + '_ {
        CowStdHandle {
            store: &self.0,
            reader: self.0.reader(),
        }
    }
}

struct CowStdHandle<'a> {
    store: &'a Store<StdHashMap<u64, u64>>,
    reader: Reader<'a, StdHashMap<u64, u64>>,
}

impl Handle for CowStdHandle<'_> {
    #[inline]
    fn read(&mut self, key: u64) -> Option<u64> {
        self.reader.load().get(&key).copied()
    }

    #[inline]
    fn write(&mut self, key: u64, value: u64) {
        self.store
            .update(|m| {
                m.insert(key, value);
            })
            .expect("no validators");
    }
}

/// `RwLock<std::collections::HashMap>`.
pub(crate) struct RwLocked(RwLock<StdHashMap<u64, u64>>);

impl Contender for RwLocked {
    fn build(size: u64) -> Self {
        Self(RwLock::new(std_map(size)))
    }

    fn handle(&self) -> impl Handle + '_ {
        &self.0
    }
}

impl Handle for &RwLock<StdHashMap<u64, u64>> {
    #[inline]
    fn read(&mut self, key: u64) -> Option<u64> {
        RwLock::read(self).expect("not poisoned").get(&key).copied()
    }

    #[inline]
    fn write(&mut self, key: u64, value: u64) {
        RwLock::write(self)
            .expect("not poisoned")
            .insert(key, value);
    }
}

/// `Mutex<std::collections::HashMap>`.
pub(crate) struct Mutexed(Mutex<StdHashMap<u64, u64>>);

impl Contender for Mutexed {
    fn build(size: u64) -> Self {
        Self(Mutex::new(std_map(size)))
    }

    fn handle(&self) -> impl Handle + '_ {
        &self.0
    }
}

impl Handle for &Mutex<StdHashMap<u64, u64>> {
    #[inline]
    fn read(&mut self, key: u64) -> Option<u64> {
        self.lock().expect("not poisoned").get(&key).copied()
    }

    #[inline]
    fn write(&mut self, key: u64, value: u64) {
        self.lock().expect("not poisoned").insert(key, value);
    }
}

/// `dashmap::DashMap` with its default shard count and hasher.
pub(crate) struct Dash(DashMap<u64, u64>);

impl Contender for Dash {
    fn build(size: u64) -> Self {
        Self((0..size).map(|k| (k, k)).collect())
    }

    fn handle(&self) -> impl Handle + '_ {
        &self.0
    }
}

impl Handle for &DashMap<u64, u64> {
    #[inline]
    fn read(&mut self, key: u64) -> Option<u64> {
        self.get(&key).map(|v| *v)
    }

    #[inline]
    fn write(&mut self, key: u64, value: u64) {
        self.insert(key, value);
    }
}

/// `arc_swap::ArcSwap<imbl::HashMap>`; writes with `rcu`, readers through `arc_swap::Cache`.
pub(crate) struct ArcSwapImbl(ArcSwap<imbl::HashMap<u64, u64>>);

impl Contender for ArcSwapImbl {
    fn build(size: u64) -> Self {
        let map: imbl::HashMap<u64, u64> = (0..size).map(|k| (k, k)).collect();
        Self(ArcSwap::from_pointee(map))
    }

    fn handle(&self) -> impl Handle + '_ {
        ArcSwapHandle {
            swap: &self.0,
            cache: Cache::new(&self.0),
        }
    }
}

type ImblMap = imbl::HashMap<u64, u64>;

struct ArcSwapHandle<'a> {
    swap: &'a ArcSwap<ImblMap>,
    cache: Cache<&'a ArcSwap<ImblMap>, std::sync::Arc<ImblMap>>,
}

impl Handle for ArcSwapHandle<'_> {
    #[inline]
    fn read(&mut self, key: u64) -> Option<u64> {
        self.cache.load().get(&key).copied()
    }

    #[inline]
    fn write(&mut self, key: u64, value: u64) {
        self.swap.rcu(|m| {
            let mut next = imbl::HashMap::clone(m);
            next.insert(key, value);
            next
        });
    }
}

/// `Store<cowstore::collections::HashMap>` with hasher `S`: writes copy only the path.
pub(crate) struct CowHashMap<S = cowstore::collections::DefaultHashBuilder>(
    Store<cowstore::collections::HashMap<u64, u64, S>>,
);

impl<S> Contender for CowHashMap<S>
where
    S: std::hash::BuildHasher + Default + Clone + Send + Sync,
{
    fn build(size: u64) -> Self {
        let map: cowstore::collections::HashMap<u64, u64, S> = (0..size).map(|k| (k, k)).collect();
        Self(symmetric_store(map))
    }

    fn handle(&self) -> impl Handle + '_ {
        CowHashMapHandle {
            store: &self.0,
            reader: self.0.reader(),
        }
    }
}

struct CowHashMapHandle<'a, S> {
    store: &'a Store<cowstore::collections::HashMap<u64, u64, S>>,
    reader: Reader<'a, cowstore::collections::HashMap<u64, u64, S>>,
}

impl<S> Handle for CowHashMapHandle<'_, S>
where
    S: std::hash::BuildHasher + Clone,
{
    #[inline]
    fn read(&mut self, key: u64) -> Option<u64> {
        self.reader.load().get(&key).copied()
    }

    #[inline]
    fn write(&mut self, key: u64, value: u64) {
        self.store
            .update(|m| {
                m.insert(key, value);
            })
            .expect("no validators");
    }
}

/// `cowstore::collections::ShardedMap` with its defaults (16 shards, foldhash).
pub(crate) struct Sharded(cowstore::collections::ShardedMap<u64, u64>);

impl Contender for Sharded {
    fn build(size: u64) -> Self {
        // One publish per shard, not per key.
        Self((0..size).map(|k| (k, k)).collect())
    }

    fn handle(&self) -> impl Handle + '_ {
        &self.0
    }
}

// Reads take a guard per lookup (`get`), not a per-thread `ShardedReader`: with writes in the
// mix a reader that caches every shard's version also pins and finally frees the replaced
// versions, which cost more than the guards save (BENCHMARKS.md, "ShardedReader").
impl Handle for &cowstore::collections::ShardedMap<u64, u64> {
    #[inline]
    fn read(&mut self, key: u64) -> Option<u64> {
        self.get(&key)
    }

    #[inline]
    fn write(&mut self, key: u64, value: u64) {
        self.insert(key, value);
    }
}
