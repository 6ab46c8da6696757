//! What the `cowd` examples share: the long-poll that waits for a version. (Each example runs
//! its servers in-process with `cowd::BackgroundServer`.)
// Each example uses part of this module.
#![allow(dead_code)]

use std::time::Duration;

/// `GET /v1/config/watch?after=N`: the first version newer than `after` and its document, or
/// `None` if none came within `timeout` (the server answers 304 then).
pub(crate) fn wait_for_newer(
    server: &cowd::BackgroundServer,
    after: u64,
    timeout: Duration,
) -> Result<Option<(u64, serde_json::Value)>, Box<dyn std::error::Error>> {
    let url = server.url(&format!(
        "/v1/config/watch?after={after}&timeout_ms={}",
        timeout.as_millis()
    ));
    let response = reqwest::blocking::Client::builder()
        .timeout(timeout + Duration::from_secs(5))
        .build()?
        .get(url)
        .send()?;
    if response.status() == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    let version = version_of(&response)?;
    Ok(Some((version, response.error_for_status()?.json()?)))
}

/// The `X-Config-Version` header of a response.
pub(crate) fn version_of(
    response: &reqwest::blocking::Response,
) -> Result<u64, Box<dyn std::error::Error>> {
    Ok(response
        .headers()
        .get("x-config-version")
        .ok_or("no X-Config-Version header")?
        .to_str()?
        .parse()?)
}
