//! Regression tests, each named after the bug it pins.
//!
//! - `regression_imbl_160_161_*`: imbl issues #160 and #161 report that `OrdMap::diff` misses
//!   single-key updates in a leaf next to shared leaves (about one update in eight). Our diffs
//!   skip a shared subtree only when it is the next pending item of both versions (`OrdMap`) or
//!   sits at the same hash prefix (`HashMap`); these tests update every key of multi-level maps,
//!   one at a time, next to shared neighbours, and require exactly that one change reported.

use cowstore::collections::{DiffItem, HashMap, OrdMap};

/// Regression pin for the bug class of imbl issues #160 and #161 (reported there: `OrdMap::diff`
/// misses single-key updates in a leaf next to shared leaves). Every key of a multi-level tree
/// is updated alone on a clone; the diff must report exactly that one change each time, whether
/// the changed leaf is first, last or between shared siblings.
#[test]
fn regression_imbl_160_161_ord_map_single_update_next_to_shared_leaves_is_reported() {
    let old: OrdMap<u32, u32> = (0..5000).map(|i| (i, i)).collect();
    for k in 0..5000 {
        let mut new = old.clone();
        new.insert(k, k + 1);
        let items: Vec<_> = old.diff(&new).collect();
        assert_eq!(
            items,
            [DiffItem::Changed {
                key: &k,
                old: &k,
                new: &(k + 1)
            }],
            "update of key {k}"
        );
    }
}

/// The same pin for the hash map: every single-key update of a 3-level trie, and the inverse
/// diff, report exactly one change.
#[test]
fn regression_imbl_160_161_hash_map_single_update_next_to_shared_subtrees_is_reported() {
    let old: HashMap<u32, u32> = (0..5000).map(|i| (i, i)).collect();
    for k in 0..5000 {
        let mut new = old.clone();
        new.insert(k, k + 1);
        let items: Vec<_> = old.diff(&new).collect();
        assert_eq!(
            items,
            [DiffItem::Changed {
                key: &k,
                old: &k,
                new: &(k + 1)
            }],
            "update of key {k}"
        );
        let back: Vec<_> = new.diff(&old).collect();
        assert_eq!(
            back,
            [DiffItem::Changed {
                key: &k,
                old: &(k + 1),
                new: &k
            }]
        );
    }
}
