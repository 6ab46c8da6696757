//! `GET /metrics`: Prometheus text exposition of the configuration state, the core store's
//! pinned-snapshot diagnostics and HTTP request counts and latencies.
//!
//! Request accounting is a fixed table of atomics (route × method × status, and one latency
//! histogram per route), so the hot path takes no lock and allocates nothing.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The routes counted separately; anything else is `other`.
pub const ROUTES: [&str; 10] = [
    "/",
    "/v1/config",
    "/v1/config/watch",
    "/v1/events",
    "/v1/config/rollback",
    "/v1/history",
    "/v1/config/diff",
    "/metrics",
    "/healthz",
    "/readyz",
];
const ROUTE_SLOTS: usize = ROUTES.len() + 1;
const METHODS: [&str; 5] = ["GET", "HEAD", "PUT", "POST", "other"];
const STATUSES: [u16; 18] = [
    200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 500, 503, 504, 0,
];
/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 18] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

/// HTTP request counters and latency histograms.
pub struct HttpMetrics {
    counts: Vec<AtomicU64>,
    latency: Vec<Histogram>,
    long_polls: AtomicU64,
    event_streams: AtomicU64,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            counts: (0..ROUTE_SLOTS * METHODS.len() * STATUSES.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: (0..ROUTE_SLOTS).map(|_| Histogram::default()).collect(),
            long_polls: AtomicU64::new(0),
            event_streams: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for HttpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetrics").finish_non_exhaustive()
    }
}

/// Counts an in-flight long-running response while alive.
#[derive(Debug)]
pub struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl HttpMetrics {
    fn record(&self, route: usize, method: &Method, status: u16, elapsed_nanos: u64) {
        let method = match *method {
            Method::GET => 0,
            Method::HEAD => 1,
            Method::PUT => 2,
            Method::POST => 3,
            _ => 4,
        };
        let status = STATUSES
            .iter()
            .position(|&s| s == status)
            .unwrap_or(STATUSES.len() - 1);
        let slot = (route * METHODS.len() + method) * STATUSES.len() + status;
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        let histogram = &self.latency[route];
        let seconds = elapsed_nanos as f64 / 1e9;
        if let Some(bucket) = BUCKETS.iter().position(|&b| seconds <= b) {
            histogram.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
        histogram.count.fetch_add(1, Ordering::Relaxed);
        histogram
            .sum_nanos
            .fetch_add(elapsed_nanos, Ordering::Relaxed);
    }

    /// Marks a long-poll as waiting (`cowd_watch_waiting`) until the guard drops.
    pub fn long_poll(&self) -> InFlight<'_> {
        self.long_polls.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.long_polls)
    }

    /// The number of open event streams (`cowd_sse_clients`).
    pub(crate) fn event_streams(&self) -> &AtomicU64 {
        &self.event_streams
    }
}

fn route_index(path: Option<&MatchedPath>) -> usize {
    path.and_then(|p| ROUTES.iter().position(|r| *r == p.as_str()))
        .unwrap_or(ROUTES.len())
}

/// Middleware counting every request by route, method and status, and timing it until the
/// response head is ready.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_index(request.extensions().get::<MatchedPath>());
    let method = request.method().clone();
    let response = next.run(request).await;
    let elapsed = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    state
        .metrics()
        .record(route, &method, response.status().as_u16(), elapsed);
    response
}

/// Writes one gauge in the Prometheus text format.
pub(crate) fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    labeled_gauge(out, name, "", help, value);
}

/// Writes one gauge with a label set (`{k="v"}`, or empty).
pub(crate) fn labeled_gauge(
    out: &mut String,
    name: &str,
    labels: &str,
    help: &str,
    value: impl std::fmt::Display,
) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{labels} {value}"
    );
}

/// Writes one counter in the Prometheus text format.
pub(crate) fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    labeled_counter(out, name, "", help, value);
}

/// Writes one counter with a label set (`{k="v"}`, or empty).
pub(crate) fn labeled_counter(out: &mut String, name: &str, labels: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name}{labels} {value}"
    );
}

/// Renders the metrics in the Prometheus text format.
pub fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let versions = state.versions();
    let current = versions.current();
    gauge(
        &mut out,
        "cowd_config_version",
        "The configuration version being served.",
        current.version(),
    );
    gauge(
        &mut out,
        "cowd_config_age_seconds",
        "Seconds since the served version was accepted.",
        current.age().as_secs_f64(),
    );
    gauge(
        &mut out,
        "cowd_config_published_timestamp_seconds",
        "Unix time at which the served version was accepted.",
        current.published_at_ms() as f64 / 1000.0,
    );
    gauge(
        &mut out,
        "cowd_config_size_bytes",
        "Size of the served document (compact JSON).",
        current.size(),
    );
    counter(
        &mut out,
        "cowd_config_updates_total",
        "New versions accepted since the process started.",
        versions.updates_total(),
    );
    counter(
        &mut out,
        "cowd_config_reload_failures_total",
        "Candidate documents refused since the process started (unreadable file, parse error, schema violation), from the file or the API.",
        versions.reload_failures_total(),
    );
    gauge(
        &mut out,
        "cowd_config_history_versions",
        "Versions kept in the history.",
        versions.history_len(),
    );
    gauge(
        &mut out,
        "cowd_config_history_bytes",
        "Total size of the documents in the history (bounded by --history-bytes).",
        versions.history_bytes(),
    );
    gauge(
        &mut out,
        "cowd_config_oldest_version",
        "The oldest version still in the history.",
        versions.oldest(),
    );
    let ready = u8::from(state.backend().readiness().is_ok() && !state.shutdown().is_triggered());
    gauge(&mut out, "cowd_ready", "1 when /readyz answers 200.", ready);
    let _ = writeln!(
        out,
        "# HELP cowd_info Build and mode of this server.\n# TYPE cowd_info gauge\ncowd_info{{version=\"{}\",mode=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        state.backend().mode()
    );
    gauge(
        &mut out,
        "cowd_uptime_seconds",
        "Seconds since the server started.",
        state.uptime().as_secs_f64(),
    );
    let metrics = state.metrics();
    gauge(
        &mut out,
        "cowd_watch_waiting",
        "Long-poll requests (GET /v1/config/watch) waiting for a new version.",
        metrics.long_polls.load(Ordering::Relaxed),
    );
    gauge(
        &mut out,
        "cowd_sse_clients",
        "Open event streams (GET /v1/events).",
        metrics.event_streams.load(Ordering::Relaxed),
    );

    // The core store's diagnostics: old versions still pinned by readers.
    let stats = versions.store().stats();
    let label = "{store=\"config\"}";
    let core_gauges: [(&str, &str, f64); 5] = [
        (
            "cowstore_pinned_versions",
            "Retired versions still alive because a reader (a slow response, a stream) holds them.",
            stats.pinned_versions as f64,
        ),
        (
            "cowstore_pinned_bytes",
            "Estimated bytes held by pinned retired versions.",
            stats.pinned_bytes as f64,
        ),
        (
            "cowstore_oldest_pinned_seconds",
            "How long the oldest pinned version has been retired.",
            stats
                .oldest_pinned
                .as_ref()
                .map_or(0.0, |p| p.retired_for.as_secs_f64()),
        ),
        (
            "cowstore_subscribers",
            "Live subscriptions to the store (long-polls, event streams).",
            stats.subscribers as f64,
        ),
        (
            "cowstore_age_seconds",
            "Seconds since the store's last publish in this process.",
            stats.age.as_secs_f64(),
        ),
    ];
    for (name, help, value) in core_gauges {
        labeled_gauge(&mut out, name, label, help, value);
    }
    let core_counters: [(&str, &str, u64); 3] = [
        (
            "cowstore_publishes_total",
            "Publishes into the store in this process.",
            stats.publishes,
        ),
        (
            "cowstore_read_barriers_total",
            "Process-wide memory barriers (membarrier) the store's publishes ran; each interrupts the CPUs running reader threads.",
            stats.read_barriers,
        ),
        (
            "cowstore_reclaimed_total",
            "Retired versions whose memory was released.",
            stats.reclaimed,
        ),
    ];
    for (name, help, value) in core_counters {
        labeled_counter(&mut out, name, label, help, value);
    }

    state.backend().render_metrics(&mut out);

    // HTTP.
    let route_name = |i: usize| ROUTES.get(i).copied().unwrap_or("other");
    out.push_str("# HELP cowd_http_requests_total HTTP requests by route, method and status.\n# TYPE cowd_http_requests_total counter\n");
    for route in 0..ROUTE_SLOTS {
        for (m, method) in METHODS.iter().enumerate() {
            for (s, status) in STATUSES.iter().enumerate() {
                let slot = (route * METHODS.len() + m) * STATUSES.len() + s;
                let n = metrics.counts[slot].load(Ordering::Relaxed);
                if n > 0 {
                    let status = if *status == 0 {
                        "other".to_owned()
                    } else {
                        status.to_string()
                    };
                    let _ = writeln!(
                        out,
                        "cowd_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                        route_name(route)
                    );
                }
            }
        }
    }
    out.push_str("# HELP cowd_http_request_duration_seconds Time to the response head, by route.\n# TYPE cowd_http_request_duration_seconds histogram\n");
    for (route, histogram) in metrics.latency.iter().enumerate() {
        let count = histogram.count.load(Ordering::Relaxed);
        if count == 0 {
            continue;
        }
        let name = route_name(route);
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&histogram.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "cowd_http_request_duration_seconds_bucket{{route=\"{name}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "cowd_http_request_duration_seconds_bucket{{route=\"{name}\",le=\"+Inf\"}} {count}\ncowd_http_request_duration_seconds_sum{{route=\"{name}\"}} {}\ncowd_http_request_duration_seconds_count{{route=\"{name}\"}} {count}",
            histogram.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
        );
    }
    out
}

/// `GET /metrics`.
pub async fn handler(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        render(&state),
    )
}
