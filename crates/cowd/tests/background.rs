//! `cowd::BackgroundServer`: a server on a thread of its own — how it starts, how it refuses
//! to start, and that stopping or dropping it shuts it down gracefully.

mod common;

use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{PATIENCE, client, config, get_config};
use serde_json::json;

#[test]
fn serves_on_a_free_port_and_its_state_is_the_servers() {
    let dir = tempfile::tempdir().unwrap();
    let server = cowd::BackgroundServer::start(config(&dir.path().join("data"))).unwrap();
    assert!(server.addr().ip().is_loopback());
    assert_ne!(server.addr().port(), 0);
    assert_eq!(
        server.url("/v1/config"),
        format!("http://{}/v1/config", server.addr())
    );
    let response = client()
        .put(server.url("/v1/config"))
        .bearer_auth(common::TOKEN)
        .json(&json!({"level": 3}))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(get_config(&server.url("")), (2, json!({"level": 3})));
    // The handle's state is the live instance's, not a copy taken at start.
    assert_eq!(server.state().versions().current().version(), 2);
    server.stop().unwrap();
}

#[test]
fn an_unusable_data_dir_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "not a data dir").unwrap();
    let error = cowd::BackgroundServer::start(config(&not_a_dir)).unwrap_err();
    assert!(
        matches!(error, cowd::StartError::Journal(_)),
        "unexpected error: {error}"
    );
}

#[test]
fn a_taken_address_is_a_bind_error_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let error = cowd::BackgroundServer::start(cowd::ServeConfig {
        listen: addr,
        ..config(&dir.path().join("data"))
    })
    .unwrap_err();
    match &error {
        cowd::StartError::Bind { addr: reported, .. } => assert_eq!(*reported, addr),
        other => panic!("expected a bind error, got {other}"),
    }
    assert!(error.to_string().contains(&addr.to_string()), "{error}");
}

#[test]
fn stop_answers_an_open_long_poll_and_closes_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let server = cowd::BackgroundServer::start(config(&dir.path().join("data"))).unwrap();
    let addr = server.addr();
    let poll_url = server.url("/v1/config/watch?after=1&timeout_ms=60000");
    let poll = thread::spawn(move || {
        let started = Instant::now();
        let status = client().get(poll_url).send().unwrap().status();
        (status, started.elapsed())
    });
    // Let the long-poll reach the server before stopping it.
    common::eventually("the long-poll to be waiting", || {
        let waiting = common::metric(&server.url(""), "cowd_watch_waiting");
        waiting.is_some_and(|n| n >= 1.0).then_some(())
    });
    server.stop().unwrap();
    let (status, waited) = poll.join().unwrap();
    assert_eq!(status, 304, "a stopping server answers waiting long-polls");
    assert!(waited < PATIENCE, "the long-poll waited {waited:?}");
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "nothing listens on {addr} after stop"
    );
}

#[test]
fn dropping_the_handle_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = cowd::BackgroundServer::start(config(&dir.path().join("data"))).unwrap();
    let addr = server.addr();
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok());
    drop(server);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    // The data dir is free again: a new server opens it and finds the history.
    let again = cowd::BackgroundServer::start(config(&dir.path().join("data"))).unwrap();
    assert_eq!(again.state().versions().current().version(), 1);
}
