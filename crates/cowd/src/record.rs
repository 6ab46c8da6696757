//! [`VersionRecord`]: one published version of the document, and its [`Origin`].
//!
//! A record is immutable once built. The document is kept as its canonical serialized form
//! (compact JSON bytes) so the hot read path hands out the same bytes to every reader without
//! serializing again; the parsed [`serde_json::Value`] is rebuilt on demand (diffs, rollbacks).

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderValue;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a version came from. Shown in `GET /v1/history` and on the dashboard.
///
/// Later sources of truth (a leader `cowd`, etcd) add variants; the HTTP layer only uses
/// [`Origin::kind`] and the optional details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Origin {
    /// The empty document `{}` a fresh data dir starts with when no `--config` was given.
    Init,
    /// The `--config` file that seeded an empty data dir (embedded mode).
    Seed {
        /// The file, as given on the command line.
        path: String,
    },
    /// A reload of the watched file (file mode).
    File {
        /// The file, as given on the command line.
        path: String,
    },
    /// `PUT /v1/config`.
    Api,
    /// `POST /v1/config/rollback?to=N`: the content of version `of`, published again.
    Rollback {
        /// The version whose content was restored.
        of: u64,
    },
    /// A version copied from the leader `cowd` this node follows (`cowd follow`).
    Leader {
        /// The leader's base URL.
        url: String,
    },
    /// A version read from etcd (`cowd serve --etcd-endpoints`): the key's `mod_revision`.
    Etcd {
        /// The etcd key holding the document.
        key: String,
    },
}

impl Origin {
    /// A short machine-readable name: `init`, `seed`, `file`, `api`, `rollback`, `leader` or
    /// `etcd`.
    ///
    /// ```
    /// assert_eq!(cowd::record::Origin::Rollback { of: 3 }.kind(), "rollback");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Seed { .. } => "seed",
            Self::File { .. } => "file",
            Self::Api => "api",
            Self::Rollback { .. } => "rollback",
            Self::Leader { .. } => "leader",
            Self::Etcd { .. } => "etcd",
        }
    }

    /// The file, leader URL or etcd key a version was read from, if any.
    ///
    /// ```
    /// use cowd::record::Origin;
    /// assert_eq!(Origin::File { path: "app.toml".into() }.path(), Some("app.toml"));
    /// assert_eq!(Origin::Etcd { key: "/app".into() }.path(), Some("/app"));
    /// assert_eq!(Origin::Api.path(), None);
    /// ```
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Seed { path } | Self::File { path } => Some(path),
            Self::Leader { url } => Some(url),
            Self::Etcd { key } => Some(key),
            _ => None,
        }
    }

    /// The version a rollback restored, if this is one.
    ///
    /// ```
    /// assert_eq!(cowd::record::Origin::Rollback { of: 7 }.rollback_of(), Some(7));
    /// ```
    pub fn rollback_of(&self) -> Option<u64> {
        match self {
            Self::Rollback { of } => Some(*of),
            _ => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Seed { path } | Self::File { path } => write!(f, "{} ({path})", self.kind()),
            Self::Leader { url } => write!(f, "leader ({url})"),
            Self::Etcd { key } => write!(f, "etcd (key {key})"),
            Self::Rollback { of } => write!(f, "rollback to version {of}"),
            _ => f.write_str(self.kind()),
        }
    }
}

/// One published version: number, time, origin and the document's canonical JSON bytes.
///
/// ```
/// use cowd::record::{Origin, VersionRecord};
/// use std::time::SystemTime;
///
/// let record = VersionRecord::from_value(3, SystemTime::now(), Origin::Api, &serde_json::json!({"a": 1}));
/// assert_eq!(record.version(), 3);
/// assert_eq!(record.body(), &br#"{"a":1}"#[..]);
/// assert_eq!(record.etag(), "\"3\"");
/// assert_eq!(record.doc().unwrap()["a"], 1);
/// // SHA-256 of the body, hex: what `X-Config-Sha256` carries.
/// assert_eq!(record.sha256().len(), 64);
/// ```
#[derive(Clone)]
pub struct VersionRecord {
    version: u64,
    published_at: SystemTime,
    origin: Origin,
    body: Bytes,
    etag: HeaderValue,
    version_header: HeaderValue,
    published_header: HeaderValue,
    /// Computed on first use: recovering a long history hashes nothing.
    sha256: OnceLock<HeaderValue>,
}

impl VersionRecord {
    /// Builds a record from the document's canonical bytes (compact JSON, as produced by
    /// `serde_json::to_vec`). The caller guarantees `body` is valid JSON.
    pub fn new(version: u64, published_at: SystemTime, origin: Origin, body: Bytes) -> Self {
        Self {
            version,
            published_at,
            origin,
            body,
            etag: HeaderValue::from_str(&format!("\"{version}\""))
                .expect("a quoted number is a valid header value"),
            version_header: HeaderValue::from(version),
            published_header: HeaderValue::from(system_time_ms(published_at)),
            sha256: OnceLock::new(),
        }
    }

    /// Builds a record from a parsed document.
    pub fn from_value(version: u64, published_at: SystemTime, origin: Origin, doc: &Value) -> Self {
        let body = serde_json::to_vec(doc).expect("a serde_json::Value always serializes");
        Self::new(version, published_at, origin, Bytes::from(body))
    }

    /// The version number (strictly increasing, never reused).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When this version was accepted (persisted in the data dir, so it survives restarts).
    pub fn published_at(&self) -> SystemTime {
        self.published_at
    }

    /// Milliseconds since the Unix epoch of [`published_at`](Self::published_at).
    pub fn published_at_ms(&self) -> u64 {
        system_time_ms(self.published_at)
    }

    /// Time since this version was accepted (0 if the clock went backwards).
    pub fn age(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.published_at)
            .unwrap_or_default()
    }

    /// Where this version came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The document as compact JSON bytes.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The document's size in bytes (of [`body`](Self::body)).
    pub fn size(&self) -> usize {
        self.body.len()
    }

    /// The `ETag` header value: the version in double quotes.
    pub fn etag(&self) -> &HeaderValue {
        &self.etag
    }

    /// The `X-Config-Version` header value.
    pub fn version_header(&self) -> &HeaderValue {
        &self.version_header
    }

    /// The `X-Config-Published-Ms` header value: [`published_at_ms`](Self::published_at_ms).
    pub fn published_header(&self) -> &HeaderValue {
        &self.published_header
    }

    /// The `X-Config-Sha256` header value: the SHA-256 of [`body`](Self::body), lowercase hex.
    /// A follower applying a JSON Patch checks its result against it.
    pub fn sha256_header(&self) -> &HeaderValue {
        self.sha256.get_or_init(|| {
            HeaderValue::from_str(&sha256_hex(&self.body)).expect("hex is a valid header value")
        })
    }

    /// The SHA-256 of [`body`](Self::body), lowercase hex.
    pub fn sha256(&self) -> &str {
        self.sha256_header()
            .to_str()
            .expect("hex is a valid header string")
    }

    /// Parses the document back into a [`Value`].
    pub fn doc(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// `published_at` as RFC 3339 with milliseconds (UTC).
    pub fn published_at_rfc3339(&self) -> String {
        humantime::format_rfc3339_millis(self.published_at).to_string()
    }
}

impl fmt::Debug for VersionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionRecord")
            .field("version", &self.version)
            .field("published_at", &self.published_at_rfc3339())
            .field("origin", &self.origin)
            .field("size", &self.body.len())
            .finish()
    }
}

/// SHA-256 of `bytes`, lowercase hex (64 characters).
///
/// ```
/// assert_eq!(
///     cowd::record::sha256_hex(b"{}"),
///     "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
/// );
/// ```
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    let digest = sha2::Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn system_time_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The inverse of [`system_time_ms`].
pub(crate) fn ms_to_system_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}
