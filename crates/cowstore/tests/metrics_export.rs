//! With the `metrics` feature, statistics reach whatever recorder the application installed.
#![cfg(feature = "metrics")]

use metrics_util::debugging::{DebugValue, DebuggingRecorder};

#[test]
fn named_store_exports_its_statistics_on_publish() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let store = cowstore::Store::builder(0u32)
            .name("flags")
            .build()
            .unwrap();
        let pinned = store.snapshot();
        store.store(1).unwrap();
        store.store(2).unwrap();
        let rejected = store.try_update(|_| Err::<(), _>("no"));
        assert!(rejected.is_err());
        store.export_metrics();
        drop(pinned);
    });
    let values: std::collections::HashMap<String, DebugValue> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| {
            key.key()
                .labels()
                .any(|l| l.key() == "store" && l.value() == "flags")
        })
        .map(|(key, _, _, value)| (key.key().name().to_owned(), value))
        .collect();
    assert_eq!(
        values.get("cowstore_version"),
        Some(&DebugValue::Gauge(3.0.into()))
    );
    assert_eq!(
        values.get("cowstore_publishes_total"),
        Some(&DebugValue::Counter(2))
    );
    assert_eq!(
        values.get("cowstore_aborted_total"),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        values.get("cowstore_pinned_versions"),
        Some(&DebugValue::Gauge(1.0.into()))
    );
}
