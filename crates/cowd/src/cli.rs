//! The command line (`cowd --help`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config_format::Format;
use crate::etcd::{EtcdConfig, EtcdCredentials, EtcdTls, EtcdTlsError};
use crate::follower::FollowConfig;
use crate::server::ServeConfig;
use crate::source::file_watch::WatchOptions;
use crate::state::Limits;

const AFTER_HELP: &str = "\
HTTP API (JSON; errors are {\"error\": ..., \"code\": ..., \"detail\": ...}):
  GET  /v1/config[?version=N]              the document; ETag \"<version>\", X-Config-Version; 304 on If-None-Match
  GET  /v1/config/watch?after=N&timeout_ms=T  long-poll: 200 once version > N, else 304
  GET  /v1/events                          Server-Sent Events, one event per version (id: = version)
  PUT  /v1/config                          replace the document (Bearer token; If-Match for compare-and-set)
  POST /v1/config/rollback?to=N            publish version N's content as a new version (Bearer token)
  GET  /v1/history                         versions with time, origin and size
  GET  /v1/config/diff?from=A&to=B         RFC 6902 JSON Patch from A to B
  GET  /metrics, /healthz, /readyz         Prometheus metrics, liveness, readiness
  GET  /                                   dashboard

Examples:
  cowd serve --config app.toml                     # embedded mode, seeded from app.toml
  cowd serve --config app.yaml --watch             # file mode: app.yaml is the truth
  COWD_TOKEN=s3cret cowd serve --schema app.schema.json
  cowd serve --etcd-endpoints http://10.0.0.1:2379,http://10.0.0.2:2379 --etcd-key /app/config
                                                   # etcd mode: etcd is the truth, any node writes
  cowd follow --leader http://10.0.0.1:8080        # read-only copy of another cowd
  cowd check --config app.toml --schema app.schema.json";

/// cowd: a configuration server built on cowstore.
///
/// Serves one JSON document (written as JSON, TOML or YAML) over HTTP with versions, history,
/// rollback, long-poll and Server-Sent Events watches, Prometheus metrics and a dashboard.
/// Every accepted change is fsynced to the data dir before it is published.
#[derive(Debug, Parser)]
#[command(
    name = "cowd",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_long_help = AFTER_HELP
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the configuration server.
    ///
    /// Embedded mode (default): the data dir is the source of truth and PUT /v1/config
    /// writes (with a token). `--config FILE` only seeds an empty data dir.
    ///
    /// File mode (`--config FILE --watch`): the file is the source of truth; it is reloaded
    /// when it changes (in place, by an editor's rename, or by a Kubernetes ConfigMap symlink
    /// swap) and on SIGHUP, and API writes are refused with 409.
    ///
    /// SIGTERM or Ctrl-C stops the server gracefully.
    Serve(Box<ServeArgs>),
    /// Serve a read-only copy of another cowd server (the leader).
    ///
    /// Long-polls the leader, applies each new version under the leader's version number
    /// (by JSON Patch when that is smaller than the document, verified by SHA-256), and serves
    /// the same read API: GET /v1/config (?version=N for versions seen since start), watch,
    /// events, history, diff, metrics (cowd_follower_lag_versions,
    /// cowd_follower_last_sync_age_seconds, …) and the dashboard. Writes are refused with 409
    /// naming the leader. /readyz answers 503 until the first sync and while the copy is stale.
    /// Keeps no data dir unless --data-dir is given; with one, a restart serves the last
    /// version at once, even while the leader is down.
    Follow(FollowArgs),
    /// Check a configuration file (and optionally a schema) without starting a server.
    Check(CheckArgs),
}

/// Options of `cowd serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory holding the durable history (created if missing; one cowd per directory).
    #[arg(long, value_name = "DIR", default_value = "./cowd-data")]
    pub data_dir: PathBuf,

    /// Configuration file (.json, .toml, .yaml/.yml). Seeds an empty data dir; with --watch
    /// it is the source of truth.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// File mode: reload --config on change and on SIGHUP; refuse API writes.
    #[arg(long, requires = "config")]
    pub watch: bool,

    /// Format of --config when its extension does not tell.
    #[arg(long, value_name = "json|toml|yaml")]
    pub format: Option<Format>,

    /// JSON Schema every document must match before it is published (file reloads and API
    /// writes alike). Re-read on SIGHUP; an unusable file keeps the schema in force.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,

    /// File holding the bearer token for writes (PUT, rollback). The COWD_TOKEN environment
    /// variable is used when this is not given. With neither, writes are disabled.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Largest accepted request body, in bytes or with a unit (KiB, MiB, KB, MB).
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
    pub max_body: usize,

    /// In file mode, also re-read the file this often (0 disables; a safety net where file
    /// change notifications do not work, such as some network file systems).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,

    /// etcd mode: the client URLs of the etcd cluster, comma-separated. etcd is then the
    /// source of truth: the document lives at --etcd-key, PUT /v1/config is an etcd
    /// transaction (If-Match compares the key's mod_revision), every node watches the key and
    /// the version is its mod_revision. --config seeds the key if it does not exist; the data
    /// dir is not used.
    #[arg(
        long,
        value_name = "URLS",
        value_delimiter = ',',
        requires = "etcd_key",
        conflicts_with = "watch"
    )]
    pub etcd_endpoints: Vec<String>,

    /// etcd mode: the key holding the document.
    #[arg(long, value_name = "KEY", requires = "etcd_endpoints")]
    pub etcd_key: Option<String>,

    /// etcd mode: limit for one etcd request.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration)]
    pub etcd_timeout: Duration,

    /// etcd mode: how often to check that etcd (a quorum) answers.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
    pub etcd_probe_interval: Duration,

    /// etcd mode: /readyz answers 503 once etcd last answered longer ago than this.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub etcd_stale_after: Duration,

    /// etcd mode: the etcd user to authenticate as (for a cluster with authentication
    /// enabled; it needs read-write permission on --etcd-key). The password comes from
    /// --etcd-password-file, else from the COWD_ETCD_PASSWORD environment variable.
    #[arg(long, value_name = "NAME", requires = "etcd_endpoints")]
    pub etcd_user: Option<String>,

    /// etcd mode: file holding the password of --etcd-user.
    #[arg(long, value_name = "FILE", requires = "etcd_user")]
    pub etcd_password_file: Option<PathBuf>,

    /// etcd mode: CA certificate (PEM) that signed the etcd members' certificates, for
    /// https:// endpoints. Default: the system's trusted roots.
    #[arg(long, value_name = "FILE", requires = "etcd_endpoints")]
    pub etcd_ca_cert: Option<PathBuf>,

    /// etcd mode: client certificate (PEM) to present to etcd members started with
    /// --client-cert-auth.
    #[arg(long, value_name = "FILE", requires = "etcd_client_key")]
    pub etcd_client_cert: Option<PathBuf>,

    /// etcd mode: the private key (PEM) of --etcd-client-cert.
    #[arg(long, value_name = "FILE", requires = "etcd_client_cert")]
    pub etcd_client_key: Option<PathBuf>,

    /// Options every serving mode shares.
    #[command(flatten)]
    pub serving: ServingArgs,
}

/// Options of the HTTP server that `cowd serve` and `cowd follow` share.
#[derive(Debug, Args)]
#[command(next_help_heading = "Serving options")]
pub struct ServingArgs {
    /// Address to listen on; port 0 picks a free port (see --addr-file).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Number of versions kept in the history (older ones are pruned and answer 404).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub history: u64,

    /// Most memory the history's documents may take: older versions are pruned (as by
    /// --history) until the kept ones add up to at most this (the current version always
    /// stays). A journal on disk keeps --history versions regardless.
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = parse_size)]
    pub history_bytes: usize,

    /// Longest accepted long-poll timeout (timeout_ms of /v1/config/watch is clamped to it).
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = humantime::parse_duration)]
    pub max_watch_timeout: Duration,

    /// Write the bound address (ip:port) to this file once listening.
    #[arg(long, value_name = "FILE")]
    pub addr_file: Option<PathBuf>,

    /// Threads serving HTTP, each with its own listening socket (SO_REUSEPORT) and
    /// single-threaded runtime; 0 serves everything on one shared multi-threaded runtime.
    /// Default: one per CPU.
    #[arg(long, value_name = "N")]
    pub io_threads: Option<usize>,

    /// At shutdown, wait this long for open requests before closing them.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
}

impl ServingArgs {
    /// `config` with these options set; the rest of it unchanged.
    fn apply(self, config: ServeConfig) -> ServeConfig {
        ServeConfig {
            listen: self.listen,
            history: usize::try_from(self.history).unwrap_or(usize::MAX),
            history_bytes: self.history_bytes as u64,
            limits: Limits {
                max_long_poll: self.max_watch_timeout,
                ..config.limits
            },
            addr_file: self.addr_file,
            shutdown_timeout: self.shutdown_timeout,
            io_threads: self.io_threads.unwrap_or(config.io_threads),
            ..config
        }
    }
}

/// Options of `cowd follow`.
#[derive(Debug, Args)]
pub struct FollowArgs {
    /// The leader's base URL, like http://10.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub leader: String,

    /// Journal every version applied here (fsynced before it is served). A restart then
    /// serves the last version and its history at once, even while the leader is
    /// unreachable. Without it the follower keeps nothing on disk.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// How long one long-poll to the leader waits for a new version.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub long_poll: Duration,

    /// Limit for other requests to the leader.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub leader_timeout: Duration,

    /// /readyz answers 503 once the leader last answered longer ago than this (or at once
    /// when a request to it fails).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub stale_after: Duration,

    /// Largest delay between retries while the leader is unreachable (exponential backoff with
    /// jitter from 50ms).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub max_backoff: Duration,

    /// Always fetch whole documents, never GET /v1/config/diff.
    #[arg(long)]
    pub no_delta: bool,

    /// Fetch a diff only for documents of at least this size.
    #[arg(long, value_name = "SIZE", default_value = "1KiB", value_parser = parse_size)]
    pub delta_min_size: usize,

    /// When the leader published several versions since the last sync (a burst, a pause, a
    /// reconnection), fetch up to this many of the skipped ones, oldest first, so this
    /// follower's history has the leader's versions. 0: apply only the newest.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub backfill: u64,

    /// Options every serving mode shares.
    #[command(flatten)]
    pub serving: ServingArgs,
}

impl FollowArgs {
    /// Builds the server configuration of a follower.
    ///
    /// ```
    /// use clap::Parser as _;
    /// let cli = cowd::cli::Cli::parse_from(["cowd", "follow", "--leader", "http://127.0.0.1:8080", "--no-delta"]);
    /// let cowd::cli::Command::Follow(args) = cli.command else { unreachable!() };
    /// let config = args.into_config();
    /// let follow = config.follow.unwrap();
    /// assert_eq!(follow.leader, "http://127.0.0.1:8080");
    /// assert!(!follow.options.delta);
    /// ```
    pub fn into_config(self) -> ServeConfig {
        let mut options = cowd_client::SyncOptions::default();
        options.long_poll = self.long_poll;
        options.request_timeout = self.leader_timeout;
        options.stale_after = self.stale_after;
        options.backoff_max = self.max_backoff;
        options.delta = !self.no_delta;
        options.delta_min_size = self.delta_min_size;
        options.backfill = self.backfill;
        self.serving.apply(ServeConfig {
            follow: Some(FollowConfig {
                leader: self.leader,
                options,
                data_dir: self.data_dir,
            }),
            ..ServeConfig::default()
        })
    }
}

/// Options of `cowd check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file to check.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Its format when the extension does not tell.
    #[arg(long, value_name = "json|toml|yaml")]
    pub format: Option<Format>,
    /// A JSON Schema to check it against.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
}

/// Parses `1048576`, `1MiB`, `512KiB`, `2MB`, `64k`…
///
/// ```
/// use cowd::cli::parse_size;
/// assert_eq!(parse_size("1MiB"), Ok(1 << 20));
/// assert_eq!(parse_size("512 KiB"), Ok(512 * 1024));
/// assert_eq!(parse_size("2MB"), Ok(2_000_000));
/// assert_eq!(parse_size("100"), Ok(100));
/// assert!(parse_size("lots").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size; write e.g. 1048576, 1MiB or 512KiB"))?;
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "kb" => 1000,
        "m" | "mib" => 1 << 20,
        "mb" => 1_000_000,
        "g" | "gib" => 1 << 30,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit `{other}`; use B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Why the serve options are unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// A file holding a secret (`--token-file`, `--etcd-password-file`) cannot be read.
    #[error("cannot read the {what} {}: {source}", .path.display())]
    SecretFile {
        /// Which file (`token file`, `etcd password file`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The etcd TLS files are unusable.
    #[error(transparent)]
    EtcdTls(#[from] EtcdTlsError),
    /// `--etcd-user` without a password.
    #[error(
        "--etcd-user {user} needs a password: pass --etcd-password-file FILE or set COWD_ETCD_PASSWORD"
    )]
    MissingEtcdPassword {
        /// The user.
        user: String,
    },
}

/// The secret in `file` if given, else `env`; trimmed, `None` if empty.
fn read_secret(
    what: &'static str,
    file: Option<&PathBuf>,
    env: Option<String>,
) -> Result<Option<String>, OptionsError> {
    let secret = match file {
        Some(path) => {
            Some(
                std::fs::read_to_string(path).map_err(|source| OptionsError::SecretFile {
                    what,
                    path: path.clone(),
                    source,
                })?,
            )
        }
        None => env,
    };
    Ok(secret
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty()))
}

/// Secrets that may come from the environment instead of a file.
#[derive(Clone, Debug, Default)]
pub struct SecretsFromEnv {
    /// `COWD_TOKEN`.
    pub token: Option<String>,
    /// `COWD_ETCD_PASSWORD`.
    pub etcd_password: Option<String>,
}

impl SecretsFromEnv {
    /// Reads both variables.
    pub fn read() -> Self {
        Self {
            token: std::env::var("COWD_TOKEN").ok(),
            etcd_password: std::env::var("COWD_ETCD_PASSWORD").ok(),
        }
    }
}

impl ServeArgs {
    /// Builds the server configuration, reading the token from `--token-file` or
    /// `env.token` (the value of `COWD_TOKEN`), and the etcd password from
    /// `--etcd-password-file` or `env.etcd_password` (`COWD_ETCD_PASSWORD`).
    pub fn into_config(self, env: SecretsFromEnv) -> Result<ServeConfig, OptionsError> {
        let token = read_secret("token file", self.token_file.as_ref(), env.token)?;
        let credentials = match &self.etcd_user {
            Some(user) => {
                let password = read_secret(
                    "etcd password file",
                    self.etcd_password_file.as_ref(),
                    env.etcd_password,
                )?
                .ok_or_else(|| OptionsError::MissingEtcdPassword { user: user.clone() })?;
                Some(EtcdCredentials::new(user.clone(), password))
            }
            None => None,
        };
        let client = self
            .etcd_client_cert
            .as_deref()
            .zip(self.etcd_client_key.as_deref());
        let tls = if self.etcd_ca_cert.is_some() || client.is_some() {
            Some(EtcdTls::load(self.etcd_ca_cert.as_deref(), client)?)
        } else {
            None
        };
        Ok(self.serving.apply(ServeConfig {
            data_dir: self.data_dir,
            config_file: self.config,
            watch: self.watch,
            format: self.format,
            schema: self.schema,
            token,
            limits: Limits {
                max_body: self.max_body,
                ..Limits::default()
            },
            watch_options: WatchOptions {
                poll_interval: (!self.poll_interval.is_zero()).then_some(self.poll_interval),
                ..WatchOptions::default()
            },
            follow: None,
            etcd: self.etcd_key.map(|key| EtcdConfig {
                endpoints: self
                    .etcd_endpoints
                    .iter()
                    .map(|e| e.trim().to_owned())
                    .filter(|e| !e.is_empty())
                    .collect(),
                key,
                request_timeout: self.etcd_timeout,
                probe_interval: self.etcd_probe_interval,
                stale_after: self.etcd_stale_after,
                credentials,
                tls,
            }),
            ..ServeConfig::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVING: [&str; 14] = [
        "--listen",
        "127.0.0.1:9999",
        "--history",
        "7",
        "--history-bytes",
        "2KiB",
        "--max-watch-timeout",
        "9s",
        "--addr-file",
        "bound.addr",
        "--io-threads",
        "3",
        "--shutdown-timeout",
        "2s",
    ];

    fn config_of(args: &[&str]) -> ServeConfig {
        let cli = Cli::try_parse_from(args).expect("the options parse");
        match cli.command {
            Command::Serve(args) => args.into_config(SecretsFromEnv::default()).unwrap(),
            Command::Follow(args) => args.into_config(),
            Command::Check(_) => unreachable!("not a serving command"),
        }
    }

    fn assert_serving_options_applied(config: &ServeConfig) {
        assert_eq!(config.listen, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(config.history, 7);
        assert_eq!(config.history_bytes, 2048);
        assert_eq!(config.limits.max_long_poll, Duration::from_secs(9));
        assert_eq!(config.addr_file, Some(PathBuf::from("bound.addr")));
        assert_eq!(config.io_threads, 3);
        assert_eq!(config.shutdown_timeout, Duration::from_secs(2));
    }

    #[test]
    fn serve_and_follow_take_the_same_serving_options() {
        let serve =
            config_of(&[["cowd", "serve", "--max-body", "5KiB"].as_slice(), &SERVING].concat());
        assert_serving_options_applied(&serve);
        assert_eq!(
            serve.limits.max_body,
            5 * 1024,
            "a serve-only limit survives"
        );
        assert!(serve.follow.is_none());

        let follow = config_of(
            &[
                ["cowd", "follow", "--leader", "http://127.0.0.1:1"].as_slice(),
                &SERVING,
            ]
            .concat(),
        );
        assert_serving_options_applied(&follow);
        assert_eq!(
            follow.follow.expect("a follower").leader,
            "http://127.0.0.1:1"
        );
    }

    #[test]
    fn serving_options_left_out_keep_the_documented_defaults() {
        let defaults = ServeConfig::default();
        for args in [
            ["cowd", "serve"].as_slice(),
            &["cowd", "follow", "--leader", "http://127.0.0.1:1"],
        ] {
            let config = config_of(args);
            assert_eq!(config.listen, defaults.listen);
            assert_eq!(config.history, defaults.history);
            assert_eq!(config.history_bytes, defaults.history_bytes);
            assert_eq!(config.limits.max_long_poll, defaults.limits.max_long_poll);
            assert_eq!(config.io_threads, defaults.io_threads);
            assert_eq!(config.shutdown_timeout, defaults.shutdown_timeout);
        }
    }
}
