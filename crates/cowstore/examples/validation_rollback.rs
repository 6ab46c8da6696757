//! Validators run before every publish: a bad change publishes nothing and the current version
//! keeps serving. Rolling back means publishing an old version's content as a new version.
//!
//! `cargo run -p cowstore --example validation_rollback`

use cowstore::Snapshot;
use cowstore::{Store, UpdateError, ValidationError};

#[derive(Clone, Debug, PartialEq)]
struct Limits {
    max_connections: u32,
    timeout_ms: u64,
}

fn main() {
    let limits = Store::builder(Limits {
        max_connections: 100,
        timeout_ms: 1000,
    })
    .validator("connections", |l: &Limits| {
        if (1..=10_000).contains(&l.max_connections) {
            Ok(())
        } else {
            Err(
                ValidationError::new(format!("{} is outside 1..=10000", l.max_connections))
                    .at("/max_connections"),
            )
        }
    })
    .validator("timeout", |l: &Limits| {
        if l.timeout_ms >= 10 {
            Ok(())
        } else {
            Err("timeout_ms must be at least 10".into())
        }
    })
    .build()
    .expect("the initial value is valid");

    let good = limits.update(|l| l.max_connections = 200).unwrap();
    println!(
        "published version {}: {:?}",
        Snapshot::version(&good),
        *good
    );

    // A bad change: refused, and version 2 keeps serving.
    match limits.update(|l| l.max_connections = 0) {
        Err(error @ UpdateError::Rejected { .. }) => println!("refused: {error}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(limits.version(), 2);

    // try_update: the closure itself can back out; the half-changed clone is discarded.
    let aborted = limits.try_update(|l| {
        l.timeout_ms = 5000;
        if l.max_connections < 500 {
            Err("capacity review pending")
        } else {
            Ok(())
        }
    });
    println!("try_update: {:?}", aborted.map(|s| Snapshot::version(&s)));

    // Keep old versions around to roll back to: a snapshot is cheap and never changes.
    let known_good = limits.snapshot();
    limits.update(|l| l.timeout_ms = 20).unwrap(); // valid, but turns out to be a bad idea
    let rolled_back = limits.store(Limits::clone(&known_good)).unwrap();
    println!(
        "rolled back to the content of version {} as version {}: {:?}",
        Snapshot::version(&known_good),
        Snapshot::version(&rolled_back),
        *rolled_back
    );
    let stats = limits.stats();
    println!(
        "publishes: {}, rejected: {}, aborted: {}",
        stats.publishes, stats.rejected, stats.aborted
    );
}
