//! Follower mode (`cowd follow --leader URL`): serve a read-only copy of another cowd.
//!
//! The sync engine is `cowd_client`'s [`Syncer`]: it long-polls the leader, fetches a JSON
//! Patch when that is smaller than the document, verifies every version against the leader's
//! `X-Config-Sha256`, and backs off with jitter while the leader is away. Each verified version
//! is published into this node's [`Versions`] under the **leader's** version number, so every
//! read endpoint (GET, `?version`, watch, SSE, history since start, diff, dashboard) works
//! unchanged. Writes are refused with 409 naming the leader ([`FollowerBackend`]).
//!
//! A long-poll answers with the leader's newest version only; when the leader published
//! several since the last sync, the syncer first fetches the ones in between (up to
//! `--backfill`, default 100), so the follower's history holds the leader's versions rather
//! than every few.
//!
//! Without a data dir a follower's history starts empty at each start, and `GET /v1/config`
//! answers 503 until the first sync. With one (`--data-dir`), every applied version is
//! journaled (fsynced) before it is served, exactly as on a leader; a restart serves the last
//! version and the history at once — even while the leader is unreachable — and syncs on from
//! there. `/readyz` stays 503 until the leader has confirmed or replaced it.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use cowd_client::SyncOptions;
use cowd_client::remote::Remote;
use cowd_client::sync::{Base, Sink, Status, Syncer, Update};
use tokio::sync::watch;

use crate::backend::{Backend, BoxFuture, Change, WriteError};
use crate::http::metrics::{counter, labeled_gauge};
use crate::journal::Journal;
use crate::record::{Origin, VersionRecord};
use crate::versions::{Current, Versions};

/// What `cowd follow` needs besides the common serve options.
#[derive(Clone, Debug)]
pub struct FollowConfig {
    /// The leader's base URL (`--leader`).
    pub leader: String,
    /// Long-poll length, timeouts, backoff, staleness threshold, delta sync.
    pub options: SyncOptions,
    /// Where to journal the versions applied (`--data-dir`); `None`: keep nothing.
    pub data_dir: Option<PathBuf>,
}

impl FollowConfig {
    /// Follows `leader` with default options.
    ///
    /// ```
    /// let config = cowd::follower::FollowConfig::new("http://127.0.0.1:8080");
    /// assert!(config.options.delta);
    /// ```
    pub fn new(leader: impl Into<String>) -> Self {
        Self {
            leader: leader.into(),
            options: SyncOptions::default(),
            data_dir: None,
        }
    }
}

/// Publishes the leader's verified versions into [`Versions`], journaling each first when
/// the follower has a data dir.
#[derive(Debug)]
struct VersionsSink {
    versions: Arc<Versions>,
    journal: Option<Mutex<Journal>>,
    origin: Origin,
}

impl Sink for VersionsSink {
    fn publish(&self, update: &Update<'_>) -> Result<(), String> {
        let record = VersionRecord::new(
            update.version,
            update.published_at.unwrap_or_else(SystemTime::now),
            self.origin.clone(),
            update.body.clone(),
        );
        if let Some(journal) = &self.journal {
            let current = self.versions.current().version();
            if record.version() <= current {
                // The journal holds increasing versions only (the syncer never offers an
                // older one; this keeps it so whatever happens).
                return Err(format!(
                    "version {} does not follow version {current}",
                    record.version()
                ));
            }
            // Blocking, like every journal write: a follower applies a few versions a
            // second at most, and a version is served only once it is durable.
            journal
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .append(&record)
                .map_err(|e| e.to_string())?;
        }
        self.versions
            .publish(Arc::new(record))
            .map_err(|e| e.to_string())
    }
}

/// The write seam of a follower: refuses writes naming the leader, reports sync state to
/// `/readyz` and `/metrics`.
#[derive(Debug)]
pub struct FollowerBackend {
    leader: String,
    status: Arc<Status>,
}

/// A follower ready to start: its backend and the sync task to run.
#[derive(Debug)]
pub struct Follow {
    /// The backend to put in the [`AppState`](crate::AppState).
    pub backend: Arc<FollowerBackend>,
    syncer: Syncer<VersionsSink>,
}

impl Follow {
    /// Prepares following `config.leader` into `versions`: [unsynced](Versions::unsynced)
    /// without a data dir, or holding the history read from `journal` (the data dir's, whose
    /// lock is the caller's to hold), which then records every version applied. Fails on an
    /// unusable URL.
    pub fn new(
        config: &FollowConfig,
        versions: Arc<Versions>,
        journal: Option<Journal>,
    ) -> Result<Self, cowd_client::Error> {
        let remote = Remote::new(&config.leader, config.options.request_timeout)?;
        let leader = remote.base().to_owned();
        let status = Arc::new(Status::new(config.options.stale_after));
        let base = if versions.is_synced() {
            let current = versions.current();
            status.restored(current.version(), Some(current.published_at()));
            current.doc().ok().map(|doc| Base {
                version: current.version(),
                size: current.size(),
                doc,
            })
        } else {
            None
        };
        let sink = VersionsSink {
            versions,
            journal: journal.map(Mutex::new),
            origin: Origin::Leader {
                url: leader.clone(),
            },
        };
        let syncer = Syncer::new(
            remote,
            config.options.clone(),
            sink,
            Arc::clone(&status),
            base,
        );
        Ok(Self {
            backend: Arc::new(FollowerBackend { leader, status }),
            syncer,
        })
    }

    /// Runs the sync loop until `stop` turns true.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        tracing::info!(leader = %self.backend.leader, "following");
        self.syncer.run(stop).await;
    }
}

impl FollowerBackend {
    /// The leader's base URL.
    pub fn leader(&self) -> &str {
        &self.leader
    }

    /// The sync statistics.
    pub fn stats(&self) -> cowd_client::SyncStats {
        self.status.stats()
    }

    fn refusal(&self) -> WriteError {
        WriteError::ReadOnly {
            reason: format!(
                "this node follows the leader {} and serves a read-only copy",
                self.leader
            ),
            hint: format!(
                "send writes to the leader: PUT {0}/v1/config or POST {0}/v1/config/rollback",
                self.leader
            ),
        }
    }
}

impl Backend for FollowerBackend {
    fn mode(&self) -> &'static str {
        "follower"
    }

    fn check_writable(&self) -> Result<(), WriteError> {
        Err(self.refusal())
    }

    fn write(&self, _change: Change) -> BoxFuture<'_, Result<Current, WriteError>> {
        Box::pin(std::future::ready(Err(self.refusal())))
    }

    fn readiness(&self) -> Result<(), String> {
        let stats = self.status.stats();
        let why = || {
            stats
                .last_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        };
        if stats.version == 0 {
            return Err(format!(
                "no version received from the leader {} yet{}",
                self.leader,
                why()
            ));
        }
        if stats.from_cache {
            return Err(format!(
                "serving version {} restored from the data dir; the leader {} has not confirmed it yet{}",
                stats.version,
                self.leader,
                why()
            ));
        }
        if stats.stale {
            let age = stats.last_sync_age.map_or_else(
                || "never".to_owned(),
                |a| format!("{:.1}s ago", a.as_secs_f64()),
            );
            return Err(format!(
                "stale copy of version {}: the leader {} last answered {age}{}",
                stats.version,
                self.leader,
                why()
            ));
        }
        Ok(())
    }

    fn render_metrics(&self, out: &mut String) {
        let s = self.status.stats();
        let secs = |d: Option<Duration>| d.map_or(f64::INFINITY, |d| d.as_secs_f64());
        let gauges: [(&str, &str, f64); 8] = [
            (
                "cowd_follower_lag_versions",
                "Versions the leader announced that this follower has not applied.",
                s.lag_versions as f64,
            ),
            (
                "cowd_follower_lag_seconds",
                "How long the newest version announced by the leader has been waiting (0 when current).",
                s.lag.as_secs_f64(),
            ),
            (
                "cowd_follower_last_sync_age_seconds",
                "Seconds since the leader last answered (+Inf: never).",
                secs(s.last_sync_age),
            ),
            (
                "cowd_follower_leader_version",
                "The newest version the leader announced.",
                s.leader_version as f64,
            ),
            (
                "cowd_follower_connected",
                "1 when the last request reached the leader.",
                f64::from(u8::from(s.connected)),
            ),
            (
                "cowd_follower_stale",
                "1 when the copy is stale (leader unreachable, silent too long, or behind this follower).",
                f64::from(u8::from(s.stale)),
            ),
            (
                "cowd_follower_last_apply_delay_seconds",
                "Leader publish to local publish of the last applied version (wall clocks).",
                s.last_apply_delay.map_or(0.0, |d| d.as_secs_f64()),
            ),
            ("cowd_follower_info", "The leader followed.", 1.0),
        ];
        for (name, help, value) in gauges {
            let labels = if name == "cowd_follower_info" {
                format!("{{leader=\"{}\"}}", self.leader.replace('"', "%22"))
            } else {
                String::new()
            };
            labeled_gauge(out, name, &labels, help, value);
        }
        let _ = writeln!(
            out,
            "# HELP cowd_follower_syncs_total Versions applied, by how they arrived.\n# TYPE cowd_follower_syncs_total counter\ncowd_follower_syncs_total{{via=\"full\"}} {}\ncowd_follower_syncs_total{{via=\"delta\"}} {}",
            s.full_syncs, s.delta_syncs
        );
        let counters: [(&str, &str, u64); 5] = [
            (
                "cowd_follower_delta_fallbacks_total",
                "Diffs not used (larger than the document, unavailable, or failed verification): the document was fetched instead.",
                s.delta_fallbacks,
            ),
            (
                "cowd_follower_not_modified_total",
                "Conditional requests the leader answered 304.",
                s.not_modified,
            ),
            (
                "cowd_follower_errors_total",
                "Failed exchanges with the leader.",
                s.errors,
            ),
            (
                "cowd_follower_refused_total",
                "Versions the leader sent that were not published.",
                s.refused,
            ),
            (
                "cowd_follower_backfilled_total",
                "Versions fetched one by one because a burst on the leader skipped them (--backfill).",
                s.backfilled,
            ),
        ];
        for (name, help, value) in counters {
            counter(out, name, help, value);
        }
    }
}
