//! [`Error`]: why a request to the leader, a start or the cache failed.

use std::path::PathBuf;

/// Why a request to the leader, a [`Follower`](crate::Follower) start or the cache file failed.
///
/// Every variant says what went wrong in operator terms; none of them ever changes what the
/// follower publishes (a failed sync keeps the last snapshot).
///
/// ```
/// let error = cowd_client::Error::BadUrl {
///     url: "ftp://x".into(),
///     reason: "only http:// is supported".into(),
/// };
/// assert!(error.to_string().contains("ftp://x"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The leader URL is unusable.
    #[error("invalid leader URL `{url}`: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The leader could not be reached (connection refused, reset, DNS…).
    #[error("cannot reach the leader at {url}: {reason}")]
    Unreachable {
        /// The request URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The leader did not answer in time.
    #[error("the leader at {url} did not answer within {timeout:?}")]
    Timeout {
        /// The request URL.
        url: String,
        /// The limit that passed.
        timeout: std::time::Duration,
    },
    /// The leader answered with an unexpected status.
    #[error("the leader answered {status} to {url}: {body}")]
    Status {
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the response body (the leader's JSON error, usually).
        body: String,
    },
    /// The leader's answer is not what a cowd server sends (missing or bad headers, bad JSON,
    /// a hash that does not match the body).
    #[error("malformed answer from the leader at {url}: {reason}")]
    Malformed {
        /// The request URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The leader offered a version older than the one this follower already has (a leader
    /// restored from an older backup, or another server behind the same URL). Nothing is
    /// published until the leader is past the local version again.
    #[error(
        "the leader offers version {offered} but version {local} was already received; keeping version {local} (was the leader's data replaced?)"
    )]
    WentBackwards {
        /// The version the leader offered.
        offered: u64,
        /// The version this follower serves.
        local: u64,
    },
    /// The document does not deserialize into the follower's type.
    #[error("version {version} does not fit the follower's type: {reason}")]
    Refused {
        /// The version refused.
        version: u64,
        /// The deserialization error.
        reason: String,
    },
    /// The cache file could not be read or written.
    #[error("cache file {}: {reason}", .path.display())]
    Cache {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Neither the leader nor the cache file had a configuration at start.
    #[error("no configuration at start: {leader}{}", .cache.as_ref().map(|c| format!("; and {c}")).unwrap_or_default())]
    NoInitialConfig {
        /// The last error from the leader.
        leader: Box<Error>,
        /// Why the cache file did not help (if one was configured).
        cache: Option<Box<Error>>,
    },
    /// The follower was stopped.
    #[error("the follower was stopped")]
    Stopped,
}

impl Error {
    /// Whether retrying later may succeed (transport trouble, a 5xx, a leader behind us).
    ///
    /// ```
    /// let e = cowd_client::Error::Timeout { url: "http://a".into(), timeout: std::time::Duration::from_secs(1) };
    /// assert!(e.is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } | Self::WentBackwards { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}
