//! The write seam: every change of the document goes through a [`Backend`], so the HTTP layer
//! does not care where versions come from.
//!
//! - [`EmbeddedBackend`] (default): the data dir is the truth; writes are validated, appended to
//!   the [`Journal`] and fsynced, then published.
//! - [`FileBackend`] (`--config FILE --watch`): the file is the truth; API writes are refused
//!   and the [file source](crate::source::file_watch) publishes reloads through the same
//!   [`Committer`].
//!
//! A follower of another `cowd` or an etcd-backed node implements [`Backend`] too: the first
//! refuses writes naming its leader, the second turns them into etcd transactions and
//! publishes what its watch sees into [`Versions`].

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::Value;

use crate::journal::{Journal, JournalError};
use crate::record::{Origin, VersionRecord};
use crate::schema::{SchemaSlot, SchemaViolation};
use crate::versions::{Current, Versions};

/// A boxed future returned by [`Backend`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A requested change of the document.
#[derive(Clone, Debug)]
pub struct Change {
    /// The new document.
    pub doc: Value,
    /// Who asks.
    pub origin: Origin,
    /// Compare-and-set: only apply if this version is still current (`If-Match`).
    pub expected_version: Option<u64>,
}

/// Why a change was not applied. In every case nothing was published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// This node does not accept writes (file mode, a follower).
    #[error("writes are disabled: {reason}")]
    ReadOnly {
        /// Why, in the operator's terms.
        reason: String,
        /// What to do instead.
        hint: String,
    },
    /// `If-Match` named another version than the current one.
    #[error(
        "version {current} is current, not {expected}; fetch the current document, reapply your change and retry with If-Match: \"{current}\""
    )]
    Conflict {
        /// The version the caller expected.
        expected: u64,
        /// The version that is current.
        current: u64,
    },
    /// The document does not match the schema.
    #[error("the document does not match the schema ({} violation(s)); fix the listed JSON pointers and retry", .violations.len())]
    Invalid {
        /// Where and why.
        violations: Vec<SchemaViolation>,
    },
    /// A version asked for (a rollback target) is not in the history.
    #[error("version {version} is not in the history (versions {oldest}..={current} are)")]
    UnknownVersion {
        /// The version asked for.
        version: u64,
        /// The oldest version kept.
        oldest: u64,
        /// The current version.
        current: u64,
    },
    /// The change could not be made durable.
    #[error("the change could not be stored durably: {0}")]
    Storage(#[from] JournalError),
    /// The source of truth is unreachable right now.
    #[error("the source of truth is unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// Where versions come from and where writes go; see the [module docs](self).
pub trait Backend: Send + Sync + 'static {
    /// The mode's name: `embedded`, `file`, …
    fn mode(&self) -> &'static str;

    /// Refuses early (before auth and body parsing) when this node never accepts writes.
    fn check_writable(&self) -> Result<(), WriteError>;

    /// Validates, persists and publishes `change`; returns the new current version.
    fn write(&self, change: Change) -> BoxFuture<'_, Result<Current, WriteError>>;

    /// `Ok` when this node can serve (`/readyz`); `Err(reason)` otherwise.
    fn readiness(&self) -> Result<(), String> {
        Ok(())
    }

    /// Appends this mode's own Prometheus metrics (a follower's lag, etcd's reachability)
    /// to `/metrics`.
    fn render_metrics(&self, out: &mut String) {
        let _ = out;
    }
}

/// What [`Committer::commit`] did.
#[derive(Debug)]
pub enum Committed {
    /// A new version was made durable and published.
    Published(Current),
    /// The document equals the current one and `publish_unchanged` was false: nothing done.
    Unchanged(Current),
}

/// Validates, journals (fsync) and publishes changes, one at a time. Shared by the embedded
/// backend and the file source.
pub struct Committer {
    journal: Mutex<Journal>,
    versions: Arc<Versions>,
    schema: Arc<SchemaSlot>,
}

/// Checks a candidate document against the schema in force; a refusal is counted in
/// `versions` (`cowd_config_reload_failures_total`). Every backend that accepts writes runs it.
pub(crate) fn check_candidate(
    schema: &SchemaSlot,
    versions: &Versions,
    doc: &Value,
) -> Result<(), WriteError> {
    schema.validate(doc).map_err(|violations| {
        versions.count_reload_failure();
        WriteError::Invalid { violations }
    })
}

impl Committer {
    /// A committer publishing into `versions` after appending to `journal`.
    pub fn new(journal: Journal, versions: Arc<Versions>, schema: Arc<SchemaSlot>) -> Self {
        Self {
            journal: Mutex::new(journal),
            versions,
            schema,
        }
    }

    /// The read side this committer publishes into.
    pub fn versions(&self) -> &Arc<Versions> {
        &self.versions
    }

    /// Checks `doc` against the schema (if any); counts a failure.
    pub fn validate(&self, doc: &Value) -> Result<(), WriteError> {
        check_candidate(&self.schema, &self.versions, doc)
    }

    /// Validates `change`, and unless it is refused (or unchanged while `publish_unchanged` is
    /// false), appends it to the journal, fsyncs and publishes it as the next version.
    /// Blocking: call from a blocking thread.
    pub fn commit(&self, change: Change, publish_unchanged: bool) -> Result<Committed, WriteError> {
        self.validate(&change.doc)?;
        let body = serde_json::to_vec(&change.doc).expect("a serde_json::Value always serializes");
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.versions.current();
        if let Some(expected) = change.expected_version {
            if expected != current.version() {
                return Err(WriteError::Conflict {
                    expected,
                    current: current.version(),
                });
            }
        }
        if !publish_unchanged && current.body().as_ref() == body.as_slice() {
            return Ok(Committed::Unchanged(current));
        }
        let record = Arc::new(VersionRecord::new(
            current.version() + 1,
            SystemTime::now(),
            change.origin,
            body.into(),
        ));
        journal.append(&record)?;
        self.versions
            .publish(Arc::clone(&record))
            .expect("the committer is the only publisher and holds the journal lock");
        drop(journal);
        Ok(Committed::Published(record))
    }
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer")
            .field("versions", &self.versions)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// Runs a commit on the blocking pool.
async fn commit_blocking(
    committer: Arc<Committer>,
    change: Change,
    publish_unchanged: bool,
) -> Result<Committed, WriteError> {
    tokio::task::spawn_blocking(move || committer.commit(change, publish_unchanged))
        .await
        .unwrap_or_else(|e| {
            Err(WriteError::Unavailable {
                reason: format!("the write task failed: {e}"),
            })
        })
}

/// Embedded mode: the data dir is the truth and the API writes.
#[derive(Debug)]
pub struct EmbeddedBackend {
    committer: Arc<Committer>,
}

impl EmbeddedBackend {
    /// Writes through `committer`.
    pub fn new(committer: Arc<Committer>) -> Self {
        Self { committer }
    }
}

impl Backend for EmbeddedBackend {
    fn mode(&self) -> &'static str {
        "embedded"
    }

    fn check_writable(&self) -> Result<(), WriteError> {
        Ok(())
    }

    fn write(&self, change: Change) -> BoxFuture<'_, Result<Current, WriteError>> {
        let committer = Arc::clone(&self.committer);
        Box::pin(async move {
            match commit_blocking(committer, change, true).await? {
                Committed::Published(record) | Committed::Unchanged(record) => Ok(record),
            }
        })
    }
}

/// File mode: the watched file is the truth; the API is read-only.
#[derive(Debug)]
pub struct FileBackend {
    path: PathBuf,
}

impl FileBackend {
    /// A read-only backend whose truth is `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl FileBackend {
    fn refusal(&self) -> WriteError {
        WriteError::ReadOnly {
            reason: format!(
                "cowd runs in file mode and {} is the source of truth",
                self.path.display()
            ),
            hint: format!(
                "edit {} instead (it is reloaded on change and on SIGHUP), or run cowd without --watch to accept API writes",
                self.path.display()
            ),
        }
    }
}

impl Backend for FileBackend {
    fn mode(&self) -> &'static str {
        "file"
    }

    fn check_writable(&self) -> Result<(), WriteError> {
        Err(self.refusal())
    }

    fn write(&self, _change: Change) -> BoxFuture<'_, Result<Current, WriteError>> {
        Box::pin(std::future::ready(Err(self.refusal())))
    }
}
