//! Feature flags: defaults loaded from a file form the base layer, operators override flags at
//! run time, and `compact` folds the overrides into a new base in one publish.
//!
//! Run with `cargo run -p cowstore --example layered_map`.

use cowstore::Snapshot;
use cowstore::collections::{HashMap, LayeredMap};

fn main() {
    // The base layer, as if parsed from a defaults file.
    let defaults: HashMap<String, bool> = [
        ("new_checkout", false),
        ("dark_mode", true),
        ("beta_search", false),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let flags = LayeredMap::new(defaults);

    // Run-time overrides: reads check the overrides first, then the base.
    flags.set("new_checkout".to_string(), true);
    flags.remove(&"beta_search".to_string()); // a tombstone hides the default
    assert_eq!(flags.get("new_checkout"), Some(true));
    assert_eq!(flags.get("beta_search"), None);
    assert_eq!(flags.get("dark_mode"), Some(true)); // from the base

    let layers = flags.snapshot();
    println!(
        "version {}: {} base flags, {} overrides, {} effective",
        Snapshot::version(&layers),
        layers.base().len(),
        layers.overrides().len(),
        layers.len()
    );

    // Subscribers see every publish, including the compaction.
    let mut changes = flags.subscribe();

    // Fold the overrides into a new base: one publish, same effective flags.
    flags.compact();
    let compacted = changes.try_recv().expect("compaction published a version");
    assert!(compacted.overrides().is_empty());
    assert_eq!(compacted.get("new_checkout"), Some(&true));
    assert_eq!(compacted.get("beta_search"), None);
    println!(
        "version {}: {} base flags, {} overrides after compact",
        Snapshot::version(&compacted),
        compacted.base().len(),
        compacted.overrides().len()
    );

    // A reload of the defaults file replaces the base and keeps later overrides on top.
    flags.set("dark_mode".to_string(), false);
    let reloaded: HashMap<String, bool> = [("dark_mode", true), ("new_checkout", true)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    flags.replace_base(reloaded);
    assert_eq!(flags.get("dark_mode"), Some(false)); // the override still wins
    println!("after reload: {:?}", flags.snapshot().merged());
}
