//! `cowd-client`: keep a local [`cowstore::Store`] current with a [cowd] server.
//!
//! A [`Follower`] fetches the leader's document once, then long-polls for new versions and
//! publishes each into a local store: reads are in-process and wait-free, and a slow or absent
//! leader never blocks them. It
//!
//! - reconnects with exponential backoff and jitter, and keeps serving the last version while
//!   the leader is unreachable ([`SyncStats::stale`], [`SyncStats::last_sync_age`]);
//! - uses conditional requests (`If-None-Match`), and fetches `GET /v1/config/diff` (a JSON
//!   Patch) instead of the document when it is a few versions behind and the patch is smaller,
//!   verifying the result against the leader's `X-Config-Sha256`;
//! - reports its lag in versions and in time ([`Follower::stats`]);
//! - optionally keeps the last version in a [cache file](FollowerBuilder::cache_file), written
//!   atomically and fsynced, so a restart without the leader still has configuration.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cowd_client::Error> {
//! let follower = cowd_client::Follower::connect("http://127.0.0.1:8080").await?;
//! let config = follower.load();
//! println!("version {}: {}", follower.version(), *config);
//! let stats = follower.stats();
//! println!("{} versions behind, stale: {}", stats.lag_versions, stats.stale);
//! # Ok(()) }
//! ```
//!
//! The [`sync`] engine is public so other programs (`cowd follow`) can publish the verified
//! versions into a store of their own ([`sync::Sink`]).
//!
//! [cowd]: https://github.com/cowstore/cowstore/tree/main/crates/cowd
#![forbid(unsafe_code)]

pub mod cache;
mod error;
mod follower;
pub mod remote;
pub mod sync;

pub use error::Error;
pub use follower::{Follower, FollowerBuilder};
pub use sync::{SyncOptions, SyncStats, Via};
