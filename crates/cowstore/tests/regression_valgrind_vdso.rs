//! Regression: every program that published to a store crashed under Valgrind (SIGSEGV in
//! `rustix::backend::param::auxv::check_elf_base`, reached from `Store::new`). Publish times were
//! read with rustix's `clock_gettime`, which finds and parses the vDSO itself, and Valgrind
//! hides the vDSO from the programs it runs (rustix#1559). The clock is now read through libc,
//! which makes the system call when there is no vDSO.
//!
//! The test runs a store workload in a copy of this test binary under Valgrind's memcheck, which
//! must finish with no error and no definitely lost block. Valgrind must be installed (`.ci/run`
//! installs it).
#![cfg(all(target_os = "linux", not(miri)))]

use std::process::Command;
use std::sync::Arc;
use std::thread;

use cowstore::{Snapshot, Store};

/// Set in the copy that runs the workload.
const UNDER_VALGRIND: &str = "COWSTORE_TEST_UNDER_VALGRIND";

#[test]
fn a_store_workload_runs_under_valgrind() {
    if std::env::var_os(UNDER_VALGRIND).is_some() {
        workload();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new("valgrind")
        .args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
        ])
        .arg(exe)
        .args([
            "--exact",
            "a_store_workload_runs_under_valgrind",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(UNDER_VALGRIND, "1")
        .output()
        .expect("valgrind is not installed: `apt-get install valgrind` (.ci/run installs it)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the workload failed under valgrind ({}):\n{stderr}",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("workload done: version 201"),
        "the workload did not run to its end:\n{stdout}\n{stderr}"
    );
}

/// Publishes from two threads while reading, snapshotting and subscribing: every path that
/// reads the clock (publishes, ages, wall-clock times) and the hazard protocol.
fn workload() {
    let store = Arc::new(Store::new(vec![0u64; 4]));
    let mut subscription = store.subscribe();
    let writer = {
        let store = Arc::clone(&store);
        thread::spawn(move || {
            for _ in 0..100 {
                store
                    .update(|v| v.iter_mut().for_each(|x| *x += 1))
                    .unwrap();
            }
        })
    };
    let mut held = Vec::new();
    for i in 0..100u64 {
        let next = vec![i; 4];
        store.store(next).unwrap();
        let guard = store.load();
        assert_eq!(guard.len(), 4);
        held.push(store.snapshot());
        let _ = Snapshot::age(&held[held.len() - 1]);
    }
    writer.join().unwrap();
    let last = store.snapshot();
    assert!(Snapshot::published_at(&last) >= Snapshot::published_at(&held[0]));
    assert!(subscription.try_recv().is_ok());
    drop(held);
    println!("workload done: version {}", Snapshot::version(&last));
}
