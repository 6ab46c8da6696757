//! `GET /v1/events`: Server-Sent Events, one `config` event per published version.
//!
//! Each event has `id:` = the version and `data:` = the history entry (version, timestamp,
//! origin, size) plus the document under `"config"`. A new stream starts with the current
//! version; a reconnecting client that sends `Last-Event-ID` gets every version after it that
//! is still in the history, then live ones. The store's subscription coalesces versions
//! published in a burst; the stream fills the gaps from the history, so no version is skipped.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use crate::http::routes::history_entry;
use crate::record::VersionRecord;
use crate::state::AppState;
use crate::versions::Current;

/// Builds the SSE event for one version.
pub fn event_for(record: &VersionRecord) -> Event {
    let mut data = serde_json::to_string(&history_entry(record)).expect("JSON always serializes");
    data.pop(); // the closing brace
    data.push_str(",\"config\":");
    data.push_str(std::str::from_utf8(record.body()).expect("documents are UTF-8 JSON"));
    data.push('}');
    Event::default()
        .event("config")
        .id(record.version().to_string())
        .data(data)
}

/// Decrements `cowd_sse_clients` when the stream is dropped.
struct Open(AppState);

impl Drop for Open {
    fn drop(&mut self) {
        self.0
            .metrics()
            .event_streams()
            .fetch_sub(1, Ordering::Relaxed);
    }
}

struct StreamState {
    subscription: cowstore::Subscription<Current>,
    backlog: VecDeque<Current>,
    last_sent: u64,
    open: Open,
}

/// `GET /v1/events`.
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let versions = state.versions();
    let subscription = versions.subscribe();
    let current = versions.current();
    let resume_after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (backlog, last_sent): (VecDeque<Current>, u64) = match resume_after {
        Some(id) if id <= current.version() => (versions.since(id).into(), id),
        _ if current.version() == 0 => (VecDeque::new(), 0),
        _ => (VecDeque::from([current.clone()]), 0),
    };
    state
        .metrics()
        .event_streams()
        .fetch_add(1, Ordering::Relaxed);
    let stream_state = StreamState {
        subscription,
        backlog,
        last_sent,
        open: Open(state.clone()),
    };
    let stream = futures_util::stream::unfold(stream_state, |mut st| async move {
        loop {
            if let Some(record) = st.backlog.pop_front() {
                if record.version() > st.last_sent {
                    st.last_sent = record.version();
                    return Some((Ok(event_for(&record)), st));
                }
                continue;
            }
            let state = st.open.0.clone();
            let shutdown = state.shutdown();
            if shutdown.is_triggered() {
                return None;
            }
            tokio::select! {
                changed = st.subscription.changed() => {
                    let Ok(latest) = changed else { return None };
                    let missed = state.versions().since(st.last_sent);
                    if missed.is_empty() {
                        st.backlog.push_back(Current::clone(&latest));
                    } else {
                        st.backlog.extend(missed);
                    }
                }
                () = shutdown.wait() => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
