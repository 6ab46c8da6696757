//! Behaviour of the write paths, validators, re-entrancy, subscriptions and statistics.

use cowstore::Snapshot;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use cowstore::{Overflow, RecvTimeoutError, Store, TryRecvError, UpdateError, ValidationError};

#[derive(Clone, Debug, PartialEq)]
struct Config {
    level: String,
    timeout_ms: u64,
    hosts: Vec<String>,
}

fn config() -> Config {
    Config {
        level: "info".into(),
        timeout_ms: 500,
        hosts: vec!["a".into()],
    }
}

fn validated() -> Store<Config> {
    Store::builder(config())
        .validator("timeout", |c: &Config| {
            if c.timeout_ms == 0 {
                Err(ValidationError::new("must be positive").at("/timeout_ms"))
            } else {
                Ok(())
            }
        })
        .validator("hosts", |c: &Config| {
            if c.hosts.is_empty() {
                Err("at least one host".into())
            } else {
                Ok(())
            }
        })
        .build()
        .unwrap()
}

#[test]
fn versions_start_at_one_and_increase_by_one() {
    let store = Store::new(0);
    assert_eq!(store.version(), 1);
    for expected in 2..=20 {
        let published = store.update(|v| *v += 1).unwrap();
        assert_eq!(Snapshot::version(&published), expected);
        assert_eq!(*published, expected as i32 - 1);
    }
    assert_eq!(store.stats().publishes, 19);
}

#[test]
fn published_at_is_monotonic_and_recent() {
    let store = Store::new(0);
    let first = store.snapshot();
    let second = store.store(1).unwrap();
    assert!(Snapshot::published_at(&second) >= Snapshot::published_at(&first));
    assert!(Snapshot::age(&second) <= Snapshot::age(&first));
}

#[test]
fn failing_validator_publishes_nothing_and_says_which() {
    let store = validated();
    let err = store.update(|c| c.timeout_ms = 0).unwrap_err();
    let UpdateError::Rejected { error, current } = &err else {
        panic!("expected a rejection, got {err:?}");
    };
    assert_eq!(
        (error.validator(), error.path(), *current),
        (Some("timeout"), Some("/timeout_ms"), 1)
    );
    let message = err.to_string();
    assert!(
        message.contains("validator `timeout` rejected the update"),
        "{message}"
    );
    assert!(message.contains("version 1 stays current"), "{message}");

    assert!(
        store
            .store(Config {
                hosts: vec![],
                ..config()
            })
            .is_err()
    );
    assert_eq!(*store.load(), config(), "nothing published");
    assert_eq!(store.version(), 1);
    assert_eq!(store.stats().rejected, 2);
}

#[test]
fn builder_validates_the_initial_value() {
    let err = Store::builder(Config {
        timeout_ms: 0,
        ..config()
    })
    .validator("timeout", |c: &Config| {
        if c.timeout_ms == 0 {
            Err("zero".into())
        } else {
            Ok(())
        }
    })
    .build()
    .unwrap_err();
    assert_eq!(err.validator(), Some("timeout"));
}

#[test]
fn try_update_rolls_back_on_error() {
    let store = Store::new(vec![1, 2, 3]);
    let err = store
        .try_update(|v| {
            v.clear();
            Err::<(), _>("changed my mind")
        })
        .unwrap_err();
    assert_eq!(err, UpdateError::Aborted("changed my mind"));
    assert_eq!(*store.load(), [1, 2, 3]);
    assert_eq!((store.version(), store.stats().aborted), (1, 1));
}

#[test]
fn compare_and_set_detects_intervening_publish() {
    let store = Store::new(10);
    let v1 = store.version();
    store.update(|n| *n += 1).unwrap();
    let err = store.compare_and_set(v1, |n| *n = 0).unwrap_err();
    assert_eq!(
        err,
        UpdateError::Conflict {
            expected: 1,
            current: 2
        }
    );
    assert!(
        err.to_string()
            .contains("reload, reapply the change and retry")
    );
    assert_eq!(*store.load(), 11);
    let ok = store.compare_and_set(2, |n| *n *= 2).unwrap();
    assert_eq!((*ok, Snapshot::version(&ok)), (22, 3));
    assert_eq!(store.stats().conflicts, 1);
}

#[test]
fn compare_and_set_loses_cleanly_to_concurrent_writers() {
    let store = Arc::new(Store::new(0u64));
    let wins = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (store, wins) = (Arc::clone(&store), Arc::clone(&wins));
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let seen = store.snapshot();
                    if store
                        .compare_and_set(Snapshot::version(&seen), |n| *n += 1)
                        .is_ok()
                    {
                        wins.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let wins = wins.load(Ordering::SeqCst);
    assert_eq!(
        *store.load(),
        wins,
        "every success and only successes changed the value"
    );
    assert_eq!(store.version(), wins + 1);
    assert_eq!(store.stats().conflicts, 800 - wins);
}

#[test]
fn update_cas_counts_retries_and_loses_nothing() {
    let store = Arc::new(Store::new(0u64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for _ in 0..500 {
                    store
                        .update_cas(|n| {
                            // Widen the race window so retries actually happen.
                            std::hint::spin_loop();
                            *n += 1;
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(*store.load(), 2000);
    assert_eq!(store.version(), 2001);
    assert_eq!(store.stats().publishes, 2000);
}

#[test]
fn update_and_update_cas_mixed_lose_nothing() {
    let store = Arc::new(Store::new(0u64));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for _ in 0..300 {
                    if i % 2 == 0 {
                        store.update(|n| *n += 1).unwrap();
                    } else {
                        store.update_cas(|n| *n += 1).unwrap();
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(*store.load(), 1200);
}

#[test]
fn batch_publishes_once() {
    let store = Store::new(Vec::<u32>::new());
    let mut batch = store.batch();
    for i in 0..100 {
        batch.push(move |v: &mut Vec<u32>| v.push(i));
    }
    let published = batch.commit().unwrap();
    assert_eq!((Snapshot::version(&published), published.len()), (2, 100));
    assert_eq!(store.stats().publishes, 1);
}

#[test]
fn batch_is_validated_as_a_whole() {
    let store = validated();
    let err = store
        .batch()
        .then(|c: &mut Config| c.hosts.clear())
        .then(|c: &mut Config| c.level = "debug".into())
        .commit()
        .unwrap_err();
    assert_eq!(err.validation().unwrap().validator(), Some("hosts"));
    assert_eq!(
        store.load().level,
        "info",
        "no part of the batch was published"
    );
}

#[test]
fn validator_that_writes_to_its_own_store_gets_reentrant_instead_of_deadlock() {
    // The validator needs the store it validates; give it a handle after construction.
    let slot: Arc<Mutex<Option<Arc<Store<u32>>>>> = Arc::new(Mutex::new(None));
    let nested_result = Arc::new(Mutex::new(None));
    let store = Arc::new(Store::new(0u32));
    {
        let (slot, nested_result) = (Arc::clone(&slot), Arc::clone(&nested_result));
        store.add_validator("writes back", move |_: &u32| {
            if let Some(store) = slot.lock().unwrap().clone() {
                let result = store.update(|n| *n += 100).map(|s| *s);
                *nested_result.lock().unwrap() = Some(result);
            }
            Ok(())
        });
    }
    *slot.lock().unwrap() = Some(Arc::clone(&store));
    let published = store.update(|n| *n += 1).unwrap();
    assert_eq!(*published, 1);
    assert_eq!(
        nested_result.lock().unwrap().take(),
        Some(Err(UpdateError::Reentrant)),
        "the nested write is refused, not deadlocked"
    );
    *slot.lock().unwrap() = None; // break the cycle
}

#[test]
fn update_closure_that_writes_to_its_own_store_gets_reentrant() {
    let store = Store::new(0);
    let mut nested = None;
    store
        .update(|n| {
            nested = Some(store.store(99));
            *n += 1;
        })
        .unwrap();
    assert_eq!(nested, Some(Err(UpdateError::Reentrant)));
    assert_eq!(*store.load(), 1);
}

#[test]
fn writes_to_another_store_from_a_validator_are_fine() {
    let audit = Arc::new(Store::new(Vec::<u32>::new()));
    let store = {
        let audit = Arc::clone(&audit);
        Store::builder(0u32)
            .validator("audit", move |v: &u32| {
                audit
                    .update(|log| log.push(*v))
                    .map(drop)
                    .map_err(|e| e.to_string().into())
            })
            .build()
            .unwrap()
    };
    store.store(5).unwrap();
    assert_eq!(*audit.load(), [0, 5]);
}

#[test]
fn callback_that_writes_to_the_store_does_not_deadlock() {
    let store = Arc::new(Store::new(0u32));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let handle = {
        let (weak, calls) = (Arc::downgrade(&store), Arc::clone(&calls));
        store.on_publish(move |snapshot| {
            calls.lock().unwrap().push(*snapshot.as_ref());
            // Bump odd values to the next even value: a write from inside the callback.
            if **snapshot % 2 == 1
                && let Some(store) = weak.upgrade()
            {
                store.update(|n| *n += 1).unwrap();
            }
        })
    };
    store.store(1).unwrap();
    assert_eq!(*store.load(), 2, "the callback's write was published");
    assert_eq!(
        *calls.lock().unwrap(),
        [1, 2],
        "and delivered by the same dispatch loop"
    );
    drop(handle);
    store.store(3).unwrap();
    assert_eq!(*store.load(), 3, "unregistered callbacks no longer run");
}

#[test]
fn latest_value_subscription_coalesces_but_never_misses_the_latest() {
    let store = Store::new(0u32);
    let mut sub = store.subscribe();
    assert_eq!(sub.try_recv().unwrap_err(), TryRecvError::Empty);
    for i in 1..=100 {
        store.store(i).unwrap();
    }
    let latest = sub.try_recv().unwrap();
    assert_eq!((*latest, Snapshot::version(&latest)), (100, 101));
    assert_eq!(sub.try_recv().unwrap_err(), TryRecvError::Empty);
    assert_eq!(
        sub.recv_timeout(Duration::from_millis(20)).unwrap_err(),
        RecvTimeoutError::Timeout
    );
}

#[test]
fn slow_subscriber_does_not_block_writers_or_other_subscribers() {
    let store = Arc::new(Store::new(0u32));
    let mut slow = store.subscribe();
    let mut fast = store.subscribe();
    let writer = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            for i in 1..=1000 {
                store.store(i).unwrap();
            }
        })
    };
    // The fast subscriber follows along while the slow one does nothing.
    let mut last = 0;
    while last < 1000 {
        last = *fast.recv().unwrap();
    }
    writer.join().unwrap();
    assert_eq!(
        *slow.recv().unwrap(),
        1000,
        "the slow one gets the latest when it looks"
    );
}

#[test]
fn subscriptions_close_when_the_store_is_dropped() {
    let store = Store::new(0u32);
    let mut sub = store.subscribe();
    let mut queue = store.subscribe_queue(4, Overflow::DropOldest);
    store.store(1).unwrap();
    drop(store);
    assert_eq!(
        *sub.recv().unwrap(),
        1,
        "the unseen latest is still delivered"
    );
    assert!(sub.recv().is_err());
    assert_eq!(sub.try_recv().unwrap_err(), TryRecvError::Closed);
    assert_eq!(*queue.recv().unwrap(), 1);
    assert!(queue.recv().is_err());
}

#[test]
fn blocked_recv_wakes_on_publish_and_on_close() {
    let store = Arc::new(Store::new(0u32));
    let mut sub = store.subscribe();
    let waiter = std::thread::spawn(move || {
        let first = *sub.recv().unwrap();
        let closed = sub.recv().is_err();
        (first, closed)
    });
    // Whether the waiter is already blocked or not yet, it must see 7 and then the close.
    std::thread::sleep(Duration::from_millis(50));
    store.store(7).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    drop(store);
    assert_eq!(waiter.join().unwrap(), (7, true));
}

#[test]
fn queue_subscription_receives_every_version_in_order() {
    let store = Arc::new(Store::new(0u32));
    let mut queue = store.subscribe_queue(10_000, Overflow::DropNewest);
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for _ in 0..250 {
                    store.update_cas(|n| *n += 1).unwrap();
                }
            })
        })
        .collect();
    writers.into_iter().for_each(|t| t.join().unwrap());
    let versions: Vec<u64> = std::iter::from_fn(|| queue.try_recv().ok())
        .map(|s| Snapshot::version(&s))
        .collect();
    assert_eq!(
        versions,
        (2..=1001).collect::<Vec<_>>(),
        "concurrent publishers, in-order delivery"
    );
    assert_eq!(queue.dropped(), 0);
}

#[test]
fn queue_overflow_policies() {
    let store = Store::new(0u32);
    let mut oldest = store.subscribe_queue(3, Overflow::DropOldest);
    let mut newest = store.subscribe_queue(3, Overflow::DropNewest);
    for i in 1..=5 {
        store.store(i).unwrap();
    }
    let drain = |q: &mut cowstore::QueueSubscription<u32>| {
        std::iter::from_fn(|| q.try_recv().ok())
            .map(|s| *s)
            .collect::<Vec<_>>()
    };
    assert_eq!(drain(&mut oldest), [3, 4, 5]);
    assert_eq!(drain(&mut newest), [1, 2, 3]);
    assert_eq!((oldest.dropped(), newest.dropped()), (2, 2));
}

#[test]
fn subscriber_count_follows_drops() {
    let store = Store::new(0);
    let a = store.subscribe();
    let b = store.subscribe_queue(1, Overflow::DropOldest);
    let c = store.on_publish(|_| {});
    assert_eq!(store.stats().subscribers, 3);
    drop((a, b, c));
    assert_eq!(store.stats().subscribers, 0);
}

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn async_changed_registers_waker_and_is_woken_by_publish() {
    let store = Store::new(0u32);
    let mut sub = store.subscribe();
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    {
        let mut changed = std::pin::pin!(sub.changed());
        assert!(changed.as_mut().poll(&mut cx).is_pending());
        store.store(3).unwrap();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1, "publish woke the task");
        match changed.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(snapshot)) => assert_eq!(*snapshot, 3),
            other => panic!("expected the new version, got {other:?}"),
        }
    }
    {
        let mut changed = std::pin::pin!(sub.changed());
        assert!(changed.as_mut().poll(&mut cx).is_pending());
    }
    drop(store);
    let mut changed = std::pin::pin!(sub.changed());
    assert!(matches!(
        changed.as_mut().poll(&mut cx),
        Poll::Ready(Err(_))
    ));
}

#[test]
fn size_estimator_reports_pinned_bytes() {
    let store = Store::builder(vec![0u8; 1000])
        .size_of(|v: &Vec<u8>| v.len())
        .build()
        .unwrap();
    let a = store.snapshot();
    store.store(vec![0; 10]).unwrap();
    let b = store.snapshot();
    store.store(vec![]).unwrap();
    let stats = store.stats();
    assert_eq!((stats.pinned_versions, stats.pinned_bytes), (2, 1010));
    let pinned = store.pinned_versions();
    assert_eq!(pinned.iter().map(|p| p.version).collect::<Vec<_>>(), [1, 2]);
    drop(a);
    assert_eq!(store.stats().pinned_bytes, 10);
    drop(b);
    assert_eq!(store.stats().pinned_bytes, 0);
}

#[test]
fn snapshots_cross_threads_and_outlive_the_store() {
    let store = Store::new(String::from("alive"));
    let snapshot = store.snapshot();
    drop(store);
    let len = std::thread::spawn(move || snapshot.len()).join().unwrap();
    assert_eq!(len, 5);
}

#[test]
fn store_validator_that_stores_to_its_own_store_gets_reentrant() {
    let store = Arc::new(Store::new(0u32));
    let nested = Arc::new(Mutex::new(None));
    let (inner, seen) = (Arc::downgrade(&store), Arc::clone(&nested));
    store.add_validator("writes back", move |_: &u32| {
        if let Some(store) = inner.upgrade() {
            *seen.lock().unwrap() = Some(store.store(7).map(|s| *s));
        }
        Ok(())
    });
    assert_eq!(*store.store(1).unwrap(), 1);
    assert_eq!(
        nested.lock().unwrap().take(),
        Some(Err(UpdateError::Reentrant))
    );
    assert_eq!((*store.load(), store.version()), (1, 2));
}

#[test]
fn nested_writes_to_other_stores_work_and_a_write_back_two_levels_down_is_refused() {
    let (a, b, c) = (Store::new(0), Store::new(0), Store::new(0));
    let mut innermost = None;
    a.update(|x| {
        b.update(|y| {
            c.update(|z| {
                innermost = Some(a.store(99));
                *z += 1;
            })
            .unwrap();
            *y += 1;
        })
        .unwrap();
        *x += 1;
    })
    .unwrap();
    assert_eq!(innermost, Some(Err(UpdateError::Reentrant)));
    assert_eq!((*a.load(), *b.load(), *c.load()), (1, 1, 1));
    // The marks are gone afterwards: every store takes writes again.
    assert_eq!(*a.store(5).unwrap(), 5);
    assert_eq!(*b.update(|y| *y += 1).unwrap(), 2);
    assert_eq!(*c.store(3).unwrap(), 3);
}

/// On Linux (4.14 and later, without a seccomp filter blocking `membarrier`) a store defaults to
/// the adaptive read barrier, whose readers start asymmetric; the builder can ask for the
/// symmetric one anywhere.
#[test]
fn read_barrier_defaults_to_adaptive_on_linux_and_can_be_chosen() {
    let default = cowstore::Store::new(0);
    if cfg!(target_os = "linux") {
        assert_eq!(default.read_barrier(), cowstore::ReadBarrier::Adaptive);
        assert_eq!(
            default.stats().read_barrier,
            cowstore::ReadBarrier::Asymmetric
        );
    }
    let symmetric = cowstore::Store::builder(0)
        .read_barrier(cowstore::ReadBarrier::Symmetric)
        .build()
        .unwrap();
    assert_eq!(symmetric.read_barrier(), cowstore::ReadBarrier::Symmetric);
    let explicit = cowstore::Store::builder(0)
        .read_barrier(cowstore::ReadBarrier::Asymmetric)
        .build()
        .unwrap();
    assert_eq!(
        explicit.stats().read_barrier,
        default.stats().read_barrier,
        "the same readers' barrier as a quiet adaptive store"
    );
    assert_eq!(
        symmetric.stats().read_barrier,
        cowstore::ReadBarrier::Symmetric
    );
}
