//! Three ways to follow changes: a latest-value subscription (coalesces, never misses the
//! latest), a bounded queue that sees every version (drops by policy when full), and a callback.
//!
//! `cargo run -p cowstore --example subscribers`

use cowstore::Snapshot;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cowstore::{Overflow, Store};

fn main() {
    let flags = Arc::new(Store::new(0u32));

    // 1. Latest value: a slow consumer that only cares about the newest state.
    let mut latest = flags.subscribe();
    let slow = std::thread::spawn(move || {
        let mut seen = Vec::new();
        while let Ok(snapshot) = latest.recv_timeout(Duration::from_millis(300)) {
            seen.push(Snapshot::version(&snapshot));
            std::thread::sleep(Duration::from_millis(20)); // slow work
        }
        seen
    });

    // 2. Every version, through a bounded queue (an audit log, say).
    let mut audit = flags.subscribe_queue(1000, Overflow::DropOldest);

    // 3. A callback on the publishing thread (keep it short).
    let callbacks = Arc::new(AtomicU64::new(0));
    let _handle = flags.on_publish({
        let callbacks = Arc::clone(&callbacks);
        move |_| {
            callbacks.fetch_add(1, Ordering::Relaxed);
        }
    });

    for i in 1..=50 {
        flags.store(i).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }

    let slow_seen = slow.join().unwrap();
    println!(
        "slow subscriber saw {} of 50 versions, ending with {:?} (the latest is {})",
        slow_seen.len(),
        slow_seen.last(),
        flags.version()
    );
    let audited: Vec<u64> = std::iter::from_fn(|| audit.try_recv().ok())
        .map(|s| Snapshot::version(&s))
        .collect();
    println!(
        "audit queue: {} versions in order, {} dropped",
        audited.len(),
        audit.dropped()
    );
    println!("callback ran {} times", callbacks.load(Ordering::Relaxed));
}
