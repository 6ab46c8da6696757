//! `Follower` against a real cowd server (the `cowd` library serving on a loopback port).

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use cowd_client::{Error, Follower, SyncOptions};
use serde_json::{Value, json};

const TOKEN: &str = "client-test-token";
const PATIENCE: Duration = Duration::from_secs(30);

/// A cowd server on `addr` (port 0 picks one): `cowd::BackgroundServer` (its own runtime
/// thread, stopped on drop) and the raw-socket write the tests use.
struct Server {
    addr: SocketAddr,
    server: Option<cowd::BackgroundServer>,
}

impl Server {
    fn start(data_dir: &Path, addr: SocketAddr) -> Self {
        let config = cowd::ServeConfig {
            listen: addr,
            data_dir: data_dir.to_owned(),
            token: Some(TOKEN.to_owned()),
            io_threads: 1,
            ..Default::default()
        };
        // A restart binds the port its previous run just closed: retry while it is taken.
        let deadline = Instant::now() + PATIENCE;
        loop {
            match cowd::BackgroundServer::start(config.clone()) {
                Ok(server) => {
                    return Self {
                        addr: server.addr(),
                        server: Some(server),
                    };
                }
                Err(cowd::StartError::Bind { .. }) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(50));
                }
                Err(error) => panic!("the server starts: {error}"),
            }
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn put(&self, doc: &Value) -> u64 {
        let mut stream = std::net::TcpStream::connect(self.addr).unwrap();
        let body = doc.to_string();
        write!(
            stream,
            "PUT /v1/config HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let line = answer
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("x-config-version:"))
            .unwrap();
        line.split(':').nth(1).unwrap().trim().parse().unwrap()
    }

    fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().expect("the server stops cleanly");
        }
    }
}

fn fast_options() -> SyncOptions {
    let mut options = SyncOptions::default();
    options.long_poll = Duration::from_secs(2);
    options.backoff_max = Duration::from_millis(200);
    options.stale_after = Duration::from_secs(3);
    options
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

fn any_addr() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[derive(Debug, serde::Deserialize, PartialEq)]
struct AppConfig {
    port: u16,
    #[serde(default)]
    name: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_follower_tracks_the_leader_and_refuses_what_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), any_addr());
    let v1 = server.put(&json!({"port": 8080, "name": "a"}));
    let follower = Follower::<AppConfig>::builder(&server.url())
        .options(fast_options())
        .start()
        .await
        .unwrap();
    assert_eq!(follower.version(), v1);
    assert_eq!(
        *follower.load(),
        AppConfig {
            port: 8080,
            name: "a".into()
        }
    );
    let snapshot = follower.snapshot();
    assert_eq!(follower.version_of(&snapshot), Some(v1));

    // A subscriber from the core store sees the next version.
    let mut changes = follower.subscribe();
    let v2 = server.put(&json!({"port": 9090, "name": "b"}));
    let next = tokio::time::timeout(PATIENCE, changes.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.port, 9090);
    assert!(follower.wait_for_version(v2, PATIENCE).await);
    assert_eq!(follower.version_of(&follower.snapshot()), Some(v2));
    let stats = follower.stats();
    assert_eq!((stats.version, stats.lag_versions), (v2, 0));
    assert!(stats.connected && !stats.stale, "{stats:?}");
    assert!(stats.last_sync_age.unwrap() < PATIENCE);
    assert_eq!(follower.store().stats().subscribers, 1);

    // A version that does not deserialize into AppConfig is refused; the previous one stays.
    let bad = server.put(&json!({"port": "not a number"}));
    eventually("the refusal", || follower.stats().refused >= 1);
    assert_eq!(follower.load().port, 9090);
    assert_eq!(follower.version(), v2);
    assert!(
        follower
            .stats()
            .last_error
            .unwrap()
            .contains(&bad.to_string())
    );
    // The next good version is applied.
    let v4 = server.put(&json!({"port": 7070}));
    assert!(follower.wait_for_version(v4, PATIENCE).await);
    assert_eq!(follower.load().port, 7070);
}

#[test]
fn the_cache_file_lets_a_restarted_follower_serve_without_the_leader() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cache = dir.path().join("cache").join("app.cache");
    std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
    let mut server = Server::start(&data, any_addr());
    let addr = server.addr;
    let v1 = server.put(&json!({"feature": true, "limit": 10}));

    // Blocking API: a follower on its own thread, writing the cache file.
    let follower = Follower::<Value>::builder(&server.url())
        .options(fast_options())
        .cache_file(&cache)
        .start_blocking()
        .unwrap();
    let v2 = server.put(&json!({"feature": true, "limit": 20}));
    assert!(follower.wait_for_version_blocking(v2, PATIENCE));
    eventually("the cache file to hold the last version", || {
        cowd_client::cache::read(&cache).is_ok_and(|c| c.version == v2)
    });
    drop(follower);
    server.stop();

    // The leader is gone: a new follower starts from the cache file and says it is stale.
    let started = Instant::now();
    let follower = Follower::<Value>::builder(&format!("http://{addr}"))
        .options(fast_options())
        .cache_file(&cache)
        .start_blocking()
        .unwrap();
    assert!(started.elapsed() < PATIENCE);
    assert_eq!(follower.version(), v2);
    assert_eq!(*follower.load(), json!({"feature": true, "limit": 20}));
    let stats = follower.stats();
    assert!(
        stats.from_cache && stats.stale && !stats.connected,
        "{stats:?}"
    );
    assert!(stats.last_error.is_some());
    assert!(v1 < v2);

    // The leader comes back on the same address: the follower catches up.
    let server = Server::start(&data, addr);
    let v3 = server.put(&json!({"feature": false}));
    assert!(follower.wait_for_version_blocking(v3, PATIENCE));
    assert_eq!(*follower.load(), json!({"feature": false}));
    eventually("the follower to be current", || {
        let s = follower.stats();
        !s.stale && !s.from_cache
    });

    // A damaged cache file is ignored, never served.
    drop(follower);
    drop(server);
    let mut bytes = std::fs::read(&cache).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x20;
    std::fs::write(&cache, &bytes).unwrap();
    let error = Follower::<Value>::builder(&format!("http://{addr}"))
        .options(fast_options())
        .cache_file(&cache)
        .initial_timeout(Duration::from_millis(300))
        .start_blocking()
        .unwrap_err();
    let Error::NoInitialConfig { leader, cache } = &error else {
        panic!("unexpected {error}")
    };
    assert!(
        matches!(**leader, Error::Unreachable { .. } | Error::Timeout { .. }),
        "{leader}"
    );
    assert!(
        cache.as_ref().unwrap().to_string().contains("SHA-256"),
        "{error}"
    );
}

#[tokio::test]
async fn bad_urls_and_malformed_leaders_get_clear_errors() {
    let error = Follower::connect("https://example.invalid")
        .await
        .unwrap_err();
    assert!(matches!(error, Error::BadUrl { .. }), "{error}");
    assert!(error.to_string().contains("http://"));

    // A server that answers 200 without cowd's headers, and one whose body does not match
    // the hash it announces.
    for (name, answer) in [
        (
            "no headers",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        ),
        (
            "wrong hash",
            "HTTP/1.1 200 OK\r\nX-Config-Version: 3\r\nX-Config-Sha256: 0000000000000000000000000000000000000000000000000000000000000000\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        ),
        (
            "not JSON",
            "HTTP/1.1 200 OK\r\nX-Config-Version: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{x}",
        ),
    ] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let serve = thread::spawn(move || {
            for stream in listener.incoming().take(1) {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        let error = Follower::<Value>::builder(&url)
            .initial_timeout(Duration::from_millis(1))
            .start()
            .await
            .unwrap_err();
        serve.join().unwrap();
        let text = error.to_string();
        assert!(text.contains("no configuration at start"), "{name}: {text}");
        match name {
            "no headers" => assert!(
                text.contains("X-Config-Version") || text.contains("x-config-version"),
                "{text}"
            ),
            "wrong hash" => assert!(
                text.contains("SHA-256") || text.contains("X-Config-Sha256"),
                "{text}"
            ),
            _ => assert!(text.contains("JSON"), "{text}"),
        }
    }
}
