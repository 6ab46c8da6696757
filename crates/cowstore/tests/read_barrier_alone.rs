//! When a publish of a store with the asymmetric read barrier runs `membarrier`: only while
//! another thread holds an active hazard record (it has read and not exited). Alone in its own
//! test binary, because any other test's threads would count as readers.

use cowstore::{ReadBarrier, Store};
use std::sync::{Arc, mpsc};

#[test]
fn publishes_run_the_read_barrier_only_while_another_thread_may_read() {
    let store = Store::new(0u64);
    if store.read_barrier() == ReadBarrier::Symmetric {
        eprintln!("no asymmetric barrier on this platform: nothing to check");
        return;
    }
    let _ = *store.load(); // this thread's own record is active now
    store.store(1).unwrap();
    assert_eq!(store.stats().read_barriers, 0, "alone: no barrier");

    let store = Arc::new(store);
    let (to_reader, reader_gets) = mpsc::channel::<()>();
    let (to_main, main_gets) = mpsc::channel::<u64>();
    // A plain thread, joined: `join` returns after its thread-locals are gone, record included.
    let reader = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            to_main.send(*store.load()).unwrap(); // reads once, then only waits
            reader_gets.recv().unwrap();
        })
    };
    assert_eq!(main_gets.recv().unwrap(), 1);
    store.store(2).unwrap();
    store.store(3).unwrap();
    assert_eq!(
        store.stats().read_barriers,
        2,
        "a thread that has read is alive: every publish runs the barrier"
    );
    to_reader.send(()).unwrap();
    reader.join().unwrap();

    // The reader exited and gave its record back.
    store.store(4).unwrap();
    assert_eq!(store.stats().read_barriers, 2, "alone again: no barrier");

    // A thread that exits while a snapshot of it still holds one of its slots leaves its
    // record active; the next thread takes that record as it is, and gives it back idle. The
    // record must then count as inactive again (it was counted twice once, and publishes ran
    // the barrier for good).
    let held = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || store.snapshot()).join().unwrap()
    };
    assert_eq!(*held, 4);
    drop(held);
    {
        let store = Arc::clone(&store);
        std::thread::spawn(move || *store.load()).join().unwrap();
    }
    let barriers = store.stats().read_barriers;
    store.store(5).unwrap();
    assert_eq!(
        store.stats().read_barriers,
        barriers,
        "every other thread exited: no barrier"
    );

    let symmetric = Store::builder(0u64)
        .read_barrier(ReadBarrier::Symmetric)
        .build()
        .unwrap();
    std::thread::scope(|s| {
        let (to_main, main_gets) = mpsc::channel::<()>();
        let (to_reader, reader_gets) = mpsc::channel::<()>();
        let symmetric = &symmetric;
        s.spawn(move || {
            let _ = *symmetric.load();
            to_main.send(()).unwrap();
            reader_gets.recv().unwrap();
        });
        main_gets.recv().unwrap();
        symmetric.store(1).unwrap();
        to_reader.send(()).unwrap();
    });
    assert_eq!(
        symmetric.stats().read_barriers,
        0,
        "never with the symmetric barrier"
    );
}
