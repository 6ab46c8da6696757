//! A session table shared by request threads: a `ShardedMap` lets writers on different keys
//! proceed in parallel (one writer lock per shard) while readers never wait.
//!
//! Run with `cargo run -p cowstore --example sharded_map`.

use std::sync::Arc;
use std::thread;

use cowstore::collections::ShardedMap;

#[derive(Clone, Debug)]
struct Session {
    user: String,
    requests: u32,
}

fn main() {
    let sessions: Arc<ShardedMap<u64, Session>> = Arc::new(ShardedMap::new());

    // Four "request handler" threads, each logging in its users and counting their requests.
    let handlers: Vec<_> = (0..4u64)
        .map(|worker| {
            let sessions = Arc::clone(&sessions);
            thread::spawn(move || {
                for i in 0..250 {
                    let id = worker * 1_000 + i;
                    sessions.insert(
                        id,
                        Session {
                            user: format!("user-{id}"),
                            requests: 0,
                        },
                    );
                    // An entry-style update: one publish of this key's shard only.
                    sessions.alter(id, |s| {
                        s.cloned().map(|s| Session {
                            requests: s.requests + 1,
                            ..s
                        })
                    });
                }
            })
        })
        .collect();

    // A reader thread: wait-free lookups while the writers run.
    let reader = {
        let sessions = Arc::clone(&sessions);
        thread::spawn(move || {
            let mut found = 0;
            for id in 0..4_000 {
                found += usize::from(sessions.get_with(&id, |s| s.is_some()));
            }
            found
        })
    };

    handlers.into_iter().for_each(|h| h.join().unwrap());
    println!(
        "reader saw {} sessions while writers ran",
        reader.join().unwrap()
    );

    // A snapshot captures the shards one after another: each shard is consistent, and once
    // the writers are done the whole is exactly the current contents.
    let snapshot = sessions.snapshot();
    let requests: u32 = snapshot.iter().map(|(_, s)| s.requests).sum();
    println!(
        "{} sessions in {} shards, {requests} requests counted; session 2042 is {:?}",
        snapshot.len(),
        sessions.shard_count(),
        sessions.get(&2_042).map(|s| s.user)
    );
    assert_eq!((snapshot.len(), requests), (1_000, 1_000));

    // Logging out publishes only when the key was there.
    assert!(sessions.remove(&2_042).is_some());
    assert!(sessions.remove(&2_042).is_none());
    assert_eq!(snapshot.get(&2_042).map(|s| s.requests), Some(1)); // the snapshot is unaffected
}
