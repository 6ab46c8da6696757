//! Persistent (immutable, structurally shared) collections for large copy-on-write state.

mod diff;
pub mod hash_map;
mod hasher;
pub mod ord_map;
pub mod prefix_map;

pub use diff::{Diff, DiffItem};
pub use hash_map::HashMap;
pub use hasher::DefaultHashBuilder;
pub use ord_map::OrdMap;
pub use prefix_map::PrefixMap;
