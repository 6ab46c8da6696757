//! Regression: a version restored with `Builder::published_at(t)` had its monotonic publish
//! instant backdated from the machine's monotonic clock, which starts at boot. When `t` lay
//! further back than the boot, the instant saturated at zero and `age()` reported the uptime
//! instead: on a CI machine booted minutes earlier, a version restored from an hour ago looked
//! minutes old (the `Builder::published_at` doc test failed on a fresh machine). The clock now
//! carries a fixed offset far larger than any backdating.

use std::time::{Duration, SystemTime};

use cowstore::{Snapshot, Store};

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

#[test]
fn age_counts_from_a_publish_time_before_the_machine_booted() {
    // Ten years back is before the boot of any machine this runs on.
    let restored_at = SystemTime::now() - 10 * YEAR;
    let store = Store::builder("restored")
        .published_at(restored_at)
        .build()
        .unwrap();
    let current = store.snapshot();
    assert_eq!(Snapshot::published_at(&current), restored_at);
    let age = Snapshot::age(&current);
    assert!(
        age >= 10 * YEAR,
        "age {age:?} is shorter than the backdating"
    );
    assert!(age < 10 * YEAR + Duration::from_secs(60), "age {age:?}");
    // Later publishes are young again, and the store's own stats agree.
    store.store("new").unwrap();
    assert!(Snapshot::age(&store.snapshot()) < Duration::from_secs(60));
}

#[test]
fn stats_report_the_full_age_of_a_backdated_current_version() {
    let restored_at = SystemTime::now() - 2 * YEAR;
    let store = Store::builder(1u32)
        .published_at(restored_at)
        .build()
        .unwrap();
    let stats = store.stats();
    assert_eq!(stats.published_at, restored_at);
    assert!(stats.age >= 2 * YEAR, "age {:?}", stats.age);
}
