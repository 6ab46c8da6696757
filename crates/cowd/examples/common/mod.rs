//! What the `cowd` examples share: a server run in-process on a loopback port, and the
//! long-poll that waits for a version.
// Each example uses part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

/// A `cowd` instance served on `127.0.0.1:<free port>` by its own thread and single-threaded
/// runtime (like `--io-threads 1`), as `Instance::open` + `Instance::serve` (the same code as
/// `cowd serve`). Stops gracefully when dropped.
pub(crate) struct Server {
    addr: SocketAddr,
    state: cowd::AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    pub(crate) fn start(config: cowd::ServeConfig) -> Result<Self, cowd::StartError> {
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(async move {
                // Opened inside the runtime: a file watch or a follower starts tasks on it.
                let instance = match cowd::Instance::open(&config) {
                    Ok(instance) => instance,
                    Err(e) => {
                        started_tx.send(Err(e)).ok();
                        return;
                    }
                };
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("a loopback port");
                started_tx
                    .send(Ok((
                        listener.local_addr().expect("bound"),
                        instance.state().clone(),
                    )))
                    .ok();
                let shutdown = async move {
                    let _ = stopped.await;
                };
                if let Err(e) = instance.serve(listener, shutdown).await {
                    eprintln!("server stopped with an error: {e}");
                }
            });
        });
        let (addr, state) = started_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the server starts or says why not")?;
        Ok(Self {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The instance's shared state: its versions (a `cowstore::Store`), backend, metrics.
    pub(crate) fn state(&self) -> &cowd::AppState {
        &self.state
    }
}

impl Drop for Server {
    /// Graceful shutdown: open requests finish, then the runtime thread ends.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `GET /v1/config/watch?after=N`: the first version newer than `after` and its document, or
/// `None` if none came within `timeout` (the server answers 304 then).
pub(crate) fn wait_for_newer(
    server: &Server,
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
