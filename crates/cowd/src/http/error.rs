//! [`ApiError`]: every error response is JSON `{"error": "...", "code": "...", "detail": ...}`
//! with a message that says what to do next.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::backend::WriteError;
use crate::config_format::ParseError;

/// An HTTP error response.
#[derive(Debug)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    code: &'static str,
    message: String,
    detail: Value,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with `status`, a machine-readable `code` and a human `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            status,
            code,
            message: message.into(),
            detail: Value::Null,
            headers: Vec::new(),
        }))
    }

    /// Adds structured detail.
    pub fn detail(mut self, detail: Value) -> Self {
        self.0.detail = detail;
        self
    }

    /// Adds a response header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.push((name, value));
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// 400 with `code` `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 for a version that is not (or no longer) in the history.
    pub fn unknown_version(version: u64, oldest: u64, current: u64) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_version",
            format!(
                "version {version} is not in the history; versions {oldest} to {current} are (see GET /v1/history)"
            ),
        )
        .detail(json!({"version": version, "oldest": oldest, "current": current}))
    }

    /// 400 for a document that does not parse, with its line and column.
    pub fn parse(error: &ParseError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_document",
            format!(
                "the request body is not valid {}: {error}; fix it and retry",
                error.format
            ),
        )
        .detail(json!({
            "format": error.format.name(),
            "line": error.line,
            "column": error.column,
            "message": error.message,
        }))
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> Self {
        let message = error.to_string();
        match error {
            WriteError::ReadOnly { reason, hint } => {
                Self::new(StatusCode::CONFLICT, "read_only", format!("{message}; {hint}"))
                    .detail(json!({"reason": reason, "hint": hint}))
            }
            WriteError::Conflict { expected, current } => {
                Self::new(StatusCode::PRECONDITION_FAILED, "version_conflict", message)
                    .detail(json!({"expected": expected, "current": current}))
                    .header(
                        header::ETAG,
                        HeaderValue::from_str(&format!("\"{current}\"")).expect("valid header"),
                    )
            }
            WriteError::Invalid { violations } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "schema_violation", message)
                    .detail(json!({"violations": violations}))
            }
            WriteError::UnknownVersion {
                version,
                oldest,
                current,
            } => Self::unknown_version(version, oldest, current),
            WriteError::Storage(e) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "storage_error",
                format!("{message}; nothing was published — check the server's disk and logs, then retry"),
            )
            .detail(json!({"cause": e.to_string()})),
            WriteError::Unavailable { reason } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("{message}; retry later"),
            )
            .detail(json!({"reason": reason})),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let inner = *self.0;
        let body = json!({"error": inner.message, "code": inner.code, "detail": inner.detail});
        let mut response = (inner.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for (name, value) in inner.headers {
            headers.insert(name, value);
        }
        response
    }
}
