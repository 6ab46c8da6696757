//! Handlers for the configuration endpoints: read, write, rollback, history, diff, health.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::backend::{Change, WriteError};
use crate::config_format::{self, Format};
use crate::http::error::ApiError;
use crate::record::{Origin, VersionRecord};
use crate::state::AppState;

/// The `X-Config-Version` header.
pub const X_CONFIG_VERSION: &str = "x-config-version";
/// The `X-Config-Sha256` header: SHA-256 (hex) of the document's compact JSON bytes.
pub const X_CONFIG_SHA256: &str = "x-config-sha256";
/// The `X-Config-Published-Ms` header: when the version was accepted, in ms since the epoch.
pub const X_CONFIG_PUBLISHED_MS: &str = "x-config-published-ms";
/// The `X-Config-Size` header: the document's size in bytes (also on body-less answers).
pub const X_CONFIG_SIZE: &str = "x-config-size";

/// Adds the version headers of `record` (ETag, version, hash, publish time, no-cache).
fn version_headers(headers: &mut HeaderMap, record: &VersionRecord) {
    headers.insert(header::ETAG, record.etag().clone());
    headers.insert(X_CONFIG_VERSION, record.version_header().clone());
    headers.insert(X_CONFIG_SHA256, record.sha256_header().clone());
    headers.insert(X_CONFIG_PUBLISHED_MS, record.published_header().clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

/// A 204 response announcing a version without its body (`watch?body=false`): the version
/// headers plus `X-Config-Size`.
pub(crate) fn announce_response(record: &VersionRecord) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    version_headers(headers, record);
    headers.insert(X_CONFIG_SIZE, HeaderValue::from(record.size()));
    response
}

/// Parses a query string into `T`, turning a bad one into a JSON 400.
pub(crate) fn query<T: serde::de::DeserializeOwned>(
    query: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|e| {
        ApiError::bad_request(format!(
            "invalid query string: {}; see the API table in the README",
            e.body_text()
        ))
    })
}

/// A 200 response carrying a version's document and its version headers.
pub(crate) fn document_response(record: &VersionRecord) -> Response {
    let mut response = Response::new(Body::from(record.body().clone()));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    version_headers(headers, record);
    response
}

/// A 304 response for a version.
pub(crate) fn not_modified(record: &VersionRecord) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    version_headers(response.headers_mut(), record);
    response
}

/// Whether an `If-None-Match` value matches `etag` (weak comparison, lists and `*`).
pub(crate) fn if_none_match_matches(value: &HeaderValue, etag: &HeaderValue) -> bool {
    if value == etag {
        return true;
    }
    let Ok(value) = value.to_str() else {
        return false;
    };
    let etag = etag.to_str().unwrap_or_default();
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// The version an `If-Match` header requires, `None` without one (or for `*`).
pub(crate) fn if_match_version(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    text.strip_prefix("W/")
        .unwrap_or(text)
        .trim_matches('"')
        .parse::<u64>()
        .map(Some)
        .map_err(|_| {
            ApiError::bad_request(format!(
                "If-Match must be a version in double quotes, like If-Match: \"42\" (the ETag of GET /v1/config), not `{text}`"
            ))
        })
}

/// Query of `GET /v1/config`.
#[derive(Debug, Deserialize)]
pub struct ConfigQuery {
    /// A historical version to return instead of the current one.
    pub version: Option<u64>,
}

/// `GET /v1/config[?version=N]`: the document with `ETag` and `X-Config-Version`; 304 on a
/// matching `If-None-Match`.
pub async fn get_config(
    State(state): State<AppState>,
    headers: HeaderMap,
    query_string: Result<Query<ConfigQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let wanted = query(query_string)?.version;
    let if_none_match = headers.get(header::IF_NONE_MATCH);
    let answer = |record: &VersionRecord| match if_none_match {
        Some(value) if if_none_match_matches(value, record.etag()) => not_modified(record),
        _ => document_response(record),
    };
    let versions = state.versions();
    // The hot path: the current version, answered under the store's guard.
    if let Some(response) = versions.with_current(|current| match wanted {
        _ if current.version() == 0 => Some(Err(not_synced(&state))),
        Some(v) if v != current.version() => None,
        _ => Some(Ok(answer(current))),
    }) {
        return response;
    }
    let v = wanted.expect("only a historical version misses the hot path");
    let record = versions.get(v).ok_or_else(|| {
        ApiError::unknown_version(v, versions.oldest(), versions.current().version())
    })?;
    Ok(answer(&record))
}

/// 503 while a node whose versions come from elsewhere (a leader, etcd) has none yet.
#[cold]
fn not_synced(state: &AppState) -> ApiError {
    let reason = state
        .backend()
        .readiness()
        .err()
        .unwrap_or_else(|| "no version received yet".to_owned());
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_synced",
        format!(
            "this {} node has no configuration yet ({reason}); retry shortly (GET /readyz turns 200 once it has one)",
            state.backend().mode()
        ),
    )
    .detail(json!({"mode": state.backend().mode(), "reason": reason}))
}

async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<bytes::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the request body is larger than the limit of {limit} bytes; send a smaller document or restart cowd with a larger --max-body"
            ),
        )
        .detail(json!({"limit": limit}))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(error) => Err(ApiError::bad_request(format!(
            "could not read the request body: {error}"
        ))),
    }
}

/// The body's format: TOML or YAML when the `Content-Type` says so, JSON otherwise (curl's
/// default `application/x-www-form-urlencoded` and a missing header included).
fn body_format(headers: &HeaderMap) -> Format {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Format::from_content_type)
        .unwrap_or(Format::Json)
}

fn write_response(record: &VersionRecord) -> Response {
    let mut response = axum::Json(json!({
        "version": record.version(),
        "published_at": record.published_at_rfc3339(),
        "origin": record.origin().kind(),
        "size": record.size(),
    }))
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::ETAG, record.etag().clone());
    headers.insert(X_CONFIG_VERSION, record.version_header().clone());
    response
}

/// `PUT /v1/config`: replaces the document (JSON, or TOML/YAML by `Content-Type`).
pub async fn put_config(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state.backend().check_writable()?;
    state.auth().check(&headers)?;
    let expected_version = if_match_version(&headers)?;
    let format = body_format(&headers);
    let bytes = read_body(body, &headers, state.limits().max_body).await?;
    let doc = config_format::parse(&bytes, format).map_err(|e| {
        state.versions().count_reload_failure();
        ApiError::parse(&e)
    })?;
    let record = state
        .backend()
        .write(Change {
            doc,
            origin: Origin::Api,
            expected_version,
        })
        .await?;
    tracing::info!(
        version = record.version(),
        size = record.size(),
        "accepted a write"
    );
    Ok(write_response(&record))
}

/// Query of `POST /v1/config/rollback`.
#[derive(Debug, Deserialize)]
pub struct RollbackQuery {
    /// The version whose content becomes current again.
    pub to: Option<u64>,
}

/// `POST /v1/config/rollback?to=N`: publishes version N's content as a new version.
pub async fn rollback(
    State(state): State<AppState>,
    headers: HeaderMap,
    query_string: Result<Query<RollbackQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    state.backend().check_writable()?;
    state.auth().check(&headers)?;
    let Some(to) = query(query_string)?.to else {
        return Err(ApiError::bad_request(
            "say which version to roll back to: POST /v1/config/rollback?to=N (see GET /v1/history)",
        ));
    };
    let expected_version = if_match_version(&headers)?;
    let versions = state.versions();
    let target = versions.get(to).ok_or_else(|| {
        ApiError::from(WriteError::UnknownVersion {
            version: to,
            oldest: versions.oldest(),
            current: versions.current().version(),
        })
    })?;
    let doc = target.doc().map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "corrupt_history",
            format!("version {to} cannot be read back: {e}"),
        )
    })?;
    let record = state
        .backend()
        .write(Change {
            doc,
            origin: Origin::Rollback { of: to },
            expected_version,
        })
        .await?;
    tracing::info!(version = record.version(), rollback_of = to, "rolled back");
    Ok(write_response(&record))
}

/// Query of `GET /v1/history`.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    /// Return at most this many versions (newest first).
    pub limit: Option<usize>,
    /// Return only versions newer than this one (a follower filling a gap asks for those).
    pub after: Option<u64>,
}

/// One history entry as JSON.
pub(crate) fn history_entry(record: &VersionRecord) -> Value {
    let mut entry = json!({
        "version": record.version(),
        "published_at": record.published_at_rfc3339(),
        "published_at_ms": record.published_at_ms(),
        "origin": record.origin().kind(),
        "size": record.size(),
    });
    if let Some(of) = record.origin().rollback_of() {
        entry["rollback_of"] = json!(of);
    }
    if let Some(path) = record.origin().path() {
        entry["source"] = json!(path);
    }
    entry
}

/// `GET /v1/history[?after=N][&limit=N]`: versions (newer than `after`) newest first, with
/// timestamp, origin and size.
pub async fn history(
    State(state): State<AppState>,
    query_string: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(query_string)?;
    let (limit, after) = (q.limit.unwrap_or(usize::MAX), q.after.unwrap_or(0));
    let versions = state.versions();
    let all = versions.history();
    let entries: Vec<Value> = all
        .iter()
        .take_while(|r| r.version() > after)
        .take(limit)
        .map(|r| history_entry(r))
        .collect();
    Ok(axum::Json(json!({
        "current": versions.current().version(),
        "oldest": versions.oldest(),
        "history_limit": versions.history_limit(),
        "history_bytes": versions.history_bytes(),
        "history_bytes_limit": Some(versions.history_bytes_limit()).filter(|&b| b < u64::MAX),
        "mode": state.backend().mode(),
        "versions": entries,
    }))
    .into_response())
}

/// Query of `GET /v1/config/diff`.
#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    /// The version to start from.
    pub from: Option<u64>,
    /// The version to reach (default: the current one).
    pub to: Option<u64>,
    /// Answer 204 (with `X-Diff-Size`) instead of a patch larger than this many bytes: a
    /// follower passes the document's size, so it only downloads a patch that is smaller.
    pub max_bytes: Option<usize>,
}

/// `GET /v1/config/diff?from=A&to=B[&max_bytes=S]`: the RFC 6902 JSON Patch turning A into B,
/// with `X-Diff-From`, `X-Diff-To` and B's version headers (`X-Config-Sha256` lets the client
/// check its result). With `max_bytes`, a patch larger than that is not sent: 204 with
/// `X-Diff-Size` instead.
pub async fn diff(
    State(state): State<AppState>,
    query_string: Result<Query<DiffQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(query_string)?;
    let versions = state.versions();
    let Some(from) = q.from else {
        return Err(ApiError::bad_request(
            "say which versions to compare: GET /v1/config/diff?from=A&to=B (to defaults to the current version)",
        ));
    };
    let to = q.to.unwrap_or_else(|| versions.current().version());
    let lookup = |v: u64| {
        versions.get(v).ok_or_else(|| {
            ApiError::unknown_version(v, versions.oldest(), versions.current().version())
        })
    };
    let (a, b) = (lookup(from)?, lookup(to)?);
    let parse = |r: &VersionRecord| {
        r.doc().map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "corrupt_history",
                format!("version {} cannot be read back: {e}", r.version()),
            )
        })
    };
    let patch = json_patch::diff(&parse(&a)?, &parse(&b)?);
    let body = serde_json::to_vec(&patch).expect("a patch always serializes");
    let too_large = q.max_bytes.is_some_and(|max| body.len() > max);
    let size = body.len();
    let mut response = if too_large {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        response
    } else {
        let mut response = Response::new(Body::from(body));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json-patch+json"),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert("x-diff-from", HeaderValue::from(from));
    headers.insert("x-diff-to", HeaderValue::from(to));
    headers.insert("x-diff-size", HeaderValue::from(size));
    headers.insert(X_CONFIG_SHA256, b.sha256_header().clone());
    headers.insert(X_CONFIG_SIZE, HeaderValue::from(b.size()));
    headers.insert(X_CONFIG_PUBLISHED_MS, b.published_header().clone());
    Ok(response)
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`: 200 when this node can serve configuration, 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let version = state.versions().current().version();
    let mode = state.backend().mode();
    let not_ready = if state.shutdown().is_triggered() {
        Some("shutting down".to_owned())
    } else {
        state.backend().readiness().err()
    };
    match not_ready {
        None => {
            axum::Json(json!({"status": "ready", "version": version, "mode": mode})).into_response()
        }
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({
                "error": format!("not ready: {reason}"),
                "code": "not_ready",
                "detail": {"version": version, "mode": mode, "reason": reason},
            })),
        )
            .into_response(),
    }
}
