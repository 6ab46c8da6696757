//! [`DefaultHashBuilder`]: the hasher the persistent hash maps use unless told otherwise.

use std::hash::BuildHasher;

use foldhash::SharedSeed;
use foldhash::fast::{FoldHasher, SeedableRandomState};

/// The default hasher of [`HashMap`](super::HashMap) and [`ShardedMap`](super::ShardedMap):
/// [foldhash](https://docs.rs/foldhash), a fast hash with minimal DoS resistance, seeded
/// randomly **once per process**.
///
/// Every map in a process hashes the same way, so maps built independently have the same
/// canonical shape: `==` and `diff` between them take the structural shortcut. The seed is
/// unpredictable from outside the process, which defeats precomputed collision attacks; for
/// adversarial keys where that is not enough, use a keyed cryptographic hasher through
/// [`HashMap::with_hasher`](super::HashMap::with_hasher).
///
/// ```
/// use cowstore::collections::DefaultHashBuilder;
/// use std::hash::BuildHasher;
///
/// let a = DefaultHashBuilder::default();
/// let b = DefaultHashBuilder::default();
/// assert_eq!(a.hash_one("key"), b.hash_one("key"));
/// ```
#[derive(Clone, Debug)]
pub struct DefaultHashBuilder(SeedableRandomState);

impl Default for DefaultHashBuilder {
    fn default() -> Self {
        Self(SeedableRandomState::with_seed(
            0,
            SharedSeed::global_random(),
        ))
    }
}

impl BuildHasher for DefaultHashBuilder {
    type Hasher = FoldHasher<'static>;

    #[inline]
    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}
