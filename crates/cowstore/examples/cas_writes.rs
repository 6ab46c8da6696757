//! Optimistic concurrency: `compare_and_set` publishes only if the version you read is still
//! current (like an HTTP `If-Match`), and `update_cas` retries a lock-free compare-and-swap.
//!
//! `cargo run -p cowstore --example cas_writes`

use cowstore::Snapshot;
use std::sync::Arc;

use cowstore::{Store, UpdateError};

fn main() {
    let inventory = Arc::new(Store::new(10u32));

    // Two clerks read version 1 and both try to sell the last items.
    let seen = inventory.snapshot();
    let first = inventory.compare_and_set(Snapshot::version(&seen), |stock| *stock -= 7);
    let second = inventory.compare_and_set(Snapshot::version(&seen), |stock| *stock -= 7);
    println!("first clerk: {:?}", first.map(|s| *s));
    match second {
        Err(UpdateError::Conflict { expected, current }) => {
            println!(
                "second clerk: conflict, expected version {expected} but {current} is current"
            );
            // Re-read and decide again, on the value that is actually current.
            let now = inventory.snapshot();
            if *now >= 7 {
                inventory
                    .compare_and_set(Snapshot::version(&now), |stock| *stock -= 7)
                    .unwrap();
            } else {
                println!("second clerk: only {} left, sale refused", *now);
            }
        }
        other => panic!("expected a conflict, got {other:?}"),
    }

    // Lock-free counters from many threads: the closure may run again after a lost race.
    let hits = Arc::new(Store::new(0u64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let hits = Arc::clone(&hits);
            std::thread::spawn(move || {
                for _ in 0..10_000 {
                    hits.update_cas(|n| *n += 1).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = hits.stats();
    println!(
        "hits = {} after {} publishes and {} compare-and-swap retries",
        *hits.load(),
        stats.publishes,
        stats.cas_retries
    );
    assert_eq!(*hits.load(), 40_000);
}
