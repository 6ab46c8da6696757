//! Follower mode against real binaries: `cowd follow --leader URL` copying a `cowd serve`
//! leader, through leader restarts, with delta sync.

mod common;

use std::net::SocketAddr;

use common::*;
use nix::sys::signal::Signal;
use serde_json::{Value, json};

/// Fast retries and a short staleness threshold so the tests see state changes quickly.
const FOLLOW_ARGS: &[&str] = &[
    "--long-poll",
    "2s",
    "--stale-after",
    "3s",
    "--max-backoff",
    "200ms",
    "--io-threads",
    "1",
];

fn wait_version(node: &Daemon, version: u64) -> Value {
    eventually(&format!("{} to serve version {version}", node.addr), || {
        let response = client().get(node.url("/v1/config")).send().ok()?;
        if response.status() != 200 {
            return None;
        }
        let v = header_u64(&response, "x-config-version");
        assert!(
            v <= version,
            "the follower went past version {version}: {v}"
        );
        (v == version).then(|| response.json().unwrap())
    })
}

fn wait_status(node: &Daemon, path: &str, status: u16) {
    eventually(
        &format!("{path} on {} to answer {status}", node.addr),
        || (status_of(&node.url(""), path) == status).then_some(()),
    );
}

fn metric_of(node: &Daemon, name: &str) -> f64 {
    metric(&node.url(""), name).unwrap_or_else(|| panic!("no metric {name}"))
}

/// A leader with its data dir under `work`, accepting writes with `TOKEN`.
fn start_leader(work: &std::path::Path) -> Daemon {
    Daemon::start(
        &work.join("leader"),
        &work.join("leader-data"),
        &["--io-threads", "1"],
        &[("COWD_TOKEN", TOKEN)],
    )
}

#[test]
fn a_follower_serves_the_leaders_versions_and_refuses_writes_naming_the_leader() {
    let work = tempfile::tempdir().unwrap();
    let leader = start_leader(work.path());
    let leader_url = leader.url("");
    let follower = Daemon::follow(&work.path().join("follower"), &leader_url, FOLLOW_ARGS);
    wait_status(&follower, "/readyz", 200);

    let mut versions = Vec::new();
    for i in 0..3 {
        let r = put(&leader_url, &json!({"step": i, "name": "svc"}).to_string());
        assert_eq!(r.status(), 200);
        let v = header_u64(&r, "x-config-version");
        let doc = wait_version(&follower, v);
        assert_eq!(doc, json!({"step": i, "name": "svc"}));
        versions.push(v);
    }
    // Same version numbers, ETags and bytes as the leader.
    let on = |base: &str, path: &str| client().get(format!("{base}{path}")).send().unwrap();
    let (l, f) = (
        on(&leader_url, "/v1/config"),
        on(&follower.url(""), "/v1/config"),
    );
    for h in [
        "etag",
        "x-config-version",
        "x-config-sha256",
        "x-config-published-ms",
    ] {
        assert_eq!(l.headers()[h], f.headers()[h], "{h}");
    }
    assert_eq!(l.bytes().unwrap(), f.bytes().unwrap());
    // Conditional GET on the follower.
    let etag = format!("\"{}\"", versions[2]);
    let r = client()
        .get(follower.url("/v1/config"))
        .header("if-none-match", &etag)
        .send()
        .unwrap();
    assert_eq!(r.status(), 304);
    // Versions seen since it started are in its history, with the leader's numbers.
    let r = on(
        &follower.url(""),
        &format!("/v1/config?version={}", versions[1]),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["step"], 1);
    let history: Value = on(&follower.url(""), "/v1/history").json().unwrap();
    assert_eq!(history["mode"], "follower");
    let seen: Vec<u64> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert!(versions.iter().all(|v| seen.contains(v)), "{seen:?}");
    assert!(history["versions"][0]["origin"] == "leader");
    // Diffs work on the follower too.
    let r = on(
        &follower.url(""),
        &format!("/v1/config/diff?from={}&to={}", versions[0], versions[2]),
    );
    assert_eq!(r.status(), 200);

    // Watch and SSE on the follower see the next leader write.
    let watch = std::thread::spawn({
        let url = follower.url(&format!(
            "/v1/config/watch?after={}&timeout_ms=20000",
            versions[2]
        ));
        move || client().get(url).send().unwrap()
    });
    let events = client()
        .get(follower.url("/v1/events"))
        .header("last-event-id", versions[2].to_string())
        .send()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let r = put(&leader_url, r#"{"step": 3}"#);
    let v3 = header_u64(&r, "x-config-version");
    let watched = watch.join().unwrap();
    assert_eq!(watched.status(), 200);
    assert_eq!(header_u64(&watched, "x-config-version"), v3);
    let got = read_events(events, 1);
    assert_eq!(got[0].0, v3);
    assert_eq!(got[0].1["config"], json!({"step": 3}));

    // Writes are refused with 409 naming the leader (even with a token).
    for request in [
        client()
            .put(follower.url("/v1/config"))
            .bearer_auth(TOKEN)
            .body("{}"),
        client()
            .post(follower.url(&format!("/v1/config/rollback?to={}", versions[0])))
            .bearer_auth(TOKEN),
    ] {
        let r = request.send().unwrap();
        assert_eq!(r.status(), 409);
        let body: Value = r.json().unwrap();
        assert_eq!(body["code"], "read_only");
        assert!(
            body["error"].as_str().unwrap().contains(&leader_url),
            "{body}"
        );
    }
    assert_eq!(wait_version(&follower, v3), json!({"step": 3}));

    // Metrics.
    assert_eq!(metric_of(&follower, "cowd_follower_lag_versions"), 0.0);
    assert!(metric_of(&follower, "cowd_follower_last_sync_age_seconds") < 60.0);
    assert_eq!(metric_of(&follower, "cowd_follower_connected"), 1.0);
    assert_eq!(metric_of(&follower, "cowd_follower_stale"), 0.0);
    assert_eq!(metric_of(&follower, "cowd_config_version"), v3 as f64);
}

#[test]
fn a_follower_is_not_ready_before_its_first_sync_and_survives_the_leader_restarting() {
    let work = tempfile::tempdir().unwrap();
    // The leader's address is chosen first; nothing listens there yet.
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let leader_url = format!("http://{addr}");
    let follower = Daemon::follow(&work.path().join("follower"), &leader_url, FOLLOW_ARGS);
    wait_status(&follower, "/healthz", 200);
    assert_eq!(status_of(&follower.url(""), "/readyz"), 503);
    let r = client().get(follower.url("/v1/config")).send().unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<Value>().unwrap()["code"], "not_synced");
    let readyz: Value = get_json(&follower.url("/readyz"));
    assert!(
        readyz["error"].as_str().unwrap().contains(&leader_url),
        "{readyz}"
    );
    assert!(metric_of(&follower, "cowd_follower_errors_total") >= 1.0);

    // The leader appears: the follower syncs and becomes ready.
    let leader_data = work.path().join("leader-data");
    let mut leader = Daemon::start_at(
        &work.path().join("leader"),
        addr,
        &leader_data,
        &["--io-threads", "1"],
    );
    let v1 = leader.version();
    wait_version(&follower, v1);
    wait_status(&follower, "/readyz", 200);

    for round in 0..2 {
        // The leader dies (SIGKILL): the follower keeps serving its copy, reports staleness.
        let r = put_with_token(&leader_url, &json!({"round": round}));
        let before = header_u64(&r, "x-config-version");
        assert_eq!(wait_version(&follower, before), json!({"round": round}));
        leader.kill9();
        wait_status(&follower, "/readyz", 503);
        let (v, doc) = get_config(&follower.url(""));
        assert_eq!((v, doc), (before, json!({"round": round})));
        assert_eq!(metric_of(&follower, "cowd_follower_stale"), 1.0);
        assert_eq!(metric_of(&follower, "cowd_follower_connected"), 0.0);

        // The leader restarts on the same address with its data: the follower reconnects
        // (backoff) and catches up with a new write.
        leader = Daemon::start_at(
            &work.path().join("leader"),
            addr,
            &leader_data,
            &["--io-threads", "1"],
        );
        assert_eq!(leader.version(), before, "the leader kept its history");
        let r = put_with_token(&leader_url, &json!({"round": round, "after": "restart"}));
        let after = header_u64(&r, "x-config-version");
        assert_eq!(
            wait_version(&follower, after),
            json!({"round": round, "after": "restart"})
        );
        wait_status(&follower, "/readyz", 200);
    }
    assert!(!follower.log_text().contains("panicked"));
}

fn put_with_token(base: &str, body: &Value) -> reqwest::blocking::Response {
    let r = client()
        .put(format!("{base}/v1/config"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .json(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text());
    r
}

/// A document of about 40 KiB: many services with settings.
fn big_doc(generation: usize) -> Value {
    let services: serde_json::Map<String, Value> = (0..400)
        .map(|i| {
            (
                format!("service-{i:03}"),
                json!({"replicas": 3, "image": format!("registry.local/app-{i}:1.0"), "limits": {"cpu": "500m", "memory": "256Mi"}, "generation": if i == 7 { generation } else { 0 }}),
            )
        })
        .collect();
    json!({"services": services, "log_level": "info"})
}

#[test]
fn a_follower_a_few_versions_behind_syncs_by_verified_json_patch() {
    let work = tempfile::tempdir().unwrap();
    let leader = start_leader(work.path());
    let leader_url = leader.url("");
    put_with_token(&leader_url, &big_doc(0));
    let follower = Daemon::follow(&work.path().join("follower"), &leader_url, FOLLOW_ARGS);
    wait_version(&follower, leader.version());
    assert_eq!(
        metric_of(&follower, "cowd_follower_syncs_total{via=\"delta\"}"),
        0.0
    );

    // Small changes to a big document travel as patches.
    let mut last = 0;
    for generation in 1..=5 {
        let r = put_with_token(&leader_url, &big_doc(generation));
        last = header_u64(&r, "x-config-version");
        wait_version(&follower, last);
    }
    let deltas = metric_of(&follower, "cowd_follower_syncs_total{via=\"delta\"}");
    assert!(deltas >= 4.0, "delta syncs: {deltas}");
    // The bytes equal the leader's (the hash was verified, and here compared again).
    let body = |base: &str| {
        client()
            .get(format!("{base}/v1/config"))
            .send()
            .unwrap()
            .bytes()
            .unwrap()
    };
    assert_eq!(body(&leader_url), body(&follower.url("")));

    // A change the patch cannot reproduce byte for byte (keys reordered) fails the hash check
    // and falls back to the whole document; a patch larger than the document is not sent.
    let fallbacks = metric_of(&follower, "cowd_follower_delta_fallbacks_total");
    let mut reordered = serde_json::Map::new();
    reordered.insert("log_level".into(), json!("info"));
    reordered.insert("services".into(), big_doc(5)["services"].clone());
    let r = put_with_token(&leader_url, &Value::Object(reordered));
    last = last.max(header_u64(&r, "x-config-version"));
    wait_version(&follower, last);
    let r = put_with_token(&leader_url, &json!({"replaced": "entirely"}));
    last = header_u64(&r, "x-config-version");
    assert_eq!(
        wait_version(&follower, last),
        json!({"replaced": "entirely"})
    );
    assert!(metric_of(&follower, "cowd_follower_delta_fallbacks_total") >= fallbacks + 1.0);
    assert_eq!(body(&leader_url), body(&follower.url("")));
}

#[test]
fn a_follower_with_a_data_dir_restarts_serving_its_last_version_while_the_leader_is_down() {
    let work = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let leader_url = format!("http://{addr}");
    let leader_data = work.path().join("leader-data");
    let start_leader_at = || {
        Daemon::start_at(
            &work.path().join("leader"),
            addr,
            &leader_data,
            &["--io-threads", "1"],
        )
    };
    let follower_data = work.path().join("follower-data");
    let mut args = FOLLOW_ARGS.to_vec();
    args.extend_from_slice(&["--data-dir", follower_data.to_str().unwrap()]);
    let start_follower = || Daemon::follow(&work.path().join("follower"), &leader_url, &args);

    let mut leader = start_leader_at();
    let mut follower = start_follower();
    let mut written = Vec::new();
    for i in 0..3 {
        let r = put_with_token(&leader_url, &json!({"i": i}));
        let v = header_u64(&r, "x-config-version");
        assert_eq!(wait_version(&follower, v), json!({"i": i}));
        written.push(v);
    }
    let history = |node: &Daemon| history_versions(&node.url(""));
    let before = history(&follower);
    assert!(written.iter().all(|v| before.contains(v)), "{before:?}");

    // Both go down; the follower comes back first and serves its copy and history at once.
    follower.kill9();
    leader.kill9();
    let follower = start_follower();
    let last = *written.last().unwrap();
    assert_eq!(get_config(&follower.url("")), (last, json!({"i": 2})));
    assert_eq!(history(&follower), before);
    let readyz: Value = get_json(&follower.url("/readyz"));
    assert!(
        readyz["error"].as_str().unwrap().contains(&format!(
            "serving version {last} restored from the data dir"
        )),
        "{readyz}"
    );
    assert_eq!(status_of(&follower.url(""), "/readyz"), 503);
    assert_eq!(metric_of(&follower, "cowd_follower_stale"), 1.0);

    // The leader returns: its unchanged version confirms the copy (ready), and new writes flow.
    let _leader = start_leader_at();
    wait_status(&follower, "/readyz", 200);
    let r = put_with_token(&leader_url, &json!({"i": "after"}));
    let after = header_u64(&r, "x-config-version");
    assert_eq!(wait_version(&follower, after), json!({"i": "after"}));
    // A second follower cannot share the data dir.
    let stderr = cowd_fails(&[
        "follow",
        "--leader",
        &leader_url,
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        follower_data.to_str().unwrap(),
    ]);
    assert!(stderr.contains("in use by another cowd"), "{stderr}");
}

/// A long-poll answers with the leader's newest version only, so a burst published while a
/// follower could not keep up used to reach it as its last version alone: the versions in
/// between were missing from its history, `?version=N` and diffs. With backfill (the default)
/// the follower fetches them; `--backfill 0` keeps the old behaviour, which shows the gap.
#[test]
fn a_burst_published_while_a_follower_was_paused_reaches_its_history_version_by_version() {
    let work = tempfile::tempdir().unwrap();
    let leader = start_leader(work.path());
    let leader_url = leader.url("");
    let mut newest_only_args = FOLLOW_ARGS.to_vec();
    newest_only_args.extend_from_slice(&["--backfill", "0"]);
    let every = Daemon::follow(&work.path().join("every"), &leader_url, FOLLOW_ARGS);
    let newest_only = Daemon::follow(&work.path().join("newest"), &leader_url, &newest_only_args);
    let followers = [&every, &newest_only];

    let r = put_with_token(&leader_url, &json!({"burst": "before"}));
    let before = header_u64(&r, "x-config-version");
    for follower in followers {
        wait_version(follower, before);
    }
    // Paused (a real SIGSTOP, every thread stopped) while the leader publishes five versions.
    for follower in followers {
        follower.stop();
    }
    let burst: Vec<u64> = (0..5)
        .map(|i| {
            header_u64(
                &put_with_token(&leader_url, &json!({"burst": i})),
                "x-config-version",
            )
        })
        .collect();
    for follower in followers {
        follower.signal(Signal::SIGCONT);
    }
    let newest = *burst.last().unwrap();
    for follower in followers {
        wait_version(follower, newest);
    }

    let version_on = |node: &Daemon, v: u64| version_bytes(&node.url(""), v);
    for &v in &burst {
        let (status, bytes) = version_on(&leader, v);
        assert_eq!(status, 200);
        assert_eq!(
            version_on(&every, v),
            (200, bytes),
            "version {v} of the burst, as the leader has it"
        );
    }
    // The paused follower's pending long-poll brought the burst's first version; the next one
    // announced the newest, and the (three or four) versions in between were fetched one by
    // one. One CI run saw two, with every version present: most likely a long-poll answered
    // before SIGSTOP had stopped the follower (hence `stop()`, which now waits for every
    // thread to stop). Two is still accepted: the exact property is the version-by-version
    // history check above.
    let backfilled = metric_of(&every, "cowd_follower_backfilled_total");
    assert!((2.0..=4.0).contains(&backfilled), "{backfilled}");

    let skipped = burst
        .iter()
        .filter(|&&v| version_on(&newest_only, v).0 == 404)
        .count();
    assert!(
        (2..=4).contains(&skipped),
        "without backfill the follower skips the versions in between: {skipped} missing"
    );
    assert_eq!(
        metric_of(&newest_only, "cowd_follower_backfilled_total"),
        0.0
    );
}
