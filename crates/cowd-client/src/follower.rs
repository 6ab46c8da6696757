//! [`Follower`]: a local [`cowstore::Store`] kept current with a cowd server.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cowstore::{Guard, Snapshot, Store, Subscription};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch;

use crate::Error;
use crate::cache::{self, Cached};
use crate::remote::{GetOutcome, Remote};
use crate::sync::{Backoff, Base, Sink, Status, SyncOptions, SyncStats, Syncer, Update, Via};

/// How many (local store version → leader version) pairs [`Follower::version_of`] remembers.
const VERSION_MAP: usize = 1024;

/// A local copy of a cowd server's document, kept current in the background.
///
/// Reads ([`load`](Self::load), [`snapshot`](Self::snapshot)) are the core store's: wait-free,
/// in-process, never touching the network. A background task long-polls the leader, applies
/// new versions (by JSON Patch when that is smaller, verified by hash), reconnects with
/// exponential backoff and jitter, and when the leader is unreachable keeps serving the last
/// version while [`stats`](Self::stats) reports it stale. With a
/// [cache file](FollowerBuilder::cache_file) a restart without the leader still has the
/// configuration.
///
/// `T` is the document's type: [`serde_json::Value`] by default, or any
/// [`DeserializeOwned`] type — a version that does not deserialize is refused (the previous
/// one keeps serving) and counted in [`SyncStats::refused`].
///
/// ```no_run
/// # async fn demo() -> Result<(), cowd_client::Error> {
/// #[derive(serde::Deserialize)]
/// struct AppConfig { port: u16 }
///
/// let follower = cowd_client::Follower::<AppConfig>::builder("http://127.0.0.1:8080")
///     .cache_file("/var/cache/app/config.cache")
///     .start()
///     .await?;
/// println!("port {} (version {})", follower.load().port, follower.version());
/// let mut changes = follower.subscribe();
/// let next = changes.changed().await.unwrap();
/// println!("now port {}", next.port);
/// # Ok(()) }
/// ```
pub struct Follower<T = Value> {
    inner: Arc<Inner<T>>,
    status: Arc<Status>,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Inner<T> {
    store: Store<T>,
    url: String,
    /// (local store version, leader version), newest last.
    versions: Mutex<VecDeque<(u64, u64)>>,
}

impl<T> Inner<T> {
    fn remember(&self, local: u64, leader: u64) {
        let mut map = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() == VERSION_MAP {
            map.pop_front();
        }
        map.push_back((local, leader));
    }
}

/// Options of a [`Follower`]; see [`Follower::builder`].
#[derive(Debug)]
pub struct FollowerBuilder<T = Value> {
    url: String,
    options: SyncOptions,
    cache_file: Option<PathBuf>,
    initial_timeout: Duration,
    _type: PhantomData<fn() -> T>,
}

impl<T> FollowerBuilder<T>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    /// Keeps a copy of the leader's last version in `path` (written atomically, fsynced) and
    /// starts from it when the leader is unreachable at start.
    ///
    /// ```
    /// let builder = cowd_client::Follower::<serde_json::Value>::builder("http://127.0.0.1:8080")
    ///     .cache_file("/tmp/app.cache");
    /// ```
    pub fn cache_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.cache_file = Some(path.into());
        self
    }

    /// How long [`start`](Self::start) retries the leader when there is no usable cache file
    /// (default 10 s). With a cache file it asks the leader once and falls back to the file.
    ///
    /// ```
    /// let builder = cowd_client::Follower::<serde_json::Value>::builder("http://127.0.0.1:8080")
    ///     .initial_timeout(std::time::Duration::from_secs(2));
    /// ```
    pub fn initial_timeout(mut self, timeout: Duration) -> Self {
        self.initial_timeout = timeout;
        self
    }

    /// Replaces the synchronization options (long-poll length, timeouts, backoff, staleness,
    /// delta sync, and [`backfill`](SyncOptions::backfill) for a store whose
    /// [queue subscribers](cowstore::Store::subscribe_queue) want every version of a burst).
    ///
    /// ```
    /// let mut options = cowd_client::SyncOptions::default();
    /// options.long_poll = std::time::Duration::from_secs(5);
    /// let builder = cowd_client::Follower::<serde_json::Value>::builder("http://127.0.0.1:8080")
    ///     .options(options);
    /// ```
    pub fn options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// Connects (see [`initial_timeout`](Self::initial_timeout)), builds the local store from
    /// the leader's current version or the cache file, and starts syncing on the current tokio
    /// runtime. Fails when neither has a usable configuration.
    pub async fn start(self) -> Result<Follower<T>, Error> {
        let (follower, syncer, stop) = self.prepare().await?;
        tokio::spawn(syncer.run(stop));
        Ok(follower)
    }

    /// Like [`start`](Self::start), for programs without a tokio runtime: syncs on a thread of
    /// its own (a single-threaded runtime), which stops when the follower is dropped.
    ///
    /// ```no_run
    /// let follower = cowd_client::Follower::<serde_json::Value>::builder("http://127.0.0.1:8080")
    ///     .start_blocking()
    ///     .unwrap();
    /// println!("{}", *follower.load());
    /// ```
    pub fn start_blocking(self) -> Result<Follower<T>, Error> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("cowd-follower".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = tx.send(Err(Error::Unreachable {
                            url: self.url.clone(),
                            reason: format!("cannot start a runtime: {e}"),
                        }));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match self.prepare().await {
                        Ok((follower, syncer, stop)) => {
                            if tx.send(Ok(follower)).is_ok() {
                                syncer.run(stop).await;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(|e| Error::Unreachable {
                url: String::new(),
                reason: format!("cannot start the follower thread: {e}"),
            })?;
        let mut follower = rx.recv().map_err(|_| Error::Stopped)??;
        follower.thread = Some(thread);
        Ok(follower)
    }

    async fn prepare(
        self,
    ) -> Result<(Follower<T>, Syncer<FollowerSink<T>>, watch::Receiver<bool>), Error> {
        let remote = Remote::new(&self.url, self.options.request_timeout)?;
        let url = remote.base().to_owned();
        let status = Arc::new(Status::new(self.options.stale_after));
        let cached = self.cache_file.as_deref().map(|path| {
            cache::read(path).inspect_err(|e| {
                if path.exists() {
                    tracing::warn!(error = %e, "ignoring the cache file");
                }
            })
        });
        let usable_cache = cached.as_ref().and_then(|c| c.as_ref().ok());
        // The leader first: once with a usable cache, else until the initial timeout.
        let deadline = Instant::now() + self.initial_timeout;
        let mut backoff = Backoff::new(self.options.backoff_min, self.options.backoff_max);
        let leader = loop {
            match remote.get(usable_cache.map(|c| c.version)).await {
                Ok(outcome) => break Ok(outcome),
                Err(e) if usable_cache.is_some() || Instant::now() >= deadline => break Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, "the leader is not reachable yet; retrying");
                    let delay = backoff
                        .next_delay()
                        .min(deadline.saturating_duration_since(Instant::now()));
                    tokio::time::sleep(delay).await;
                }
            }
        };
        let mut leader_error = None;
        let mut candidates: Vec<(Cached, Via)> = Vec::new();
        match leader {
            Ok(GetOutcome::Document(fetched)) => {
                let sha = crate::sync::sha256_hex(&fetched.body);
                if fetched.info.sha256.as_ref().is_some_and(|s| *s != sha) {
                    leader_error = Some(Error::Malformed {
                        url: format!("{url}/v1/config"),
                        reason: "the body does not match X-Config-Sha256".into(),
                    });
                } else {
                    candidates.push((
                        Cached::new(
                            &url,
                            fetched.info.version,
                            fetched.info.published_ms,
                            fetched.body,
                        ),
                        Via::Full,
                    ));
                }
            }
            Ok(GetOutcome::NotModified(_)) => {
                // The cached version is the leader's current one.
                let cached = usable_cache.expect("If-None-Match is sent only with a cache");
                candidates.push((cached.clone(), Via::Full));
            }
            Err(e) => leader_error = Some(e),
        }
        if let Some(cached) = usable_cache {
            candidates.push((cached.clone(), Via::Cache));
        }
        let mut refusal = None;
        let mut chosen = None;
        for (entry, via) in candidates {
            let doc = match serde_json::from_slice::<Value>(&entry.body) {
                Ok(doc) => doc,
                Err(e) => {
                    refusal.get_or_insert(Error::Malformed {
                        url: format!("{url}/v1/config"),
                        reason: format!("version {} is not JSON: {e}", entry.version),
                    });
                    continue;
                }
            };
            match T::deserialize(&doc) {
                Ok(value) => {
                    chosen = Some((entry, via, doc, value));
                    break;
                }
                Err(e) => {
                    refusal.get_or_insert(Error::Refused {
                        version: entry.version,
                        reason: e.to_string(),
                    });
                }
            }
        }
        let Some((entry, via, doc, value)) = chosen else {
            let leader = leader_error.or(refusal).unwrap_or(Error::Stopped);
            let cache = cached.and_then(Result::err).map(Box::new);
            return Err(Error::NoInitialConfig {
                leader: Box::new(leader),
                cache,
            });
        };
        let store = Store::builder(value)
            .name("cowd-follower")
            .build()
            .map_err(|e| Error::Refused {
                version: entry.version,
                reason: e.to_string(),
            })?;
        let inner = Arc::new(Inner {
            versions: Mutex::new(VecDeque::from([(store.version(), entry.version)])),
            store,
            url: url.clone(),
        });
        let published_at = entry
            .published_ms
            .map(|ms| std::time::UNIX_EPOCH + Duration::from_millis(ms));
        status.applied(entry.version, published_at, via);
        if let Some(e) = &leader_error {
            status.error(e);
        }
        let cache_writer = self.cache_file.map(|path| CacheWriter {
            path,
            written: Arc::new(Mutex::new(0)),
        });
        if let (Some(writer), Via::Full) = (&cache_writer, via) {
            writer.write(entry.clone());
        }
        let base = Base {
            version: entry.version,
            size: entry.body.len(),
            doc,
        };
        let sink = FollowerSink {
            inner: Arc::clone(&inner),
            cache: cache_writer,
            url,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let syncer = Syncer::new(remote, self.options, sink, Arc::clone(&status), Some(base));
        Ok((
            Follower {
                inner,
                status,
                stop: stop_tx,
                thread: None,
            },
            syncer,
            stop_rx,
        ))
    }
}

/// Persists versions to the cache file off the sync task, newest wins.
#[derive(Clone)]
struct CacheWriter {
    path: PathBuf,
    written: Arc<Mutex<u64>>,
}

impl CacheWriter {
    fn write(&self, entry: Cached) {
        let this = self.clone();
        let job = move || {
            let mut written = this.written.lock().unwrap_or_else(|e| e.into_inner());
            if entry.version <= *written {
                return;
            }
            match cache::write(&this.path, &entry) {
                Ok(()) => *written = entry.version,
                Err(error) => tracing::warn!(%error, "cannot update the cache file"),
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn_blocking(job)),
            Err(_) => job(),
        }
    }
}

struct FollowerSink<T> {
    inner: Arc<Inner<T>>,
    cache: Option<CacheWriter>,
    url: String,
}

impl<T> Sink for FollowerSink<T>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    fn publish(&self, update: &Update<'_>) -> Result<(), String> {
        let value = T::deserialize(update.doc).map_err(|e| e.to_string())?;
        let snapshot = self.inner.store.store(value).map_err(|e| e.to_string())?;
        self.inner
            .remember(Snapshot::version(&snapshot), update.version);
        if let Some(cache) = &self.cache {
            let published_ms = update.published_at.and_then(|t| {
                t.duration_since(std::time::UNIX_EPOCH)
                    .ok()
                    .and_then(|d| u64::try_from(d.as_millis()).ok())
            });
            cache.write(Cached::new(
                &self.url,
                update.version,
                published_ms,
                Bytes::clone(update.body),
            ));
        }
        Ok(())
    }
}

impl Follower<Value> {
    /// Starts a follower of `url` with the default options, the document as a
    /// [`serde_json::Value`]; shorthand for `Follower::builder(url).start()`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), cowd_client::Error> {
    /// let follower = cowd_client::Follower::connect("http://127.0.0.1:8080").await?;
    /// println!("{}", follower.load()["log_level"]);
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::builder(url).start().await
    }
}

impl<T> Follower<T>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    /// A builder for a follower of the cowd server at `url` (`http://host:port`).
    ///
    /// ```
    /// let builder = cowd_client::Follower::<serde_json::Value>::builder("http://127.0.0.1:8080");
    /// ```
    pub fn builder(url: &str) -> FollowerBuilder<T> {
        FollowerBuilder {
            url: url.to_owned(),
            options: SyncOptions::default(),
            cache_file: None,
            initial_timeout: Duration::from_secs(10),
            _type: PhantomData,
        }
    }
}

impl<T> Follower<T> {
    /// The current document: a wait-free guard from the local store (no network).
    pub fn load(&self) -> Guard<'_, T> {
        self.inner.store.load()
    }

    /// The current document as an owned snapshot.
    pub fn snapshot(&self) -> Snapshot<T> {
        self.inner.store.snapshot()
    }

    /// Subscribes to new versions (the core store's latest-value subscription: blocking
    /// `recv`/`recv_timeout`, async `changed().await`).
    pub fn subscribe(&self) -> Subscription<T> {
        self.inner.store.subscribe()
    }

    /// The local store (its [`stats`](Store::stats): pinned versions, subscribers, age).
    ///
    /// Its own version counter counts local publishes; the leader's version of a snapshot is
    /// [`version_of`](Self::version_of).
    pub fn store(&self) -> &Store<T> {
        &self.inner.store
    }

    /// The leader's version of the document served now.
    pub fn version(&self) -> u64 {
        self.status.version()
    }

    /// The leader's version of `snapshot` (a snapshot of this follower's store), if it is one
    /// of the last 1,024 published.
    pub fn version_of(&self, snapshot: &Snapshot<T>) -> Option<u64> {
        let local = Snapshot::version(snapshot);
        let map = self
            .inner
            .versions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.iter().rev().find(|(l, _)| *l == local).map(|(_, v)| *v)
    }

    /// The leader URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Synchronization statistics: lag in versions and time, last sync age, staleness,
    /// counters.
    pub fn stats(&self) -> SyncStats {
        self.status.stats()
    }

    /// Waits until the leader's version `version` (or a newer one) is served; `false` on
    /// timeout.
    pub async fn wait_for_version(&self, version: u64, timeout: Duration) -> bool {
        let mut applied = self.status.subscribe();
        tokio::time::timeout(timeout, applied.wait_for(|v| *v >= version))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Blocking [`wait_for_version`](Self::wait_for_version), for threads outside a runtime.
    pub fn wait_for_version_blocking(&self, version: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut subscription = self.inner.store.subscribe();
        loop {
            if self.status.version() >= version {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = subscription.recv_timeout(left.min(Duration::from_millis(50)));
        }
    }

    /// Stops syncing (also done on drop); the last version stays readable.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}

impl<T> Drop for Follower<T> {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl<T> std::fmt::Debug for Follower<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("url", &self.inner.url)
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}
