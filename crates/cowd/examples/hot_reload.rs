//! Hot reload: `cowd` serves a config file and publishes it as a new version when the file
//! changes (a file watch; `SIGHUP` does the same for `cowd serve`). An edit that does not
//! parse is rejected: the served version stays, and `cowd_config_reload_failures_total` counts
//! the failure.
//!
//! `cargo run -p cowd --example hot_reload`

mod common;

use std::path::Path;
use std::time::Duration;

use common::{version_of, wait_for_newer};
use cowd::BackgroundServer;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("app.toml");
    std::fs::write(&file, "level = \"info\"\ntimeout_ms = 500\n")?;
    let server = BackgroundServer::start(cowd::ServeConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        io_threads: 1,
        data_dir: dir.path().join("data"),
        config_file: Some(file.clone()),
        watch: true,
        ..Default::default()
    })?;

    let response = reqwest::blocking::get(server.url("/v1/config"))?;
    let first = version_of(&response)?;
    println!("serving version {first}: {}", response.text()?);

    // An edit is published as the next version.
    replace(&file, "level = \"debug\"\ntimeout_ms = 500\n")?;
    let (edited, doc) = wait_for_newer(&server, first, Duration::from_secs(10))?
        .ok_or("the edit was not picked up")?;
    assert_eq!(doc["level"], "debug");
    println!("file edited: version {edited}: {doc}");

    // An edit that does not parse (an unterminated string) is refused; nothing is published.
    replace(&file, "level = \"debug\ntimeout_ms = 500\n")?;
    let published = wait_for_newer(&server, edited, Duration::from_millis(1500))?;
    assert!(
        published.is_none(),
        "a file that does not parse was published"
    );
    let failures = metric(&server, "cowd_config_reload_failures_total")?;
    assert!(failures >= 1.0, "the failed reload was not counted");
    println!(
        "broken edit refused ({failures} reload failure counted); still serving version {edited}"
    );

    // Fixed: published again.
    replace(&file, "level = \"warn\"\ntimeout_ms = 250\n")?;
    let (fixed, doc) = wait_for_newer(&server, edited, Duration::from_secs(10))?
        .ok_or("the fix was not picked up")?;
    assert_eq!(doc["timeout_ms"], 250);
    println!("file fixed: version {fixed}: {doc}");
    Ok(())
}

/// Replaces the file the way editors and deployment tools do: write a temporary file next to
/// it, then rename it over the old one, so no reader ever sees half a file.
fn replace(file: &Path, content: &str) -> std::io::Result<()> {
    let temporary = file.with_extension("tmp");
    std::fs::write(&temporary, content)?;
    std::fs::rename(&temporary, file)
}

/// One counter of `GET /metrics` (Prometheus text format).
fn metric(server: &BackgroundServer, name: &str) -> Result<f64, Box<dyn std::error::Error>> {
    let text = reqwest::blocking::get(server.url("/metrics"))?.text()?;
    let line = text
        .lines()
        .find(|line| line.starts_with(name))
        .ok_or_else(|| format!("no {name} in /metrics"))?;
    Ok(line.rsplit(' ').next().unwrap_or_default().parse()?)
}
