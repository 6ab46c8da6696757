//! Guides: how to use copy-on-write state well, where it stops being the right tool, and what it
//! costs.

#[doc = include_str!("patterns.md")]
pub mod patterns {}

#[doc = include_str!("limitations.md")]
pub mod limitations {}

#[doc = include_str!("performance.md")]
pub mod performance {}
