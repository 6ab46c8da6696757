//! The sync engine shared by [`Follower`](crate::Follower) and `cowd follow`: a [`Syncer`]
//! keeps a [`Sink`] current with a cowd leader.
//!
//! One loop, one request at a time:
//!
//! 1. Without a version yet: `GET /v1/config` (with `If-None-Match` when there is one).
//! 2. Then long-polls `GET /v1/config/watch?after=<version>`. When the document is small it
//!    asks for the body right away (one round trip per update). When it is at least
//!    [`SyncOptions::delta_min_size`] it asks to be told the new version only (`body=false`),
//!    and if the follower is at most [`SyncOptions::delta_max_versions`] behind, fetches
//!    `GET /v1/config/diff?from=A&to=B&max_bytes=<document size - 1>` — the leader answers a
//!    patch only when it is smaller than the document — applies it and checks the result's
//!    SHA-256 against the leader's `X-Config-Sha256` for version B. Any mismatch, a missing
//!    hash, a version gone from the leader's history or a patch that does not apply falls back
//!    to a full conditional `GET` (counted as a fallback).
//! 3. With [`SyncOptions::backfill`], before applying a version that skips some (a burst
//!    published faster than the follower syncs), it lists the leader's versions in between
//!    (`GET /v1/history?after=<version>`) and applies each (`GET /v1/config?version=N`,
//!    hash-checked), oldest first.
//! 4. On a transport error it backs off exponentially with jitter, keeps the last version and
//!    reports itself disconnected and stale.
//!
//! The sink receives only versions that are newer than the last one it accepted and whose bytes
//! were verified against the leader's hash when the leader sent one (always, for a patch):
//! **a follower never publishes a version the leader did not.**

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::watch;

use crate::Error;
use crate::remote::{DiffOutcome, Fetched, GetOutcome, Remote, VersionInfo, WatchOutcome};

/// How a [`Syncer`] talks to the leader.
///
/// ```
/// let mut options = cowd_client::SyncOptions::default();
/// options.long_poll = std::time::Duration::from_secs(5);
/// options.delta_min_size = 4096;
/// assert!(options.delta);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SyncOptions {
    /// How long one long-poll waits for a new version (the leader clamps it to its
    /// `--max-watch-timeout`). Default 10 s.
    pub long_poll: Duration,
    /// Limit for every other request, and extra time granted to a long-poll. Default 5 s.
    pub request_timeout: Duration,
    /// First retry delay after an error. Default 50 ms.
    pub backoff_min: Duration,
    /// Largest retry delay. Default 5 s.
    pub backoff_max: Duration,
    /// The follower is stale when it last heard from the leader longer ago than this (or the
    /// last request failed). Default 30 s.
    pub stale_after: Duration,
    /// Use `GET /v1/config/diff` when it is smaller than the document. Default `true`.
    pub delta: bool,
    /// Fetch a diff only when at most this many versions behind. Default 32.
    pub delta_max_versions: u64,
    /// Fetch a diff only for documents of at least this many bytes. Default 1024.
    pub delta_min_size: usize,
    /// Fetch up to this many versions that the sink would otherwise never see, one by one,
    /// oldest first. A long-poll answers with the leader's newest version only, so when the
    /// leader publishes faster than the follower syncs (a burst, a slow or paused follower, a
    /// reconnection) the versions in between are skipped. With `backfill` > 0 the syncer asks
    /// the leader which versions it holds between the last one applied and the newest
    /// (`GET /v1/history?after=`), fetches the newest `backfill` of them
    /// (`GET /v1/config?version=`, hash-checked) and hands each to the sink before the newest:
    /// a sink that keeps a history gets the leader's. Default 0: only the newest version
    /// matters (a [`Follower`](crate::Follower)'s store serves the latest value).
    pub backfill: u64,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            long_poll: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            stale_after: Duration::from_secs(30),
            delta: true,
            delta_max_versions: 32,
            delta_min_size: 1024,
            backfill: 0,
        }
    }
}

/// How a version reached the follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Via {
    /// The whole document (`GET /v1/config` or a long-poll answer).
    Full,
    /// A JSON Patch from the previous version, verified by hash.
    Delta,
    /// The local cache file (at start, while the leader is unreachable).
    Cache,
}

/// A verified version handed to a [`Sink`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Update<'a> {
    /// The leader's version number.
    pub version: u64,
    /// When the leader accepted it, if it said.
    pub published_at: Option<SystemTime>,
    /// The document's compact JSON bytes (hash-checked).
    pub body: &'a Bytes,
    /// The parsed document.
    pub doc: &'a Value,
    /// SHA-256 of `body`, hex.
    pub sha256: &'a str,
    /// How it arrived.
    pub via: Via,
}

/// Where a [`Syncer`] publishes verified versions.
///
/// ```
/// use cowd_client::sync::{Sink, Update};
/// struct Print;
/// impl Sink for Print {
///     fn publish(&self, update: &Update<'_>) -> Result<(), String> {
///         println!("version {}: {}", update.version, update.doc);
///         Ok(())
///     }
/// }
/// ```
pub trait Sink: Send + Sync + 'static {
    /// Publishes `update`; `Err(reason)` refuses it (nothing published; the syncer skips
    /// this version and reports the reason).
    fn publish(&self, update: &Update<'_>) -> Result<(), String>;
}

/// A snapshot of a follower's synchronization state (see [`Status::stats`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SyncStats {
    /// The leader's version this follower serves (0: none yet).
    pub version: u64,
    /// The newest version the leader announced.
    pub leader_version: u64,
    /// `leader_version - version` (0 when current).
    pub lag_versions: u64,
    /// How long the newest version the leader announced has been waiting to be applied
    /// (0 when current).
    pub lag: Duration,
    /// Time since the leader last answered (any answer, a long-poll timeout included);
    /// `None` if it never did.
    pub last_sync_age: Option<Duration>,
    /// Whether the last request reached the leader.
    pub connected: bool,
    /// No answer from the leader for longer than [`SyncOptions::stale_after`], the last
    /// request failed, the leader went backwards, or there is no version yet.
    pub stale: bool,
    /// Leader publish → local publish of the last applied version (wall clocks of both hosts).
    pub last_apply_delay: Option<Duration>,
    /// Versions applied from a whole document.
    pub full_syncs: u64,
    /// Versions applied from a verified JSON Patch.
    pub delta_syncs: u64,
    /// Diff attempts that fell back to a whole document (too large, mismatch, unavailable).
    pub delta_fallbacks: u64,
    /// Conditional requests answered 304.
    pub not_modified: u64,
    /// Failed requests.
    pub errors: u64,
    /// Versions the sink refused.
    pub refused: u64,
    /// Versions fetched one by one to fill a gap before a newer one ([`SyncOptions::backfill`]).
    pub backfilled: u64,
    /// The last error, cleared by the next success.
    pub last_error: Option<String>,
    /// Whether the version served came from the cache file rather than the leader.
    pub from_cache: bool,
}

#[derive(Debug, Default)]
struct StatusInner {
    version: u64,
    leader_version: u64,
    leader_published: Option<SystemTime>,
    behind_since: Option<Instant>,
    last_contact: Option<Instant>,
    connected: bool,
    diverged: bool,
    last_apply_delay: Option<Duration>,
    full_syncs: u64,
    delta_syncs: u64,
    delta_fallbacks: u64,
    not_modified: u64,
    errors: u64,
    refused: u64,
    backfilled: u64,
    last_error: Option<String>,
    from_cache: bool,
}

/// Shared synchronization state: written by the [`Syncer`], read by [`Status::stats`].
#[derive(Debug)]
pub struct Status {
    inner: Mutex<StatusInner>,
    stale_after: Duration,
    applied: watch::Sender<u64>,
}

impl Status {
    /// A status for a follower that has nothing yet.
    ///
    /// ```
    /// let status = cowd_client::sync::Status::new(std::time::Duration::from_secs(30));
    /// let stats = status.stats();
    /// assert_eq!(stats.version, 0);
    /// assert!(stats.stale);
    /// ```
    pub fn new(stale_after: Duration) -> Self {
        Self {
            inner: Mutex::new(StatusInner::default()),
            stale_after,
            applied: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StatusInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The version served (0: none yet).
    pub fn version(&self) -> u64 {
        self.lock().version
    }

    /// A receiver of the version served, updated after each publish.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// The current statistics.
    pub fn stats(&self) -> SyncStats {
        let s = self.lock();
        let now = Instant::now();
        let lag_versions = s.leader_version.saturating_sub(s.version);
        let lag = if lag_versions == 0 {
            Duration::ZERO
        } else {
            let by_clock = s
                .leader_published
                .and_then(|t| SystemTime::now().duration_since(t).ok());
            let by_us = s.behind_since.map(|t| now.duration_since(t));
            by_clock.or(by_us).unwrap_or_default()
        };
        let last_sync_age = s.last_contact.map(|t| now.duration_since(t));
        let stale = s.version == 0
            || !s.connected
            || s.diverged
            || last_sync_age.is_none_or(|age| age > self.stale_after);
        SyncStats {
            version: s.version,
            leader_version: s.leader_version,
            lag_versions,
            lag,
            last_sync_age,
            connected: s.connected,
            stale,
            last_apply_delay: s.last_apply_delay,
            full_syncs: s.full_syncs,
            delta_syncs: s.delta_syncs,
            delta_fallbacks: s.delta_fallbacks,
            not_modified: s.not_modified,
            errors: s.errors,
            refused: s.refused,
            backfilled: s.backfilled,
            last_error: s.last_error.clone(),
            from_cache: s.from_cache,
        }
    }

    /// The leader answered, saying its current version is `info`.
    fn contact(&self, info: &VersionInfo) {
        let mut s = self.lock();
        s.connected = true;
        s.last_contact = Some(Instant::now());
        if info.version >= s.leader_version || s.diverged {
            s.leader_version = info.version;
            s.leader_published = info.published_ms.map(ms_to_time);
        }
        if s.leader_version > s.version {
            s.behind_since.get_or_insert_with(Instant::now);
        }
        if info.version >= s.version {
            s.diverged = false;
        }
        if info.version == s.version {
            // The leader confirmed the version restored from local storage.
            s.from_cache = false;
        }
    }

    /// Records the version the sink already had when syncing starts (kept locally: a cache
    /// file, a data dir). It counts as served but not as heard from the leader: the status
    /// stays stale, with [`SyncStats::from_cache`] set, until the leader answers.
    ///
    /// ```
    /// let status = cowd_client::sync::Status::new(std::time::Duration::from_secs(30));
    /// status.restored(7, None);
    /// let stats = status.stats();
    /// assert_eq!(stats.version, 7);
    /// assert!(stats.from_cache && stats.stale && !stats.connected);
    /// ```
    pub fn restored(&self, version: u64, published_at: Option<SystemTime>) {
        self.applied(version, published_at, Via::Cache);
    }

    /// Records a version published through the sink.
    pub(crate) fn applied(&self, version: u64, published_at: Option<SystemTime>, via: Via) {
        {
            let mut s = self.lock();
            s.version = version;
            match via {
                Via::Full => s.full_syncs += 1,
                Via::Delta => s.delta_syncs += 1,
                Via::Cache => {}
            }
            s.from_cache = via == Via::Cache;
            if via != Via::Cache {
                s.connected = true;
                s.last_contact = Some(Instant::now());
                s.last_error = None;
                s.diverged = false;
                s.last_apply_delay =
                    published_at.and_then(|t| SystemTime::now().duration_since(t).ok());
            }
            if version >= s.leader_version {
                s.leader_version = version;
                s.leader_published = published_at;
                s.behind_since = None;
            }
        }
        self.applied.send_replace(version);
    }

    pub(crate) fn error(&self, error: &Error) {
        let mut s = self.lock();
        s.errors += 1;
        s.last_error = Some(error.to_string());
        match error {
            Error::WentBackwards { .. } => s.diverged = true,
            Error::Refused { .. } => s.refused += 1,
            Error::Unreachable { .. } | Error::Timeout { .. } | Error::Status { .. } => {
                s.connected = false;
            }
            _ => {}
        }
    }

    fn count(&self, what: fn(&mut StatusInner)) {
        what(&mut self.lock());
    }
}

fn ms_to_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// SHA-256 of `bytes`, lowercase hex (what cowd's `X-Config-Sha256` carries).
///
/// ```
/// assert_eq!(
///     cowd_client::sync::sha256_hex(b"{}"),
///     "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
/// );
/// ```
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    let mut hex = String::with_capacity(64);
    for byte in sha2::Sha256::digest(bytes) {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The last version the sink accepted: what a patch applies to.
#[derive(Clone, Debug)]
pub struct Base {
    /// Its version.
    pub version: u64,
    /// The parsed document.
    pub doc: Value,
    /// Its size in bytes.
    pub size: usize,
}

/// Exponential backoff with jitter: each delay is drawn in `[d/2, d]`, `d` doubling from
/// `min` to `max`.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        Self {
            min,
            max: max.max(min),
            next: min,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = d / 2;
        half + Duration::from_nanos(fastrand::u64(
            0..=u64::try_from(half.as_nanos()).unwrap_or(u64::MAX),
        ))
    }
}

/// Keeps a [`Sink`] current with a leader; see the [module docs](self).
pub struct Syncer<S> {
    remote: Remote,
    options: SyncOptions,
    sink: S,
    status: Arc<Status>,
    base: Option<Base>,
    /// Versions up to here were seen (applied or refused): the long-poll waits for newer.
    cursor: u64,
}

impl<S: Sink> Syncer<S> {
    /// A syncer publishing into `sink`, starting from `base` (what the sink already has).
    pub fn new(
        remote: Remote,
        options: SyncOptions,
        sink: S,
        status: Arc<Status>,
        base: Option<Base>,
    ) -> Self {
        let cursor = base.as_ref().map_or(0, |b| b.version);
        Self {
            remote,
            options,
            sink,
            status,
            base,
            cursor,
        }
    }

    /// The shared status.
    pub fn status(&self) -> &Arc<Status> {
        &self.status
    }

    /// Runs until `stop` turns `true` (or its sender is dropped).
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut backoff = Backoff::new(self.options.backoff_min, self.options.backoff_max);
        loop {
            if *stop.borrow() {
                return;
            }
            let result = tokio::select! {
                result = self.step() => result,
                _ = stop.changed() => return,
            };
            match result {
                Ok(()) => backoff.reset(),
                Err(error) => {
                    self.status.error(&error);
                    let delay = backoff.next_delay();
                    tracing::warn!(leader = self.remote.base(), %error, ?delay, "sync failed; keeping the last version and retrying");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        }
    }

    /// One exchange with the leader: the first full fetch, or one long-poll and what follows.
    pub async fn step(&mut self) -> Result<(), Error> {
        let Some(base) = &self.base else {
            return self.full().await;
        };
        let light = self.options.delta && base.size >= self.options.delta_min_size;
        let outcome = self
            .remote
            .watch(self.cursor, self.options.long_poll, !light)
            .await?;
        match outcome {
            WatchOutcome::Timeout(info) => {
                self.status.contact(&info);
                self.check_not_behind(&info)
            }
            WatchOutcome::Document(fetched) => {
                self.backfill(fetched.info.version).await?;
                self.apply_full(fetched)
            }
            WatchOutcome::Announced(info) => {
                self.status.contact(&info);
                self.check_not_behind(&info)?;
                if info.version <= self.cursor {
                    return Ok(());
                }
                self.backfill(info.version).await?;
                let base = self.base.as_ref().expect("backfill keeps the base");
                let behind = info.version - base.version;
                if behind <= self.options.delta_max_versions {
                    match self.delta(&info).await {
                        Ok(true) => return Ok(()),
                        Ok(false) => {}
                        Err(error) if error.is_transient() => return Err(error),
                        Err(error) => {
                            tracing::warn!(leader = self.remote.base(), %error, "delta sync failed; fetching the document");
                        }
                    }
                    self.status.count(|s| s.delta_fallbacks += 1);
                }
                self.full().await
            }
        }
    }

    fn check_not_behind(&self, info: &VersionInfo) -> Result<(), Error> {
        match &self.base {
            Some(base) if info.version < base.version => Err(Error::WentBackwards {
                offered: info.version,
                local: base.version,
            }),
            _ => Ok(()),
        }
    }

    /// A conditional `GET /v1/config`.
    async fn full(&mut self) -> Result<(), Error> {
        let have = self.base.as_ref().map(|b| b.version);
        match self.remote.get(have).await? {
            GetOutcome::Document(fetched) => {
                self.backfill(fetched.info.version).await?;
                self.apply_full(fetched)
            }
            GetOutcome::NotModified(info) => {
                self.status.count(|s| s.not_modified += 1);
                self.status.contact(&info);
                Ok(())
            }
        }
    }

    /// Hands the sink the versions the leader holds between the last one applied and `next`
    /// (the newest [`SyncOptions::backfill`] of them), each fetched whole and hash-checked.
    /// Nothing to do without a base (a first sync starts at the leader's current version) or
    /// without a gap. A version that left the leader's history meanwhile is skipped.
    async fn backfill(&mut self, next: u64) -> Result<(), Error> {
        let Some(base) = &self.base else {
            return Ok(());
        };
        if self.options.backfill == 0 || next <= base.version.saturating_add(1) {
            return Ok(());
        }
        // Not limited: the leader may have published past `next` meanwhile (listed too).
        let listed = self.remote.versions_after(base.version).await?;
        let missing: Vec<u64> = listed.into_iter().filter(|&v| v < next).collect();
        let skip = missing
            .len()
            .saturating_sub(usize::try_from(self.options.backfill).unwrap_or(usize::MAX));
        for &version in &missing[skip..] {
            let Some(fetched) = self.remote.get_version(version).await? else {
                continue;
            };
            self.apply_full(fetched)?;
            self.status.count(|s| s.backfilled += 1);
        }
        Ok(())
    }

    fn apply_full(&mut self, fetched: Fetched) -> Result<(), Error> {
        let Fetched { info, body } = fetched;
        self.status.contact(&info);
        self.check_not_behind(&info)?;
        if self
            .base
            .as_ref()
            .is_some_and(|b| b.version == info.version)
        {
            return Ok(());
        }
        let sha256 = sha256_hex(&body);
        let url = || format!("{}/v1/config", self.remote.base());
        if let Some(expected) = &info.sha256 {
            if *expected != sha256 {
                return Err(Error::Malformed {
                    url: url(),
                    reason: format!(
                        "version {}: the body's SHA-256 is {sha256}, the leader announced {expected}",
                        info.version
                    ),
                });
            }
        }
        let doc: Value = serde_json::from_slice(&body).map_err(|e| Error::Malformed {
            url: url(),
            reason: format!("version {} is not JSON: {e}", info.version),
        })?;
        self.publish(&info, body, doc, &sha256, Via::Full)
    }

    /// Tries the diff from the base to `info.version`; `Ok(false)` means "fetch the document".
    async fn delta(&mut self, info: &VersionInfo) -> Result<bool, Error> {
        let base = self.base.as_ref().expect("delta needs a base");
        let Some(expected) = info.sha256.clone() else {
            return Ok(false);
        };
        let max_bytes = info.size.unwrap_or(usize::MAX).saturating_sub(1);
        let (patch, target) = match self
            .remote
            .diff(base.version, info.version, max_bytes)
            .await?
        {
            DiffOutcome::Patch(patch, _size, target) => (patch, target),
            DiffOutcome::TooLarge | DiffOutcome::Unavailable => return Ok(false),
        };
        let mut doc = base.doc.clone();
        if let Err(error) = json_patch::patch(&mut doc, &patch) {
            tracing::warn!(leader = self.remote.base(), %error, from = base.version, to = info.version, "the leader's patch does not apply");
            return Ok(false);
        }
        let body = Bytes::from(serde_json::to_vec(&doc).expect("a Value always serializes"));
        let sha256 = sha256_hex(&body);
        if target.sha256.as_deref().is_some_and(|t| t != expected) || sha256 != expected {
            tracing::warn!(
                leader = self.remote.base(),
                from = base.version,
                to = info.version,
                "the patched document's hash differs from the leader's"
            );
            return Ok(false);
        }
        let info = VersionInfo {
            published_ms: info.published_ms.or(target.published_ms),
            ..info.clone()
        };
        self.publish(&info, body, doc, &sha256, Via::Delta)?;
        Ok(true)
    }

    fn publish(
        &mut self,
        info: &VersionInfo,
        body: Bytes,
        doc: Value,
        sha256: &str,
        via: Via,
    ) -> Result<(), Error> {
        let published_at = info.published_ms.map(ms_to_time);
        let update = Update {
            version: info.version,
            published_at,
            body: &body,
            doc: &doc,
            sha256,
            via,
        };
        self.cursor = self.cursor.max(info.version);
        match self.sink.publish(&update) {
            Ok(()) => {
                self.status.applied(info.version, published_at, via);
                self.base = Some(Base {
                    version: info.version,
                    size: body.len(),
                    doc,
                });
                Ok(())
            }
            Err(reason) => Err(Error::Refused {
                version: info.version,
                reason,
            }),
        }
    }
}

impl<S> std::fmt::Debug for Syncer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Syncer")
            .field("leader", &self.remote.base())
            .field("version", &self.base.as_ref().map(|b| b.version))
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_limit_with_jitter() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let delays: Vec<_> = (0..8).map(|_| backoff.next_delay()).collect();
        for (i, d) in delays.iter().enumerate() {
            let nominal =
                Duration::from_millis(100 * (1 << i.min(10))).min(Duration::from_millis(1000));
            assert!(
                *d >= nominal / 2 && *d <= nominal,
                "{i}: {d:?} vs {nominal:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn stats_report_lag_and_staleness() {
        let status = Status::new(Duration::from_secs(30));
        status.applied(5, None, Via::Full);
        let info = VersionInfo {
            version: 8,
            sha256: None,
            published_ms: None,
            size: None,
        };
        status.contact(&info);
        let stats = status.stats();
        assert_eq!(
            (stats.version, stats.leader_version, stats.lag_versions),
            (5, 8, 3)
        );
        assert!(!stats.stale);
        status.error(&Error::Unreachable {
            url: "http://x".into(),
            reason: "refused".into(),
        });
        let stats = status.stats();
        assert!(stats.stale && !stats.connected);
        assert_eq!(stats.version, 5, "an error keeps the version");
    }
}
