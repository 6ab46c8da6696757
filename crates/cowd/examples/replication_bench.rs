//! Replication benchmarks (issue 5): follower lag, etcd write-to-visible-on-all-nodes latency,
//! read latency on an etcd node vs an embedded node, in-process read cost.
//!
//! ```text
//! cargo run --release -p cowd --example replication_bench -- [follower] [etcd] [reads]
//! ```
//!
//! Every node runs in this process on its own single-threaded runtime and thread (like
//! `--io-threads 1`), talking over loopback HTTP (and gRPC to etcd), so arrival times are
//! taken from the nodes' own stores without polling:
//!
//! - **follower**: a leader (`cowd serve`, embedded) publishes versions straight into its
//!   store (the journal's fsync is not what is measured); a `cowd follow` node and a
//!   `cowd_client::Follower` each record when the version lands in their local store. Lag =
//!   arrival − leader publish. Run for a small document (full long-poll answers) and a 40 KiB
//!   one with a one-field change (announce + verified JSON Patch).
//! - **etcd**: a 3-member etcd cluster (`/usr/bin/etcd`, `COWD_TEST_ETCD` overrides) and three
//!   etcd-mode nodes; `PUT /v1/config` to the nodes in turn; latency = PUT sent → the version is
//!   in all three nodes' stores.
//! - **reads**: sequential `GET /v1/config` on one keep-alive connection against the etcd node
//!   and an embedded node, interleaved; the etcd request counters of the node are read before
//!   and after; then in-process reads (`Versions::with_current`, `Follower::load`).
//!
//! `BENCH_N` sets the number of samples (default 1000 publishes / 300 etcd writes).
#![allow(missing_docs, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use cowd::record::{Origin, VersionRecord};
use cowd::{AppState, BackgroundServer as Node, ServeConfig};
use serde_json::{Value, json};

#[path = "../tests/common/etcd.rs"]
#[allow(dead_code)]
mod etcd_cluster;

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// How long the helpers (and the etcd cluster module) wait for something to happen.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Records when each version lands in a node's store.
type Arrivals = Arc<Mutex<HashMap<u64, Instant>>>;

fn record_arrivals(state: &AppState) -> Arrivals {
    let arrivals: Arrivals = Arc::default();
    let mut subscription = state.versions().subscribe();
    let sink = Arc::clone(&arrivals);
    thread::spawn(move || {
        while let Ok(snapshot) = subscription.recv() {
            let now = Instant::now();
            sink.lock()
                .unwrap()
                .entry(snapshot.version())
                .or_insert(now);
        }
    });
    arrivals
}

fn percentiles(name: &str, mut samples: Vec<Duration>, expected: usize) {
    samples.sort();
    let pick = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i]
    };
    if samples.is_empty() {
        println!("{name}: no samples");
        return;
    }
    println!(
        "{name}: n={} (of {expected}) p50={:?} p90={:?} p99={:?} max={:?}",
        samples.len(),
        pick(0.50),
        pick(0.90),
        pick(0.99),
        samples[samples.len() - 1]
    );
}

fn big_doc(generation: u64) -> Value {
    let services: serde_json::Map<String, Value> = (0..400)
        .map(|i| {
            (
                format!("service-{i:03}"),
                json!({"replicas": 3, "image": format!("registry.local/app-{i}:1.0"), "limits": {"cpu": "500m", "memory": "256Mi"}, "generation": if i == 7 { generation } else { 0 }}),
            )
        })
        .collect();
    json!({"services": services})
}

fn follower_lag(n: usize) {
    for (label, make) in [
        (
            "small document (~60 B, full long-poll answers)",
            (|g| json!({"generation": g, "feature": true})) as fn(u64) -> Value,
        ),
        (
            "40 KiB document, one field changed (announce + JSON Patch)",
            big_doc as fn(u64) -> Value,
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let leader = Node::start(ServeConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            io_threads: 1,
            data_dir: dir.path().join("leader"),
            ..Default::default()
        })
        .expect("node opens");
        let versions = Arc::clone(leader.state().versions());
        let mut v = versions.current().version();
        v += 1;
        versions
            .publish(Arc::new(VersionRecord::from_value(
                v,
                SystemTime::now(),
                Origin::Api,
                &make(0),
            )))
            .unwrap();
        let mut follow_config = cowd::follower::FollowConfig::new(leader.url(""));
        follow_config.options.long_poll = Duration::from_secs(30);
        let follow = Node::start(ServeConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            io_threads: 1,
            follow: Some(follow_config),
            ..Default::default()
        })
        .expect("node opens");
        let follow_arrivals = record_arrivals(follow.state());
        // The client library on its own thread.
        let client_follower = cowd_client::Follower::<Value>::builder(&leader.url(""))
            .start_blocking()
            .unwrap();
        let client_arrivals: Arrivals = Arc::default();
        {
            let mut subscription = client_follower.subscribe();
            let sink = Arc::clone(&client_arrivals);
            // Keyed by the document's generation (the store's own versions are local).
            thread::spawn(move || {
                while let Ok(snapshot) = subscription.recv() {
                    let now = Instant::now();
                    let generation = snapshot
                        .get("generation")
                        .or_else(|| snapshot.pointer("/services/service-007/generation"))
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    sink.lock().unwrap().entry(generation).or_insert(now);
                }
            });
        }
        // Wait for both to have the first version.
        eventually("the followers to sync", || {
            (follow.state().versions().current().version() == v && client_follower.version() == v)
                .then_some(())
        });
        let mut published: Vec<(u64, u64, Instant)> = Vec::with_capacity(n);
        for generation in 1..=n as u64 {
            v += 1;
            let record = Arc::new(VersionRecord::from_value(
                v,
                SystemTime::now(),
                Origin::Api,
                &make(generation),
            ));
            let t0 = Instant::now();
            versions.publish(record).unwrap();
            published.push((v, generation, t0));
            thread::sleep(Duration::from_millis(3));
        }
        eventually("the followers to catch up", || {
            (follow.state().versions().current().version() == v && client_follower.version() == v)
                .then_some(())
        });
        thread::sleep(Duration::from_millis(50));
        let follow_arrivals = follow_arrivals.lock().unwrap();
        let client_arrivals = client_arrivals.lock().unwrap();
        let lag_follow: Vec<Duration> = published
            .iter()
            .filter_map(|(v, _, t0)| follow_arrivals.get(v).map(|t| t.duration_since(*t0)))
            .collect();
        let lag_client: Vec<Duration> = published
            .iter()
            .filter_map(|(_, g, t0)| client_arrivals.get(g).map(|t| t.duration_since(*t0)))
            .collect();
        println!("\n== follower lag, {label} ==");
        percentiles("cowd follow node   ", lag_follow, n);
        percentiles("cowd_client::Follower", lag_client, n);
        let stats = client_follower.stats();
        println!(
            "client follower: full syncs {}, delta syncs {}, delta fallbacks {}",
            stats.full_syncs, stats.delta_syncs, stats.delta_fallbacks
        );
        let counters = cowd::http::metrics::render(follow.state())
            .lines()
            .filter(|l| {
                l.starts_with("cowd_follower_syncs_total")
                    || l.starts_with("cowd_follower_delta_fallbacks_total")
            })
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .join(", ");
        println!("cowd follow node: {counters}");
    }
}

fn etcd_requests(state: &AppState) -> Vec<(String, u64)> {
    cowd::http::metrics::render(state)
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("cowd_etcd_requests_total{op=\"")?;
            let (op, n) = rest.split_once("\"} ")?;
            Some((op.to_owned(), n.parse().ok()?))
        })
        .collect()
}

fn etcd_and_reads(n: usize, do_etcd: bool, do_reads: bool) {
    let mut cluster = etcd_cluster::EtcdCluster::start(3);
    let token = "bench-token".to_owned();
    let nodes: Vec<Node> = (0..3)
        .map(|_| {
            let mut etcd = cowd::etcd::EtcdConfig::new(
                cluster.endpoints().split(',').map(str::to_owned).collect(),
                "/bench/config",
            );
            etcd.probe_interval = Duration::from_secs(1);
            Node::start(ServeConfig {
                listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                io_threads: 1,
                token: Some(token.clone()),
                etcd: Some(etcd),
                ..Default::default()
            })
            .expect("node opens")
        })
        .collect();
    eventually("the etcd nodes to sync", || {
        nodes
            .iter()
            .all(|n| n.state().versions().is_synced() && n.state().backend().readiness().is_ok())
            .then_some(())
    });
    let http = client();
    if do_etcd {
        let arrivals: Vec<Arrivals> = nodes.iter().map(|n| record_arrivals(n.state())).collect();
        let mut samples = Vec::with_capacity(n);
        let mut put_latency = Vec::with_capacity(n);
        for i in 0..n {
            let node = &nodes[i % 3];
            let t0 = Instant::now();
            let r = http
                .put(format!("{}/v1/config", node.url("")))
                .bearer_auth(&token)
                .json(&json!({"write": i, "payload": "x".repeat(200)}))
                .send()
                .unwrap();
            put_latency.push(t0.elapsed());
            assert_eq!(r.status(), 200, "{:?}", r.text());
            let version: u64 = r.headers()["x-config-version"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let all = eventually("all nodes to have the write", || {
                let times: Option<Vec<Instant>> = arrivals
                    .iter()
                    .map(|a| a.lock().unwrap().get(&version).copied())
                    .collect();
                times.map(|t| t.into_iter().max().unwrap())
            });
            samples.push(all.duration_since(t0));
        }
        println!("\n== etcd mode: 3 etcd members, 3 cowd nodes ==");
        percentiles("PUT /v1/config acknowledged          ", put_latency, n);
        percentiles("PUT sent → visible in all 3 node stores", samples, n);
        let _ = cluster.revision();
    }
    if do_reads {
        let dir = tempfile::tempdir().unwrap();
        let embedded = Node::start(ServeConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            io_threads: 1,
            data_dir: dir.path().join("embedded"),
            ..Default::default()
        })
        .expect("node opens");
        let doc = json!({"payload": "y".repeat(4000)});
        http.put(format!("{}/v1/config", nodes[0].url("")))
            .bearer_auth(&token)
            .json(&doc)
            .send()
            .unwrap();
        let v = embedded.state().versions().current().version() + 1;
        embedded
            .state()
            .versions()
            .publish(Arc::new(VersionRecord::from_value(
                v,
                SystemTime::now(),
                Origin::Api,
                &doc,
            )))
            .unwrap();
        let etcd_before = etcd_requests(nodes[0].state());
        let reads = n.max(1000) * 5;
        let mut etcd_lat = Vec::with_capacity(reads);
        let mut embedded_lat = Vec::with_capacity(reads);
        let etcd_url = format!("{}/v1/config", nodes[0].url(""));
        let embedded_url = format!("{}/v1/config", embedded.url(""));
        let etcd_client = client();
        let embedded_client = client();
        for url in [&etcd_url, &embedded_url] {
            for _ in 0..200 {
                let c = if url == &etcd_url {
                    &etcd_client
                } else {
                    &embedded_client
                };
                c.get(url.as_str()).send().unwrap().bytes().unwrap();
            }
        }
        for round in 0..reads / 100 {
            let order: [(&String, &reqwest::blocking::Client, bool); 2] = if round % 2 == 0 {
                [
                    (&etcd_url, &etcd_client, true),
                    (&embedded_url, &embedded_client, false),
                ]
            } else {
                [
                    (&embedded_url, &embedded_client, false),
                    (&etcd_url, &etcd_client, true),
                ]
            };
            for (url, c, is_etcd) in order {
                for _ in 0..100 {
                    let t0 = Instant::now();
                    let body = c.get(url.as_str()).send().unwrap().bytes().unwrap();
                    let dt = t0.elapsed();
                    assert!(body.len() > 4000);
                    if is_etcd {
                        etcd_lat.push(dt)
                    } else {
                        embedded_lat.push(dt)
                    }
                }
            }
        }
        let etcd_after = etcd_requests(nodes[0].state());
        println!(
            "\n== GET /v1/config (4 KiB), sequential on one keep-alive connection, interleaved =="
        );
        percentiles("etcd-mode node    ", etcd_lat, reads);
        percentiles("embedded-mode node", embedded_lat, reads);
        println!(
            "etcd requests by the etcd node during the reads: before {etcd_before:?}, after {etcd_after:?} (probe = 1/s health check)"
        );
        // In-process reads.
        let versions = nodes[0].state().versions();
        let iterations = 10_000_000u64;
        let t0 = Instant::now();
        let mut sum = 0u64;
        for _ in 0..iterations {
            sum = sum.wrapping_add(versions.with_current(|r| r.version()));
        }
        let per = t0.elapsed().as_nanos() as f64 / iterations as f64;
        println!(
            "\n== in-process reads ==\nVersions::with_current on an etcd node: {per:.1} ns/read (checksum {sum})"
        );
        let follower = cowd_client::Follower::<Value>::builder(&nodes[1].url(""))
            .start_blocking()
            .unwrap();
        let t0 = Instant::now();
        let mut len = 0usize;
        for _ in 0..iterations {
            len = len.wrapping_add(follower.load().as_object().map_or(0, |o| o.len()));
        }
        let per = t0.elapsed().as_nanos() as f64 / iterations as f64;
        println!(
            "cowd_client::Follower::load (following an etcd node): {per:.1} ns/read (checksum {len})"
        );
    }
    drop(nodes);
    cluster.kill_all();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = args.is_empty();
    let want = |name: &str| all || args.iter().any(|a| a == name);
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if want("follower") {
        follower_lag(if n == 0 { 1000 } else { n });
    }
    if want("etcd") || want("reads") {
        etcd_and_reads(if n == 0 { 300 } else { n }, want("etcd"), want("reads"));
    }
}
