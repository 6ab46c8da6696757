//! File mode: the configuration file is the source of truth. [`FileSource::reload`] reads,
//! parses, validates and (if the document changed) journals and publishes it; [`spawn`] runs
//! the reloads on file changes, on SIGHUP and on an optional poll timer.
//!
//! The file's **directory** is watched (not the file), and the path is resolved again on every
//! reload, so all the usual ways of replacing a file are seen:
//!
//! - in-place writes (reloaded once the writer closes the file, or after a quiet period),
//! - editors that save by writing a temporary file and renaming it over the original,
//! - Kubernetes ConfigMap volumes, where the file is a symlink through `..data`, a symlink
//!   to a timestamped directory that is swapped atomically by renaming a new `..data` over it.
//!
//! A bad file (unreadable, empty, unparsable, failing the schema) keeps the current version
//! serving, increments `cowd_config_reload_failures_total` and logs where the problem is.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::backend::{Change, Committed, Committer, WriteError};
use crate::config_format::{self, Format, ParseError};
use crate::journal::JournalError;
use crate::record::Origin;
use crate::schema::SchemaViolation;

/// What started a reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Startup.
    Startup,
    /// SIGHUP: always re-read and re-parse.
    Signal,
    /// A change seen in the file's directory.
    Change,
    /// The poll timer.
    Poll,
}

/// A successful reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// A new version was published.
    Published(u64),
    /// The document equals the current version: nothing published.
    Unchanged(u64),
    /// The file's bytes are the same as at the last attempt: not parsed again.
    Skipped,
}

/// Why a reload kept the current version.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is empty (usually a writer caught mid-write).
    #[error("{} is empty; write at least an empty object ({{}} in JSON, a comment in TOML) if that is intended", .path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file does not parse.
    #[error("{}: {source}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: ParseError,
    },
    /// The document breaks the schema.
    #[error("{}: the document does not match the schema: {}", .path.display(), .violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where and why.
        violations: Vec<SchemaViolation>,
    },
    /// The new version could not be made durable.
    #[error("cannot store the new version: {0}")]
    Storage(#[from] JournalError),
    /// Any other refusal from the committer.
    #[error("{0}")]
    Other(WriteError),
}

/// The configuration file as a source of truth; see the [module docs](self).
pub struct FileSource {
    path: PathBuf,
    format: Format,
    committer: Arc<Committer>,
    /// The bytes (or error kind) seen by the last attempt, to skip no-op events.
    last_attempt: Mutex<Option<Result<Vec<u8>, std::io::ErrorKind>>>,
}

impl FileSource {
    /// A source reading `path` as `format` and publishing through `committer`.
    pub fn new(path: PathBuf, format: Format, committer: Arc<Committer>) -> Self {
        Self {
            path,
            format,
            committer,
            last_attempt: Mutex::new(None),
        }
    }

    /// The file, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and parses the file (no schema check, no publish).
    pub fn read_document(path: &Path, format: Format) -> Result<Value, ReloadError> {
        let bytes = std::fs::read(path).map_err(|source| ReloadError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &bytes, format)
    }

    fn parse(path: &Path, bytes: &[u8], format: Format) -> Result<Value, ReloadError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ReloadError::Empty {
                path: path.to_owned(),
            });
        }
        config_format::parse(bytes, format).map_err(|source| ReloadError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Reloads the file: blocking (reads, parses, may fsync). Logs the outcome and counts
    /// failures in `cowd_config_reload_failures_total`.
    pub fn reload(&self, trigger: Trigger) -> Result<ReloadOutcome, ReloadError> {
        let result = self.try_reload(trigger);
        let versions = self.committer.versions();
        match &result {
            Ok(ReloadOutcome::Published(version)) => {
                tracing::info!(file = %self.path.display(), version, ?trigger, "reloaded the configuration file");
            }
            Ok(ReloadOutcome::Unchanged(version)) => {
                tracing::debug!(file = %self.path.display(), version, ?trigger, "configuration file unchanged");
            }
            Ok(ReloadOutcome::Skipped) => {}
            Err(error) => {
                if !matches!(error, ReloadError::Invalid { .. }) {
                    // Schema failures are counted by the committer.
                    versions.count_reload_failure();
                }
                tracing::warn!(
                    file = %self.path.display(),
                    ?trigger,
                    keeping_version = versions.current().version(),
                    "reload failed, the current version stays: {error}"
                );
            }
        }
        result
    }

    fn try_reload(&self, trigger: Trigger) -> Result<ReloadOutcome, ReloadError> {
        let read = std::fs::read(&self.path);
        let attempt = read
            .as_ref()
            .map(Clone::clone)
            .map_err(std::io::Error::kind);
        {
            let mut last = self.last_attempt.lock().unwrap_or_else(|e| e.into_inner());
            let same = last.as_ref() == Some(&attempt);
            if same && matches!(trigger, Trigger::Change | Trigger::Poll) {
                return Ok(ReloadOutcome::Skipped);
            }
            *last = Some(attempt);
        }
        let bytes = read.map_err(|source| ReloadError::Read {
            path: self.path.clone(),
            source,
        })?;
        let doc = Self::parse(&self.path, &bytes, self.format)?;
        let change = Change {
            doc,
            origin: Origin::File {
                path: self.path.display().to_string(),
            },
            expected_version: None,
        };
        match self.committer.commit(change, false) {
            Ok(Committed::Published(record)) => Ok(ReloadOutcome::Published(record.version())),
            Ok(Committed::Unchanged(record)) => Ok(ReloadOutcome::Unchanged(record.version())),
            Err(WriteError::Invalid { violations }) => Err(ReloadError::Invalid {
                path: self.path.clone(),
                violations,
            }),
            Err(WriteError::Storage(e)) => {
                // Let the next event retry even if the bytes are the same.
                *self.last_attempt.lock().unwrap_or_else(|e| e.into_inner()) = None;
                Err(ReloadError::Storage(e))
            }
            Err(other) => Err(ReloadError::Other(other)),
        }
    }

    /// Directories whose changes can change what `path` reads: its own directory and, when it
    /// is a symlink, the directory of the file it resolves to.
    fn watch_dirs(&self) -> HashSet<PathBuf> {
        let absolute = if self.path.is_absolute() {
            self.path.clone()
        } else {
            std::env::current_dir()
                .map(|d| d.join(&self.path))
                .unwrap_or_else(|_| self.path.clone())
        };
        let mut dirs = HashSet::new();
        if let Some(parent) = absolute.parent() {
            dirs.insert(parent.to_owned());
        }
        if let Ok(resolved) = std::fs::canonicalize(&absolute) {
            if let Some(parent) = resolved.parent() {
                dirs.insert(parent.to_owned());
            }
        }
        dirs
    }
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSource")
            .field("path", &self.path)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// Timing of the watcher.
#[derive(Clone, Copy, Debug)]
pub struct WatchOptions {
    /// Reload once no event arrived for this long.
    pub quiet: Duration,
    /// ...but no later than this after the first event (or, while a writer still has the file
    /// open, [`WatchOptions::max_open_wait`]).
    pub max_delay: Duration,
    /// How long to wait for a writer that modified the file to close it.
    pub max_open_wait: Duration,
    /// Also re-read the file this often (a safety net for file systems without inotify).
    pub poll_interval: Option<Duration>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            quiet: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_open_wait: Duration::from_millis(1000),
            poll_interval: Some(Duration::from_secs(5)),
        }
    }
}

/// Whether an event can change the file's content.
fn relevant(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Watches the file's directory and reloads on changes, on a message from `hup` (SIGHUP) and
/// on the poll timer, one reload at a time, until `shutdown` turns true.
pub fn spawn(
    source: Arc<FileSource>,
    mut hup: mpsc::UnboundedReceiver<()>,
    mut shutdown: watch::Receiver<bool>,
    options: WatchOptions,
) -> Result<JoinHandle<()>, notify::Error> {
    let (tx, mut events) = mpsc::unbounded_channel::<notify::Event>();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) => {
                let _ = tx.send(event);
            }
            Err(error) => tracing::warn!(%error, "file watcher error"),
        })?;
    let mut watched = HashSet::new();
    update_watches(&mut watcher, &mut watched, source.watch_dirs());
    let target_names = |source: &FileSource| -> HashSet<PathBuf> {
        let mut names = HashSet::new();
        names.insert(source.path.clone());
        if let Ok(resolved) = std::fs::canonicalize(&source.path) {
            names.insert(resolved);
        }
        if let Ok(absolute) = std::path::absolute(&source.path) {
            names.insert(absolute);
        }
        names
    };
    Ok(tokio::spawn(async move {
        let mut poll = options.poll_interval.map(|every| {
            let mut interval = tokio::time::interval_at(Instant::now() + every, every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval
        });
        loop {
            let trigger = tokio::select! {
                _ = shutdown.changed() => break,
                signal = hup.recv() => match signal {
                    Some(()) => Trigger::Signal,
                    None => break,
                },
                _ = async { match poll.as_mut() { Some(p) => { p.tick().await; } None => std::future::pending().await } } => Trigger::Poll,
                event = events.recv() => {
                    let Some(event) = event else { break };
                    if !relevant(&event.kind) {
                        continue;
                    }
                    let targets = target_names(&source);
                    let mut open_write = writes_target(&event, &targets);
                    let first = Instant::now();
                    let mut quiet_until = first + options.quiet;
                    loop {
                        let limit = if open_write { options.max_open_wait } else { options.max_delay };
                        let deadline = quiet_until.min(first + limit);
                        match tokio::time::timeout_at(deadline, events.recv()).await {
                            Ok(Some(event)) => {
                                if !relevant(&event.kind) {
                                    continue;
                                }
                                if closes_target(&event, &targets) {
                                    open_write = false;
                                } else if writes_target(&event, &targets) {
                                    open_write = true;
                                }
                                quiet_until = Instant::now() + options.quiet;
                            }
                            Ok(None) => break,
                            Err(_elapsed) => {
                                if Instant::now() >= quiet_until || Instant::now() >= first + limit {
                                    break;
                                }
                            }
                        }
                    }
                    Trigger::Change
                }
            };
            let reload_source = Arc::clone(&source);
            let _ = tokio::task::spawn_blocking(move || reload_source.reload(trigger)).await;
            update_watches(&mut watcher, &mut watched, source.watch_dirs());
        }
        drop(watcher);
    }))
}

fn writes_target(event: &notify::Event, targets: &HashSet<PathBuf>) -> bool {
    matches!(
        event.kind,
        EventKind::Modify(notify::event::ModifyKind::Data(_))
    ) && event.paths.iter().any(|p| targets.contains(p))
}

fn closes_target(event: &notify::Event, targets: &HashSet<PathBuf>) -> bool {
    matches!(
        event.kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
    ) && event.paths.iter().any(|p| targets.contains(p))
}

fn update_watches(
    watcher: &mut notify::RecommendedWatcher,
    watched: &mut HashSet<PathBuf>,
    wanted: HashSet<PathBuf>,
) {
    // Directories that disappeared (an old ConfigMap timestamp directory) are not watched
    // any more; forget them so the set does not grow with every swap.
    watched.retain(|dir| {
        let keep = dir.exists();
        if !keep {
            let _ = watcher.unwatch(dir);
        }
        keep
    });
    for dir in wanted {
        if watched.contains(&dir) && dir.exists() {
            continue;
        }
        match watcher.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                tracing::debug!(dir = %dir.display(), "watching");
                watched.insert(dir);
            }
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "cannot watch directory; relying on SIGHUP and polling");
            }
        }
    }
}
