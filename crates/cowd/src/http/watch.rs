//! `GET /v1/config/watch?after=N&timeout_ms=T`: long-poll for a version newer than N.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use tokio::time::Instant;

use crate::http::error::ApiError;
use crate::http::routes::{announce_response, document_response, not_modified, query};
use crate::state::AppState;

/// Query of the long-poll.
#[derive(Debug, Deserialize)]
pub struct WatchQuery {
    /// Answer once the version is greater than this (default: the current version).
    pub after: Option<u64>,
    /// Give up after this many milliseconds with 304 (default 30 s, at most 300 s).
    pub timeout_ms: Option<u64>,
    /// `false`: announce the new version with 204 and its headers only (`X-Config-Size`,
    /// `X-Config-Sha256`, …), no body; a follower then fetches a diff or the document.
    pub body: Option<bool>,
}

/// Answers 200 with the document and version headers as soon as the version is greater than
/// `after`, or 304 (with the current version's headers) when `timeout_ms` passes first or the
/// server shuts down. With `body=false` a new version is announced by a 204 without body.
pub async fn watch(
    State(state): State<AppState>,
    query_string: Result<Query<WatchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(query_string)?;
    let limits = state.limits();
    let timeout = q
        .timeout_ms
        .map_or(limits.default_long_poll, Duration::from_millis)
        .min(limits.max_long_poll);
    let deadline = Instant::now() + timeout;
    let versions = state.versions();
    // Subscribe before looking at the current version: a publish in between still wakes us.
    let mut subscription = versions.subscribe();
    let after = q.after.unwrap_or_else(|| versions.current().version());
    let _waiting = state.metrics().long_poll();
    let shutdown = state.shutdown();
    loop {
        let current = versions.current();
        if current.version() > after {
            return Ok(if q.body == Some(false) {
                announce_response(&current)
            } else {
                document_response(&current)
            });
        }
        if shutdown.is_triggered() {
            return Ok(not_modified(&current));
        }
        tokio::select! {
            changed = subscription.changed() => {
                if changed.is_err() {
                    return Ok(not_modified(&current));
                }
            }
            () = tokio::time::sleep_until(deadline) => return Ok(not_modified(&versions.current())),
            () = shutdown.wait() => return Ok(not_modified(&versions.current())),
        }
    }
}
