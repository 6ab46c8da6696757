//! [`Remote`]: the HTTP side of a follower — `GET /v1/config` (conditional, or of one version),
//! the long-poll `GET /v1/config/watch`, `GET /v1/config/diff` and `GET /v1/history`, over a
//! pooled HTTP/1.1 connection.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::Error;

/// What a cowd server says about a version in its headers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VersionInfo {
    /// `X-Config-Version`.
    pub version: u64,
    /// `X-Config-Sha256`: SHA-256 (hex) of the document's compact JSON, when the server sends it.
    pub sha256: Option<String>,
    /// `X-Config-Published-Ms`: when the leader accepted the version.
    pub published_ms: Option<u64>,
    /// `X-Config-Size`: the document's size in bytes, when the server sends it.
    pub size: Option<usize>,
}

/// A document with its version information.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// Version, hash, publish time.
    pub info: VersionInfo,
    /// The compact JSON bytes.
    pub body: Bytes,
}

/// The answer of a conditional `GET /v1/config`.
#[derive(Debug)]
pub enum GetOutcome {
    /// 200: a document.
    Document(Fetched),
    /// 304: the version named in `If-None-Match` is still current.
    NotModified(VersionInfo),
}

/// The answer of a long-poll.
#[derive(Debug)]
pub enum WatchOutcome {
    /// 200: a newer version, with its document.
    Document(Fetched),
    /// 204 (`body=false`): a newer version, announced without its document.
    Announced(VersionInfo),
    /// 304: nothing newer before the timeout; the leader's current version.
    Timeout(VersionInfo),
}

/// A JSON Patch from the leader, with the target version's information.
#[derive(Debug)]
pub enum DiffOutcome {
    /// The patch (its size in bytes) and the target version's information.
    Patch(json_patch::Patch, usize, VersionInfo),
    /// The patch would be larger than `max_bytes` (204).
    TooLarge,
    /// One of the versions is not in the leader's history any more (404).
    Unavailable,
}

/// An HTTP client bound to one cowd base URL.
#[derive(Clone, Debug)]
pub struct Remote {
    client: Client<HttpConnector, Empty<Bytes>>,
    base: String,
    request_timeout: Duration,
}

const MAX_ERROR_BODY: usize = 512;

impl Remote {
    /// A client for the cowd server at `base` (`http://host:port`, optionally with a path
    /// prefix). Only plain `http://` is supported.
    ///
    /// ```
    /// let remote = cowd_client::remote::Remote::new("http://127.0.0.1:8080/", std::time::Duration::from_secs(5)).unwrap();
    /// assert_eq!(remote.base(), "http://127.0.0.1:8080");
    /// assert!(cowd_client::remote::Remote::new("https://x", std::time::Duration::from_secs(5)).is_err());
    /// ```
    pub fn new(base: &str, request_timeout: Duration) -> Result<Self, Error> {
        let trimmed = base.trim().trim_end_matches('/').to_owned();
        let bad = |reason: &str| Error::BadUrl {
            url: base.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = trimmed
            .parse()
            .map_err(|e| bad(&format!("not a URL ({e})")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => {
                return Err(bad(
                    "only http:// is supported; put a TLS-terminating proxy in front of the leader",
                ));
            }
            None => return Err(bad("write it with its scheme, like http://127.0.0.1:8080")),
        }
        if uri.host().is_none() {
            return Err(bad("it has no host"));
        }
        if uri.query().is_some() {
            return Err(bad("give the server's base URL, without a query string"));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(request_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Ok(Self {
            client,
            base: trimmed,
            request_timeout,
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn request(
        &self,
        path_and_query: &str,
        headers: &[(header::HeaderName, String)],
        timeout: Duration,
    ) -> Result<(StatusCode, HeaderMap, Bytes, String), Error> {
        let url = format!("{}{path_and_query}", self.base);
        let mut builder = Request::builder().method(Method::GET).uri(&url);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let request = builder.body(Empty::new()).map_err(|e| Error::BadUrl {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| Error::Unreachable {
                    url: url.clone(),
                    reason: describe(&e),
                })?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| Error::Unreachable {
                    url: url.clone(),
                    reason: format!("the answer was cut: {e}"),
                })?
                .to_bytes();
            Ok::<_, Error>((parts.status, parts.headers, body))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok((status, headers, body))) => Ok((status, headers, body, url)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Timeout { url, timeout }),
        }
    }

    /// `GET /v1/config`, with `If-None-Match: "<version>"` when `have` is given.
    pub async fn get(&self, have: Option<u64>) -> Result<GetOutcome, Error> {
        let headers: Vec<_> = have
            .map(|v| (header::IF_NONE_MATCH, format!("\"{v}\"")))
            .into_iter()
            .collect();
        let (status, headers, body, url) = self
            .request("/v1/config", &headers, self.request_timeout)
            .await?;
        match status {
            StatusCode::OK => Ok(GetOutcome::Document(fetched(&url, &headers, body)?)),
            StatusCode::NOT_MODIFIED => Ok(GetOutcome::NotModified(version_info(&url, &headers)?)),
            _ => Err(status_error(url, status, &body)),
        }
    }

    /// `GET /v1/config?version=N`: that version's document, or `None` when it is not in the
    /// server's history (404: pruned, or never a version there).
    pub async fn get_version(&self, version: u64) -> Result<Option<Fetched>, Error> {
        let path = format!("/v1/config?version={version}");
        let (status, headers, body, url) = self.request(&path, &[], self.request_timeout).await?;
        match status {
            StatusCode::OK => {
                let fetched = fetched(&url, &headers, body)?;
                if fetched.info.version != version {
                    return Err(Error::Malformed {
                        url,
                        reason: format!(
                            "asked for version {version}, got version {}",
                            fetched.info.version
                        ),
                    });
                }
                Ok(Some(fetched))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(status_error(url, status, &body)),
        }
    }

    /// `GET /v1/history?after=N`: the numbers of the versions after `after` that the server's
    /// history holds, oldest first.
    pub async fn versions_after(&self, after: u64) -> Result<Vec<u64>, Error> {
        #[derive(serde::Deserialize)]
        struct Listing {
            versions: Vec<Entry>,
        }
        #[derive(serde::Deserialize)]
        struct Entry {
            version: u64,
        }
        let path = format!("/v1/history?after={after}");
        let (status, _headers, body, url) = self.request(&path, &[], self.request_timeout).await?;
        if status != StatusCode::OK {
            return Err(status_error(url, status, &body));
        }
        let listing: Listing = serde_json::from_slice(&body).map_err(|e| Error::Malformed {
            url,
            reason: format!("the history is not a cowd history listing: {e}"),
        })?;
        let mut versions: Vec<u64> = listing
            .versions
            .into_iter()
            .map(|e| e.version)
            // A server that ignores `after` lists older versions too.
            .filter(|&v| v > after)
            .collect();
        versions.sort_unstable();
        versions.dedup();
        Ok(versions)
    }

    /// `GET /v1/config/watch?after=N&timeout_ms=T[&body=false]`.
    pub async fn watch(
        &self,
        after: u64,
        timeout: Duration,
        with_body: bool,
    ) -> Result<WatchOutcome, Error> {
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let path = if with_body {
            format!("/v1/config/watch?after={after}&timeout_ms={millis}")
        } else {
            format!("/v1/config/watch?after={after}&timeout_ms={millis}&body=false")
        };
        let (status, headers, body, url) = self
            .request(&path, &[], timeout + self.request_timeout)
            .await?;
        let outcome = match status {
            StatusCode::OK => WatchOutcome::Document(fetched(&url, &headers, body)?),
            StatusCode::NO_CONTENT => WatchOutcome::Announced(version_info(&url, &headers)?),
            StatusCode::NOT_MODIFIED => WatchOutcome::Timeout(version_info(&url, &headers)?),
            _ => return Err(status_error(url, status, &body)),
        };
        Ok(outcome)
    }

    /// `GET /v1/config/diff?from=A&to=B&max_bytes=S`.
    pub async fn diff(&self, from: u64, to: u64, max_bytes: usize) -> Result<DiffOutcome, Error> {
        let path = format!("/v1/config/diff?from={from}&to={to}&max_bytes={max_bytes}");
        let (status, headers, body, url) = self.request(&path, &[], self.request_timeout).await?;
        match status {
            StatusCode::OK => {
                let diff_to = header_u64(&url, &headers, "x-diff-to")?;
                if diff_to != to {
                    return Err(Error::Malformed {
                        url,
                        reason: format!("asked for a diff to version {to}, got one to {diff_to}"),
                    });
                }
                let patch: json_patch::Patch =
                    serde_json::from_slice(&body).map_err(|e| Error::Malformed {
                        url: url.clone(),
                        reason: format!("the diff is not a JSON Patch: {e}"),
                    })?;
                let info = VersionInfo {
                    version: to,
                    sha256: header_str(&headers, "x-config-sha256").map(str::to_owned),
                    published_ms: optional_u64(&headers, "x-config-published-ms"),
                    size: optional_u64(&headers, "x-config-size")
                        .and_then(|s| usize::try_from(s).ok()),
                };
                Ok(DiffOutcome::Patch(patch, body.len(), info))
            }
            StatusCode::NO_CONTENT => Ok(DiffOutcome::TooLarge),
            StatusCode::NOT_FOUND => Ok(DiffOutcome::Unavailable),
            _ => Err(status_error(url, status, &body)),
        }
    }
}

/// The transport error and its causes on one line.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn status_error(url: String, status: StatusCode, body: &[u8]) -> Error {
    let mut text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_BODY)]).into_owned();
    if body.len() > MAX_ERROR_BODY {
        text.push('…');
    }
    Error::Status {
        url,
        status: status.as_u16(),
        body: text,
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn optional_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_str(headers, name).and_then(|v| v.parse().ok())
}

fn header_u64(url: &str, headers: &HeaderMap, name: &str) -> Result<u64, Error> {
    let text = header_str(headers, name).ok_or_else(|| Error::Malformed {
        url: url.to_owned(),
        reason: format!("no {name} header (is this a cowd server?)"),
    })?;
    text.parse().map_err(|_| Error::Malformed {
        url: url.to_owned(),
        reason: format!("{name}: `{text}` is not a version number"),
    })
}

fn version_info(url: &str, headers: &HeaderMap) -> Result<VersionInfo, Error> {
    let version = header_u64(url, headers, "x-config-version")?;
    let sha256 = header_str(headers, "x-config-sha256").map(str::to_owned);
    if let Some(sha) = &sha256 {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Malformed {
                url: url.to_owned(),
                reason: format!("X-Config-Sha256: `{sha}` is not a SHA-256 in hex"),
            });
        }
    }
    Ok(VersionInfo {
        version,
        sha256: sha256.map(|s| s.to_ascii_lowercase()),
        published_ms: optional_u64(headers, "x-config-published-ms"),
        size: optional_u64(headers, "x-config-size").and_then(|s| usize::try_from(s).ok()),
    })
}

fn fetched(url: &str, headers: &HeaderMap, body: Bytes) -> Result<Fetched, Error> {
    let mut info = version_info(url, headers)?;
    info.size = Some(body.len());
    Ok(Fetched { info, body })
}
