//! Random operation sequences on a `Store` checked against the trivial reference design it
//! replaces, `RwLock<Arc<T>>` (plus a list of every version it published): same values, same
//! versions, same failures, and every snapshot taken keeps exactly the value of its version.

use std::sync::{Arc, RwLock};

use cowstore::{Snapshot, Store, UpdateError};
use proptest::prelude::*;

const LIMIT: usize = 12;

#[derive(Clone, Debug)]
enum Op {
    Push(u8),
    Pop,
    StoreBlind(Vec<u8>),
    Batch(Vec<u8>),
    TryUpdateAbort,
    CompareAndSet { stale: bool, value: u8 },
    UpdateCas(u8),
    Hold,
    Release(usize),
    CheckHeld,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u8>().prop_map(Op::Push),
        2 => Just(Op::Pop),
        1 => proptest::collection::vec(any::<u8>(), 0..16).prop_map(Op::StoreBlind),
        1 => proptest::collection::vec(any::<u8>(), 0..4).prop_map(Op::Batch),
        1 => Just(Op::TryUpdateAbort),
        2 => (any::<bool>(), any::<u8>()).prop_map(|(stale, value)| Op::CompareAndSet { stale, value }),
        2 => any::<u8>().prop_map(Op::UpdateCas),
        2 => Just(Op::Hold),
        1 => any::<usize>().prop_map(Op::Release),
        1 => Just(Op::CheckHeld),
    ]
}

/// The reference: the lock-based design, with the history of published versions.
struct Reference {
    current: RwLock<Arc<Vec<u8>>>,
    history: Vec<Arc<Vec<u8>>>,
}

impl Reference {
    fn version(&self) -> u64 {
        self.history.len() as u64
    }

    fn get(&self) -> Arc<Vec<u8>> {
        Arc::clone(&self.current.read().unwrap())
    }

    /// Publishes like the store does, including the validator's rule.
    fn publish(&mut self, next: Vec<u8>) -> Result<u64, ()> {
        if next.len() > LIMIT {
            return Err(());
        }
        let next = Arc::new(next);
        *self.current.write().unwrap() = Arc::clone(&next);
        self.history.push(next);
        Ok(self.version())
    }
}

fn limited_store() -> Store<Vec<u8>> {
    Store::builder(Vec::new())
        .validator("length", |v: &Vec<u8>| {
            if v.len() > LIMIT {
                Err(format!("{} elements, at most {LIMIT}", v.len()).into())
            } else {
                Ok(())
            }
        })
        .build()
        .unwrap()
}

fn outcome<E>(result: Result<Snapshot<Vec<u8>>, UpdateError<E>>) -> Result<u64, ()> {
    result.map(|s| Snapshot::version(&s)).map_err(drop)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn store_behaves_like_rwlock_arc(ops in proptest::collection::vec(op(), 1..80)) {
        let store = limited_store();
        let mut reference = Reference {
            current: RwLock::new(Arc::new(Vec::new())),
            history: vec![Arc::new(Vec::new())],
        };
        let mut held: Vec<Snapshot<Vec<u8>>> = Vec::new();
        for op in ops {
            let base = reference.get();
            match op {
                Op::Push(x) => {
                    let mut next = (*base).clone();
                    next.push(x);
                    prop_assert_eq!(outcome(store.update(|v| v.push(x))), reference.publish(next));
                }
                Op::Pop => {
                    let mut next = (*base).clone();
                    next.pop();
                    prop_assert_eq!(outcome(store.update(|v| { v.pop(); })), reference.publish(next));
                }
                Op::StoreBlind(values) => {
                    prop_assert_eq!(outcome(store.store(values.clone())), reference.publish(values));
                }
                Op::Batch(values) => {
                    let mut batch = store.batch();
                    for &x in &values {
                        batch.push(move |v: &mut Vec<u8>| v.push(x));
                    }
                    let mut next = (*base).clone();
                    next.extend(&values);
                    prop_assert_eq!(outcome(batch.commit()), reference.publish(next));
                }
                Op::TryUpdateAbort => {
                    let result = store.try_update(|v| { v.clear(); Err("abort") });
                    prop_assert_eq!(result.unwrap_err(), UpdateError::Aborted("abort"));
                }
                Op::CompareAndSet { stale, value } => {
                    let expected = if stale { reference.version().saturating_sub(1) } else { reference.version() };
                    let result = store.compare_and_set(expected, |v| v.push(value));
                    if expected == reference.version() {
                        let mut next = (*base).clone();
                        next.push(value);
                        prop_assert_eq!(outcome(result), reference.publish(next));
                    } else {
                        prop_assert_eq!(
                            result.unwrap_err(),
                            UpdateError::Conflict { expected, current: reference.version() }
                        );
                    }
                }
                Op::UpdateCas(x) => {
                    let mut next = (*base).clone();
                    next.insert(0, x);
                    prop_assert_eq!(outcome(store.update_cas(|v| v.insert(0, x))), reference.publish(next));
                }
                Op::Hold => held.push(store.snapshot()),
                Op::Release(i) => {
                    if !held.is_empty() {
                        held.remove(i % held.len());
                    }
                }
                Op::CheckHeld => {}
            }
            // After every operation: same current value and version, and every held snapshot
            // still has exactly the value its version had when published.
            prop_assert_eq!(&*store.load(), &*reference.get());
            prop_assert_eq!(store.version(), reference.version());
            for snapshot in &held {
                let expected = &reference.history[Snapshot::version(snapshot) as usize - 1];
                prop_assert_eq!(&**snapshot, &**expected);
            }
            let pinned: Vec<u64> = store.pinned_versions().iter().map(|p| p.version).collect();
            let mut expected_pinned: Vec<u64> = held
                .iter()
                .map(Snapshot::version)
                .filter(|&v| v != reference.version())
                .collect();
            expected_pinned.sort_unstable();
            expected_pinned.dedup();
            prop_assert_eq!(pinned, expected_pinned, "exactly the held old versions are pinned");
        }
    }
}
