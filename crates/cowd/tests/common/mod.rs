//! Helpers shared by the integration tests: the real `cowd` binary as a child process, an
//! in-process server on a loopback port, and a blocking HTTP client.
#![allow(dead_code, unreachable_pub)]

pub mod etcd;

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// Generous limit for anything that waits on a loaded 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub const TOKEN: &str = "test-token-0123456789";

/// Polls `check` until it returns `Some`, or panics after [`PATIENCE`].
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A running `cowd serve` child process.
pub struct Daemon {
    pub addr: SocketAddr,
    pub child: Child,
    pub log: PathBuf,
}

pub fn cowd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_cowd")
}

impl Daemon {
    /// Starts `cowd serve --listen 127.0.0.1:0 --data-dir DATA ARGS…` and waits until it listens.
    /// `work` holds the address file and the log.
    pub fn start(work: &Path, data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let data_dir = data_dir.to_str().unwrap();
        let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir];
        all.extend_from_slice(args);
        Self::spawn(work, &all, env)
    }

    /// Starts `cowd serve --listen ADDR --data-dir DATA ARGS…` with the test token (a fixed
    /// address, to restart a node where its clients expect it).
    pub fn start_at(work: &Path, listen: SocketAddr, data_dir: &Path, args: &[&str]) -> Self {
        let listen = listen.to_string();
        let data_dir = data_dir.to_str().unwrap();
        let mut all = vec!["serve", "--listen", &listen, "--data-dir", data_dir];
        all.extend_from_slice(args);
        Self::spawn(work, &all, &[("COWD_TOKEN", TOKEN)])
    }

    /// Starts `cowd follow --listen 127.0.0.1:0 --leader URL ARGS…`.
    pub fn follow(work: &Path, leader: &str, args: &[&str]) -> Self {
        let mut all = vec!["follow", "--listen", "127.0.0.1:0", "--leader", leader];
        all.extend_from_slice(args);
        Self::spawn(work, &all, &[])
    }

    /// Starts `cowd ARGS… --addr-file WORK/addr` and waits until it listens.
    pub fn spawn(work: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        fs::create_dir_all(work).unwrap();
        let addr_file = work.join("addr");
        let _ = fs::remove_file(&addr_file);
        let log = work.join(format!(
            "cowd-{}.log",
            Instant::now().elapsed().as_nanos() ^ fastrand::u64(..) as u128
        ));
        let mut command = Command::new(cowd_bin());
        command
            .args(args)
            .arg("--addr-file")
            .arg(&addr_file)
            .env_remove("COWD_TOKEN")
            .env("RUST_LOG", "info,cowd=debug")
            .stdin(Stdio::null())
            .stdout(fs::File::create(log.with_extension("out")).unwrap())
            .stderr(fs::File::create(&log).unwrap());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("cowd starts");
        let addr = eventually("cowd to write its address", || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "cowd exited with {status} before listening:\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            fs::read_to_string(&addr_file)
                .ok()
                .and_then(|s| s.trim().parse::<SocketAddr>().ok())
        });
        Self { addr, child, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap())
    }

    pub fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).expect("signal delivered");
    }

    /// Sends SIGSTOP and waits until every thread of the process has stopped: a signal lands
    /// asynchronously, and a thread still running could answer or send one more request.
    pub fn stop(&self) {
        self.signal(Signal::SIGSTOP);
        let tasks = format!("/proc/{}/task", self.child.id());
        let thread_stopped = |stat: String| {
            // The state follows the parenthesised command name.
            let state = stat.rsplit_once(") ").map(|(_, rest)| rest.trim_start());
            matches!(state.and_then(|s| s.chars().next()), Some('T' | 't'))
        };
        eventually(&format!("every thread in {tasks} to stop"), || {
            let mut threads = fs::read_dir(&tasks).ok()?.flatten();
            threads
                .all(|t| fs::read_to_string(t.path().join("stat")).is_ok_and(thread_stopped))
                .then_some(())
        });
    }

    pub fn kill9(&mut self) {
        let _ = kill(self.pid(), Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        eventually("cowd to exit", || self.child.try_wait().unwrap())
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn version(&self) -> u64 {
        current_version(&self.url(""))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = kill(self.pid(), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// An in-process server (`cowd::BackgroundServer`: `Instance::open` + `serve` on a thread of
/// its own) on a loopback port, which a test can stop and start again on the same data dir.
pub struct InProcess {
    pub addr: SocketAddr,
    server: Option<cowd::BackgroundServer>,
}

impl InProcess {
    pub fn start(config: cowd::ServeConfig) -> Self {
        let server = cowd::BackgroundServer::start(config).expect("in-process server starts");
        Self {
            addr: server.addr(),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Graceful shutdown; the server must have served without an error.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().expect("the server stops cleanly");
        }
    }
}

/// Runs `cowd ARGS…` to completion, which must fail (before serving); returns its stderr.
pub fn cowd_fails(args: &[&str]) -> String {
    let output = Command::new(cowd_bin()).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "cowd {args:?} succeeded: {stderr}"
    );
    stderr
}

/// `GET url` → its JSON body (any status).
pub fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> T {
    client().get(url).send().unwrap().json().unwrap()
}

/// `GET {base}/v1/history` → its entries, by ascending version.
pub fn history_entries(base: &str) -> Vec<Value> {
    let body: Value = get_json(&format!("{base}/v1/history"));
    let mut entries = body["versions"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .clone();
    entries.sort_by_key(|e| e["version"].as_u64().unwrap());
    entries
}

/// `GET {base}/v1/history` → the version numbers it lists, ascending.
pub fn history_versions(base: &str) -> Vec<u64> {
    history_entries(base)
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect()
}

/// `GET {base}/v1/config?version=N` → (status, body bytes).
pub fn version_bytes(base: &str, version: u64) -> (u16, bytes::Bytes) {
    let response = client()
        .get(format!("{base}/v1/config?version={version}"))
        .send()
        .unwrap();
    (response.status().as_u16(), response.bytes().unwrap())
}

/// `GET {base}/v1/config` → (version, document), or `None` while the node answers 503 because
/// it has no version yet (a follower or etcd node still loading its first one).
pub fn get_config_once_served(base: &str) -> Option<(u64, Value)> {
    let response = client().get(format!("{base}/v1/config")).send().unwrap();
    if response.status() == 503 {
        return None;
    }
    assert_eq!(response.status(), 200);
    let version = header_u64(&response, "x-config-version");
    Some((version, response.json().unwrap()))
}

/// `GET {base}/v1/config` → (version, document).
pub fn get_config(base: &str) -> (u64, Value) {
    let response = client().get(format!("{base}/v1/config")).send().unwrap();
    assert_eq!(response.status(), 200);
    let version = header_u64(&response, "x-config-version");
    (version, response.json().unwrap())
}

pub fn current_version(base: &str) -> u64 {
    get_config(base).0
}

pub fn header_u64(response: &reqwest::blocking::Response, name: &str) -> u64 {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// `PUT {base}/v1/config` with the test token.
pub fn put(base: &str, body: &str) -> reqwest::blocking::Response {
    client()
        .put(format!("{base}/v1/config"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .unwrap()
}

/// Reads SSE events (id, data) from a streaming response until `n` were read.
pub fn read_events(response: reqwest::blocking::Response, n: usize) -> Vec<(u64, Value)> {
    let mut reader = BufReader::new(response);
    let mut events = Vec::new();
    let mut id = None;
    let mut data = String::new();
    let mut line = String::new();
    while events.len() < n {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if let Some(v) = text.strip_prefix("id:") {
            id = Some(v.trim().parse::<u64>().unwrap());
        } else if let Some(v) = text.strip_prefix("data:") {
            data.push_str(v.trim_start());
        } else if text.is_empty() && !data.is_empty() {
            events.push((id.take().unwrap(), serde_json::from_str(&data).unwrap()));
            data.clear();
        }
    }
    events
}

/// Writes `contents` to `path` the way editors do: a temporary file renamed over it.
pub fn write_by_rename(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp~");
    fs::write(&tmp, contents).unwrap();
    fs::rename(&tmp, path).unwrap();
}

pub fn config(data_dir: &Path) -> cowd::ServeConfig {
    cowd::ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_owned(),
        token: Some(TOKEN.to_owned()),
        ..Default::default()
    }
}

/// `GET {base}{path}` → status code.
pub fn status_of(base: &str, path: &str) -> u16 {
    client()
        .get(format!("{base}{path}"))
        .send()
        .map_or(0, |r| r.status().as_u16())
}

/// The value of an unlabelled (or exactly labelled) metric in `GET {base}/metrics`.
pub fn metric(base: &str, name: &str) -> Option<f64> {
    let text = client()
        .get(format!("{base}/metrics"))
        .send()
        .ok()?
        .text()
        .ok()?;
    text.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// A free loopback port (bound and released: good enough for tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
