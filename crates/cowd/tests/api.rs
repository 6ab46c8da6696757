//! The HTTP API in detail, against an in-process server (`Instance::open` + `serve`, the same
//! router as the binary) over real loopback HTTP, with a real data dir.

mod common;

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn seeded(dir: &std::path::Path, doc: &Value) -> cowd::ServeConfig {
    let file = dir.join("seed.json");
    fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    cowd::ServeConfig {
        config_file: Some(file),
        ..config(&dir.join("data"))
    }
}

fn json_of(response: reqwest::blocking::Response) -> Value {
    response.json().unwrap()
}

#[test]
fn get_serves_the_document_with_etag_and_answers_304() {
    let dir = tempfile::tempdir().unwrap();
    let doc = json!({"log_level": "info", "timeouts": {"read_ms": 500}});
    let server = InProcess::start(seeded(dir.path(), &doc));
    let response = client().get(server.url("/v1/config")).send().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");
    assert_eq!(response.headers()["x-config-version"], "1");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(json_of(response), doc);

    for matching in ["\"1\"", "W/\"1\"", "\"7\", \"1\"", "*"] {
        let response = client()
            .get(server.url("/v1/config"))
            .header("if-none-match", matching)
            .send()
            .unwrap();
        assert_eq!(response.status(), 304, "If-None-Match: {matching}");
        assert_eq!(response.headers()["etag"], "\"1\"");
        assert_eq!(response.headers()["x-config-version"], "1");
        assert!(response.bytes().unwrap().is_empty());
    }
    let response = client()
        .get(server.url("/v1/config"))
        .header("if-none-match", "\"0\"")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn writes_create_versions_and_old_versions_stay_readable() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcess::start(seeded(dir.path(), &json!({"n": 0})));
    let base = server.url("");
    for n in 1..=3 {
        let response = put(&base, &json!({"n": n}).to_string());
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["etag"], format!("\"{}\"", n + 1));
        let body = json_of(response);
        assert_eq!(body["version"], n + 1);
        assert_eq!(body["origin"], "api");
    }
    assert_eq!(get_config(&base), (4, json!({"n": 3})));
    for v in 1..=4u64 {
        let response = client()
            .get(server.url(&format!("/v1/config?version={v}")))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["etag"], format!("\"{v}\""));
        assert_eq!(json_of(response), json!({"n": v - 1}));
    }
    let response = client()
        .get(server.url("/v1/config?version=99"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 404);
    let error = json_of(response);
    assert!(
        error["error"].as_str().unwrap().contains("GET /v1/history"),
        "{error}"
    );
    assert_eq!(
        error["detail"],
        json!({"version": 99, "oldest": 1, "current": 4})
    );

    let history = json_of(client().get(server.url("/v1/history")).send().unwrap());
    assert_eq!(history["current"], 4);
    let versions: Vec<u64> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [4, 3, 2, 1]);
    let first = &history["versions"][3];
    assert_eq!(first["origin"], "seed");
    assert_eq!(first["size"], br#"{"n":0}"#.len());
    assert!(first["published_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(history["versions"][0]["origin"], "api");
    let limited = json_of(
        client()
            .get(server.url("/v1/history?limit=2"))
            .send()
            .unwrap(),
    );
    assert_eq!(limited["versions"].as_array().unwrap().len(), 2);
    let listed = |query: &str| -> Vec<u64> {
        let body = json_of(
            client()
                .get(server.url(&format!("/v1/history?{query}")))
                .send()
                .unwrap(),
        );
        body["versions"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|e| e["version"].as_u64().unwrap())
            .collect()
    };
    // `after` (what a follower filling a gap asks for) keeps only newer versions.
    assert_eq!(listed("after=2"), [4, 3]);
    assert_eq!(listed("after=1&limit=1"), [4]);
    assert_eq!(listed("after=4"), Vec::<u64>::new());
    let bad = client()
        .get(server.url("/v1/history?after=two"))
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[test]
fn toml_and_yaml_bodies_are_converted_to_json() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcess::start(config(&dir.path().join("data")));
    let response = client()
        .put(server.url("/v1/config"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/toml")
        .body("[db]\nhosts = [\"a\", \"b\"]\n")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        get_config(&server.url("")).1,
        json!({"db": {"hosts": ["a", "b"]}})
    );
    let response = client()
        .put(server.url("/v1/config"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/yaml")
        .body("db:\n  hosts: [c]\n")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        get_config(&server.url("")).1,
        json!({"db": {"hosts": ["c"]}})
    );
}

/// Everything observable that a rejected write must leave alone.
#[derive(Debug, PartialEq)]
struct Observed {
    version: u64,
    doc: Value,
    history: Value,
    journal_len: u64,
}

fn observe(server: &InProcess, data: &std::path::Path) -> Observed {
    let (version, doc) = get_config(&server.url(""));
    Observed {
        version,
        doc,
        history: json_of(client().get(server.url("/v1/history")).send().unwrap())["versions"]
            .clone(),
        journal_len: fs::metadata(data.join("journal.log")).unwrap().len(),
    }
}

/// A metric's value, which must be present.
fn metric(server: &InProcess, name: &str) -> f64 {
    common::metric(&server.url(""), name).unwrap_or_else(|| panic!("{name} missing from /metrics"))
}

#[test]
fn every_rejected_write_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.json");
    fs::write(
        &schema,
        json!({
            "type": "object",
            "properties": {
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "hosts": {"type": "array", "items": {"type": "string"}}
            },
            "required": ["port"]
        })
        .to_string(),
    )
    .unwrap();
    let data = dir.path().join("data");
    let config = cowd::ServeConfig {
        schema: Some(schema),
        limits: cowd::state::Limits {
            max_body: 1024,
            ..Default::default()
        },
        ..seeded(dir.path(), &json!({"port": 80, "hosts": ["a"]}))
    };
    let server = InProcess::start(config);
    // One accepted write first, so the history has some depth.
    assert_eq!(put(&server.url(""), r#"{"port": 81}"#).status(), 200);
    let before = observe(&server, &data);
    let failures_before = metric(&server, "cowd_config_reload_failures_total");

    let request = |content_type: &str, body: String| {
        client()
            .put(server.url("/v1/config"))
            .bearer_auth(TOKEN)
            .header("content-type", content_type)
            .body(body)
    };
    let cases: Vec<(&str, reqwest::blocking::RequestBuilder, u16, &str)> = vec![
        (
            "malformed JSON",
            request(
                "application/json",
                "{\n  \"port\": 80,\n  \"hosts\": [\n}".into(),
            ),
            400,
            "malformed_document",
        ),
        (
            "malformed TOML",
            request("application/toml", "port = 80\nhosts = [\"a\"\n".into()),
            400,
            "malformed_document",
        ),
        (
            "malformed YAML",
            request("application/yaml", "port: 80\nhosts: [a\n".into()),
            400,
            "malformed_document",
        ),
        (
            "schema violation",
            request(
                "application/json",
                r#"{"port": 70000, "hosts": ["a", 7]}"#.into(),
            ),
            422,
            "schema_violation",
        ),
        (
            "oversized body",
            request(
                "application/json",
                format!(r#"{{"port": 80, "pad": "{}"}}"#, "x".repeat(2000)),
            ),
            413,
            "body_too_large",
        ),
        (
            "oversized chunked body",
            client()
                .put(server.url("/v1/config"))
                .bearer_auth(TOKEN)
                .body(reqwest::blocking::Body::new(std::io::Cursor::new(
                    format!(r#"{{"port": 80, "pad": "{}"}}"#, "x".repeat(5000)).into_bytes(),
                ))),
            413,
            "body_too_large",
        ),
        (
            "stale If-Match",
            request("application/json", r#"{"port": 82}"#.into()).header("if-match", "\"1\""),
            412,
            "version_conflict",
        ),
        (
            "malformed If-Match",
            request("application/json", r#"{"port": 82}"#.into()).header("if-match", "yesterday"),
            400,
            "bad_request",
        ),
        (
            "missing token",
            client()
                .put(server.url("/v1/config"))
                .body(r#"{"port": 82}"#),
            401,
            "unauthorized",
        ),
        (
            "invalid token",
            client()
                .put(server.url("/v1/config"))
                .bearer_auth("wrong")
                .body(r#"{"port": 82}"#),
            401,
            "unauthorized",
        ),
        (
            "rollback to an unknown version",
            client()
                .post(server.url("/v1/config/rollback?to=42"))
                .bearer_auth(TOKEN),
            404,
            "unknown_version",
        ),
        (
            "rollback without a token",
            client().post(server.url("/v1/config/rollback?to=1")),
            401,
            "unauthorized",
        ),
        (
            "rollback with a stale If-Match",
            client()
                .post(server.url("/v1/config/rollback?to=1"))
                .bearer_auth(TOKEN)
                .header("if-match", "\"1\""),
            412,
            "version_conflict",
        ),
    ];
    for (name, request, status, code) in cases {
        let response = request.send().unwrap();
        assert_eq!(response.status(), status, "{name}");
        if status == 401 {
            assert!(
                response.headers().contains_key("www-authenticate"),
                "{name}"
            );
        }
        let body = json_of(response);
        assert_eq!(body["code"], code, "{name}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.len() > 20),
            "{name}: {body}"
        );
        match name {
            "malformed JSON" => {
                assert_eq!(body["detail"]["line"], 4, "{body}");
                assert_eq!(body["detail"]["column"], 1, "{body}");
                assert_eq!(body["detail"]["format"], "JSON");
            }
            "malformed TOML" | "malformed YAML" => {
                assert!(body["detail"]["line"].as_u64().is_some(), "{name}: {body}");
                assert!(
                    body["detail"]["column"].as_u64().is_some(),
                    "{name}: {body}"
                );
            }
            "schema violation" => {
                let mut pointers: Vec<&str> = body["detail"]["violations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["pointer"].as_str().unwrap())
                    .collect();
                pointers.sort_unstable();
                assert_eq!(pointers, ["/hosts/1", "/port"], "{body}");
            }
            "stale If-Match" => {
                assert_eq!(body["detail"], json!({"expected": 1, "current": 2}));
            }
            _ => {}
        }
        assert_eq!(observe(&server, &data), before, "{name} changed something");
    }
    // The four refused documents (3 parse errors, 1 schema violation) were counted.
    assert_eq!(
        metric(&server, "cowd_config_reload_failures_total"),
        failures_before + 4.0
    );
    // And a good write still works afterwards, with If-Match.
    let response = request("application/json", r#"{"port": 82}"#.into())
        .header("if-match", "\"2\"")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(get_config(&server.url("")), (3, json!({"port": 82})));
}

#[test]
fn writes_are_disabled_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcess::start(cowd::ServeConfig {
        token: None,
        ..config(&dir.path().join("data"))
    });
    let response = put(&server.url(""), "{}");
    assert_eq!(response.status(), 403);
    let body = json_of(response);
    assert_eq!(body["code"], "writes_disabled");
    assert!(body["error"].as_str().unwrap().contains("--token-file"));
    assert_eq!(current_version(&server.url("")), 1);
}

#[test]
fn file_mode_refuses_api_writes_with_409() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.yaml");
    fs::write(&file, "a: 1\n").unwrap();
    let server = InProcess::start(cowd::ServeConfig {
        config_file: Some(file.clone()),
        watch: true,
        ..config(&dir.path().join("data"))
    });
    assert_eq!(get_config(&server.url("")), (1, json!({"a": 1})));
    for request in [
        client()
            .put(server.url("/v1/config"))
            .bearer_auth(TOKEN)
            .body("{}"),
        client().put(server.url("/v1/config")).body("{}"),
        client()
            .post(server.url("/v1/config/rollback?to=1"))
            .bearer_auth(TOKEN),
    ] {
        let response = request.send().unwrap();
        assert_eq!(response.status(), 409);
        let body = json_of(response);
        assert_eq!(body["code"], "read_only");
        assert!(
            body["error"].as_str().unwrap().contains("app.yaml"),
            "{body}"
        );
    }
    let ready = json_of(client().get(server.url("/readyz")).send().unwrap());
    assert_eq!(ready["mode"], "file");
    assert_eq!(current_version(&server.url("")), 1);
}

#[test]
fn rollback_publishes_an_old_version_as_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcess::start(seeded(dir.path(), &json!({"flag": false})));
    let base = server.url("");
    assert_eq!(put(&base, r#"{"flag": true, "extra": 1}"#).status(), 200);
    let response = client()
        .post(server.url("/v1/config/rollback?to=1"))
        .bearer_auth(TOKEN)
        .header("if-match", "\"2\"")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = json_of(response);
    assert_eq!(body["version"], 3);
    assert_eq!(body["origin"], "rollback");
    assert_eq!(get_config(&base), (3, json!({"flag": false})));
    let history = json_of(client().get(server.url("/v1/history")).send().unwrap());
    assert_eq!(history["versions"][0]["origin"], "rollback");
    assert_eq!(history["versions"][0]["rollback_of"], 1);
    let missing = client()
        .post(server.url("/v1/config/rollback"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(missing.status(), 400);
}

#[test]
fn diffs_are_json_patches_that_turn_a_into_b() {
    let dir = tempfile::tempdir().unwrap();
    let docs = [
        json!({"log": "info", "hosts": ["a", "b"], "limits": {"rps": 10}}),
        json!({"log": "debug", "hosts": ["a", "b", "c"], "limits": {"rps": 10, "burst": 5}}),
        json!({"hosts": ["c"], "limits": {"burst": 5}, "new": {"deep": [1, {"x": null}]}}),
        json!([1, 2, 3]),
        json!({"log": "info/with~special", "a/b": {"~": true}}),
    ];
    let server = InProcess::start(seeded(dir.path(), &docs[0]));
    for doc in &docs[1..] {
        assert_eq!(put(&server.url(""), &doc.to_string()).status(), 200);
    }
    for (a, doc_a) in docs.iter().enumerate() {
        for (b, doc_b) in docs.iter().enumerate() {
            let (va, vb) = (a + 1, b + 1);
            let response = client()
                .get(server.url(&format!("/v1/config/diff?from={va}&to={vb}")))
                .send()
                .unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(
                response.headers()["content-type"],
                "application/json-patch+json"
            );
            let patch: json_patch::Patch = response.json().unwrap();
            if a == b {
                assert!(patch.0.is_empty());
            }
            let mut patched = doc_a.clone();
            json_patch::patch(&mut patched, &patch).unwrap();
            assert_eq!(&patched, doc_b, "diff {va} -> {vb}");
        }
    }
    // `to` defaults to the current version.
    let patch: json_patch::Patch = get_json(&server.url("/v1/config/diff?from=1"));
    let mut patched = docs[0].clone();
    json_patch::patch(&mut patched, &patch).unwrap();
    assert_eq!(patched, docs[4]);
    let unknown = client()
        .get(server.url("/v1/config/diff?from=1&to=77"))
        .send()
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(json_of(unknown)["code"], "unknown_version");
    let no_from = client().get(server.url("/v1/config/diff")).send().unwrap();
    assert_eq!(no_from.status(), 400);
    let bad_query = client()
        .get(server.url("/v1/config/diff?from=one"))
        .send()
        .unwrap();
    assert_eq!(bad_query.status(), 400);
    assert_eq!(json_of(bad_query)["code"], "bad_request");
}

#[test]
fn long_poll_answers_on_publish_or_304_on_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcess::start(seeded(dir.path(), &json!({"v": 1})));
    let base = server.url("");

    // Timeout: 304 with the current version's headers.
    let started = Instant::now();
    let response = client()
        .get(server.url("/v1/config/watch?after=1&timeout_ms=300"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 304);
    assert!(started.elapsed() >= Duration::from_millis(290));
    assert_eq!(response.headers()["x-config-version"], "1");

    // Already newer: answers at once.
    let response = client()
        .get(server.url("/v1/config/watch?after=0&timeout_ms=60000"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");

    // A publish wakes every waiter with the new document and headers.
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let url = server.url("/v1/config/watch?after=1&timeout_ms=60000");
            thread::spawn(move || {
                let response = client().get(url).send().unwrap();
                let status = response.status().as_u16();
                let version = header_u64(&response, "x-config-version");
                (status, version, response.json::<Value>().unwrap())
            })
        })
        .collect();
    eventually("8 waiting long-polls", || {
        (metric(&server, "cowd_watch_waiting") >= 8.0).then_some(())
    });
    assert_eq!(put(&base, r#"{"v": 2}"#).status(), 200);
    for waiter in waiters {
        assert_eq!(waiter.join().unwrap(), (200, 2, json!({"v": 2})));
    }
    // Without `after`, it waits for the next version.
    let waiter = {
        let url = server.url("/v1/config/watch?timeout_ms=60000");
        thread::spawn(move || client().get(url).send().unwrap().status().as_u16())
    };
    eventually("a waiting long-poll", || {
        (metric(&server, "cowd_watch_waiting") >= 1.0).then_some(())
    });
    assert_eq!(put(&base, r#"{"v": 3}"#).status(), 200);
    assert_eq!(waiter.join().unwrap(), 200);
    let bad = client()
        .get(server.url("/v1/config/watch?after=x"))
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[test]
fn long_polls_end_promptly_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = InProcess::start(config(&dir.path().join("data")));
    let url = server.url("/v1/config/watch?after=1&timeout_ms=120000");
    let waiter = thread::spawn(move || {
        let started = Instant::now();
        let status = client().get(url).send().unwrap().status().as_u16();
        (status, started.elapsed())
    });
    eventually("a waiting long-poll", || {
        (metric(&server, "cowd_watch_waiting") >= 1.0).then_some(())
    });
    server.stop();
    let (status, waited) = waiter.join().unwrap();
    assert_eq!(status, 304);
    assert!(waited < Duration::from_secs(60), "{waited:?}");
}

#[test]
fn events_stream_one_event_per_version_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcess::start(seeded(dir.path(), &json!({"i": 0})));
    let base = server.url("");
    let stream = client().get(server.url("/v1/events")).send().unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let reader = thread::spawn(move || read_events(stream, 11));
    eventually("the event stream to be open", || {
        (metric(&server, "cowd_sse_clients") >= 1.0).then_some(())
    });
    // A burst of writes: the stream must still carry every version.
    for i in 1..=10 {
        assert_eq!(put(&base, &json!({"i": i}).to_string()).status(), 200);
    }
    let events = reader.join().unwrap();
    let ids: Vec<u64> = events.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (1..=11).collect::<Vec<_>>());
    for (id, data) in &events {
        assert_eq!(data["version"], *id);
        assert_eq!(data["config"], json!({"i": id - 1}));
        assert!(data["published_at"].is_string());
    }
    assert_eq!(events[0].1["origin"], "seed");
    assert_eq!(events[1].1["origin"], "api");

    // Resuming with Last-Event-ID replays what was missed.
    let resumed = client()
        .get(server.url("/v1/events"))
        .header("last-event-id", "8")
        .send()
        .unwrap();
    let ids: Vec<u64> = read_events(resumed, 3).iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [9, 10, 11]);
}

#[test]
fn metrics_expose_config_store_and_http_series() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcess::start(seeded(dir.path(), &json!({"a": 1})));
    assert_eq!(put(&server.url(""), r#"{"a": 2}"#).status(), 200);
    assert_eq!(put(&server.url(""), "{").status(), 400);
    let _ = client().get(server.url("/v1/config")).send().unwrap();
    let response = client().get(server.url("/metrics")).send().unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().unwrap();
    for name in [
        "cowd_config_version 2",
        "cowd_config_updates_total 1",
        "cowd_config_reload_failures_total 1",
        "cowd_config_age_seconds ",
        "# TYPE cowd_config_updates_total counter",
        "# TYPE cowd_config_version gauge",
        "cowstore_pinned_versions{store=\"config\"} ",
        "cowstore_pinned_bytes{store=\"config\"} ",
        "cowstore_oldest_pinned_seconds{store=\"config\"} ",
        "# TYPE cowstore_read_barriers_total counter",
        "cowstore_read_barriers_total{store=\"config\"} ",
        "cowd_http_requests_total{route=\"/v1/config\",method=\"PUT\",status=\"200\"} 1",
        "cowd_http_requests_total{route=\"/v1/config\",method=\"PUT\",status=\"400\"} 1",
        "cowd_http_requests_total{route=\"/v1/config\",method=\"GET\",status=\"200\"} 1",
        "# TYPE cowd_http_request_duration_seconds histogram",
        "cowd_http_request_duration_seconds_bucket{route=\"/v1/config\",le=\"+Inf\"} 3",
        "cowd_http_request_duration_seconds_count{route=\"/v1/config\"} 3",
    ] {
        assert!(text.contains(name), "missing `{name}` in\n{text}");
    }
    let age = metric(&server, "cowd_config_age_seconds");
    assert!((0.0..60.0).contains(&age), "{age}");
}

#[test]
fn health_readiness_dashboard_and_json_errors_for_unknown_routes() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcess::start(config(&dir.path().join("data")));
    let health = client().get(server.url("/healthz")).send().unwrap();
    assert_eq!(health.status(), 200);
    let ready = json_of(client().get(server.url("/readyz")).send().unwrap());
    assert_eq!(
        ready,
        json!({"status": "ready", "version": 1, "mode": "embedded"})
    );
    let page = client().get(server.url("/")).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().unwrap();
    assert!(html.contains("id=\"version\"") && html.contains("/v1/events"));
    let missing = client().get(server.url("/v2/nothing")).send().unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(json_of(missing)["code"], "not_found");
    let wrong_method = client().delete(server.url("/v1/config")).send().unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(json_of(wrong_method)["code"], "method_not_allowed");
    // A fresh data dir without --config starts from `{}`.
    assert_eq!(get_config(&server.url("")), (1, json!({})));
}

#[test]
fn history_is_also_bounded_by_size_in_memory_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = cowd::ServeConfig {
        history_bytes: 250,
        ..config(&data)
    };
    let doc = |i: usize| json!({"i": i, "pad": "x".repeat(80)});
    let size = doc(1).to_string().len() as u64;
    assert!(
        (84..125).contains(&size),
        "two documents fit in 250 bytes, three do not"
    );
    let mut server = InProcess::start(config.clone());
    for i in 1..=5 {
        assert_eq!(put(&server.url(""), &doc(i).to_string()).status(), 200);
    }
    let check = |server: &InProcess| {
        let history = json_of(client().get(server.url("/v1/history")).send().unwrap());
        let versions: Vec<u64> = history["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["version"].as_u64().unwrap())
            .collect();
        assert_eq!(versions, [6, 5], "{history}");
        assert_eq!(history["history_bytes"], 2 * size);
        assert_eq!(history["history_bytes_limit"], 250);
        assert_eq!(
            metric(server, "cowd_config_history_bytes"),
            (2 * size) as f64
        );
        let pruned = client()
            .get(server.url("/v1/config?version=4"))
            .send()
            .unwrap();
        assert_eq!(pruned.status(), 404);
        assert_eq!(get_config(&server.url("")), (6, doc(5)));
    };
    check(&server);
    server.stop();
    drop(server);
    // The journal kept all six (--history is 1000); memory holds what fits.
    let server = InProcess::start(config);
    check(&server);
    // A document larger than the whole limit is still served: the current version stays.
    let big = json!({"pad": "y".repeat(400)});
    assert_eq!(put(&server.url(""), &big.to_string()).status(), 200);
    assert_eq!(get_config(&server.url("")), (7, big));
    assert_eq!(history_len(&server), 1);
}

fn history_len(server: &InProcess) -> usize {
    let history = json_of(client().get(server.url("/v1/history")).send().unwrap());
    history["versions"].as_array().unwrap().len()
}

#[test]
fn history_is_pruned_to_the_limit_and_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = cowd::ServeConfig {
        history: 3,
        ..config(&data)
    };
    let mut server = InProcess::start(config.clone());
    for i in 1..=5 {
        assert_eq!(
            put(&server.url(""), &json!({"i": i}).to_string()).status(),
            200
        );
    }
    let before = json_of(client().get(server.url("/v1/history")).send().unwrap());
    assert_eq!(before["versions"].as_array().unwrap().len(), 3);
    assert_eq!(before["oldest"], 4);
    let pruned = client()
        .get(server.url("/v1/config?version=3"))
        .send()
        .unwrap();
    assert_eq!(pruned.status(), 404);
    server.stop();
    drop(server);

    let server = InProcess::start(config);
    assert_eq!(get_config(&server.url("")), (6, json!({"i": 5})));
    // After a restart the store's own counter restarts at 1; cowd's versions must not.
    for pruned in [1, 2, 3] {
        let response = client()
            .get(server.url(&format!("/v1/config?version={pruned}")))
            .send()
            .unwrap();
        assert_eq!(response.status(), 404, "version {pruned} was pruned");
    }
    let response = client()
        .get(server.url("/v1/config"))
        .header("if-none-match", "\"1\"")
        .send()
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "ETag \"1\" is not the current version"
    );
    let after = json_of(client().get(server.url("/v1/history")).send().unwrap());
    assert_eq!(
        after["versions"], before["versions"],
        "history with timestamps survives"
    );
    assert_eq!(put(&server.url(""), "{}").status(), 200);
    assert_eq!(current_version(&server.url("")), 7);
}
