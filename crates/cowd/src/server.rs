//! Starting and stopping a node: [`ServeConfig`], [`Instance`] (open the data dir, pick the
//! source of truth, build the [`AppState`]) and [`run`] (bind, serve, stop on SIGTERM/Ctrl-C).

use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::backend::{Backend, Committer, EmbeddedBackend, FileBackend};
use crate::config_format::Format;
use crate::etcd::{EtcdConfig, EtcdSource};
use crate::follower::{Follow, FollowConfig};
use crate::http::auth::Auth;
use crate::journal::{DataDirLock, Journal, JournalError, sync_dir};
use crate::record::{Origin, VersionRecord};
use crate::schema::{SchemaError, SchemaSlot, SchemaViolation};
use crate::source::file_watch::{self, FileSource, ReloadError, Trigger, WatchOptions};
use crate::state::{AppState, Limits, Shutdown};
use crate::versions::Versions;

/// Everything `cowd serve` needs; [`Default`] matches the command line defaults.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on (`--listen`, default `127.0.0.1:8080`; port 0 picks a free one).
    pub listen: SocketAddr,
    /// The data dir (`--data-dir`, default `./cowd-data`).
    pub data_dir: PathBuf,
    /// `--config FILE`: seeds an empty data dir, or with `watch` is the source of truth.
    pub config_file: Option<PathBuf>,
    /// `--watch`: file mode.
    pub watch: bool,
    /// `--format`: the config file's format when its extension does not tell.
    pub format: Option<Format>,
    /// `--schema FILE`: JSON Schema every document must match.
    pub schema: Option<PathBuf>,
    /// The write token (`--token-file` or `COWD_TOKEN`); `None` disables writes.
    pub token: Option<String>,
    /// `--history N`: versions kept.
    pub history: usize,
    /// `--history-bytes SIZE`: most bytes of documents the in-memory history holds.
    pub history_bytes: u64,
    /// Request limits (`--max-body`, `--max-watch-timeout`).
    pub limits: Limits,
    /// File watching (`--poll-interval`).
    pub watch_options: WatchOptions,
    /// `--addr-file FILE`: where to write the bound address once listening.
    pub addr_file: Option<PathBuf>,
    /// `--shutdown-timeout`: how long to wait for open requests at shutdown.
    pub shutdown_timeout: Duration,
    /// `--io-threads`: single-threaded accept/serve runtimes sharing the port with
    /// `SO_REUSEPORT` (used by [`run`]); 0 serves on the caller's runtime.
    pub io_threads: usize,
    /// `cowd follow --leader URL`: serve a read-only copy of another cowd (a data dir only
    /// with [`FollowConfig::data_dir`], not `data_dir` above).
    pub follow: Option<FollowConfig>,
    /// `--etcd-endpoints`/`--etcd-key`: etcd is the source of truth (no data dir);
    /// `config_file` seeds the key if it does not exist.
    pub etcd: Option<EtcdConfig>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./cowd-data"),
            config_file: None,
            watch: false,
            format: None,
            schema: None,
            token: None,
            history: 1000,
            history_bytes: 256 << 20,
            limits: Limits::default(),
            watch_options: WatchOptions::default(),
            addr_file: None,
            shutdown_timeout: Duration::from_secs(10),
            io_threads: std::thread::available_parallelism().map_or(1, usize::from),
            follow: None,
            etcd: None,
        }
    }
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data dir could not be opened or recovered.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The schema could not be loaded.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The config file's format is unknown.
    #[error("cannot tell the format of {}: name it .json, .toml, .yaml or .yml, or pass --format", .path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The config file seeding an empty data dir is unusable.
    #[error("cannot start: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ReloadError,
    },
    /// The config file seeding an empty data dir breaks the schema.
    #[error("cannot start from {}: the document does not match the schema: {}", .path.display(), .violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where and why.
        violations: Vec<SchemaViolation>,
    },
    /// The listen address is unavailable.
    #[error(
        "cannot listen on {addr}: {source}; is another process using it? pick another with --listen"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file watcher could not start.
    #[error("cannot watch the config file: {0}")]
    Watch(#[from] notify::Error),
    /// The address file could not be written.
    #[error("cannot write the address file {}: {source}", .path.display())]
    AddrFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A server thread could not be started.
    #[error("cannot start a server thread: {0}")]
    Thread(std::io::Error),
    /// A signal handler could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    /// The leader to follow is unusable (`cowd follow --leader`).
    #[error(transparent)]
    Leader(#[from] cowd_client::Error),
    /// Contradicting options.
    #[error("{0}")]
    Options(String),
}

/// The task that brings versions from elsewhere (a leader, etcd).
enum Replica {
    Follower(Box<Follow>),
    Etcd(EtcdSource),
}

/// An opened node, ready to serve: data dir locked and recovered, source of truth chosen.
pub struct Instance {
    state: AppState,
    schema: Arc<SchemaSlot>,
    file_source: Option<Arc<FileSource>>,
    replica: Option<Replica>,
    watch_options: WatchOptions,
    shutdown_timeout: Duration,
    _lock: Option<DataDirLock>,
}

impl Instance {
    /// Locks and recovers the data dir, seeds it if empty, loads the schema and (in file mode)
    /// reloads the file once. Blocking. An etcd node uses no data dir, nor does a follower
    /// without [`FollowConfig::data_dir`]: it starts with no version and gets them in the
    /// background once [served](Self::serve). A follower with one starts from the versions
    /// journaled there.
    pub fn open(config: &ServeConfig) -> Result<Self, StartError> {
        if config.follow.is_some() || config.etcd.is_some() {
            return Self::open_replica(config);
        }
        let lock = DataDirLock::acquire(&config.data_dir)?;
        let schema = load_schema(config)?;
        let file = config_file_and_format(config)?;
        let opened = Journal::open(&config.data_dir, config.history)?;
        let mut journal = opened.journal;
        let mut records = opened.records;
        if records.is_empty() {
            let record = Self::first_version(config, file.as_ref(), &schema)?;
            journal.append(&record)?;
            sync_dir(&config.data_dir)?;
            tracing::info!(data_dir = %config.data_dir.display(), origin = %record.origin(), "initialized an empty data dir with version 1");
            records.push(record);
        } else {
            let last = records.last().map_or(0, VersionRecord::version);
            tracing::info!(data_dir = %config.data_dir.display(), version = last, history = records.len(), "recovered from the data dir");
            if let (Some((path, _)), false) = (&file, config.watch) {
                tracing::info!(
                    file = %path.display(),
                    "the data dir already holds version {last}; --config only seeds an empty data dir (add --watch to make the file the source of truth)"
                );
            }
        }
        let versions = Arc::new(
            Versions::new(records, config.history).with_history_bytes(config.history_bytes),
        );
        warn_if_current_breaks(&schema, &versions);
        let committer = Arc::new(Committer::new(
            journal,
            Arc::clone(&versions),
            Arc::clone(&schema),
        ));
        let (backend, file_source): (Arc<dyn Backend>, _) = match (&file, config.watch) {
            (Some((path, format)), true) => {
                let source = Arc::new(FileSource::new(path.clone(), *format, committer));
                let _ = source.reload(Trigger::Startup);
                (Arc::new(FileBackend::new(path.clone())), Some(source))
            }
            _ => (Arc::new(EmbeddedBackend::new(committer)), None),
        };
        Ok(Self::assemble(
            config,
            schema,
            versions,
            backend,
            file_source,
            None,
            Some(lock),
        ))
    }

    /// The node, once its versions and source of truth are chosen.
    fn assemble(
        config: &ServeConfig,
        schema: Arc<SchemaSlot>,
        versions: Arc<Versions>,
        backend: Arc<dyn Backend>,
        file_source: Option<Arc<FileSource>>,
        replica: Option<Replica>,
        lock: Option<DataDirLock>,
    ) -> Self {
        let state = AppState::new(
            versions,
            backend,
            Auth::new(config.token.clone()),
            config.limits,
            Shutdown::default(),
        );
        Self {
            state,
            schema,
            file_source,
            replica,
            watch_options: config.watch_options,
            shutdown_timeout: config.shutdown_timeout,
            _lock: lock,
        }
    }

    fn open_replica(config: &ServeConfig) -> Result<Self, StartError> {
        if config.watch {
            return Err(StartError::Options(
                "--watch (file mode) cannot be combined with following a leader or etcd mode"
                    .into(),
            ));
        }
        // A follower with a data dir starts from the versions journaled there.
        let (versions, journal, lock) = match config
            .follow
            .as_ref()
            .and_then(|f| f.data_dir.as_deref())
        {
            Some(dir) => {
                let lock = DataDirLock::acquire(dir)?;
                let opened = Journal::open(dir, config.history)?;
                let versions = match opened.records.last().map(VersionRecord::version) {
                    Some(last) => {
                        tracing::info!(data_dir = %dir.display(), version = last, history = opened.records.len(), "serving the versions restored from the data dir until the leader answers");
                        Versions::new(opened.records, config.history)
                    }
                    None => Versions::unsynced(config.history),
                };
                (versions, Some(opened.journal), Some(lock))
            }
            None => (Versions::unsynced(config.history), None, None),
        };
        let versions = Arc::new(versions.with_history_bytes(config.history_bytes));
        // A follower checks nothing: its leader did.
        let schema = match &config.etcd {
            Some(_) => load_schema(config)?,
            None => Arc::new(SchemaSlot::none()),
        };
        let (backend, replica): (Arc<dyn Backend>, Replica) = match (&config.follow, &config.etcd) {
            (Some(follow), None) => {
                let follow = Follow::new(follow, Arc::clone(&versions), journal)?;
                (follow.backend.clone(), Replica::Follower(Box::new(follow)))
            }
            (None, Some(etcd)) => {
                let seed = match config_file_and_format(config)? {
                    Some((path, format)) => Some(read_seed(&path, format, &schema)?),
                    None => None,
                };
                if etcd.tls.is_some() && !etcd.endpoints.iter().any(|e| e.starts_with("https://")) {
                    return Err(StartError::Options(
                        "--etcd-ca-cert and --etcd-client-cert are for https:// endpoints, and --etcd-endpoints names none; use https:// URLs"
                            .into(),
                    ));
                }
                if etcd.endpoints.is_empty() {
                    return Err(StartError::Options(
                        "--etcd-endpoints names no endpoint".into(),
                    ));
                }
                let (backend, source) = crate::etcd::open(
                    etcd.clone(),
                    Arc::clone(&versions),
                    Arc::clone(&schema),
                    seed,
                );
                (backend, Replica::Etcd(source))
            }
            _ => {
                return Err(StartError::Options(
                    "a node either follows a leader or uses etcd, not both".into(),
                ));
            }
        };
        Ok(Self::assemble(
            config,
            schema,
            versions,
            backend,
            None,
            Some(replica),
            lock,
        ))
    }

    fn first_version(
        config: &ServeConfig,
        file: Option<&(PathBuf, Format)>,
        schema: &SchemaSlot,
    ) -> Result<VersionRecord, StartError> {
        let Some((path, format)) = file else {
            return Ok(VersionRecord::from_value(
                1,
                SystemTime::now(),
                Origin::Init,
                &serde_json::json!({}),
            ));
        };
        let doc = read_seed(path, *format, schema)?;
        let shown = path.display().to_string();
        let origin = if config.watch {
            Origin::File { path: shown }
        } else {
            Origin::Seed { path: shown }
        };
        Ok(VersionRecord::from_value(
            1,
            SystemTime::now(),
            origin,
            &doc,
        ))
    }

    /// The shared state (for [`crate::http::app`], or to inspect in tests).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The HTTP router over this node's state.
    pub fn router(&self) -> Router {
        crate::http::app(self.state.clone())
    }

    /// Serves on `listener` (on the current runtime) until `stop` resolves, then shuts down
    /// gracefully: long-polls answer 304, event streams end, in-flight requests get up to the
    /// shutdown timeout. Also runs the file watcher (file mode) and handles SIGHUP (reload in
    /// file mode).
    pub async fn serve(
        mut self,
        listener: TcpListener,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let background = self.start_background()?;
        let shutdown = self.state.shutdown().clone();
        let router = self.router();
        let stopping = shutdown.clone();
        tokio::spawn(async move {
            stop.await;
            tracing::info!("shutting down");
            stopping.trigger();
        });
        serve_listener(listener, router, shutdown, self.shutdown_timeout).await;
        self.finish(background).await;
        Ok(())
    }

    /// Like [`serve`](Self::serve), but with `threads` single-threaded runtimes, each accepting
    /// on its own `SO_REUSEPORT` socket bound to `addr` (the kernel spreads connections over
    /// them), like nginx's worker processes: a request never hops between threads.
    /// `on_bound` gets the bound address (useful with port 0) before serving starts.
    pub async fn serve_per_core(
        mut self,
        addr: SocketAddr,
        threads: usize,
        on_bound: impl FnOnce(SocketAddr) -> Result<(), StartError>,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let threads = threads.max(1);
        let bind_error = |source| StartError::Bind { addr, source };
        if addr.port() != 0 {
            // SO_REUSEPORT would silently share the port with another server that set it too
            // (another cowd): make sure nobody listens there first.
            drop(std::net::TcpListener::bind(addr).map_err(bind_error)?);
        }
        let first = bind_reuseport(addr).map_err(bind_error)?;
        let bound = first.local_addr().map_err(bind_error)?;
        let mut listeners = vec![first];
        for _ in 1..threads {
            listeners.push(bind_reuseport(bound).map_err(|source| StartError::Bind {
                addr: bound,
                source,
            })?);
        }
        on_bound(bound)?;
        let background = self.start_background()?;
        let shutdown = self.state.shutdown().clone();
        let stopping = shutdown.clone();
        tokio::spawn(async move {
            stop.await;
            tracing::info!("shutting down");
            stopping.trigger();
        });
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
        for (i, listener) in listeners.into_iter().enumerate() {
            let router = self.router();
            let shutdown = shutdown.clone();
            let timeout = self.shutdown_timeout;
            let done = done_tx.clone();
            std::thread::Builder::new()
                .name(format!("cowd-io-{i}"))
                .spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a single-threaded runtime starts");
                    runtime.block_on(async move {
                        match TcpListener::from_std(listener) {
                            Ok(listener) => {
                                serve_listener(listener, router, shutdown, timeout).await
                            }
                            Err(error) => tracing::error!(%error, "cannot serve a listener"),
                        }
                    });
                    drop(runtime);
                    let _ = done.send(());
                })
                .map_err(StartError::Thread)?;
        }
        drop(done_tx);
        while done_rx.recv().await.is_some() {}
        shutdown.trigger();
        self.finish(background).await;
        Ok(())
    }

    fn start_background(&mut self) -> Result<Background, StartError> {
        let shutdown = self.state.shutdown().clone();
        let (hup_tx, hup_rx) = mpsc::unbounded_channel();
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(StartError::Signals)?;
        let file_mode = self.file_source.is_some();
        let hup_task = tokio::spawn({
            let shutdown = shutdown.clone();
            let (schema, versions) = (Arc::clone(&self.schema), Arc::clone(self.state.versions()));
            let schema_file = schema.path().is_some();
            async move {
                loop {
                    tokio::select! {
                        received = hangup.recv() => {
                            if received.is_none() { break; }
                            // The schema first, so that the file is checked against the new one.
                            if schema_file {
                                let (schema, versions) = (Arc::clone(&schema), Arc::clone(&versions));
                                let _ = tokio::task::spawn_blocking(move || reload_schema(&schema, &versions)).await;
                            }
                            if file_mode {
                                tracing::info!("SIGHUP: reloading the configuration file");
                                let _ = hup_tx.send(());
                            } else if !schema_file {
                                tracing::info!("SIGHUP ignored: nothing to reload (no --schema, and not in file mode)");
                            }
                        }
                        () = shutdown.wait() => break,
                    }
                }
            }
        });
        let watcher = match &self.file_source {
            Some(source) => Some(file_watch::spawn(
                Arc::clone(source),
                hup_rx,
                shutdown.subscribe(),
                self.watch_options,
            )?),
            None => None,
        };
        let stop = shutdown.subscribe();
        let replica = self.replica.take().map(|replica| match replica {
            Replica::Follower(follow) => tokio::spawn(follow.run(stop)),
            Replica::Etcd(source) => tokio::spawn(source.run(stop)),
        });
        Ok(Background {
            hup_task,
            watcher,
            replica,
        })
    }

    async fn finish(&self, background: Background) {
        self.state.shutdown().trigger();
        background.hup_task.abort();
        if let Some(watcher) = background.watcher {
            let _ = watcher.await;
        }
        if let Some(replica) = background.replica {
            let _ = replica.await;
        }
        tracing::info!(
            version = self.state.versions().current().version(),
            "stopped"
        );
    }
}

/// Tasks running beside the HTTP server.
struct Background {
    hup_task: tokio::task::JoinHandle<()>,
    watcher: Option<tokio::task::JoinHandle<()>>,
    replica: Option<tokio::task::JoinHandle<()>>,
}

/// Serves `router` on `listener` until `shutdown` triggers, then waits up to `timeout` for open
/// connections.
async fn serve_listener(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
    timeout: Duration,
) {
    let graceful = {
        let shutdown = shutdown.clone();
        async move { shutdown.wait().await }
    };
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, router).with_graceful_shutdown(graceful);
    let mut server = tokio::spawn(server.into_future());
    tokio::select! {
        result = &mut server => {
            if let Ok(Err(error)) = result {
                tracing::error!(%error, "server error");
            }
        }
        () = async { shutdown.wait().await; tokio::time::sleep(timeout).await } => {
            tracing::warn!("requests still open {timeout:?} after shutdown started; closing them");
            server.abort();
        }
    }
}

/// A non-blocking listening socket with `SO_REUSEPORT`, so several can share `addr`.
fn bind_reuseport(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("state", &self.state)
            .field("file_source", &self.file_source)
            .finish_non_exhaustive()
    }
}

/// Raises the soft open-files limit to the hard limit (many long-poll clients need many
/// sockets).
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_err() {
            tracing::debug!(soft, hard, "could not raise the open-files limit");
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn termination() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(error) => {
            tracing::error!(%error, "cannot handle SIGTERM");
            std::future::pending::<()>().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}

/// Runs `cowd serve`: opens the node, listens, writes the address file, serves until SIGTERM
/// or Ctrl-C.
pub async fn run(config: ServeConfig) -> Result<(), StartError> {
    raise_fd_limit();
    let open_config = config.clone();
    let instance = tokio::task::spawn_blocking(move || Instance::open(&open_config))
        .await
        .expect("startup does not panic")?;
    let mode = instance.state().backend().mode();
    let version = instance.state().versions().current().version();
    let addr_file = config.addr_file.clone();
    let on_bound = move |addr: SocketAddr| {
        if let Some(path) = &addr_file {
            write_addr_file(path, addr).map_err(|source| StartError::AddrFile {
                path: path.clone(),
                source,
            })?;
        }
        tracing::info!(
            mode,
            version,
            "listening on http://{addr} (dashboard at http://{addr}/)"
        );
        Ok(())
    };
    if config.io_threads == 0 {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        on_bound(addr)?;
        instance.serve(listener, termination()).await
    } else {
        instance
            .serve_per_core(config.listen, config.io_threads, on_bound, termination())
            .await
    }
}

/// Writes `addr` to `path` atomically (temporary file, then rename).
fn write_addr_file(path: &std::path::Path, addr: SocketAddr) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{addr}\n"))?;
    std::fs::rename(&tmp, path)
}

/// The `--schema`, loaded if one was given.
fn load_schema(config: &ServeConfig) -> Result<Arc<SchemaSlot>, StartError> {
    Ok(Arc::new(SchemaSlot::load(config.schema.as_deref())?))
}

/// Reads the `--config` file that seeds an empty data dir or etcd key, which must match the
/// schema.
fn read_seed(path: &Path, format: Format, schema: &SchemaSlot) -> Result<Value, StartError> {
    let doc = FileSource::read_document(path, format).map_err(|source| StartError::Config {
        path: path.to_owned(),
        source,
    })?;
    schema
        .validate(&doc)
        .map_err(|violations| StartError::Invalid {
            path: path.to_owned(),
            violations,
        })?;
    Ok(doc)
}

/// Warns when the current version breaks the schema in force (at startup, and after SIGHUP
/// loaded a new schema): it keeps serving, but the next write must match.
fn warn_if_current_breaks(schema: &SchemaSlot, versions: &Versions) {
    if !versions.is_synced() {
        return;
    }
    let current = versions.current();
    if let Err(violations) = schema.validate(&current.doc().unwrap_or_default()) {
        tracing::warn!(
            version = current.version(),
            "the current version does not match the schema ({}); it keeps serving until a valid version replaces it",
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
}

/// SIGHUP's schema half: re-reads `--schema`, keeping the schema in force if the file is
/// unusable.
fn reload_schema(schema: &SchemaSlot, versions: &Versions) {
    match schema.reload() {
        Ok(true) => {
            let path = schema.path().map(|p| p.display().to_string());
            tracing::info!(schema = path, "SIGHUP: reloaded the schema");
            warn_if_current_breaks(schema, versions);
        }
        Ok(false) => {}
        Err(error) => {
            tracing::error!(%error, "SIGHUP: cannot reload the schema; the previous schema stays in force");
        }
    }
}

/// The `--config` file and its format (`--format`, else from the extension), if one was given.
fn config_file_and_format(config: &ServeConfig) -> Result<Option<(PathBuf, Format)>, StartError> {
    let Some(path) = &config.config_file else {
        return Ok(None);
    };
    let format = config
        .format
        .or_else(|| Format::from_path(path))
        .ok_or_else(|| StartError::UnknownFormat { path: path.clone() })?;
    Ok(Some((path.clone(), format)))
}
