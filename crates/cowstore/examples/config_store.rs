//! A hot configuration shared by request handlers: deep immutability, wait-free reads, and
//! publishing a changed copy.
//!
//! `cargo run -p cowstore --example config_store`

use cowstore::{Guard, Snapshot};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cowstore::Store;

/// Every field is owned data: a published `Config` can never change under a reader, because
/// nothing hands out `&mut Config` to a published version.
#[derive(Clone, Debug)]
struct Config {
    log_level: String,
    timeout: Duration,
    upstream_hosts: Vec<String>,
    feature_flags: BTreeMap<String, bool>,
}

fn main() {
    let config = Arc::new(Store::new(Config {
        log_level: "info".into(),
        timeout: Duration::from_millis(500),
        upstream_hosts: vec!["10.0.0.1:8080".into(), "10.0.0.2:8080".into()],
        feature_flags: BTreeMap::from([("new-checkout".into(), false)]),
    }));

    // "Request handlers": each reads the current version once per request.
    let handlers: Vec<_> = (0..4)
        .map(|id| {
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let mut reader = config.reader(); // cached: one atomic load per request
                let mut served = 0u64;
                let mut last_version = 0;
                for _ in 0..200_000 {
                    let current = reader.load();
                    // A request sees one consistent version from start to end.
                    let host =
                        &current.upstream_hosts[served as usize % current.upstream_hosts.len()];
                    assert!(!host.is_empty());
                    assert!(
                        Snapshot::version(current) >= last_version,
                        "never goes back"
                    );
                    last_version = Snapshot::version(current);
                    served += 1;
                }
                println!("handler {id}: served {served} requests, last saw version {last_version}");
            })
        })
        .collect();

    // An operator flips a flag and adds a host: a changed copy is published atomically.
    let published = config
        .update(|c| {
            c.feature_flags.insert("new-checkout".into(), true);
            c.upstream_hosts.push("10.0.0.3:8080".into());
            c.log_level = "debug".into();
        })
        .expect("no validators, cannot fail");
    println!(
        "published version {} at {:?}: {} hosts, flags {:?}",
        Snapshot::version(&published),
        Snapshot::published_at(&published),
        published.upstream_hosts.len(),
        published.feature_flags
    );

    for handler in handlers {
        handler.join().unwrap();
    }
    let now = config.load();
    println!(
        "now: version {} log_level={} timeout={:?}",
        Guard::version(&now),
        now.log_level,
        now.timeout
    );
}
