//! A follower: a read-only copy of another `cowd` (the leader) that long-polls it, verifies
//! every version it receives, and serves it locally, so reads never cross the network. Writes
//! go to the leader; a follower refuses them and names the leader.
//!
//! `cargo run -p cowd --example follower`

mod common;

use std::time::Duration;

use common::{version_of, wait_for_newer};
use cowd::BackgroundServer;
use serde_json::json;

const TOKEN: &str = "example-token";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let leader = BackgroundServer::start(cowd::ServeConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        io_threads: 1,
        data_dir: dir.path().join("leader"),
        token: Some(TOKEN.to_owned()),
        ..Default::default()
    })?;
    let follower = BackgroundServer::start(cowd::ServeConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        io_threads: 1,
        data_dir: dir.path().join("follower"),
        follow: Some(cowd::follower::FollowConfig::new(leader.url(""))),
        ..Default::default()
    })?;

    // A write to the leader...
    let client = reqwest::blocking::Client::new();
    let written = client
        .put(leader.url("/v1/config"))
        .bearer_auth(TOKEN)
        .json(&json!({"feature_flags": {"new_checkout": true}, "timeout_ms": 800}))
        .send()?
        .error_for_status()?;
    let version = version_of(&written)?;
    println!("leader published version {version}");

    // ...reaches the follower, which serves it from its own store.
    let mut seen = 0;
    while seen < version {
        let (next, doc) = wait_for_newer(&follower, seen, Duration::from_secs(10))?
            .ok_or("the follower did not catch up")?;
        println!("follower serves version {next}: {doc}");
        seen = next;
    }
    let on_leader: serde_json::Value = client.get(leader.url("/v1/config")).send()?.json()?;
    let on_follower: serde_json::Value = client.get(follower.url("/v1/config")).send()?.json()?;
    assert_eq!(on_leader, on_follower);

    // A follower is read-only: a write is refused, with the leader to send it to.
    let refused = client
        .put(follower.url("/v1/config"))
        .bearer_auth(TOKEN)
        .json(&json!({"timeout_ms": 1}))
        .send()?;
    let status = refused.status();
    let body = refused.text()?;
    assert!(
        status.is_client_error(),
        "a follower accepted a write: {status}"
    );
    println!("a write to the follower is refused ({status}): {body}");
    Ok(())
}
