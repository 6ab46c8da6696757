//! etcd mode against real components: a 3-member etcd cluster (Debian's etcd 3.4) on loopback
//! ports and three `cowd serve --etcd-endpoints` binaries.

mod common;

use std::path::Path;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use common::etcd::{EtcdCluster, Pki};
use common::*;
use serde_json::{Value, json};

const KEY: &str = "/cowd-test/config";

/// The tests here start many processes; on a 2-core machine they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn node(work: &Path, name: &str, cluster: &EtcdCluster, extra: &[&str]) -> Daemon {
    let endpoints = cluster.endpoints();
    let dir = work.join(name);
    let data = dir.join("unused-data");
    let mut args = vec![
        "--etcd-endpoints",
        &endpoints,
        "--etcd-key",
        KEY,
        "--etcd-probe-interval",
        "200ms",
        "--etcd-stale-after",
        "3s",
        "--etcd-timeout",
        "2s",
        "--io-threads",
        "1",
    ];
    args.extend_from_slice(extra);
    Daemon::start(&dir, &data, &args, &[("COWD_TOKEN", TOKEN)])
}

fn put_if_match(base: &str, body: &Value, version: u64) -> reqwest::blocking::Response {
    client()
        .put(format!("{base}/v1/config"))
        .bearer_auth(TOKEN)
        .header("if-match", format!("\"{version}\""))
        .json(body)
        .send()
        .unwrap()
}

fn put_json(base: &str, body: &Value) -> reqwest::blocking::Response {
    put(base, &body.to_string())
}

/// Waits until every node serves `version` with the same document; returns it.
fn converge(nodes: &[&Daemon], version: u64) -> Value {
    let docs: Vec<Value> = nodes
        .iter()
        .map(|n| {
            eventually(&format!("{} to reach version {version}", n.addr), || {
                // A node started a moment ago may still answer 503 (no version loaded from
                // etcd yet): that is "not yet", not a failure. A clean-clone CI run hit it.
                let (v, doc) = get_config_once_served(&n.url(""))?;
                (v >= version).then_some((v, doc))
            })
        })
        .map(|(v, doc)| {
            assert_eq!(v, version, "a node went past the expected version");
            doc
        })
        .collect();
    for doc in &docs[1..] {
        assert_eq!(doc, &docs[0]);
    }
    docs[0].clone()
}

fn wait_ready(node: &Daemon, ready: bool) {
    let want = if ready { 200 } else { 503 };
    eventually(&format!("{} /readyz to answer {want}", node.addr), || {
        (status_of(&node.url(""), "/readyz") == want).then_some(())
    });
}

#[test]
fn writes_on_any_node_are_read_everywhere_cas_has_one_winner_and_one_member_may_die() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cluster = EtcdCluster::start(3);
    let work = tempfile::tempdir().unwrap();
    let a = node(work.path(), "a", &cluster, &[]);
    let b = node(work.path(), "b", &cluster, &[]);
    let c = node(work.path(), "c", &cluster, &[]);
    let nodes = [&a, &b, &c];
    for n in nodes {
        wait_ready(n, true);
    }
    // The key did not exist: one node created it with {}; all serve the same revision.
    let (first, doc) = get_config(&a.url(""));
    assert_eq!(doc, json!({}));
    converge(&nodes, first);

    // A write on A is readable on B and C with the same version (= etcd's mod_revision).
    let response = put_json(&a.url(""), &json!({"service": "api", "replicas": 3}));
    assert_eq!(response.status(), 200, "{:?}", response.text());
    let written = header_u64(&response, "x-config-version");
    assert!(written > first);
    assert_eq!(
        get_config(&a.url("")).0,
        written,
        "the writer reads its own write"
    );
    let doc = converge(&nodes, written);
    assert_eq!(doc, json!({"service": "api", "replicas": 3}));
    let hashes: Vec<String> = nodes
        .iter()
        .map(|n| {
            client().get(n.url("/v1/config")).send().unwrap().headers()["x-config-sha256"]
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(hashes.iter().all(|h| *h == hashes[0]));

    // Concurrent compare-and-set writes on the three nodes, all expecting the same version:
    // exactly one wins, the others get 412 naming the winner's version.
    for round in 0..5 {
        let base_version = get_config(&a.url("")).0;
        converge(&nodes, base_version);
        let barrier = Arc::new(Barrier::new(3));
        let handles: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let url = n.url("");
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    barrier.wait();
                    let r = put_if_match(&url, &json!({"round": round, "writer": i}), base_version);
                    let status = r.status().as_u16();
                    let version = r.headers().get("etag").map(|e| {
                        e.to_str()
                            .unwrap()
                            .trim_matches('"')
                            .parse::<u64>()
                            .unwrap()
                    });
                    (status, version)
                })
            })
            .collect();
        let results: Vec<(u16, Option<u64>)> =
            handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<_> = results.iter().filter(|(s, _)| *s == 200).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        assert!(
            results.iter().all(|(s, _)| *s == 200 || *s == 412),
            "round {round}: {results:?}"
        );
        let winner_version = winners[0].1.unwrap();
        for (status, etag) in &results {
            if *status == 412 {
                assert_eq!(*etag, Some(winner_version), "412 names the current version");
            }
        }
        let doc = converge(&nodes, winner_version);
        assert_eq!(doc["round"], round);
    }

    // A stale If-Match is refused and changes nothing.
    let now = get_config(&b.url("")).0;
    let r = put_if_match(&b.url(""), &json!({"stale": true}), first);
    assert_eq!(r.status(), 412);
    assert_eq!(get_config(&b.url("")).0, now);

    // Reads never touch etcd: hundreds of GETs on every node leave the etcd get/txn/watch
    // request counters unchanged (only the periodic health probe runs).
    let counters = |n: &Daemon| {
        ["get", "txn", "watch"].map(|op| {
            metric(
                &n.url(""),
                &format!("cowd_etcd_requests_total{{op=\"{op}\"}}"),
            )
            .unwrap()
        })
    };
    let before: Vec<_> = nodes.iter().map(|n| counters(n)).collect();
    let http = client();
    for n in nodes {
        for i in 0..200 {
            let path = if i % 2 == 0 {
                "/v1/config"
            } else {
                "/v1/history"
            };
            assert_eq!(http.get(n.url(path)).send().unwrap().status(), 200);
        }
    }
    let after: Vec<_> = nodes.iter().map(|n| counters(n)).collect();
    assert_eq!(before, after, "reads sent requests to etcd");

    // Killing one etcd member (whichever) keeps writes working on every node.
    cluster.kill_member(0);
    for (i, n) in nodes.iter().enumerate() {
        let body = json!({"after_member_loss": i});
        let version = eventually("a write with one etcd member down", || {
            let r = put_json(&n.url(""), &body);
            if r.status() != 200 {
                eprintln!("write with a member down: {} {:?}", r.status(), r.text());
                return None;
            }
            Some(header_u64(&r, "x-config-version"))
        });
        let doc = converge(&nodes, version);
        assert_eq!(doc, body);
    }
    for n in nodes {
        wait_ready(n, true);
    }
    // And the member comes back.
    cluster.start_member(0);
    cluster.wait_healthy();
    let r = put_json(&c.url(""), &json!({"member": "back"}));
    assert_eq!(r.status(), 200, "{:?}", r.text());
    converge(&nodes, header_u64(&r, "x-config-version"));
}

#[test]
fn without_etcd_nodes_serve_their_last_version_report_staleness_and_catch_up_after_compaction() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cluster = EtcdCluster::start(3);
    let work = tempfile::tempdir().unwrap();
    let seed = work.path().join("seed.json");
    std::fs::write(&seed, r#"{"feature": {"enabled": false}}"#).unwrap();
    let seed_arg = seed.to_str().unwrap();
    let a = node(work.path(), "a", &cluster, &["--config", seed_arg]);
    let b = node(work.path(), "b", &cluster, &["--config", seed_arg]);
    let nodes = [&a, &b];
    for n in nodes {
        wait_ready(n, true);
    }
    let r = put_json(&a.url(""), &json!({"feature": {"enabled": true}, "n": 1}));
    assert_eq!(r.status(), 200);
    let last = header_u64(&r, "x-config-version");
    let before = converge(&nodes, last);
    assert_eq!(metric(&a.url(""), "cowd_etcd_up"), Some(1.0));

    // All of etcd dies: reads keep working with the last version; readiness and metrics say
    // stale; writes are refused with 503 and change nothing.
    cluster.kill_all();
    for n in nodes {
        wait_ready(n, false);
        let (version, doc) = get_config(&n.url(""));
        assert_eq!((version, &doc), (last, &before));
        assert_eq!(metric(&n.url(""), "cowd_etcd_up"), Some(0.0));
        assert_eq!(metric(&n.url(""), "cowd_etcd_stale"), Some(1.0));
        assert_eq!(metric(&n.url(""), "cowd_ready"), Some(0.0));
        let body: Value = get_json(&n.url("/readyz"));
        assert!(body["error"].as_str().unwrap().contains("etcd"), "{body}");
    }
    let r = put_json(&a.url(""), &json!({"while": "down"}));
    assert_eq!(r.status(), 503, "{:?}", r.text());
    assert_eq!(get_config(&a.url("")).0, last);
    eventually("the last-contact age to grow", || {
        (metric(&b.url(""), "cowd_etcd_last_contact_age_seconds")? >= 1.0).then_some(())
    });

    // etcd comes back: the nodes reconnect and catch up with a write made meanwhile by
    // another client, straight into etcd.
    cluster.restart_all();
    let direct = cluster.put(KEY, r#"{"written": "directly", "n": 2}"#);
    let doc = converge(&nodes, direct);
    assert_eq!(doc, json!({"written": "directly", "n": 2}));
    for n in nodes {
        wait_ready(n, true);
    }

    // Compaction: node B is frozen (SIGSTOP) while etcd restarts (its watch breaks), many
    // versions are written and the history is compacted. When B resumes, it re-watches from
    // the revision after the last event it saw, which is compacted: etcd cancels that watch,
    // B reads the key again and resumes from there.
    let compacted_before = metric(&b.url(""), "cowd_etcd_compacted_watches_total").unwrap();
    b.signal(nix::sys::signal::Signal::SIGSTOP);
    cluster.kill_all();
    cluster.restart_all();
    let mut latest = 0;
    for i in 0..20 {
        latest = cluster.put(KEY, &json!({"n": 100 + i}).to_string());
    }
    let compacted_at = cluster.compact();
    assert!(compacted_at >= latest);
    b.signal(nix::sys::signal::Signal::SIGCONT);
    let doc = converge(&nodes, latest);
    assert_eq!(doc["n"], 119);
    wait_ready(&b, true);
    eventually("B to report the compacted watch", || {
        (metric(&b.url(""), "cowd_etcd_compacted_watches_total")? > compacted_before).then_some(())
    });

    // A compaction while all nodes are disconnected, then a write: they catch up too.
    cluster.kill_all();
    for n in nodes {
        wait_ready(n, false);
    }
    cluster.restart_all();
    let v = cluster.put(KEY, r#"{"after": "compaction"}"#);
    cluster.compact();
    let doc = converge(&nodes, v);
    assert_eq!(doc, json!({"after": "compaction"}));
    // Invalid JSON written directly to etcd is never published.
    let failures = metric(&a.url(""), "cowd_config_reload_failures_total").unwrap();
    cluster.put(KEY, "{not json");
    eventually("the bad value to be refused", || {
        (metric(&a.url(""), "cowd_config_reload_failures_total")? > failures).then_some(())
    });
    assert_eq!(get_config(&a.url("")).0, v);
    let good = cluster.put(KEY, r#"{"good": "again"}"#);
    converge(&nodes, good);
}

/// The `/readyz` body once it names `needle` (the node keeps retrying, so it says why).
fn readyz_saying(node: &Daemon, needle: &str) -> String {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let response = client().get(node.url("/readyz")).send().unwrap();
        let status = response.status().as_u16();
        let body = response.text().unwrap();
        if status == 503 && body.contains(needle) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {} /readyz to say `{needle}`; it says {status} {body}",
            node.addr
        );
        thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn with_etcd_authentication_only_the_right_user_gets_in_and_tokens_are_renewed() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().unwrap();
    let mut cluster = EtcdCluster::start(1);
    cluster.put(KEY, r#"{"seeded": true}"#);
    cluster.enable_auth("cowd", "cowd-password", KEY);
    let password_file = work.path().join("etcd-password");
    std::fs::write(&password_file, "cowd-password\n").unwrap();
    let password_file = password_file.to_str().unwrap();

    let authorized = node(
        work.path(),
        "authorized",
        &cluster,
        &["--etcd-user", "cowd", "--etcd-password-file", password_file],
    );
    wait_ready(&authorized, true);
    assert_eq!(get_config(&authorized.url("")).1, json!({"seeded": true}));
    let first = put_json(&authorized.url(""), &json!({"auth": 1}));
    assert_eq!(first.status(), 200);

    let anonymous = node(work.path(), "anonymous", &cluster, &[]);
    readyz_saying(&anonymous, "pass --etcd-user and --etcd-password-file");
    assert_eq!(
        put_json(&anonymous.url(""), &json!({"anonymous": true})).status(),
        503
    );

    let wrong = work.path().join("wrong-password");
    std::fs::write(&wrong, "not-it").unwrap();
    let impostor = node(
        work.path(),
        "impostor",
        &cluster,
        &[
            "--etcd-user",
            "cowd",
            "--etcd-password-file",
            wrong.to_str().unwrap(),
        ],
    );
    readyz_saying(&impostor, "check --etcd-user and --etcd-password-file");

    // The right user, but a key its role does not cover.
    let elsewhere = Daemon::start(
        &work.path().join("elsewhere"),
        &work.path().join("elsewhere/unused-data"),
        &[
            "--etcd-endpoints",
            &cluster.endpoints(),
            "--etcd-key",
            "/another/key",
            "--etcd-user",
            "cowd",
            "--etcd-password-file",
            password_file,
            "--etcd-probe-interval",
            "200ms",
        ],
        &[("COWD_TOKEN", TOKEN)],
    );
    readyz_saying(
        &elsewhere,
        "needs a role with read-write permission on --etcd-key",
    );

    // etcd keeps its (simple) tokens in memory: after a restart every token is invalid, and
    // the node must authenticate again by itself.
    cluster.kill_member(0);
    wait_ready(&authorized, false);
    cluster.start_member(0);
    let second = eventually("a write after etcd restarted", || {
        let response = put_json(&authorized.url(""), &json!({"auth": 2}));
        (response.status() == 200).then_some(response)
    });
    let version = second.json::<Value>().unwrap()["version"].as_u64().unwrap();
    assert_eq!(converge(&[&authorized], version), json!({"auth": 2}));
    wait_ready(&authorized, true);
    // Nothing the refused nodes tried reached the key.
    assert_eq!(get_config(&authorized.url("")).1, json!({"auth": 2}));
}

/// A node of the TLS cluster: `https://` endpoints and `extra` TLS options.
fn tls_node(work: &Path, name: &str, endpoints: &str, extra: &[&str]) -> Daemon {
    let dir = work.join(name);
    let mut args = vec![
        "--etcd-endpoints",
        endpoints,
        "--etcd-key",
        KEY,
        "--etcd-probe-interval",
        "200ms",
        "--io-threads",
        "1",
    ];
    args.extend_from_slice(extra);
    Daemon::start(
        &dir,
        &dir.join("unused-data"),
        &args,
        &[("COWD_TOKEN", TOKEN)],
    )
}

#[test]
fn over_tls_a_node_needs_the_ca_and_a_client_certificate_and_says_which_is_missing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().unwrap();
    let pki = Pki::generate();
    let mut cluster = EtcdCluster::start_tls(1, &pki);
    cluster.put(KEY, r#"{"over": "tls"}"#);
    let endpoints = cluster.tls_endpoints();
    let (ca, cert, key) = (
        pki.ca.to_str().unwrap(),
        pki.client_cert.to_str().unwrap(),
        pki.client_key.to_str().unwrap(),
    );

    let trusted = tls_node(
        work.path(),
        "trusted",
        &endpoints,
        &[
            "--etcd-ca-cert",
            ca,
            "--etcd-client-cert",
            cert,
            "--etcd-client-key",
            key,
        ],
    );
    wait_ready(&trusted, true);
    assert_eq!(get_config(&trusted.url("")).1, json!({"over": "tls"}));
    let written = put_json(&trusted.url(""), &json!({"written": "over tls"}));
    assert_eq!(written.status(), 200);
    let version = written.json::<Value>().unwrap()["version"]
        .as_u64()
        .unwrap();
    assert_eq!(cluster.revision(), version, "the write reached etcd");

    let no_ca = tls_node(work.path(), "no-ca", &endpoints, &[]);
    readyz_saying(&no_ca, "pass --etcd-ca-cert");
    let no_client_cert = tls_node(
        work.path(),
        "no-client-cert",
        &endpoints,
        &["--etcd-ca-cert", ca],
    );
    readyz_saying(
        &no_client_cert,
        "pass --etcd-client-cert and --etcd-client-key",
    );
    let plain = tls_node(
        work.path(),
        "plain",
        &endpoints.replace("https://", "http://"),
        &[],
    );
    readyz_saying(&plain, "use https:// in --etcd-endpoints");
    for refused in [&no_ca, &no_client_cert, &plain] {
        assert_eq!(
            put_json(&refused.url(""), &json!({"refused": true})).status(),
            503
        );
    }
    assert_eq!(cluster.revision(), version, "no refused node wrote");

    // Unusable TLS options stop startup with a clear error.
    let not_pem = work.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let stderr = cowd_fails(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--etcd-endpoints",
        &endpoints,
        "--etcd-key",
        KEY,
        "--etcd-ca-cert",
        not_pem.to_str().unwrap(),
    ]);
    assert!(
        stderr.contains("holds no PEM `CERTIFICATE-----` block"),
        "{stderr}"
    );
    let stderr = cowd_fails(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--etcd-endpoints",
        &endpoints.replace("https://", "http://"),
        "--etcd-key",
        KEY,
        "--etcd-ca-cert",
        ca,
    ]);
    assert!(stderr.contains("names none; use https:// URLs"), "{stderr}");
}

/// A node used to start with an empty history (only the versions it saw itself), so its
/// `?version=N`, diffs, dashboard and rollback knew nothing from before its start. It now reads
/// the key's earlier values back from etcd's revision history — as far as `--history` and
/// etcd's compaction allow, and without values that never were valid versions.
#[test]
fn a_node_started_later_reads_the_keys_earlier_versions_back_from_etcd() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut cluster = EtcdCluster::start(1);
    let work = tempfile::tempdir().unwrap();
    let a = node(work.path(), "a", &cluster, &[]);
    wait_ready(&a, true);
    for i in 0..3 {
        assert_eq!(put_json(&a.url(""), &json!({"step": i})).status(), 200);
    }
    // Written around cowd and not JSON: never a version, on any node.
    let garbage = cluster.put(KEY, "not json");
    let r = put_json(&a.url(""), &json!({"step": "last"}));
    let last = header_u64(&r, "x-config-version");
    converge(&[&a], last);
    let history_of = |n: &Daemon| history_versions(&n.url(""));
    let expected = history_of(&a);
    assert_eq!(
        expected.len(),
        5,
        "the created key, three steps, the last: {expected:?}"
    );
    assert!(!expected.contains(&garbage));

    let b = node(work.path(), "b", &cluster, &[]);
    converge(&[&a, &b], last);
    eventually("B to read the key's earlier versions back", || {
        (history_of(&b) == expected).then_some(())
    });
    let version_on = |n: &Daemon, v: u64| version_bytes(&n.url(""), v);
    for &v in &expected {
        assert_eq!(version_on(&b, v), version_on(&a, v), "version {v}");
    }
    // etcd keeps no times: a version read back carries the time B learned of the version
    // after it, so B's times never go backwards as the versions go up.
    let times: Vec<(u64, u64)> = history_entries(&b.url(""))
        .iter()
        .map(|e| {
            (
                e["version"].as_u64().unwrap(),
                e["published_at_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0].1 <= w[1].1),
        "published_at_ms by version on B: {times:?}"
    );

    // `--history 2` bounds what is read back.
    let c = node(work.path(), "c", &cluster, &["--history", "2"]);
    converge(&[&c], last);
    eventually("C to read one earlier version back", || {
        (history_of(&c) == expected[expected.len() - 2..]).then_some(())
    });

    // After a compaction etcd has only the current value: that is all a new node gets.
    cluster.compact();
    let d = node(work.path(), "d", &cluster, &[]);
    converge(&[&d], last);
    // The read-back's first request finds the revision compacted.
    eventually("D to try reading back", || {
        (metric(&d.url(""), "cowd_etcd_requests_total{op=\"history\"}")? >= 1.0).then_some(())
    });
    assert_eq!(history_of(&d), [last]);
}
