//! Change notification: latest-value subscriptions, bounded queues and callbacks.
//!
//! Every publish hands its new snapshot to the store's [`Hub`]. Concurrent publishers (the
//! lock-free `update_cas`) may arrive out of order, so the hub keeps a small reorder buffer and
//! delivers versions strictly in order: version `v` is delivered once `v - 1` was. A publisher
//! never waits for a subscriber: delivering means replacing one `latest` pointer, pushing into
//! bounded queues (dropping by policy when full) and waking waiters.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::{Closed, RecvTimeoutError, TryRecvError};
use crate::snapshot::Snapshot;
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering, lock};

type Callback<T> = Arc<dyn Fn(&Snapshot<T>) + Send + Sync>;

/// What a bounded queue subscription does with a new version when it is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Overflow {
    /// Drop the oldest queued version to make room (the queue always ends with the latest).
    DropOldest,
    /// Drop the new version (the queue keeps the oldest unread ones).
    DropNewest,
}

pub(crate) struct Hub<T> {
    state: Mutex<HubState<T>>,
    changed: Condvar,
    /// Subscriptions, queues and callbacks alive. Zero lets publishers skip the hub entirely.
    watchers: AtomicUsize,
    dispatching: AtomicBool,
    dispatch_pending: AtomicBool,
    last_dispatched: AtomicU64,
}

struct HubState<T> {
    /// Highest version delivered; every version up to it was delivered in order.
    delivered: u64,
    /// Published versions waiting for an earlier one to be delivered first.
    reorder: BTreeMap<u64, Snapshot<T>>,
    latest: Option<Snapshot<T>>,
    wakers: BTreeMap<u64, Waker>,
    queues: BTreeMap<u64, Arc<QueueShared<T>>>,
    callbacks: BTreeMap<u64, Callback<T>>,
    next_id: u64,
    closed: bool,
}

impl<T> Hub<T> {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(HubState {
                delivered: 0,
                reorder: BTreeMap::new(),
                latest: None,
                wakers: BTreeMap::new(),
                queues: BTreeMap::new(),
                callbacks: BTreeMap::new(),
                next_id: 0,
                closed: false,
            }),
            changed: Condvar::new(),
            watchers: AtomicUsize::new(0),
            dispatching: AtomicBool::new(false),
            dispatch_pending: AtomicBool::new(false),
            last_dispatched: AtomicU64::new(0),
        }
    }

    pub(crate) fn watchers(&self) -> usize {
        self.watchers.load(Ordering::Relaxed)
    }

    /// Registers a watcher; `current` is the store's current version at this moment.
    fn attach(&self, current: &Snapshot<T>) -> (MutexGuard<'_, HubState<T>>, u64) {
        // SeqCst pairs with the load in `publish`: a publisher that saw zero watchers and skipped
        // published a version that `current` (loaded after this increment) already covers.
        self.watchers.fetch_add(1, Ordering::SeqCst);
        let mut state = lock(&self.state);
        if Snapshot::version(current) > state.delivered {
            state.delivered = Snapshot::version(current);
            state.latest = Some(current.clone());
        }
        let delivered = state.delivered;
        state.reorder.retain(|&version, _| version > delivered);
        let id = state.next_id;
        state.next_id += 1;
        (state, id)
    }

    fn detach(&self, state: &mut HubState<T>) {
        if self.watchers.fetch_sub(1, Ordering::SeqCst) == 1 {
            // Nobody listens: do not keep versions pinned on their behalf.
            state.latest = None;
            state.reorder.clear();
        }
    }

    /// Delivers a freshly published version (in version order, see the module docs).
    #[inline]
    pub(crate) fn publish(&self, snapshot: &Snapshot<T>) {
        if self.watchers.load(Ordering::SeqCst) != 0 {
            self.deliver(snapshot);
        }
    }

    #[inline(never)]
    fn deliver(&self, snapshot: &Snapshot<T>) {
        let mut state = lock(&self.state);
        if Snapshot::version(snapshot) <= state.delivered {
            return;
        }
        state
            .reorder
            .insert(Snapshot::version(snapshot), snapshot.clone());
        let mut delivered_any = false;
        loop {
            let next = state.delivered + 1;
            let Some(next_snapshot) = state.reorder.remove(&next) else {
                break;
            };
            for queue in state.queues.values() {
                queue.push(&next_snapshot);
            }
            state.delivered = next;
            state.latest = Some(next_snapshot);
            delivered_any = true;
        }
        if !delivered_any {
            return;
        }
        let wakers = std::mem::take(&mut state.wakers);
        let has_callbacks = !state.callbacks.is_empty();
        drop(state);
        self.changed.notify_all();
        for waker in wakers.into_values() {
            waker.wake();
        }
        if has_callbacks {
            self.dispatch();
        }
    }

    /// Runs callbacks with the latest version. One thread dispatches at a time; a publish that
    /// happens meanwhile — including one made by a callback — is picked up by the loop instead of
    /// recursing or blocking, so callbacks may write to the store.
    fn dispatch(&self) {
        self.dispatch_pending.store(true, Ordering::SeqCst);
        loop {
            if self
                .dispatching
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                return; // the running dispatcher will see `dispatch_pending`
            }
            let _reset = ResetOnDrop(&self.dispatching);
            while self.dispatch_pending.swap(false, Ordering::SeqCst) {
                let (latest, callbacks) = {
                    let state = lock(&self.state);
                    let callbacks: Vec<Callback<T>> = state.callbacks.values().cloned().collect();
                    (state.latest.clone(), callbacks)
                };
                let Some(latest) = latest else { continue };
                if Snapshot::version(&latest) <= self.last_dispatched.load(Ordering::SeqCst) {
                    continue;
                }
                self.last_dispatched
                    .store(Snapshot::version(&latest), Ordering::SeqCst);
                for callback in &callbacks {
                    callback(&latest);
                }
            }
            drop(_reset);
            if !self.dispatch_pending.load(Ordering::SeqCst) {
                return;
            }
        }
    }

    pub(crate) fn close(&self) {
        let mut state = lock(&self.state);
        state.closed = true;
        let wakers = std::mem::take(&mut state.wakers);
        for queue in state.queues.values() {
            queue.close();
        }
        drop(state);
        self.changed.notify_all();
        for waker in wakers.into_values() {
            waker.wake();
        }
    }

    pub(crate) fn subscribe(self: &Arc<Self>, current: &Snapshot<T>) -> Subscription<T> {
        let (state, id) = self.attach(current);
        let seen = state.delivered;
        drop(state);
        Subscription {
            hub: Arc::clone(self),
            id,
            seen,
        }
    }

    pub(crate) fn subscribe_queue(
        self: &Arc<Self>,
        current: &Snapshot<T>,
        capacity: usize,
        overflow: Overflow,
    ) -> QueueSubscription<T> {
        let shared = Arc::new(QueueShared {
            queue: Mutex::new(QueueState {
                items: VecDeque::with_capacity(capacity.min(1024)),
                waker: None,
                closed: false,
            }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
            overflow,
            dropped: AtomicU64::new(0),
        });
        let (mut state, id) = self.attach(current);
        if state.closed {
            shared.close();
        }
        state.queues.insert(id, Arc::clone(&shared));
        drop(state);
        QueueSubscription {
            hub: Arc::clone(self),
            id,
            shared,
        }
    }

    pub(crate) fn on_publish(
        self: &Arc<Self>,
        current: &Snapshot<T>,
        callback: Callback<T>,
    ) -> CallbackHandle
    where
        T: Send + Sync + 'static,
    {
        let (mut state, id) = self.attach(current);
        // A callback only hears about versions published after it was registered.
        self.last_dispatched
            .fetch_max(state.delivered, Ordering::SeqCst);
        state.callbacks.insert(id, callback);
        drop(state);
        let hub = Arc::clone(self);
        CallbackHandle {
            remove: Some(Box::new(move || {
                let mut state = lock(&hub.state);
                state.callbacks.remove(&id);
                hub.detach(&mut state);
            })),
        }
    }
}

struct ResetOnDrop<'a>(&'a AtomicBool);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// A latest-value subscription to a store's versions; see
/// [`Store::subscribe`](crate::Store::subscribe).
///
/// Each receive returns the newest version published since the last one received. A slow
/// subscriber therefore skips intermediate versions (they coalesce) but never misses the latest,
/// and it never slows down writers or other subscribers. Dropping it unsubscribes.
///
/// ```
/// use cowstore::Store;
/// use std::time::Duration;
///
/// let store = Store::new(0);
/// let mut changes = store.subscribe();
/// store.store(1).unwrap();
/// store.store(2).unwrap();
/// let latest = changes.recv_timeout(Duration::from_secs(1)).unwrap();
/// assert_eq!((cowstore::Snapshot::version(&latest), *latest), (3, 2)); // version 2 coalesced away
/// ```
pub struct Subscription<T> {
    hub: Arc<Hub<T>>,
    id: u64,
    seen: u64,
}

impl<T> Subscription<T> {
    /// The last version this subscription returned (or the current one when it was created).
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// let sub = store.subscribe();
    /// assert_eq!(sub.seen_version(), 1);
    /// ```
    pub fn seen_version(&self) -> u64 {
        self.seen
    }

    /// Returns a newer version than the last one received without blocking.
    ///
    /// ```
    /// use cowstore::TryRecvError;
    /// let store = cowstore::Store::new(0);
    /// let mut sub = store.subscribe();
    /// assert_eq!(sub.try_recv().unwrap_err(), TryRecvError::Empty);
    /// store.store(1).unwrap();
    /// assert_eq!(*sub.try_recv().unwrap(), 1);
    /// ```
    pub fn try_recv(&mut self) -> Result<Snapshot<T>, TryRecvError> {
        let state = lock(&self.hub.state);
        if let Some(snapshot) = take_newer(&mut self.seen, &state) {
            return Ok(snapshot);
        }
        if state.closed {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Blocks until a newer version than the last one received is published.
    ///
    /// ```
    /// let store = std::sync::Arc::new(cowstore::Store::new(0));
    /// let mut sub = store.subscribe();
    /// let writer = std::thread::spawn({
    ///     let store = store.clone();
    ///     move || store.store(42).unwrap()
    /// });
    /// assert_eq!(*sub.recv().unwrap(), 42);
    /// writer.join().unwrap();
    /// ```
    pub fn recv(&mut self) -> Result<Snapshot<T>, Closed> {
        let mut state = lock(&self.hub.state);
        loop {
            if let Some(snapshot) = take_newer(&mut self.seen, &state) {
                return Ok(snapshot);
            }
            if state.closed {
                return Err(Closed);
            }
            state = match self.hub.changed.wait(state) {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
    }

    /// Like [`recv`](Self::recv), giving up after `timeout`.
    ///
    /// ```
    /// use cowstore::RecvTimeoutError;
    /// use std::time::Duration;
    /// let store = cowstore::Store::new(0);
    /// let mut sub = store.subscribe();
    /// assert_eq!(sub.recv_timeout(Duration::from_millis(10)).unwrap_err(), RecvTimeoutError::Timeout);
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Snapshot<T>, RecvTimeoutError> {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.hub.state);
        loop {
            if let Some(snapshot) = take_newer(&mut self.seen, &state) {
                return Ok(snapshot);
            }
            if state.closed {
                return Err(RecvTimeoutError::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(RecvTimeoutError::Timeout);
            }
            state = wait_timeout(&self.hub.changed, state, deadline - now);
        }
    }

    /// Waits asynchronously for a newer version. Works on any executor: the future only stores
    /// a [`Waker`] that the publishing thread wakes.
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Wake, Waker};
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl Wake for Unpark { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
    /// #     let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let Poll::Ready(v) = f.as_mut().poll(&mut Context::from_waker(&waker)) { return v; }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// let store = std::sync::Arc::new(cowstore::Store::new(0));
    /// let mut sub = store.subscribe();
    /// let writer = std::thread::spawn({
    ///     let store = store.clone();
    ///     move || store.store(7).unwrap()
    /// });
    /// let next = block_on(sub.changed()).unwrap();
    /// assert_eq!(*next, 7);
    /// writer.join().unwrap();
    /// ```
    pub fn changed(&mut self) -> Changed<'_, T> {
        Changed { subscription: self }
    }
}

/// The hub's latest version if it is newer than `seen` (which it then becomes).
fn take_newer<T>(seen: &mut u64, state: &HubState<T>) -> Option<Snapshot<T>> {
    let latest = state.latest.as_ref()?;
    if Snapshot::version(latest) > *seen {
        *seen = Snapshot::version(latest);
        Some(latest.clone())
    } else {
        None
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.hub.state);
        state.wakers.remove(&self.id);
        self.hub.detach(&mut state);
    }
}

impl<T> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

/// Future returned by [`Subscription::changed`].
#[must_use = "futures do nothing unless polled"]
pub struct Changed<'a, T> {
    subscription: &'a mut Subscription<T>,
}

impl<T> Future for Changed<'_, T> {
    type Output = Result<Snapshot<T>, Closed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let subscription = &mut *this.subscription;
        let hub = Arc::clone(&subscription.hub);
        let mut state = lock(&hub.state);
        if let Some(snapshot) = take_newer(&mut subscription.seen, &state) {
            state.wakers.remove(&subscription.id);
            return Poll::Ready(Ok(snapshot));
        }
        if state.closed {
            return Poll::Ready(Err(Closed));
        }
        state.wakers.insert(subscription.id, cx.waker().clone());
        Poll::Pending
    }
}

struct QueueShared<T> {
    queue: Mutex<QueueState<T>>,
    ready: Condvar,
    capacity: usize,
    overflow: Overflow,
    dropped: AtomicU64,
}

struct QueueState<T> {
    items: VecDeque<Snapshot<T>>,
    waker: Option<Waker>,
    closed: bool,
}

impl<T> QueueShared<T> {
    fn push(&self, snapshot: &Snapshot<T>) {
        let mut queue = lock(&self.queue);
        if queue.items.len() >= self.capacity {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            match self.overflow {
                Overflow::DropOldest => {
                    queue.items.pop_front();
                }
                Overflow::DropNewest => return,
            }
        }
        queue.items.push_back(snapshot.clone());
        let waker = queue.waker.take();
        drop(queue);
        self.ready.notify_one();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn close(&self) {
        let mut queue = lock(&self.queue);
        queue.closed = true;
        let waker = queue.waker.take();
        drop(queue);
        self.ready.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A subscription that receives every version, in order, through a bounded queue; see
/// [`Store::subscribe_queue`](crate::Store::subscribe_queue).
///
/// Writers never wait for it: when the queue is full the [`Overflow`] policy drops a version
/// and [`dropped`](Self::dropped) counts it.
///
/// ```
/// use cowstore::{Overflow, Store};
///
/// let store = Store::new(0);
/// let mut queue = store.subscribe_queue(2, Overflow::DropOldest);
/// for i in 1..=3 {
///     store.store(i).unwrap();
/// }
/// assert_eq!(queue.dropped(), 1);                        // version 2 made room
/// assert_eq!(*queue.try_recv().unwrap(), 2);             // version 3
/// assert_eq!(cowstore::Snapshot::version(&queue.try_recv().unwrap()), 4);
/// ```
pub struct QueueSubscription<T> {
    hub: Arc<Hub<T>>,
    id: u64,
    shared: Arc<QueueShared<T>>,
}

impl<T> QueueSubscription<T> {
    /// Versions dropped by the overflow policy so far.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// let queue = store.subscribe_queue(1, cowstore::Overflow::DropNewest);
    /// store.store(1).unwrap();
    /// store.store(2).unwrap();
    /// assert_eq!(queue.dropped(), 1);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Number of versions waiting in the queue.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// let queue = store.subscribe_queue(8, cowstore::Overflow::DropOldest);
    /// store.store(1).unwrap();
    /// assert_eq!(queue.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        lock(&self.shared.queue).items.len()
    }

    /// Whether no version is waiting.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// assert!(store.subscribe_queue(8, cowstore::Overflow::DropOldest).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next queued version, without blocking.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// let mut queue = store.subscribe_queue(8, cowstore::Overflow::DropOldest);
    /// assert!(queue.try_recv().is_err());
    /// store.store(1).unwrap();
    /// assert_eq!(cowstore::Snapshot::version(&queue.try_recv().unwrap()), 2);
    /// ```
    pub fn try_recv(&mut self) -> Result<Snapshot<T>, TryRecvError> {
        let mut queue = lock(&self.shared.queue);
        match queue.items.pop_front() {
            Some(snapshot) => Ok(snapshot),
            None if queue.closed => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// The next queued version, blocking until there is one.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// let mut queue = store.subscribe_queue(8, cowstore::Overflow::DropOldest);
    /// store.store(5).unwrap();
    /// assert_eq!(*queue.recv().unwrap(), 5);
    /// ```
    pub fn recv(&mut self) -> Result<Snapshot<T>, Closed> {
        let mut queue = lock(&self.shared.queue);
        loop {
            if let Some(snapshot) = queue.items.pop_front() {
                return Ok(snapshot);
            }
            if queue.closed {
                return Err(Closed);
            }
            queue = match self.shared.ready.wait(queue) {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
    }

    /// Like [`recv`](Self::recv), giving up after `timeout`.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// let mut queue = store.subscribe_queue(8, cowstore::Overflow::DropOldest);
    /// assert!(queue.recv_timeout(std::time::Duration::from_millis(5)).is_err());
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Snapshot<T>, RecvTimeoutError> {
        let deadline = Instant::now() + timeout;
        let mut queue = lock(&self.shared.queue);
        loop {
            if let Some(snapshot) = queue.items.pop_front() {
                return Ok(snapshot);
            }
            if queue.closed {
                return Err(RecvTimeoutError::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(RecvTimeoutError::Timeout);
            }
            queue = wait_timeout(&self.shared.ready, queue, deadline - now);
        }
    }

    /// Waits asynchronously for the next queued version (any executor).
    ///
    /// ```
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Wake, Waker};
    /// #     struct Unpark(std::thread::Thread);
    /// #     impl Wake for Unpark { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
    /// #     let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let Poll::Ready(v) = f.as_mut().poll(&mut Context::from_waker(&waker)) { return v; }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// let store = cowstore::Store::new(0);
    /// let mut queue = store.subscribe_queue(8, cowstore::Overflow::DropOldest);
    /// store.store(3).unwrap();
    /// assert_eq!(*block_on(queue.next_async()).unwrap(), 3);
    /// ```
    pub fn next_async(&mut self) -> NextQueued<'_, T> {
        NextQueued { subscription: self }
    }
}

impl<T> Drop for QueueSubscription<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.hub.state);
        state.queues.remove(&self.id);
        self.hub.detach(&mut state);
    }
}

impl<T> fmt::Debug for QueueSubscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueSubscription")
            .field("capacity", &self.shared.capacity)
            .field("overflow", &self.shared.overflow)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// Future returned by [`QueueSubscription::next_async`].
#[must_use = "futures do nothing unless polled"]
pub struct NextQueued<'a, T> {
    subscription: &'a mut QueueSubscription<T>,
}

impl<T> Future for NextQueued<'_, T> {
    type Output = Result<Snapshot<T>, Closed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let shared = &self.get_mut().subscription.shared;
        let mut queue = lock(&shared.queue);
        if let Some(snapshot) = queue.items.pop_front() {
            return Poll::Ready(Ok(snapshot));
        }
        if queue.closed {
            return Poll::Ready(Err(Closed));
        }
        queue.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Keeps a callback registered with [`Store::on_publish`](crate::Store::on_publish); dropping
/// it unregisters the callback.
#[must_use = "the callback is unregistered when this handle is dropped"]
pub struct CallbackHandle {
    remove: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl CallbackHandle {
    /// Keeps the callback registered for the life of the store.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// store.on_publish(|s| println!("now at version {}", cowstore::Snapshot::version(&s))).forever();
    /// ```
    pub fn forever(mut self) {
        self.remove = None;
    }
}

impl Drop for CallbackHandle {
    fn drop(&mut self) {
        if let Some(remove) = self.remove.take() {
            remove();
        }
    }
}

impl fmt::Debug for CallbackHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackHandle").finish_non_exhaustive()
    }
}

#[cfg(not(loom))]
fn wait_timeout<'a, S>(
    condvar: &Condvar,
    guard: MutexGuard<'a, S>,
    timeout: Duration,
) -> MutexGuard<'a, S> {
    match condvar.wait_timeout(guard, timeout) {
        Ok((guard, _)) => guard,
        Err(poisoned) => poisoned.into_inner().0,
    }
}

#[cfg(loom)]
fn wait_timeout<'a, S>(
    condvar: &Condvar,
    guard: MutexGuard<'a, S>,
    _timeout: Duration,
) -> MutexGuard<'a, S> {
    // Loom has no time: a timed wait is an untimed one in the model.
    match condvar.wait(guard) {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
