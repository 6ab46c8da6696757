//! The HTTP API: [`app`] builds the axum [`Router`] over an [`AppState`].
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /v1/config[?version=N]` | the document; `ETag: "<version>"`, `X-Config-Version`; 304 on `If-None-Match` |
//! | `GET /v1/config/watch?after=N&timeout_ms=T` | long-poll: 200 once version > N, else 304 |
//! | `GET /v1/events` | Server-Sent Events, one `config` event per version |
//! | `PUT /v1/config` | replace the document (auth; `If-Match` for compare-and-set) |
//! | `POST /v1/config/rollback?to=N` | publish version N's content again (auth) |
//! | `GET /v1/history` | versions, newest first |
//! | `GET /v1/config/diff?from=A&to=B` | RFC 6902 JSON Patch from A to B |
//! | `GET /metrics` | Prometheus text |
//! | `GET /healthz`, `GET /readyz` | liveness, readiness |
//! | `GET /` | the dashboard |

pub mod auth;
pub mod dashboard;
pub mod error;
pub mod metrics;
pub mod routes;
pub mod sse;
pub mod watch;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::http::error::ApiError;
use crate::state::AppState;

/// The router with every endpoint, request metrics and JSON errors for unknown routes.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(dashboard::page))
        .route(
            "/v1/config",
            get(routes::get_config).put(routes::put_config),
        )
        .route("/v1/config/watch", get(watch::watch))
        .route("/v1/events", get(sse::events))
        .route("/v1/config/rollback", post(routes::rollback))
        .route("/v1/history", get(routes::history))
        .route("/v1/config/diff", get(routes::diff))
        .route("/metrics", get(metrics::handler))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; the API is under /v1 (GET /v1/config, GET /v1/history, …) and the dashboard is at /",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method; GET reads, PUT /v1/config writes, POST /v1/config/rollback rolls back",
    )
}
