//! Bearer-token authorization of writes.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::http::error::ApiError;

/// Who may write: holders of one bearer token, or nobody when none is configured.
#[derive(Clone, Default)]
pub struct Auth {
    token: Option<Arc<str>>,
}

impl Auth {
    /// Writes need `Authorization: Bearer <token>`; `None` disables writes.
    ///
    /// ```
    /// use axum::http::{HeaderMap, HeaderValue};
    /// let auth = cowd::http::auth::Auth::new(Some("s3cret".into()));
    /// let mut headers = HeaderMap::new();
    /// assert!(auth.check(&headers).is_err());
    /// headers.insert("authorization", HeaderValue::from_static("Bearer s3cret"));
    /// assert!(auth.check(&headers).is_ok());
    /// ```
    pub fn new(token: Option<String>) -> Self {
        Self {
            token: token.filter(|t| !t.is_empty()).map(Arc::from),
        }
    }

    /// Whether a token is configured.
    pub fn writes_enabled(&self) -> bool {
        self.token.is_some()
    }

    /// Checks the request's `Authorization` header.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(expected) = &self.token else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "writes_disabled",
                "writes are disabled because no token is configured; restart cowd with --token-file FILE or the COWD_TOKEN environment variable",
            ));
        };
        let challenge = || HeaderValue::from_static("Bearer realm=\"cowd\"");
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this endpoint needs a token: send `Authorization: Bearer <token>`",
            )
            .header(header::WWW_AUTHENTICATE, challenge()));
        };
        let given = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .unwrap_or_default();
        if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the bearer token is not valid; check the token the server was started with (--token-file or COWD_TOKEN)",
            )
            .header(header::WWW_AUTHENTICATE, challenge()))
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("writes_enabled", &self.writes_enabled())
            .finish()
    }
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
