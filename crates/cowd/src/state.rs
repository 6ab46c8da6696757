//! [`AppState`]: what the HTTP handlers share — the read side, the write backend, auth,
//! limits, metrics and the shutdown signal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::backend::Backend;
use crate::http::auth::Auth;
use crate::http::metrics::HttpMetrics;
use crate::versions::Versions;

/// Request limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest accepted request body (`--max-body`).
    pub max_body: usize,
    /// Long-poll timeout when the request gives none.
    pub default_long_poll: Duration,
    /// Longest accepted long-poll timeout (longer requests are clamped).
    pub max_long_poll: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: 1 << 20,
            default_long_poll: Duration::from_secs(30),
            max_long_poll: Duration::from_secs(300),
        }
    }
}

/// Tells long-running responses (long-polls, event streams) that the server is stopping.
#[derive(Clone, Debug)]
pub struct Shutdown {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            sender: Arc::new(watch::channel(false).0),
        }
    }
}

impl Shutdown {
    /// Starts the shutdown: waiters of [`Shutdown::wait`] return.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// A receiver that turns `true` at shutdown.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.sender.subscribe()
    }

    /// Resolves once shutdown has started.
    pub async fn wait(&self) {
        let mut receiver = self.sender.subscribe();
        let _ = receiver.wait_for(|stopping| *stopping).await;
    }
}

/// Shared state of the HTTP handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    versions: Arc<Versions>,
    backend: Arc<dyn Backend>,
    auth: Auth,
    limits: Limits,
    metrics: HttpMetrics,
    shutdown: Shutdown,
    started: Instant,
}

impl AppState {
    /// Assembles the state. `auth` decides who may write; `backend` where writes go.
    pub fn new(
        versions: Arc<Versions>,
        backend: Arc<dyn Backend>,
        auth: Auth,
        limits: Limits,
        shutdown: Shutdown,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                versions,
                backend,
                auth,
                limits,
                metrics: HttpMetrics::default(),
                shutdown,
                started: Instant::now(),
            }),
        }
    }

    /// The read side.
    pub fn versions(&self) -> &Arc<Versions> {
        &self.inner.versions
    }

    /// The write seam.
    pub fn backend(&self) -> &dyn Backend {
        &*self.inner.backend
    }

    /// Who may write.
    pub fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    /// Request limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// HTTP request metrics.
    pub fn metrics(&self) -> &HttpMetrics {
        &self.inner.metrics
    }

    /// The shutdown signal.
    pub fn shutdown(&self) -> &Shutdown {
        &self.inner.shutdown
    }

    /// Time since the state was created.
    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("versions", &self.inner.versions)
            .field("mode", &self.inner.backend.mode())
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}
