//! `ReadBarrier::Adaptive`: a burst of publishes while another thread reads switches the
//! readers to the symmetric barrier (publishes stop running `membarrier`); once publishes are
//! rare again, the next window switches them back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use cowstore::{ReadBarrier, Store};

#[test]
fn a_burst_of_contended_publishes_switches_to_symmetric_and_quiet_switches_back() {
    let store = Arc::new(Store::new(0u64));
    if store.read_barrier() != ReadBarrier::Adaptive {
        eprintln!("no asymmetric barrier on this platform: nothing to check");
        return;
    }
    assert_eq!(store.stats().read_barrier, ReadBarrier::Asymmetric);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(Barrier::new(2));
    let reader = {
        let (store, stop, started) = (Arc::clone(&store), Arc::clone(&stop), Arc::clone(&started));
        std::thread::spawn(move || {
            let mut last = 0;
            let mut check = |seen: u64| {
                assert!(seen >= last, "went backwards: {seen} < {last}");
                last = seen;
            };
            check(*store.load());
            started.wait();
            while !stop.load(Ordering::Relaxed) {
                check(*store.load());
                check(*store.snapshot());
            }
        })
    };
    started.wait();

    // A burst: publishes race with the reader, each runs `membarrier` until the first 100 ms
    // window ends with a rate far above 1,000 a second.
    let burst = Instant::now();
    let mut n = 0;
    while store.stats().read_barrier == ReadBarrier::Asymmetric {
        n += 1;
        store.store(n).unwrap();
        assert!(
            burst.elapsed() < Duration::from_secs(10),
            "still asymmetric after {n} publishes"
        );
    }
    let barriers = store.stats().read_barriers;
    assert!(barriers > 0);
    for _ in 0..1_000 {
        n += 1;
        store.store(n).unwrap();
    }
    assert_eq!(
        store.stats().read_barriers,
        barriers,
        "symmetric: contended publishes run no barrier"
    );
    assert_eq!(store.stats().read_barrier, ReadBarrier::Symmetric);

    // The first publish after the one-second window still counts the 1,000 above: symmetric.
    std::thread::sleep(Duration::from_millis(1_100));
    n += 1;
    store.store(n).unwrap();
    assert_eq!(store.stats().read_barrier, ReadBarrier::Symmetric);
    // Quiet: one publish after the next window finds a rate far below 100 a second.
    std::thread::sleep(Duration::from_millis(1_100));
    n += 1;
    store.store(n).unwrap();
    assert_eq!(store.stats().read_barrier, ReadBarrier::Asymmetric);
    assert_eq!(
        store.stats().read_barriers,
        barriers + 1,
        "the publish that switched back reads the new mode after its swap: it runs the barrier"
    );
    n += 1;
    store.store(n).unwrap();
    assert_eq!(
        store.stats().read_barriers,
        barriers + 2,
        "asymmetric again: a contended publish runs the barrier"
    );

    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    assert_eq!(*store.load(), n);
    assert_eq!(store.stats().pinned_versions, 0);
}
