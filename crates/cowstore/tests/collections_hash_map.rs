//! Model tests of `collections::HashMap` against `std::collections::HashMap`: random operation
//! sequences (inserts, removes, entry-style updates), collisions through deliberately bad hashers,
//! persistence of old versions, `diff` against a naive diff, and the `==` shortcut.

use std::collections::HashMap as StdMap;
use std::hash::{BuildHasher, Hasher};

use cowstore::collections::{DiffItem, HashMap};
use proptest::prelude::*;

/// Maps a `u16` key to one of four hashes that differ only in their top bits: every key
/// shares a 60-bit prefix with every other, and keys with equal hashes land in collision nodes.
#[derive(Clone, Default)]
struct DeepCollisions;

/// Maps a `u16` key to `key % 7`: many full 64-bit collisions near the root.
#[derive(Clone, Default)]
struct FewHashes;

struct ModHasher {
    value: u64,
    f: fn(u64) -> u64,
}

impl Hasher for ModHasher {
    fn finish(&self) -> u64 {
        (self.f)(self.value)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.value = self.value.wrapping_mul(31).wrapping_add(u64::from(*b));
        }
    }
    fn write_u16(&mut self, n: u16) {
        self.value = u64::from(n);
    }
}

impl BuildHasher for DeepCollisions {
    type Hasher = ModHasher;
    fn build_hasher(&self) -> ModHasher {
        ModHasher {
            value: 0,
            f: |v| (v % 4) << 60,
        }
    }
}

impl BuildHasher for FewHashes {
    type Hasher = ModHasher;
    fn build_hasher(&self) -> ModHasher {
        ModHasher {
            value: 0,
            f: |v| v % 7,
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u16, u32),
    Remove(u16),
    Alter(u16, Option<u32>),
    /// `extend` with these pairs (a later pair for the same key wins), into a map that may
    /// share nodes with saved versions.
    Extend(Vec<(u16, u32)>),
    Snapshot,
}

fn op(keys: u16) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (0..keys).prop_map(Op::Remove),
        1 => (0..keys, proptest::option::of(any::<u32>())).prop_map(|(k, v)| Op::Alter(k, v)),
        1 => proptest::collection::vec((0..keys, any::<u32>()), 0..(keys as usize + 16))
            .prop_map(Op::Extend),
        1 => Just(Op::Snapshot),
    ]
}

fn sorted<S>(map: &HashMap<u16, u32, S>) -> Vec<(u16, u32)> {
    let mut v: Vec<_> = map.iter().map(|(k, v)| (*k, *v)).collect();
    v.sort_unstable();
    v
}

fn sorted_std(map: &StdMap<u16, u32>) -> Vec<(u16, u32)> {
    let mut v: Vec<_> = map.iter().map(|(k, v)| (*k, *v)).collect();
    v.sort_unstable();
    v
}

/// Runs `ops` on our map and on the std model side by side, checking each result, then checks
/// every saved version against the model state it was saved with.
fn run_model<S: BuildHasher + Clone + Default>(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut map: HashMap<u16, u32, S> = HashMap::default();
    let mut model = StdMap::new();
    let mut versions = Vec::new();
    for op in ops {
        match op {
            &Op::Insert(k, v) => prop_assert_eq!(map.insert(k, v), model.insert(k, v)),
            Op::Remove(k) => prop_assert_eq!(map.remove(k), model.remove(k)),
            Op::Extend(pairs) => {
                map.extend(pairs.iter().copied());
                model.extend(pairs.iter().copied());
            }
            &Op::Alter(k, v) => {
                let seen = map.get(&k).copied();
                let old = map.alter(k, |cur| {
                    assert_eq!(cur.copied(), seen);
                    v
                });
                let expected = match v {
                    Some(v) => model.insert(k, v),
                    None => model.remove(&k),
                };
                prop_assert_eq!(old, expected);
            }
            Op::Snapshot => versions.push((map.clone(), model.clone())),
        }
        prop_assert_eq!(map.len(), model.len());
    }
    for k in 0..70u16 {
        prop_assert_eq!(map.get(&k), model.get(&k));
        prop_assert_eq!(map.contains_key(&k), model.contains_key(&k));
    }
    prop_assert_eq!(sorted(&map), sorted_std(&model));
    prop_assert_eq!(map.iter().len(), model.len());
    // Built in another order, the same contents give an equal map (canonical shape).
    let mut rebuilt: HashMap<u16, u32, S> = HashMap::default();
    let mut entries = sorted_std(&model);
    entries.reverse();
    rebuilt.extend(entries);
    prop_assert!(rebuilt == map);
    for (old, old_model) in &versions {
        prop_assert_eq!(sorted(old), sorted_std(old_model));
        prop_assert_eq!(old.len(), old_model.len());
    }
    Ok(())
}

fn config() -> ProptestConfig {
    // `PROPTEST_CASES` overrides the default.
    ProptestConfig::default()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn model_default_hasher(ops in proptest::collection::vec(op(64), 0..400)) {
        run_model::<cowstore::collections::DefaultHashBuilder>(&ops)?;
    }

    #[test]
    fn model_deep_collisions(ops in proptest::collection::vec(op(40), 0..200)) {
        run_model::<DeepCollisions>(&ops)?;
    }

    #[test]
    fn model_few_hashes(ops in proptest::collection::vec(op(40), 0..200)) {
        run_model::<FewHashes>(&ops)?;
    }

    #[test]
    fn model_std_random_state(ops in proptest::collection::vec(op(512), 0..400)) {
        run_model::<std::collections::hash_map::RandomState>(&ops)?;
    }
}

/// Naive diff from two std maps, sorted by key.
fn naive_diff(
    old: &StdMap<u16, u32>,
    new: &StdMap<u16, u32>,
) -> Vec<(u16, Option<u32>, Option<u32>)> {
    let mut out = Vec::new();
    for (k, v) in old {
        match new.get(k) {
            Some(n) if n != v => out.push((*k, Some(*v), Some(*n))),
            Some(_) => {}
            None => out.push((*k, Some(*v), None)),
        }
    }
    for (k, v) in new {
        if !old.contains_key(k) {
            out.push((*k, None, Some(*v)));
        }
    }
    out.sort_unstable();
    out
}

fn flatten(items: Vec<DiffItem<'_, u16, u32>>) -> Vec<(u16, Option<u32>, Option<u32>)> {
    let mut out: Vec<_> = items
        .into_iter()
        .map(|item| match item {
            DiffItem::Added { key, value } => (*key, None, Some(*value)),
            DiffItem::Removed { key, value } => (*key, Some(*value), None),
            DiffItem::Changed { key, old, new } => (*key, Some(*old), Some(*new)),
        })
        .collect();
    out.sort_unstable();
    out
}

#[derive(Debug, Clone)]
enum Change {
    /// Update the value of the n-th existing key (mod len).
    Update(usize, u32),
    Insert(u16, u32),
    Remove(usize),
}

fn change(keys: u16) -> impl Strategy<Value = Change> {
    prop_oneof![
        8 => (any::<usize>(), any::<u32>()).prop_map(|(i, v)| Change::Update(i, v)),
        1 => (0..keys, any::<u32>()).prop_map(|(k, v)| Change::Insert(k, v)),
        1 => any::<usize>().prop_map(Change::Remove),
    ]
}

fn run_diff<S: BuildHasher + Clone + Default>(
    initial: &[(u16, u32)],
    changes: &[Change],
    keys: u16,
) -> Result<(), TestCaseError> {
    let old: HashMap<u16, u32, S> = initial.iter().copied().collect();
    let old_model: StdMap<u16, u32> = initial.iter().copied().collect();
    let mut new = old.clone();
    let mut new_model = old_model.clone();
    for c in changes {
        let mut keys_now: Vec<u16> = new_model.keys().copied().collect();
        keys_now.sort_unstable();
        match *c {
            Change::Update(i, v) if !keys_now.is_empty() => {
                let k = keys_now[i % keys_now.len()];
                new.insert(k, v);
                new_model.insert(k, v);
            }
            Change::Remove(i) if !keys_now.is_empty() => {
                let k = keys_now[i % keys_now.len()];
                new.remove(&k);
                new_model.remove(&k);
            }
            Change::Insert(k, v) => {
                new.insert(k % keys, v);
                new_model.insert(k % keys, v);
            }
            _ => {}
        }
    }
    let expected = naive_diff(&old_model, &new_model);
    prop_assert_eq!(flatten(old.diff(&new).collect()), expected.clone());
    // The reverse diff swaps added and removed.
    let reversed: Vec<_> = naive_diff(&new_model, &old_model);
    prop_assert_eq!(flatten(new.diff(&old).collect()), reversed);
    prop_assert_eq!(old == new, expected.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn diff_matches_naive_diff(
        initial in proptest::collection::vec((0..2000u16, any::<u32>()), 0..600),
        changes in proptest::collection::vec(change(2000), 0..12),
    ) {
        run_diff::<cowstore::collections::DefaultHashBuilder>(&initial, &changes, 2000)?;
    }

    #[test]
    fn diff_matches_naive_diff_with_collisions(
        initial in proptest::collection::vec((0..60u16, any::<u32>()), 0..60),
        changes in proptest::collection::vec(change(60), 0..12),
    ) {
        run_diff::<DeepCollisions>(&initial, &changes, 60)?;
        run_diff::<FewHashes>(&initial, &changes, 60)?;
    }
}

#[test]
fn old_versions_unchanged_after_many_updates_on_clones() {
    let mut versions: Vec<HashMap<u32, u32>> = vec![HashMap::new()];
    for round in 0..200u32 {
        let mut next = versions.last().unwrap().clone();
        for i in 0..50 {
            let k = (round * 7919 + i * 104_729) % 3000;
            if i % 5 == 0 {
                next.remove(&k);
            } else {
                next.insert(k, round);
            }
        }
        versions.push(next);
    }
    // Replay the same updates on std maps and compare every version.
    let mut model = StdMap::new();
    let mut expected = vec![model.clone()];
    for round in 0..200u32 {
        for i in 0..50 {
            let k = (round * 7919 + i * 104_729) % 3000;
            if i % 5 == 0 {
                model.remove(&k);
            } else {
                model.insert(k, round);
            }
        }
        expected.push(model.clone());
    }
    for (version, model) in versions.iter().zip(&expected) {
        assert_eq!(version.len(), model.len());
        for (k, v) in model {
            assert_eq!(version.get(k), Some(v));
        }
    }
}

#[test]
fn eq_skips_shared_subtrees() {
    /// A value whose `==` counts its calls.
    #[derive(Clone, Debug)]
    struct Counted(u32, std::rc::Rc<std::cell::Cell<usize>>);
    impl PartialEq for Counted {
        fn eq(&self, other: &Self) -> bool {
            self.1.set(self.1.get() + 1);
            self.0 == other.0
        }
    }
    let calls = std::rc::Rc::new(std::cell::Cell::new(0));
    let a: HashMap<u32, Counted> = (0..100_000)
        .map(|i| (i, Counted(i, calls.clone())))
        .collect();
    let mut b = a.clone();
    assert!(a == b);
    assert_eq!(
        calls.get(),
        0,
        "a clone is equal without comparing any value"
    );
    b.insert(5, Counted(6, calls.clone()));
    assert!(a != b);
    b.insert(5, Counted(5, calls.clone()));
    calls.set(0);
    assert!(a == b);
    assert!(
        calls.get() < 200,
        "compared {} values for one changed path",
        calls.get()
    );
}

#[test]
fn diff_of_clone_with_one_update_reports_exactly_it() {
    let old: HashMap<u64, u64> = (0..50_000).map(|i| (i, i)).collect();
    for k in (0..50_000).step_by(997) {
        let mut new = old.clone();
        new.insert(k, k + 1);
        let items: Vec<_> = old.diff(&new).collect();
        assert_eq!(
            items,
            [DiffItem::Changed {
                key: &k,
                old: &k,
                new: &(k + 1)
            }]
        );
    }
}

/// A value that counts how often it is cloned.
#[derive(Debug)]
struct CloneCounted(u32, std::rc::Rc<std::cell::Cell<usize>>);

impl Clone for CloneCounted {
    fn clone(&self) -> Self {
        self.1.set(self.1.get() + 1);
        Self(self.0, self.1.clone())
    }
}

#[test]
fn unique_map_is_changed_in_place_shared_one_is_copied() {
    let clones = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut map: HashMap<u32, CloneCounted> = (0..10_000)
        .map(|i| (i, CloneCounted(i, clones.clone())))
        .collect();
    assert_eq!(clones.get(), 0, "building a unique map clones nothing");
    map.insert(1, CloneCounted(100, clones.clone()));
    map.remove(&2);
    assert_eq!(clones.get(), 0, "a unique map is changed in place");
    let before = map.clone();
    map.insert(3, CloneCounted(300, clones.clone()));
    let copied = clones.get();
    assert!(copied > 0, "a shared path is copied");
    assert!(
        copied <= 4 * 32,
        "only the path is copied, not {copied} values"
    );
    assert_eq!(before.get(&3).unwrap().0, 3);
    assert_eq!(map.get(&3).unwrap().0, 300);
}

#[test]
fn maps_with_different_hasher_states_compare_by_content() {
    use std::collections::hash_map::RandomState;
    let mut a = HashMap::with_hasher(RandomState::new());
    let mut b = HashMap::with_hasher(RandomState::new());
    for i in 0..1000u32 {
        a.insert(i, i);
        b.insert(999 - i, 999 - i);
    }
    assert!(a == b);
    b.insert(3, 4);
    assert!(a != b);
    let items: Vec<_> = a.diff(&b).collect();
    assert_eq!(
        items,
        [DiffItem::Changed {
            key: &3,
            old: &3,
            new: &4
        }]
    );
}

#[test]
fn debug_index_from_array() {
    let map: HashMap<&str, i32> = HashMap::from([("a", 1)]);
    assert_eq!(format!("{map:?}"), r#"{"a": 1}"#);
    assert_eq!(map["a"], 1);
}
