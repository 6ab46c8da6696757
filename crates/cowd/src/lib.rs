//! `cowd`: a configuration server built on `cowstore`.
//!
//! One JSON document (written as JSON, TOML or YAML) is served over HTTP. Every accepted change
//! becomes a new version, `+1`, published into a [`cowstore::Store`] — readers are never
//! blocked and never see a half-applied change — after it was fsynced to the data dir.
//!
//! # Code map
//!
//! | module | role |
//! |---|---|
//! | [`cli`] | the command line (`cowd serve`, `cowd check`) |
//! | [`server`] | [`ServeConfig`], [`Instance`] (open the data dir, pick the source of truth), [`run`] |
//! | [`background`] | [`BackgroundServer`]: an instance served from a thread of its own, stopped on drop |
//! | [`backend`] | the write seam: [`backend::Backend`] (embedded, file mode), [`backend::Committer`] |
//! | [`follower`] | follower mode (`cowd follow --leader URL`): a read-only copy of another cowd |
//! | [`etcd`] | etcd mode (`--etcd-endpoints`): etcd is the truth, every node keeps a local copy |
//! | [`journal`] | the durable, checksummed, append-only history with torn-tail recovery |
//! | [`versions`] | the read side: current version (a `cowstore::Store`), history, counters |
//! | [`record`] | one version: number, time, origin, canonical JSON bytes |
//! | [`source::file_watch`] | file mode: reload on change, rename, symlink swap, SIGHUP |
//! | [`config_format`] | JSON/TOML/YAML → JSON with line/column errors |
//! | [`schema`] | JSON Schema validation with JSON-pointer errors |
//! | [`http`] | the API ([`http::app`]), long-poll, SSE, auth, metrics, dashboard |
//! | [`state`] | [`AppState`] shared by the handlers |
//!
//! # Invariants
//!
//! - Nothing is published before it is durable: [`backend::Committer::commit`] appends to the
//!   [`journal::Journal`] and fsyncs before [`versions::Versions::publish`].
//! - A rejected write changes nothing: parsing, auth, preconditions and the schema are checked
//!   before the journal is touched; a failed append is rolled back.
//! - Versions only increase, and a version number always names the same content.
//!
//! # Embedding
//!
//! ```no_run
//! # async fn demo() -> Result<(), cowd::StartError> {
//! let config = cowd::ServeConfig {
//!     listen: "127.0.0.1:0".parse().unwrap(),
//!     data_dir: "/tmp/cowd-demo".into(),
//!     ..Default::default()
//! };
//! let instance = cowd::Instance::open(&config)?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
//! instance.serve(listener, cowd::server::termination()).await
//! # }
//! ```
//!
//! From code that is not async, [`BackgroundServer`] runs the same on a thread of its own and
//! stops it when dropped.
#![forbid(unsafe_code)]

pub mod backend;
pub mod background;
pub mod cli;
pub mod config_format;
pub mod etcd;
pub mod follower;
pub mod http;
pub mod journal;
pub mod record;
pub mod schema;
pub mod server;
pub mod source;
pub mod state;
pub mod versions;

pub use background::BackgroundServer;
pub use http::app;
pub use server::{Instance, ServeConfig, StartError, run};
pub use state::AppState;
