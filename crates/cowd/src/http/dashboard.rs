//! `GET /`: the dashboard, one static HTML page with inline JS (no build step). It shows the
//! current version and its age, the history timeline and diffs between versions, and follows
//! new versions live over `GET /v1/events`.

use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;

/// The page.
pub const PAGE: &str = include_str!("dashboard.html");

/// `GET /`.
pub async fn page() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        PAGE,
    )
}
