//! Persistent (immutable, structurally shared) collections for large copy-on-write state.

mod diff;
pub mod hash_map;
mod hasher;
mod layered_map;
pub mod ord_map;
pub mod prefix_map;
mod sharded_map;

pub use diff::{Diff, DiffItem};
pub use hash_map::HashMap;
pub use hasher::DefaultHashBuilder;
pub use ord_map::OrdMap;
pub use layered_map::{LayeredMap, Layers};
pub use prefix_map::PrefixMap;
pub use sharded_map::{ShardedMap, ShardedSnapshot};
