//! Crash safety: the real binary is killed with SIGKILL at random moments during a write
//! loop, many times; after every restart each acknowledged version must still be there with
//! its exact content, and nothing unacknowledged may appear except the writes that were in
//! flight at the kill.
//!
//! `COWD_CRASH_ITERATIONS` sets the number of kills (default 20).

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const HISTORY: u64 = 64;
const WRITERS: usize = 2;

#[derive(Default)]
struct Ledger {
    /// Versions known to be durable (acknowledged, or seen after a restart) → content.
    durable: BTreeMap<u64, Value>,
    /// Writes sent but not acknowledged when the server died.
    in_flight: Vec<Value>,
}

fn verify(daemon: &Daemon, ledger: &mut Ledger, round: usize) {
    let base = daemon.url("");
    let (current, doc) = get_config(&base);
    let newest_durable = ledger.durable.keys().next_back().copied().unwrap_or(1);
    assert!(
        current >= newest_durable,
        "round {round}: restarted at version {current}, but version {newest_durable} was acknowledged"
    );
    assert!(
        current <= newest_durable + ledger.in_flight.len() as u64,
        "round {round}: version {current} is newer than every acknowledged or in-flight write"
    );
    for v in (newest_durable + 1)..=current {
        let response = client()
            .get(format!("{base}/v1/config?version={v}"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "round {round}: version {v}");
        let content: Value = response.json().unwrap();
        assert!(
            ledger.in_flight.contains(&content),
            "round {round}: version {v} holds content nobody wrote: {content}"
        );
        ledger.durable.insert(v, content);
    }
    assert_eq!(
        &doc, &ledger.durable[&current],
        "round {round}: current content"
    );
    // Every durable version still in the history window reads back exactly.
    let oldest_kept = current.saturating_sub(HISTORY - 1).max(1);
    for (&v, expected) in ledger.durable.range(oldest_kept..) {
        let response = client()
            .get(format!("{base}/v1/config?version={v}"))
            .send()
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "round {round}: version {v} is missing"
        );
        let content: Value = response.json().unwrap();
        assert_eq!(&content, expected, "round {round}: version {v} changed");
    }
    // The history is gap-free and ends at the current version.
    let history: Value = get_json(&format!("{base}/v1/history"));
    let versions: Vec<u64> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (oldest_kept..=current).rev().collect();
    assert_eq!(versions, expected, "round {round}: history");
    ledger.in_flight.clear();
}

/// Keeps the work dir for inspection when `COWD_CRASH_KEEP` is set.
fn scopeguard_keep(dir: tempfile::TempDir) -> tempfile::TempDir {
    let mut dir = dir;
    if std::env::var_os("COWD_CRASH_KEEP").is_some() {
        dir.disable_cleanup(true);
    }
    dir
}

#[test]
fn every_acknowledged_write_survives_sigkill() {
    let iterations: usize = std::env::var("COWD_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    if std::env::var_os("COWD_CRASH_KEEP").is_some() {
        eprintln!("work dir: {}", work.path().display());
    }
    let work = scopeguard_keep(work);
    let history = HISTORY.to_string();
    let args = ["--history", history.as_str()];
    let env = [("COWD_TOKEN", TOKEN)];
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut acknowledged_total = 0;

    for round in 0..=iterations {
        let mut daemon = Daemon::start(work.path(), &data, &args, &env);
        if round == 0 {
            let (v, doc) = get_config(&daemon.url(""));
            ledger.lock().unwrap().durable.insert(v, doc);
        }
        verify(&daemon, &mut ledger.lock().unwrap(), round);
        if round == iterations {
            break;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (ledger, stop, base) = (Arc::clone(&ledger), Arc::clone(&stop), daemon.url(""));
                thread::spawn(move || {
                    let client = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(30))
                        .build()
                        .unwrap();
                    let mut acknowledged = 0;
                    for seq in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        // Sizes up to ~48 KiB make it likely that a kill lands mid-write.
                        let doc = json!({
                            "round": round,
                            "writer": writer,
                            "seq": seq,
                            "pad": "x".repeat(fastrand::usize(0..48 * 1024)),
                        });
                        ledger.lock().unwrap().in_flight.push(doc.clone());
                        let sent = client
                            .put(format!("{base}/v1/config"))
                            .bearer_auth(TOKEN)
                            .body(doc.to_string())
                            .send();
                        let Ok(response) = sent else { break };
                        if response.status() != 200 {
                            break;
                        }
                        let Ok(body) = response.json::<Value>() else {
                            break;
                        };
                        let version = body["version"].as_u64().unwrap();
                        let mut ledger = ledger.lock().unwrap();
                        ledger.in_flight.retain(|d| d != &doc);
                        let previous = ledger.durable.insert(version, doc);
                        assert!(previous.is_none(), "version {version} acknowledged twice");
                        acknowledged += 1;
                    }
                    acknowledged
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(fastrand::u64(30..400)));
        daemon.kill9();
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            acknowledged_total += writer.join().unwrap();
        }
    }
    let torn = std::fs::read_dir(&data)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("journal.log.torn")
        })
        .count();
    println!(
        "{iterations} SIGKILLs, {acknowledged_total} acknowledged writes, {} durable versions checked, {torn} torn tails recovered",
        ledger.lock().unwrap().durable.len()
    );
    assert!(acknowledged_total > 0, "no write was acknowledged at all");
}
