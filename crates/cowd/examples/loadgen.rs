//! Load generator for the `cowd` latency targets (a benchmark, not a test).
//!
//! ```text
//! cargo build --release -p cowd --bins --examples
//! target/release/examples/loadgen watchers [--watchers 1000] [--rounds 20]
//! target/release/examples/loadgen file-latency [--rounds 200]
//! ```
//!
//! `--tmp DIR` puts the data dir (and the watched file) under DIR, e.g. `/dev/shm` to take the
//! disk's fsync time out of the measurement.
//!
//! Each mode starts its own `cowd` (the binary next to this example's directory, or `--cowd
//! PATH`) on a loopback port with a temporary data dir, and stops it at the end.
//!
//! - `watchers`: N concurrent long-polls (`GET /v1/config/watch`) wait on the current version;
//!   a `PUT` publishes a 4 KiB document; the time from just before sending the `PUT` until each
//!   watcher has the whole new document is recorded. Repeated for every round.
//! - `file-latency`: file mode; the file is replaced (by rename, then in place) and
//!   `GET /v1/config` is polled every 0.5 ms until it shows the new version; the time from
//!   just before the write is recorded.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TOKEN: &str = "loadgen-token";

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

fn cowd_path(args: &[String]) -> PathBuf {
    if let Some(i) = args.iter().position(|a| a == "--cowd") {
        return PathBuf::from(&args[i + 1]);
    }
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("cowd")
}

/// A 4 KiB JSON document whose content depends on `n`.
fn document(n: u64) -> Value {
    let mut doc = serde_json::Map::new();
    doc.insert("revision".into(), json!(n));
    let mut i = 0;
    while serde_json::to_vec(&doc).unwrap().len() < 4000 {
        doc.insert(
            format!("key_{i:03}"),
            json!(format!("value-{n}-{i}-abcdefghijklmnopqrstuvwxyz")),
        );
        i += 1;
    }
    Value::Object(doc)
}

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(cowd: &Path, extra: &[&str], dir: tempfile::TempDir) -> Self {
        let addr_file = dir.path().join("addr");
        let child = Command::new(cowd)
            .args(["serve", "--listen", "127.0.0.1:0", "--addr-file"])
            .arg(&addr_file)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(extra)
            .env("COWD_TOKEN", TOKEN)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", cowd.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            if let Ok(addr) = std::fs::read_to_string(&addr_file) {
                break addr.trim().to_owned();
            }
            assert!(Instant::now() < deadline, "cowd did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        Self {
            child,
            base: format!("http://{addr}"),
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: n={} p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.90)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().unwrap()),
    );
}

async fn metric(client: &reqwest::Client, base: &str, name: &str) -> f64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn version(client: &reqwest::Client, base: &str) -> u64 {
    let response = client
        .get(format!("{base}/v1/config"))
        .send()
        .await
        .unwrap();
    response.headers()["x-config-version"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn tempdir(args: &[String]) -> tempfile::TempDir {
    match args.iter().position(|a| a == "--tmp") {
        Some(i) => tempfile::tempdir_in(&args[i + 1]).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

async fn watchers(cowd: &Path, dir: tempfile::TempDir, watchers: u64, rounds: u64) {
    let seed = dir.path().join("seed.json");
    std::fs::write(&seed, serde_json::to_vec(&document(0)).unwrap()).unwrap();
    let server = Server::start(cowd, &["--config", seed.to_str().unwrap()], dir);
    let base = server.base.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(watchers as usize + 8)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let writer = reqwest::Client::new();
    let mut notified = Vec::new();
    let mut acks = Vec::new();
    let mut slowest_per_round = Vec::new();
    let mut after_ack = Vec::new();
    let mut spread = Vec::new();
    println!(
        "watchers: {watchers} concurrent long-polls, {rounds} publishes of a {} byte document",
        serde_json::to_vec(&document(1)).unwrap().len()
    );
    for round in 1..=rounds {
        let current = version(&writer, &base).await;
        let tasks: Vec<_> = (0..watchers)
            .map(|_| {
                let client = client.clone();
                let url = format!("{base}/v1/config/watch?after={current}&timeout_ms=60000");
                tokio::spawn(async move {
                    let response = client.get(url).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    let _body = response.bytes().await.unwrap();
                    Instant::now()
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while metric(&writer, &base, "cowd_watch_waiting").await < watchers as f64 {
            assert!(Instant::now() < deadline, "watchers did not all connect");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let started = Instant::now();
        let response = writer
            .put(format!("{base}/v1/config"))
            .bearer_auth(TOKEN)
            .json(&document(round))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let acked = Instant::now();
        acks.push(acked - started);
        let mut done = Vec::with_capacity(tasks.len());
        for task in tasks {
            done.push(task.await.unwrap());
        }
        let first = *done.iter().min().unwrap();
        for t in &done {
            notified.push(*t - started);
            after_ack.push(t.saturating_duration_since(acked));
            spread.push(*t - first);
        }
        slowest_per_round.push(*done.iter().max().unwrap() - started);
    }
    report("PUT acknowledged (fsync included)", acks);
    report(
        "watcher notified, upper bound (from PUT sent, so fsync included, to document received)",
        notified,
    );
    report(
        "watcher notified, lower bound (from PUT acknowledged; 0 if before)",
        after_ack,
    );
    report("fan-out (from the first watcher notified)", spread);
    report("slowest watcher per publish", slowest_per_round);
}

async fn file_latency(cowd: &Path, dir: tempfile::TempDir, rounds: u64) {
    let file = dir.path().join("app.json");
    std::fs::write(&file, serde_json::to_vec(&document(0)).unwrap()).unwrap();
    let server = Server::start(
        cowd,
        &[
            "--config",
            file.to_str().unwrap(),
            "--watch",
            "--poll-interval",
            "0",
        ],
        dir,
    );
    let base = server.base.clone();
    let client = reqwest::Client::new();
    println!("file-latency: {rounds} changes of a 4 KiB file per method, GET polled every 0.5 ms");
    let mut n = 0;
    for method in ["rename", "in-place"] {
        let mut samples = Vec::new();
        for _ in 0..rounds {
            n += 1;
            let before = version(&client, &base).await;
            let bytes = serde_json::to_vec(&document(n)).unwrap();
            let started = Instant::now();
            if method == "rename" {
                let tmp = file.with_extension("tmp");
                std::fs::write(&tmp, &bytes).unwrap();
                std::fs::rename(&tmp, &file).unwrap();
            } else {
                std::fs::write(&file, &bytes).unwrap();
            }
            let deadline = started + Duration::from_secs(30);
            loop {
                if version(&client, &base).await > before {
                    samples.push(started.elapsed());
                    break;
                }
                assert!(Instant::now() < deadline, "change not visible after 30 s");
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
            // Let the watcher settle before the next change.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        report(&format!("file change visible on GET ({method})"), samples);
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cowd = cowd_path(&args);
    match args.get(1).map(String::as_str) {
        Some("watchers") => {
            watchers(
                &cowd,
                tempdir(&args),
                arg(&args, "--watchers", 1000),
                arg(&args, "--rounds", 20),
            )
            .await;
        }
        Some("file-latency") => {
            file_latency(&cowd, tempdir(&args), arg(&args, "--rounds", 200)).await;
        }
        _ => {
            eprintln!(
                "usage: loadgen watchers [--watchers N] [--rounds N] | file-latency [--rounds N]; options: --cowd PATH, --tmp DIR (where the data dir and file go)"
            );
            std::process::exit(2);
        }
    }
}
