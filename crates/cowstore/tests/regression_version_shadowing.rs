//! Regression: `Guard::version()` and `Snapshot::version()` used to be methods. On a value type
//! with a `version()` method of its own, `guard.version()` silently called the store's publish
//! counter instead of the value's method (cowd answered `?version=1` with the current document
//! after a restart, because its records carry their own version). The metadata accessors are
//! now associated functions, like `Arc::strong_count`, so method syntax always reaches `T`.

use cowstore::{Guard, Snapshot, Store};

struct Record {
    version: u64,
}

impl Record {
    fn version(&self) -> u64 {
        self.version
    }
}

#[test]
fn method_syntax_reaches_the_value_not_the_handle() {
    let store = Store::new(Record { version: 40 });
    store.store(Record { version: 41 }).unwrap();
    let guard = store.load();
    assert_eq!(guard.version(), 41, "the record's own version");
    assert_eq!(Guard::version(&guard), 2, "the store's publish counter");
    let snapshot = store.snapshot();
    assert_eq!(snapshot.version(), 41);
    assert_eq!(Snapshot::version(&snapshot), 2);
}

#[test]
fn a_store_can_continue_a_persisted_numbering() {
    let store = Store::builder(Record { version: 7 })
        .initial_version(7)
        .build()
        .unwrap();
    let next = store.store(Record { version: 8 }).unwrap();
    assert_eq!((Snapshot::version(&next), next.version()), (8, 8));
    assert_eq!(store.stats().publishes, 1);
}
