//! etcd mode (`cowd serve --etcd-endpoints URLS --etcd-key KEY`): etcd is the source of truth
//! for every node of a deployment; each node keeps a local copy for reads.
//!
//! - **The document** lives at one etcd key, as compact JSON. Its version is the key's
//!   `mod_revision`: monotonic, and the same number for the same content on every node.
//! - **Writes** ([`EtcdBackend::write`]): the schema is checked first, then one etcd
//!   transaction puts the document; with `If-Match: "N"` the transaction compares the key's
//!   `mod_revision` with N, so concurrent compare-and-sets on different nodes have exactly one
//!   winner (the others get 412). The writing node publishes the new revision as soon as etcd
//!   acknowledged it, so it reads its own write.
//! - **Every node watches the key** ([`EtcdSource::run`]) from the revision after the one it
//!   read, and publishes each new value into its [`Versions`]. A watch cancelled because its
//!   start revision was compacted, a broken stream or a stopped etcd lead to a fresh read of
//!   the key and a new watch from there: the node catches up with the latest value.
//! - **History**: after a read that brings a new version (at start, after a resync) the node
//!   reads the key's earlier values back from etcd's revision history into its history, in
//!   the background, up to `--history` and as far as compaction left them
//!   (`Shared::read_back_earlier`).
//! - **Reads never touch etcd**: every read endpoint serves the local [`Versions`].
//!   `cowd_etcd_requests_total` counts what this node sends to etcd (writes, the sync reads,
//!   the watch, one health probe per `--etcd-probe-interval`, and the history read-back).
//! - **Unavailability**: while etcd does not answer, the node keeps serving its last version;
//!   `/readyz` answers 503 once the last successful contact is older than `--etcd-stale-after`
//!   (or immediately when the probe fails), writes answer 503, and
//!   `cowd_etcd_last_contact_age_seconds` grows.
//!
//! Values written to the key by other tools are accepted if they are JSON and match the schema;
//! anything else is not published (counted in `cowd_config_reload_failures_total`).

use std::fmt::Write as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, Identity,
    TlsOptions, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use serde_json::Value;
use tokio::sync::watch;

use crate::backend::{Backend, BoxFuture, Change, WriteError, check_candidate};
use crate::http::metrics::{counter, gauge};
use crate::record::{Origin, VersionRecord};
use crate::schema::SchemaSlot;
use crate::versions::{Current, Versions};

/// What etcd mode needs besides the common serve options.
#[derive(Clone, Debug)]
pub struct EtcdConfig {
    /// Client URLs of the etcd members (`--etcd-endpoints`, comma-separated).
    pub endpoints: Vec<String>,
    /// The key holding the document (`--etcd-key`).
    pub key: String,
    /// Limit for one etcd request (`--etcd-timeout`, default 2 s).
    pub request_timeout: Duration,
    /// How often the health probe runs (`--etcd-probe-interval`, default 1 s).
    pub probe_interval: Duration,
    /// Not ready once etcd was last heard from longer ago than this (`--etcd-stale-after`,
    /// default 5 s).
    pub stale_after: Duration,
    /// The etcd user to authenticate as, for a cluster with authentication enabled
    /// (`--etcd-user`, `--etcd-password-file`).
    pub credentials: Option<EtcdCredentials>,
    /// Certificates for `https://` endpoints (`--etcd-ca-cert`, `--etcd-client-cert`,
    /// `--etcd-client-key`). Without them an `https://` member is verified against the
    /// system's roots.
    pub tls: Option<EtcdTls>,
}

/// TLS material for talking to etcd over `https://`: the CA that signed the members'
/// certificates, and a client certificate for a cluster started with `--client-cert-auth`.
/// `Debug` does not show the private key.
#[derive(Clone, Default)]
pub struct EtcdTls {
    ca_cert: Option<Vec<u8>>,
    client: Option<(Vec<u8>, Vec<u8>)>,
}

/// Why TLS files for etcd are unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EtcdTlsError {
    /// A file cannot be read.
    #[error("cannot read the {what} {}: {source}", .path.display())]
    Read {
        /// Which file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file holds no PEM block of the expected kind.
    #[error("the {what} {} holds no PEM `{expected}` block; pass a PEM file", .path.display())]
    NotPem {
        /// Which file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What was looked for.
        expected: &'static str,
    },
}

impl EtcdTls {
    /// Reads the PEM files: `ca_cert` to verify the members, `client` (certificate, key) to
    /// present to them.
    pub fn load(
        ca_cert: Option<&Path>,
        client: Option<(&Path, &Path)>,
    ) -> Result<Self, EtcdTlsError> {
        fn read(
            what: &'static str,
            path: &Path,
            expected: &'static str,
        ) -> Result<Vec<u8>, EtcdTlsError> {
            let bytes = std::fs::read(path).map_err(|source| EtcdTlsError::Read {
                what,
                path: path.to_owned(),
                source,
            })?;
            let text = String::from_utf8_lossy(&bytes);
            if !text.contains("-----BEGIN") || !text.contains(expected) {
                return Err(EtcdTlsError::NotPem {
                    what,
                    path: path.to_owned(),
                    expected,
                });
            }
            Ok(bytes)
        }
        Ok(Self {
            ca_cert: ca_cert
                .map(|path| read("etcd CA certificate", path, "CERTIFICATE-----"))
                .transpose()?,
            client: client
                .map(|(cert, key)| {
                    Ok::<_, EtcdTlsError>((
                        read("etcd client certificate", cert, "CERTIFICATE-----")?,
                        read("etcd client key", key, "PRIVATE KEY-----")?,
                    ))
                })
                .transpose()?,
        })
    }

    /// The client TLS configuration for one `https://` member.
    fn options(&self) -> TlsOptions {
        let mut options = TlsOptions::new();
        options = match &self.ca_cert {
            Some(pem) => options.ca_certificate(Certificate::from_pem(pem)),
            None => options.with_native_roots(),
        };
        if let Some((cert, key)) = &self.client {
            options = options.identity(Identity::from_pem(cert, key));
        }
        options
    }
}

impl std::fmt::Debug for EtcdTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdTls")
            .field("ca_cert", &self.ca_cert.is_some())
            .field("client_cert", &self.client.is_some())
            .finish()
    }
}

/// An etcd user name and password. `Debug` does not show the password.
///
/// ```
/// let credentials = cowd::etcd::EtcdCredentials::new("cowd", "s3cret");
/// assert_eq!(credentials.user(), "cowd");
/// assert!(!format!("{credentials:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct EtcdCredentials {
    user: String,
    password: String,
}

impl EtcdCredentials {
    /// Credentials for `user`.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            password: password.into(),
        }
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl std::fmt::Debug for EtcdCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl EtcdConfig {
    /// Default timings for `endpoints` and `key`.
    ///
    /// ```
    /// let config = cowd::etcd::EtcdConfig::new(vec!["http://127.0.0.1:2379".into()], "/app/config");
    /// assert_eq!(config.key, "/app/config");
    /// ```
    pub fn new(endpoints: Vec<String>, key: impl Into<String>) -> Self {
        Self {
            endpoints,
            key: key.into(),
            request_timeout: Duration::from_secs(2),
            probe_interval: Duration::from_secs(1),
            stale_after: Duration::from_secs(5),
            credentials: None,
            tls: None,
        }
    }
}

/// Requests sent to etcd, by kind (`cowd_etcd_requests_total{op}`).
const OPS: [&str; 5] = ["get", "txn", "watch", "probe", "history"];
/// Index in [`OPS`] of the reads of the key's earlier revisions (`Shared::read_back_earlier`).
const OP_HISTORY: usize = 4;

#[derive(Debug, Default)]
struct Health {
    connected: bool,
    last_contact: Option<Instant>,
    last_error: Option<String>,
    /// The newest etcd cluster revision seen in a response header.
    revision: u64,
    key_missing: bool,
}

struct Shared {
    config: EtcdConfig,
    versions: Arc<Versions>,
    schema: Arc<SchemaSlot>,
    /// One client per endpoint, each connected on first use: requests go to the last member
    /// that answered and fail over to the next ones (see [`Shared::call`]).
    members: Vec<Member>,
    preferred: AtomicUsize,
    /// Serializes publishes (the watch task and writers both publish).
    publish: Mutex<()>,
    health: Mutex<Health>,
    requests: [AtomicU64; OPS.len()],
    resyncs: AtomicU64,
    compacted: AtomicU64,
    seeded: AtomicU64,
    /// The newest revision offered to [`Shared::publish`], published or refused.
    seen: AtomicU64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("versions", &self.versions)
            .finish_non_exhaustive()
    }
}

/// One etcd member as this node sees it.
struct Member {
    endpoint: String,
    client: tokio::sync::OnceCell<Client>,
}

/// Adds what to do next to etcd's authentication and permission errors.
fn with_hint(message: String) -> String {
    let hint = if message.contains("user name is empty") {
        "etcd has authentication enabled: pass --etcd-user and --etcd-password-file"
    } else if message.contains("authentication failed") {
        "etcd refused the user name or password: check --etcd-user and --etcd-password-file"
    } else if message.contains("permission denied") {
        "the etcd user needs a role with read-write permission on --etcd-key"
    } else if message.contains("UnknownIssuer") || message.contains("invalid peer certificate") {
        "the member's certificate is not signed by a CA this node trusts: pass --etcd-ca-cert with the CA that signed it"
    } else if closed_by_the_member(&message) && message.contains("https://") {
        "the member closed the TLS connection: if etcd runs with --client-cert-auth, pass --etcd-client-cert and --etcd-client-key"
    } else if closed_by_the_member(&message) {
        "the member closed the connection: if it serves TLS, use https:// in --etcd-endpoints"
    } else {
        return message;
    };
    format!("{message} ({hint})")
}

/// Whether a failed request's `message` says the member hung up on it. A member that rejects
/// the handshake (a TLS port spoken to in plain HTTP, a missing client certificate) shows up as
/// one of these, depending on when the rejection reaches the client: during the handshake, a
/// broken pipe; after it (TLS 1.3 sends the client-certificate verdict late), a closed or
/// reset connection.
fn closed_by_the_member(message: &str) -> bool {
    ["broken pipe", "connection closed", "connection reset"]
        .iter()
        .any(|symptom| message.contains(symptom))
}

/// Whether `error` means the request never left this process (the member refused the
/// connection): then it is safe to send it to another member, even a write.
fn not_sent(error: &etcd_client::Error) -> bool {
    let text = format!("{error:?}");
    text.contains("ConnectError") || text.contains("tcp connect error")
}

impl Shared {
    /// The client of `member`, connected on first use. Without credentials connecting sends
    /// nothing; with them it authenticates, so it needs the member to answer. A failure here
    /// means the request was not sent.
    async fn client(&self, member: &Member) -> Result<Client, String> {
        let connect = || async {
            let mut options = ConnectOptions::new()
                .with_connect_timeout(self.config.request_timeout)
                .with_keep_alive(Duration::from_secs(2), self.config.request_timeout)
                .with_keep_alive_while_idle(true)
                .with_require_leader(true);
            if member.endpoint.starts_with("https://") {
                let tls = self.config.tls.clone().unwrap_or_default();
                options = options.with_tls(tls.options());
            }
            if let Some(credentials) = &self.config.credentials {
                options = options
                    .with_user(credentials.user.clone(), credentials.password.clone())
                    .with_auto_token_refresh(true);
            }
            let connecting = Client::connect([member.endpoint.as_str()], Some(options));
            match tokio::time::timeout(self.config.request_timeout, connecting).await {
                Ok(Ok(client)) => Ok(client),
                Ok(Err(error)) => Err(with_hint(format!(
                    "cannot connect to {}: {error}",
                    member.endpoint
                ))),
                Err(_) => Err(format!(
                    "cannot connect to {}: no answer within {:?}",
                    member.endpoint, self.config.request_timeout
                )),
            }
        };
        member.client.get_or_try_init(connect).await.cloned()
    }

    /// Sends one request, starting with the member that answered last. On a refused
    /// connection it tries the next member; an `idempotent` request (a read, a watch) also
    /// moves on after any other error or a timeout. A write whose outcome is unknown is never
    /// resent. `what` names the request in errors.
    async fn call<T, F, Fut>(
        &self,
        what: &str,
        op: usize,
        idempotent: bool,
        f: F,
    ) -> Result<T, Failure>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let timeout = self.config.request_timeout;
        let start = self.preferred.load(Ordering::Relaxed);
        let mut last = String::new();
        let members = self.members.len();
        for i in 0..members {
            let index = (start + i) % members;
            let member = &self.members[index];
            let endpoint = &member.endpoint;
            self.count(op);
            let client = match self.client(member).await {
                Ok(client) => client,
                Err(error) => {
                    last = format!("{what}: {error}");
                    continue;
                }
            };
            match tokio::time::timeout(timeout, f(client)).await {
                Ok(Ok(value)) => {
                    self.preferred.store(index, Ordering::Relaxed);
                    return Ok(value);
                }
                Ok(Err(error)) => {
                    let sent = !not_sent(&error);
                    let detail = with_hint(format!("{endpoint}: {error}"));
                    if sent && !idempotent {
                        return Err(Failure::Unknown(self.failed(what, detail)));
                    }
                    last = format!("{what} at {detail}");
                }
                Err(_) => {
                    last = format!("{what} at {endpoint}: no answer within {timeout:?}");
                    if !idempotent {
                        return Err(Failure::Unknown(
                            self.failed(what, format!("{endpoint}: no answer within {timeout:?}")),
                        ));
                    }
                }
            }
        }
        Err(Failure::NotSent(
            self.failed("no etcd member answered", last),
        ))
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, op: usize) {
        self.requests[op].fetch_add(1, Ordering::Relaxed);
    }

    fn contact(&self, revision: Option<i64>) {
        let mut h = self.health();
        h.connected = true;
        h.last_contact = Some(Instant::now());
        h.last_error = None;
        if let Some(r) = revision.and_then(|r| u64::try_from(r).ok()) {
            h.revision = h.revision.max(r);
        }
    }

    fn failed(&self, what: &str, error: impl std::fmt::Display) -> String {
        let message = format!("{what}: {error}");
        let mut h = self.health();
        h.connected = false;
        h.last_error = Some(message.clone());
        message
    }

    /// Parses, validates and publishes the value etcd holds at `revision`, unless this node
    /// already serves that revision or a newer one. Returns the record now current.
    fn publish(&self, revision: i64, value: &[u8], origin: Origin) -> Option<Current> {
        let version = u64::try_from(revision).ok().filter(|v| *v > 0)?;
        self.seen.fetch_max(version, Ordering::Relaxed);
        if self.versions.current().version() >= version {
            return None;
        }
        let record = match self.record(version, value, origin, SystemTime::now()) {
            Ok(record) => record,
            Err(reason) => {
                self.versions.count_reload_failure();
                tracing::error!(key = %self.config.key, revision, "{reason}; keeping the current version");
                return None;
            }
        };
        let _serial = self.publish.lock().unwrap_or_else(|e| e.into_inner());
        match self.versions.publish(Arc::clone(&record)) {
            Ok(()) => {
                tracing::debug!(version, "published a revision from etcd");
                Some(record)
            }
            Err(_) => None,
        }
    }

    /// The record of `value`, the key's value at revision `version`, if it is JSON and matches
    /// the schema; else why not. etcd keeps no time, so the caller picks `published_at`: when
    /// this node learned of the version, or a bound of it.
    fn record(
        &self,
        version: u64,
        value: &[u8],
        origin: Origin,
        published_at: SystemTime,
    ) -> Result<Current, String> {
        let doc: Value = serde_json::from_slice(value)
            .map_err(|error| format!("the value in etcd is not JSON ({error})"))?;
        self.schema.validate(&doc).map_err(|violations| {
            format!(
                "the value in etcd does not match the schema ({})",
                violations
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
        let body = Bytes::from(serde_json::to_vec(&doc).expect("a Value always serializes"));
        Ok(Arc::new(VersionRecord::new(
            version,
            published_at,
            origin,
            body,
        )))
    }

    /// Reads the key's earlier values back from etcd's revision history into this node's
    /// history, newest first, after the key was read at revision `newest` while this node had
    /// version `had` (0 at start). Without this, a node's history would start at its own start
    /// (or skip what it missed before a resync); with it, the history holds the versions etcd
    /// still has: the walk stops at a version this node had, before the key existed, at a
    /// compacted revision, when the history is full, or at the first failed request (quietly:
    /// serving the current version does not depend on it). Values that are not JSON or break
    /// the schema are left out, as they were when current.
    ///
    /// A version read back was published before the one after it, so it gets that one's time
    /// (when this node learned of it): the latest it can have been published, and the
    /// history's times never go backwards as its versions go up.
    async fn read_back_earlier(&self, newest: u64, had: u64) {
        let key = self.config.key.as_str();
        let member = &self.members[self.preferred.load(Ordering::Relaxed) % self.members.len()];
        let Ok(client) = self.client(member).await else {
            return;
        };
        let mut kv = client.kv_client();
        let mut before = newest;
        let Some(mut published_by) = self.versions.get(newest).map(|r| r.published_at()) else {
            return; // already pruned: newer versions fill the history
        };
        let mut read_back = 0u64;
        while before > had.saturating_add(1) {
            let at = i64::try_from(before - 1).unwrap_or(i64::MAX);
            self.count(OP_HISTORY);
            let request = kv.get(key, Some(GetOptions::new().with_revision(at)));
            let Ok(Ok(response)) = tokio::time::timeout(self.config.request_timeout, request).await
            else {
                break; // compacted, or etcd did not answer: keep what was read back
            };
            let Some(found) = response.kvs().first() else {
                break; // the key did not exist at that revision
            };
            let Some(version) = u64::try_from(found.mod_revision())
                .ok()
                .filter(|&v| v > had)
            else {
                break;
            };
            before = version;
            if let Some(known) = self.versions.get(version) {
                published_by = known.published_at();
                continue;
            }
            if let Ok(record) = self.record(version, found.value(), self.origin(), published_by) {
                if !self.versions.insert_earlier(record) {
                    break; // the history is full of newer versions
                }
                read_back += 1;
            }
        }
        if read_back > 0 {
            tracing::info!(
                key,
                read_back,
                "read earlier values of the key back from etcd into the history"
            );
        }
    }

    fn origin(&self) -> Origin {
        Origin::Etcd {
            key: self.config.key.clone(),
        }
    }
}

/// Why [`Shared::call`] failed.
enum Failure {
    /// No member accepted the request: nothing was applied.
    NotSent(String),
    /// A member may have applied it.
    Unknown(String),
}

impl Failure {
    fn into_reason(self) -> String {
        match self {
            Self::NotSent(r) | Self::Unknown(r) => r,
        }
    }
}

/// The write seam of etcd mode; see the [module docs](self).
#[derive(Debug)]
pub struct EtcdBackend {
    shared: Arc<Shared>,
}

/// The background task of etcd mode: connect, read the key, watch it, probe etcd's health.
#[derive(Debug)]
pub struct EtcdSource {
    shared: Arc<Shared>,
    seed: Option<Value>,
    /// After a broken watch: the revision to watch from (the one after the last event seen).
    resume: Option<i64>,
}

/// Builds etcd mode's backend and background task over `versions` (which should start
/// [unsynced](Versions::unsynced)). `seed` is written to the key if it does not exist yet
/// (default `{}`).
pub fn open(
    config: EtcdConfig,
    versions: Arc<Versions>,
    schema: Arc<SchemaSlot>,
    seed: Option<Value>,
) -> (Arc<EtcdBackend>, EtcdSource) {
    let shared = Arc::new(Shared {
        versions,
        schema,
        members: config
            .endpoints
            .iter()
            .map(|endpoint| Member {
                endpoint: endpoint.clone(),
                client: tokio::sync::OnceCell::new(),
            })
            .collect(),
        config,
        preferred: AtomicUsize::new(0),
        publish: Mutex::new(()),
        health: Mutex::new(Health::default()),
        requests: Default::default(),
        resyncs: AtomicU64::new(0),
        compacted: AtomicU64::new(0),
        seeded: AtomicU64::new(0),
        seen: AtomicU64::new(0),
    });
    (
        Arc::new(EtcdBackend {
            shared: Arc::clone(&shared),
        }),
        EtcdSource {
            shared,
            seed,
            resume: None,
        },
    )
}

impl Backend for EtcdBackend {
    fn mode(&self) -> &'static str {
        "etcd"
    }

    fn check_writable(&self) -> Result<(), WriteError> {
        Ok(())
    }

    fn write(&self, change: Change) -> BoxFuture<'_, Result<Current, WriteError>> {
        Box::pin(self.write_txn(change))
    }

    fn readiness(&self) -> Result<(), String> {
        let shared = &self.shared;
        let h = shared.health();
        let key = &shared.config.key;
        if !shared.versions.is_synced() {
            return Err(format!(
                "key {key} not read from etcd yet{}",
                h.last_error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
        }
        if !h.connected {
            return Err(format!(
                "etcd is unreachable ({}); serving the last version read, {}",
                h.last_error.as_deref().unwrap_or("no answer"),
                self.shared.versions.current().version()
            ));
        }
        if let Some(age) = h.last_contact.map(|t| t.elapsed()) {
            if age > shared.config.stale_after {
                return Err(format!(
                    "etcd last answered {:.1}s ago (more than --etcd-stale-after {:?})",
                    age.as_secs_f64(),
                    shared.config.stale_after
                ));
            }
        }
        if h.key_missing {
            return Err(format!(
                "key {key} was deleted from etcd; serving its last value"
            ));
        }
        Ok(())
    }

    fn render_metrics(&self, out: &mut String) {
        let shared = &self.shared;
        let (connected, age, revision) = {
            let h = shared.health();
            (
                h.connected,
                h.last_contact
                    .map_or(f64::INFINITY, |t| t.elapsed().as_secs_f64()),
                h.revision,
            )
        };
        let stale = self.readiness().is_err();
        let gauges: [(&str, &str, f64); 4] = [
            (
                "cowd_etcd_up",
                "1 when the last request to etcd succeeded.",
                f64::from(u8::from(connected)),
            ),
            (
                "cowd_etcd_last_contact_age_seconds",
                "Seconds since etcd last answered (+Inf: never).",
                age,
            ),
            (
                "cowd_etcd_stale",
                "1 when this node's copy may be stale (etcd unreachable or silent too long).",
                f64::from(u8::from(stale)),
            ),
            (
                "cowd_etcd_cluster_revision",
                "The newest etcd cluster revision seen (the key's mod_revision is cowd_config_version).",
                revision as f64,
            ),
        ];
        for (name, help, value) in gauges {
            gauge(out, name, help, value);
        }
        out.push_str("# HELP cowd_etcd_requests_total Requests sent to etcd, by kind (reads of the API send none).\n# TYPE cowd_etcd_requests_total counter\n");
        for (op, n) in OPS.iter().zip(&shared.requests) {
            let _ = writeln!(
                out,
                "cowd_etcd_requests_total{{op=\"{op}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let counters: [(&str, &str, u64); 3] = [
            (
                "cowd_etcd_resyncs_total",
                "Fresh reads of the key after the watch ended (etcd restart, broken stream, compaction).",
                shared.resyncs.load(Ordering::Relaxed),
            ),
            (
                "cowd_etcd_compacted_watches_total",
                "Watches cancelled because their start revision was compacted.",
                shared.compacted.load(Ordering::Relaxed),
            ),
            (
                "cowd_etcd_seeded_total",
                "Times this node created the key (it did not exist).",
                shared.seeded.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, value) in counters {
            counter(out, name, help, value);
        }
    }
}

impl EtcdBackend {
    async fn write_txn(&self, change: Change) -> Result<Current, WriteError> {
        let shared = &self.shared;
        check_candidate(&shared.schema, &shared.versions, &change.doc)?;
        let body = serde_json::to_vec(&change.doc).expect("a Value always serializes");
        let key = shared.config.key.as_str();
        let mut txn = Txn::new();
        if let Some(expected) = change.expected_version {
            let expected = i64::try_from(expected).unwrap_or(i64::MAX);
            txn = txn.when([Compare::mod_revision(key, CompareOp::Equal, expected)]);
        }
        let txn = txn
            .and_then([TxnOp::put(key, body.clone(), None)])
            .or_else([TxnOp::get(key, None)]);
        let response = shared
            .call("the etcd transaction", 1, false, |client| {
                let txn = txn.clone();
                async move { client.kv_client().txn(txn).await }
            })
            .await
            .map_err(|failure| WriteError::Unavailable {
                reason: match failure {
                    Failure::NotSent(reason) => format!("{reason}; nothing was written"),
                    Failure::Unknown(reason) => format!(
                        "{reason}; the write may or may not have been applied: check GET /v1/config before retrying"
                    ),
                },
            })?;
        let revision = response.header().map_or(0, |h| h.revision());
        shared.contact(Some(revision));
        if !response.succeeded() {
            let current = response
                .op_responses()
                .into_iter()
                .find_map(|op| match op {
                    TxnOpResponse::Get(get) => {
                        Some(get.kvs().first().map_or(0, |kv| kv.mod_revision()))
                    }
                    _ => None,
                })
                .unwrap_or(0);
            return Err(WriteError::Conflict {
                expected: change.expected_version.unwrap_or(0),
                current: u64::try_from(current).unwrap_or(0),
            });
        }
        // The put's revision is the transaction's header revision: publish it now (the watch
        // will see it too and skip it) so this node reads its own write.
        if let Some(record) = shared.publish(revision, &body, change.origin) {
            return Ok(record);
        }
        let version = u64::try_from(revision).unwrap_or(0);
        Ok(shared
            .versions
            .get(version)
            .unwrap_or_else(|| shared.versions.current()))
    }
}

/// Why the watch loop restarts.
enum Restart {
    /// Etcd is unreachable or failed: back off first.
    Error(String),
    /// The watch ended cleanly (compaction, cancellation): resync at once.
    Resync,
}

impl EtcdSource {
    /// Connects, reads the key (creating it from the seed if missing), then watches it until
    /// `stop` turns true; see the [module docs](self).
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        tracing::info!(endpoints = ?config.endpoints, key = %config.key, "etcd mode: following the key");
        let mut backoff = Duration::from_millis(50);
        let mut seed = self.seed.take();
        loop {
            if *stop.borrow() {
                return;
            }
            let outcome = tokio::select! {
                outcome = self.session(&mut seed) => outcome,
                _ = stop.changed() => return,
            };
            let delay = match outcome {
                Restart::Resync => Duration::ZERO,
                Restart::Error(reason) => {
                    tracing::warn!(%reason, ?backoff, "etcd: keeping the last version and retrying");
                    let delay = backoff / 2 + Duration::from_millis(fastrand_ms(backoff / 2));
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    delay
                }
            };
            if delay.is_zero() {
                backoff = Duration::from_millis(50);
            }
            shared.resyncs.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Reads the key (linearizably) and publishes it, creating it from the seed if it does not
    /// exist; returns the revision to watch from.
    async fn read_key(&self, seed: &mut Option<Value>) -> Result<i64, Restart> {
        let shared = &self.shared;
        let config = &shared.config;
        let key = config.key.as_str();
        let response = match shared
            .call("reading the key", 0, true, |client| async move {
                client.kv_client().get(key, None).await
            })
            .await
        {
            Ok(r) => r,
            Err(failure) => return Err(Restart::Error(failure.into_reason())),
        };
        let header_revision = response.header().map_or(0, |h| h.revision());
        shared.contact(Some(header_revision));
        match response.kvs().first() {
            Some(kv) => {
                shared.health().key_missing = false;
                let had = shared.versions.current().version();
                if let Some(record) = shared.publish(kv.mod_revision(), kv.value(), shared.origin())
                {
                    // In the background: the watch starts now, the history fills meanwhile.
                    let shared = Arc::clone(shared);
                    tokio::spawn(async move {
                        shared.read_back_earlier(record.version(), had).await;
                    });
                }
            }
            None => {
                if let Some(doc) = seed
                    .take()
                    .or_else(|| (!shared.versions.is_synced()).then(|| serde_json::json!({})))
                {
                    // Create the key only if it still does not exist.
                    let body = serde_json::to_vec(&doc).expect("a Value always serializes");
                    // Idempotent: it only creates the key if it still does not exist.
                    let txn = Txn::new()
                        .when([Compare::create_revision(key, CompareOp::Equal, 0)])
                        .and_then([TxnOp::put(key, body, None)]);
                    return Err(
                        match shared
                            .call("creating the key", 1, true, |client| {
                                let txn = txn.clone();
                                async move { client.kv_client().txn(txn).await }
                            })
                            .await
                        {
                            Ok(r) => {
                                shared.contact(r.header().map(|h| h.revision()));
                                if r.succeeded() {
                                    shared.seeded.fetch_add(1, Ordering::Relaxed);
                                    tracing::info!(key = %config.key, "the key did not exist: created it");
                                }
                                Restart::Resync
                            }
                            Err(failure) => Restart::Error(failure.into_reason()),
                        },
                    );
                }
                let mut h = shared.health();
                if !h.key_missing {
                    tracing::warn!(key = %config.key, "the key does not exist in etcd; serving the last version until it is written again");
                }
                h.key_missing = true;
            }
        }
        *seed = None;
        Ok(header_revision + 1)
    }

    /// One session: read the key (unless resuming a broken watch), then watch it; returns why
    /// it ended.
    async fn session(&mut self, seed: &mut Option<Value>) -> Restart {
        let start = match self.resume.take() {
            Some(revision) => revision,
            None => match self.read_key(seed).await {
                Ok(revision) => revision,
                Err(restart) => return restart,
            },
        };
        let shared = &self.shared;
        let config = &shared.config;
        let key = config.key.as_str();
        // Watch from `start`: after a read, the revision after it; after a broken watch, the
        // revision after the last event seen (if it was compacted meanwhile, etcd cancels the
        // watch with compact_revision and the next session reads the key again).
        let mut next = start;
        let options = WatchOptions::new()
            .with_start_revision(start)
            .with_progress_notify();
        let mut stream = match shared
            .call("watching the key", 2, true, |client| {
                let options = options.clone();
                async move { client.watch_client().watch(key, Some(options)).await }
            })
            .await
        {
            Ok(stream) => stream,
            Err(failure) => return Restart::Error(failure.into_reason()),
        };
        let mut probe = tokio::time::interval(config.probe_interval);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        probe.tick().await;
        let mut ahead_probes = 0u32;
        loop {
            tokio::select! {
                message = stream.message() => match message {
                    Ok(Some(response)) => {
                        shared.contact(response.header().map(|h| h.revision()));
                        if response.compact_revision() > 0 {
                            shared.compacted.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(compacted = response.compact_revision(), "the watch's start revision was compacted; reading the key again");
                            return Restart::Resync;
                        }
                        if response.canceled() {
                            tracing::warn!(reason = response.cancel_reason(), "etcd cancelled the watch; reading the key again");
                            return Restart::Resync;
                        }
                        for event in response.events() {
                            let Some(kv) = event.kv() else { continue };
                            next = next.max(kv.mod_revision() + 1);
                            match event.event_type() {
                                EventType::Put => {
                                    shared.health().key_missing = false;
                                    shared.publish(kv.mod_revision(), kv.value(), shared.origin());
                                }
                                EventType::Delete => {
                                    tracing::warn!(key = %config.key, revision = kv.mod_revision(), "the key was deleted from etcd; serving the last version until it is written again");
                                    shared.health().key_missing = true;
                                }
                            }
                        }
                    }
                    Ok(None) => {
                        self.resume = Some(next);
                        return Restart::Error(shared.failed("the watch", "etcd closed the stream"));
                    }
                    Err(e) => {
                        self.resume = Some(next);
                        return Restart::Error(shared.failed("the watch broke", e));
                    }
                },
                _ = probe.tick() => {
                    // A linearizable read of the key's revision: etcd (a quorum) is there.
                    let probe_result = shared
                        .call("the health probe", 3, true, |client| async move {
                            client.kv_client().get(key, Some(GetOptions::new().with_keys_only())).await
                        })
                        .await;
                    if let Ok(r) = probe_result {
                        shared.contact(r.header().map(|h| h.revision()));
                        let latest = r.kvs().first().map_or(0, |kv| kv.mod_revision());
                        let current = i64::try_from(shared.seen.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
                        // The watch should have delivered it by the next probe.
                        ahead_probes = if latest > current { ahead_probes + 1 } else { 0 };
                        if ahead_probes >= 3 {
                            tracing::warn!(latest, current, "the watch is behind etcd; reading the key again");
                            return Restart::Resync;
                        }
                    }
                }
            }
        }
    }
}

/// A random number of milliseconds in `[0, max]`.
fn fastrand_ms(max: Duration) -> u64 {
    let max = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if max == 0 { 0 } else { fastrand::u64(0..=max) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A member that requires a client certificate rejected one that sent none, seen from the
    /// client in its two shapes (both observed against etcd 3.4): the hint must name the option
    /// either way. Only the broken-pipe shape used to get it, so `/readyz` sometimes said what
    /// happened but not what to do.
    #[test]
    fn a_rejected_tls_handshake_gets_its_hint_whatever_shape_the_error_takes() {
        let during_handshake = "reading the key at https://127.0.0.1:2379: grpc request error: \
            tonic::transport::Error(Transport, hyper::Error(Io, Os { code: 32, kind: BrokenPipe, \
            message: \"broken pipe\" }))";
        let after_handshake = "reading the key at https://127.0.0.1:2379: grpc request error: \
            code: 'The operation was cancelled', message: \"operation was canceled\", source: \
            tonic::transport::Error(Transport, hyper::Error(Canceled, \"connection closed\"))";
        for message in [during_handshake, after_handshake] {
            assert!(
                with_hint(message.to_owned())
                    .ends_with("pass --etcd-client-cert and --etcd-client-key)"),
                "{message}"
            );
            let plain = message.replace("https://", "http://");
            assert!(
                with_hint(plain.clone()).ends_with("use https:// in --etcd-endpoints)"),
                "{plain}"
            );
        }
        let unrelated = "reading the key at https://127.0.0.1:2379: deadline exceeded";
        assert_eq!(with_hint(unrelated.to_owned()), unrelated);
    }
}
