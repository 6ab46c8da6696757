//! Persistent (immutable, structurally shared) collections for large copy-on-write state.
