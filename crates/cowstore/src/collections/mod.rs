//! Persistent (immutable, structurally shared) collections for large copy-on-write state.
//!
//! # Why
//!
//! A [`Store<T>`](crate::Store) publishes a whole new `T` on every write. With a
//! `std::collections::HashMap` of a million entries that means copying the million entries —
//! milliseconds and tens of megabytes per write, and one full copy per version a reader still
//! pins. The maps here are **persistent**: a version is a tree of reference-counted nodes, a
//! write copies only the O(log n) nodes on the path from the root to the changed entry, and
//! everything else is shared with the previous version.
//!
//! ```text
//!   v1:  root ──┬── A ── a1 a2          v2 = v1 + one insert under B:
//!               └── B ── b1 b2          root' ──┬── A (shared with v1)
//!                                               └── B' ── b1 b2 b3
//! ```
//!
//! So `clone()` is O(1), old versions stay valid and unchanged for readers that hold them, many
//! versions cost little memory, and a node nobody else holds is simply changed in place (no
//! copy at all). Because unchanged subtrees are *the same allocation* in both versions, two
//! versions can be compared by skipping every pointer-equal subtree: [`HashMap::diff`],
//! [`OrdMap::diff`] and `==` cost O(changes · log n), not O(n). That is what change
//! notification and snapshot replication are built on.
//!
//! ```
//! use cowstore::Store;
//! use cowstore::collections::{DiffItem, HashMap};
//!
//! let users: Store<HashMap<u32, String>> =
//!     Store::new((0..100_000).map(|id| (id, format!("user{id}"))).collect());
//! let before = users.snapshot();
//! // The closure gets an O(1) clone; the insert copies about four small nodes.
//! users.update(|m| { m.insert(7, "renamed".into()); }).unwrap();
//! let after = users.snapshot();
//! assert_eq!(before.get(&7).unwrap(), "user7"); // readers of v1 are undisturbed
//! let changes: Vec<_> = before.diff(&after).collect();
//! assert!(matches!(changes[..], [DiffItem::Changed { key: 7, .. }]));
//! ```
//!
//! # Which one
//!
//! | type | structure | use it for |
//! |---|---|---|
//! | [`HashMap`] | CHAMP hash trie, 32-way | the default: point lookups and updates by key |
//! | [`OrdMap`] | copy-on-write B+-tree | ordered iteration, [`range`](OrdMap::range) queries, first/last |
//! | [`PrefixMap`] | byte-stride trie | longest-prefix match: IP routes, URL path prefixes |
//! | [`ShardedMap`] | 16 [`Store`](crate::Store)s of `HashMap` | many concurrent writers on independent keys |
//! | [`LayeredMap`] | base + overrides in one `Store` | defaults plus run-time overrides, [`compact`](LayeredMap::compact)ed in one publish |
//!
//! Put a `HashMap`, `OrdMap` or `PrefixMap` in a `Store` when a write must change several keys
//! atomically (one publish); use a `ShardedMap` when writes are per key and should not queue
//! behind one writer lock; see its notes on what a snapshot across shards promises. For a
//! thread's hot loop of lookups in a read-mostly map, take a [`ShardedMap::reader`] (a
//! [`ShardedReader`]), as you would a [`Store::reader`](crate::Store::reader) for one store.
//!
//! Keys and values must be `Clone`: a shared node is copied before it is changed. Wrap large
//! values in `Arc` so that copying a node copies pointers.
//!
//! # Costs
//!
//! Lookups walk O(log₃₂ n) nodes for `HashMap` (O(log n) comparisons for `OrdMap`), about 2–3
//! times a std map's cost at a million entries; a write allocates the copied path. Measured
//! figures are in the project's benchmark notes (`cargo bench -p cowstore --bench collections`).

mod diff;
pub mod hash_map;
mod hasher;
mod layered_map;
pub mod ord_map;
pub mod prefix_map;
#[cfg(feature = "serde")]
mod serde;
mod sharded_map;
mod sharded_reader;

pub use diff::{Diff, DiffItem};
pub use hash_map::HashMap;
pub use hasher::DefaultHashBuilder;
pub use layered_map::{LayeredMap, Layers};
pub use ord_map::OrdMap;
pub use prefix_map::PrefixMap;
pub use sharded_map::{ShardedMap, ShardedSnapshot};
pub use sharded_reader::ShardedReader;
