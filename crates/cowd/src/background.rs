//! A `cowd` instance running in the background of another program: on a thread of its own,
//! with its own tokio runtime, stopped gracefully when dropped.
//!
//! For embedding cowd in an application that is not async (or whose runtime should not carry
//! the server), and for tests and examples that need a real server on a loopback port. The
//! server is [`Instance::open`] + [`Instance::serve`], the code `cowd serve` runs; only the
//! signal handling differs: a background server stops when told to, not on Ctrl-C.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::server::{Instance, ServeConfig, StartError};
use crate::state::AppState;

/// A `cowd` instance served from a background thread.
///
/// [`start`](Self::start) returns once the server listens (or with the reason it could not
/// start); dropping the handle, or [`stop`](Self::stop), shuts it down gracefully (long-polls
/// answer 304, event streams end, in-flight requests finish) and joins the thread.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let server = cowd::BackgroundServer::start(cowd::ServeConfig {
///     listen: "127.0.0.1:0".parse()?,
///     data_dir: dir.path().join("data"),
///     io_threads: 1,
///     ..Default::default()
/// })?;
/// assert_eq!(server.addr().ip().to_string(), "127.0.0.1");
/// assert_ne!(server.addr().port(), 0, "port 0 picked a free port");
/// // A fresh data dir starts at version 1 with an empty document.
/// assert_eq!(server.state().versions().current().version(), 1);
/// server.stop()?;
/// # Ok(())
/// # }
/// ```
pub struct BackgroundServer {
    addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<Result<(), StartError>>>,
}

impl BackgroundServer {
    /// Opens the instance `config` describes and serves it on `config.listen` (port 0 picks a
    /// free port; see [`addr`](Self::addr)) from a new thread.
    ///
    /// The thread runs a single-threaded runtime when `config.io_threads` is 0 or 1 (one thread
    /// for everything, like `cowd serve --io-threads 1`), otherwise a multi-threaded runtime
    /// with that many workers. `config.addr_file` is not written.
    ///
    /// # Errors
    ///
    /// Whatever stops `cowd serve` from starting with the same configuration: the data dir,
    /// schema or seed file ([`StartError`]'s variants say which), the listen address
    /// ([`StartError::Bind`]), or the thread itself ([`StartError::Thread`]).
    pub fn start(config: ServeConfig) -> Result<Self, StartError> {
        let (started_tx, started_rx) = mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("cowd-background".into())
            .spawn(move || run(config, started_tx, stopped))
            .map_err(StartError::Thread)?;
        match started_rx.recv() {
            Ok((addr, state)) => Ok(Self {
                addr,
                state,
                stop: Some(stop),
                thread: Some(thread),
            }),
            // The thread ended before it listened: its result says why.
            Err(mpsc::RecvError) => match thread.join() {
                Ok(Err(error)) => Err(error),
                Ok(Ok(())) => unreachable!("the server thread returns Ok only after listening"),
                Err(panic) => std::panic::resume_unwind(panic),
            },
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}{path}`: the URL of `path` on this server.
    ///
    /// `path` should start with `/`; `url("")` is the base URL.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The instance's shared state: its versions (a `cowstore::Store`), backend and metrics.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Shuts the server down gracefully and waits for its thread.
    ///
    /// # Errors
    ///
    /// The error serving ended with, if any (a background task that could not start).
    pub fn stop(mut self) -> Result<(), StartError> {
        match self.shut_down() {
            Some(Ok(result)) => result,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Ok(()),
        }
    }

    /// Tells the server to stop and joins its thread: how serving ended, or how the thread
    /// panicked; `None` if that was done already.
    fn shut_down(&mut self) -> Option<thread::Result<Result<(), StartError>>> {
        if let Some(stop) = self.stop.take() {
            // The receiver is gone only if the server already ended; joining says how.
            let _ = stop.send(());
        }
        self.thread.take().map(thread::JoinHandle::join)
    }
}

impl std::fmt::Debug for BackgroundServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundServer")
            .field("addr", &self.addr)
            .field("running", &self.stop.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for BackgroundServer {
    /// Graceful shutdown, as [`stop`](Self::stop), ignoring how serving ended. A panic of the
    /// server thread is passed on, unless this thread is already panicking (a second panic
    /// would abort).
    fn drop(&mut self) {
        if let Some(Err(panic)) = self.shut_down()
            && !thread::panicking()
        {
            std::panic::resume_unwind(panic);
        }
    }
}

/// The background thread: build the runtime, open, bind, report, serve until stopped.
fn run(
    config: ServeConfig,
    started: mpsc::Sender<(SocketAddr, AppState)>,
    stopped: oneshot::Receiver<()>,
) -> Result<(), StartError> {
    let runtime = if config.io_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.io_threads)
            .enable_all()
            .build()
    }
    .map_err(StartError::Thread)?;
    runtime.block_on(async move {
        // Opened inside the runtime: a file watch or a follower starts tasks on it.
        let instance = Instance::open(&config)?;
        let bind_error = |source| StartError::Bind {
            addr: config.listen,
            source,
        };
        let listener = TcpListener::bind(config.listen).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        // The caller waits for this (or for the thread to end); it cannot be gone.
        let _ = started.send((addr, instance.state().clone()));
        instance
            .serve(listener, async move {
                // A dropped sender (the handle leaked, or its thread gone) stops the server too.
                let _ = stopped.await;
            })
            .await
    })
}
