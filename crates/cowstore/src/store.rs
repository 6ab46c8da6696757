//! [`Store`]: the cell holding the current snapshot, and its write paths.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::clock;

use crate::error::{UpdateError, ValidationError};
use crate::pins::{PinTracker, PinnedVersion};
use crate::raw::{AtomicNode, Counted, Meta, NewNode};
use crate::read_barrier::ReadBarrier;
use crate::reader::Reader;
use crate::snapshot::{Guard, Snapshot};
use crate::stats::{Counters, Stats};
use crate::subscribe::{CallbackHandle, Hub, Overflow, QueueSubscription, Subscription};
use crate::sync::{Mutex, lock, thread_local_with_drop};

type ValidatorFn<T> = dyn Fn(&T) -> Result<(), ValidationError> + Send + Sync;
type SizeFn<T> = dyn Fn(&T) -> usize + Send + Sync;

struct Validator<T> {
    name: Cow<'static, str>,
    check: Box<ValidatorFn<T>>,
}

struct Shared<T> {
    /// Serializes the locking write paths (everything but `update_cas`).
    writer: Mutex<()>,
    validators: RwLock<Arc<Vec<Arc<Validator<T>>>>>,
    /// Lets writes skip the validator lock when there are none.
    validator_count: std::sync::atomic::AtomicUsize,
    /// Read the fine clock on every publish instead of the coarse one.
    precise_timestamps: bool,
    /// The version of the initial value (publishes = current - initial).
    initial_version: u64,
    hub: Arc<Hub<T>>,
    pins: Arc<PinTracker>,
    counters: Counters,
    size_of: Option<Box<SizeFn<T>>>,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    name: Option<String>,
}

/// A shared, versioned, copy-on-write value with wait-free reads.
///
/// Readers get the current immutable version through [`load`](Self::load) (a thread-bound guard),
/// [`snapshot`](Self::snapshot) (an owned handle) or a per-thread [`Reader`]. Writers derive a new
/// value from the current one, the store validates it and publishes it with one atomic
/// compare-and-swap; readers of older versions keep them until they let go, and each old value
/// is dropped exactly once, by whoever releases it last.
///
/// Every publish gets the next version number (the initial value is version 1) and a timestamp.
///
/// ```
/// use cowstore::Store;
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct Config { level: u8, hosts: Vec<String> }
///
/// let store = Store::new(Config { level: 1, hosts: vec!["a".into()] });
/// let old = store.snapshot();
/// let new = store.update(|c| c.hosts.push("b".into())).unwrap();
/// assert_eq!(old.hosts, ["a"]);              // the old version is untouched
/// assert_eq!(new.hosts, ["a", "b"]);
/// assert_eq!((cowstore::Snapshot::version(&old), cowstore::Snapshot::version(&new)), (1, 2));
/// assert_eq!(store.load().level, 1);
/// ```
///
/// # Write paths
///
/// | method | closure runs | fails when |
/// |---|---|---|
/// | [`update`](Self::update) | on a clone, under the writer lock | a validator refuses |
/// | [`try_update`](Self::try_update) | same, may return `Err` | the closure or a validator refuses |
/// | [`update_with`](Self::update_with) | builds the next value from `&T` (no `Clone`) | a validator refuses |
/// | [`compare_and_set`](Self::compare_and_set) | once, if the version is still the expected one | another version is current |
/// | [`update_cas`](Self::update_cas) | lock-free, again after each lost race | a validator refuses |
/// | [`store`](Self::store) | — (blind replace, lock-free) | a validator refuses |
/// | [`batch`](Self::batch) | many closures, one publish | a validator refuses |
///
/// The locking writes are serialized so no update is ever lost. They still publish with a
/// compare-and-swap, so when they race with `update_cas` their closure may run again on the
/// newer value (that is why they take `FnMut`); without `update_cas` every closure runs once.
pub struct Store<T> {
    cell: AtomicNode<T>,
    shared: Arc<Shared<T>>,
}

/// Configures a [`Store`] before its first version is published; see [`Store::builder`].
pub struct Builder<T> {
    initial: T,
    validators: Vec<Arc<Validator<T>>>,
    size_of: Option<Box<SizeFn<T>>>,
    name: Option<String>,
    initial_version: u64,
    initial_published_at: Option<SystemTime>,
    precise_timestamps: bool,
    read_barrier: ReadBarrier,
}

impl<T> Builder<T> {
    /// Adds a validator: every candidate value, the initial one included, must pass it before it
    /// is published. `name` appears in errors.
    ///
    /// ```
    /// let store = cowstore::Store::builder(30)
    ///     .validator("timeout in range", |t: &u32| {
    ///         if (1..=300).contains(t) { Ok(()) } else { Err(format!("{t}s is outside 1..=300").into()) }
    ///     })
    ///     .build()
    ///     .unwrap();
    /// assert!(store.store(0).is_err());
    /// assert_eq!(*store.load(), 30);
    /// ```
    pub fn validator<F>(mut self, name: impl Into<Cow<'static, str>>, check: F) -> Self
    where
        F: Fn(&T) -> Result<(), ValidationError> + Send + Sync + 'static,
    {
        self.validators.push(Arc::new(Validator {
            name: name.into(),
            check: Box::new(check),
        }));
        self
    }

    /// Estimates the heap size of a value, so [`Stats::pinned_bytes`] can tell how much memory
    /// old versions hold. Called once per publish.
    ///
    /// ```
    /// let store = cowstore::Store::builder(vec![0u8; 100])
    ///     .size_of(|v: &Vec<u8>| v.capacity())
    ///     .build()
    ///     .unwrap();
    /// let pinned = store.snapshot();
    /// store.store(vec![]).unwrap();
    /// assert_eq!(store.stats().pinned_bytes, 100);
    /// drop(pinned);
    /// assert_eq!(store.stats().pinned_bytes, 0);
    /// ```
    pub fn size_of<F>(mut self, estimate: F) -> Self
    where
        F: Fn(&T) -> usize + Send + Sync + 'static,
    {
        self.size_of = Some(Box::new(estimate));
        self
    }

    /// Names the store (the `store` label of exported metrics).
    ///
    /// ```
    /// let store = cowstore::Store::builder(1).name("feature-flags").build().unwrap();
    /// assert_eq!(store.name(), Some("feature-flags"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Validates the initial value and creates the store.
    ///
    /// ```
    /// let err = cowstore::Store::builder(-5)
    ///     .validator("non-negative", |v: &i32| if *v >= 0 { Ok(()) } else { Err("negative".into()) })
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.validator(), Some("non-negative"));
    /// ```
    pub fn build(self) -> Result<Store<T>, ValidationError> {
        run_validators(&self.validators, &self.initial)?;
        Ok(Store::from_builder(self))
    }

    /// Numbers the initial value `version` instead of 1, and later publishes from there: for a
    /// store that continues a history persisted elsewhere (a journal, a leader, etcd).
    ///
    /// # Panics
    /// If `version` is 0: versions start at 1.
    ///
    /// ```
    /// let store = cowstore::Store::builder("restored").initial_version(41).build().unwrap();
    /// assert_eq!(store.version(), 41);
    /// assert_eq!(cowstore::Snapshot::version(&store.store("next").unwrap()), 42);
    /// ```
    pub fn initial_version(mut self, version: u64) -> Self {
        assert!(version > 0, "versions start at 1");
        self.initial_version = version;
        self
    }

    /// Timestamps every publish with the fine monotonic clock. By default, on Linux, a publish
    /// reads the coarse clock (a few milliseconds of resolution, an eighth of the cost), so
    /// versions published within one tick share a `published_at`. Versions are always strictly
    /// ordered by their numbers either way.
    ///
    /// ```
    /// let store = cowstore::Store::builder(0).precise_timestamps().build().unwrap();
    /// let a = store.store(1).unwrap();
    /// let b = store.store(2).unwrap();
    /// assert!(cowstore::Snapshot::published_at(&b) >= cowstore::Snapshot::published_at(&a));
    /// ```
    pub fn precise_timestamps(mut self) -> Self {
        self.precise_timestamps = true;
        self
    }

    /// Records the initial value as published at `time` (default: now), for a restored
    /// version; its [`age`](crate::Snapshot::age) counts from then when `time` is in the past.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    /// let store = cowstore::Store::builder(1).published_at(an_hour_ago).build().unwrap();
    /// let current = store.snapshot();
    /// assert_eq!(cowstore::Snapshot::published_at(&current), an_hour_ago);
    /// assert!(cowstore::Snapshot::age(&current) >= Duration::from_secs(3599));
    /// ```
    pub fn published_at(mut self, time: SystemTime) -> Self {
        self.initial_published_at = Some(time);
        self
    }

    /// Chooses who pays for the barrier between readers and writers: every read
    /// ([`ReadBarrier::Symmetric`]) or every publish made while other threads read
    /// ([`ReadBarrier::Asymmetric`]), or switch between the two as publishes come
    /// ([`ReadBarrier::Adaptive`], the default). See [`ReadBarrier`].
    ///
    /// ```
    /// use cowstore::{ReadBarrier, Store};
    /// let store = Store::builder(1).read_barrier(ReadBarrier::Symmetric).build().unwrap();
    /// assert_eq!(store.read_barrier(), ReadBarrier::Symmetric);
    /// ```
    pub fn read_barrier(mut self, barrier: ReadBarrier) -> Self {
        self.read_barrier = barrier;
        self
    }
}

impl<T: fmt::Debug> fmt::Debug for Builder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("initial", &self.initial)
            .field("validators", &self.validators.len())
            .field("name", &self.name)
            .field("read_barrier", &self.read_barrier)
            .finish_non_exhaustive()
    }
}

fn run_validators<T>(validators: &[Arc<Validator<T>>], value: &T) -> Result<(), ValidationError> {
    for validator in validators {
        (validator.check)(value).map_err(|e| e.with_validator(validator.name.clone()))?;
    }
    Ok(())
}

thread_local_with_drop! {
    /// The store (by address of its shared part) this thread is running a write closure or a
    /// validator for, or 0. A plain cell: the common, un-nested write touches nothing else.
    static WRITING: Cell<usize> = const { Cell::new(0) };
}

thread_local_with_drop! {
    /// Further stores written to from inside such a closure or validator (nested writes to
    /// *other* stores are allowed; a nested write to one of these would deadlock or loop
    /// forever).
    static WRITING_NESTED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Marks the calling thread as writing to a store for as long as it lives.
struct WritingMark {
    id: usize,
    nested: bool,
}

impl WritingMark {
    /// Marks the thread as writing to the store `id`; `None` if it already is (a nested write
    /// to the same store).
    fn enter(id: usize) -> Option<Self> {
        if Self::is_writing(id) {
            return None;
        }
        let nested = WRITING.with(Cell::get) != 0;
        if nested {
            WRITING_NESTED.with(|stores| stores.borrow_mut().push(id));
        } else {
            WRITING.with(|writing| writing.set(id));
        }
        Some(Self { id, nested })
    }

    /// Whether this thread is inside a write to the store `id`.
    #[inline]
    fn is_writing(id: usize) -> bool {
        match WRITING.with(Cell::get) {
            0 => false,
            outer if outer == id => true,
            _ => WRITING_NESTED.with(|nested| nested.borrow().contains(&id)),
        }
    }
}

impl Drop for WritingMark {
    fn drop(&mut self) {
        // Marks live in the scope of one write call, so they end in reverse order of creation:
        // the outermost one ends last.
        if self.nested {
            let _ =
                WRITING_NESTED.try_with(|nested| nested.borrow_mut().retain(|&id| id != self.id));
        } else {
            WRITING.with(|writing| writing.set(0));
        }
    }
}

/// What a write closure decided.
enum Next<T, E> {
    Publish(T),
    Fail(UpdateError<E>),
}

impl<T> Store<T> {
    /// Creates a store whose current value, version 1, is `initial`.
    ///
    /// ```
    /// let store = cowstore::Store::new(String::from("v1"));
    /// assert_eq!(*store.load(), "v1");
    /// assert_eq!(store.version(), 1);
    /// ```
    pub fn new(initial: T) -> Self {
        Self::from_builder(Self::builder(initial))
    }

    /// Starts configuring a store: validators, a size estimator, a name.
    ///
    /// ```
    /// let store = cowstore::Store::builder(vec!["a"]).name("hosts").build().unwrap();
    /// assert_eq!(store.load().len(), 1);
    /// ```
    pub fn builder(initial: T) -> Builder<T> {
        Builder {
            initial,
            validators: Vec::new(),
            size_of: None,
            name: None,
            initial_version: 1,
            initial_published_at: None,
            precise_timestamps: false,
            read_barrier: ReadBarrier::default(),
        }
    }

    fn from_builder(builder: Builder<T>) -> Self {
        let Builder {
            initial,
            validators,
            size_of,
            name,
            initial_version,
            initial_published_at,
            precise_timestamps,
            read_barrier,
        } = builder;
        let pins = Arc::new(PinTracker::default());
        let bytes = size_of.as_ref().map_or(0, |f| f(&initial));
        // The same clock as later publishes, so timestamps never go backwards.
        let now = clock::publish_time(precise_timestamps);
        let (published_mono, published_wall) = match initial_published_at {
            None => (now, None),
            Some(time) => {
                // Backdate the monotonic instant too, so `age` counts from `time`.
                let elapsed = SystemTime::now().duration_since(time).unwrap_or_default();
                (now.saturating_sub(elapsed), Some(time))
            }
        };
        let meta = Meta {
            version: initial_version,
            published_mono,
            published_wall,
            bytes,
        };
        let (cell, _initial) = AtomicNode::new(
            NewNode::new(initial, meta),
            Arc::clone(&pins),
            read_barrier != ReadBarrier::Symmetric,
            read_barrier == ReadBarrier::Adaptive,
        );
        Self {
            cell,
            shared: Arc::new(Shared {
                writer: Mutex::new(()),
                validator_count: std::sync::atomic::AtomicUsize::new(validators.len()),
                validators: RwLock::new(Arc::new(validators)),
                precise_timestamps,
                initial_version,
                hub: Arc::new(Hub::new()),
                pins,
                counters: Counters::default(),
                size_of,
                name,
            }),
        }
    }

    /// The store's name, if the builder gave it one.
    ///
    /// ```
    /// assert_eq!(cowstore::Store::new(0).name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.shared.name.as_deref()
    }

    /// The read barrier this store runs with: the one its builder chose, or
    /// [`ReadBarrier::Symmetric`] where the asymmetric one is not available.
    ///
    /// ```
    /// use cowstore::{ReadBarrier, Store};
    /// // Adaptive on Linux 4.14 and later, unless a seccomp filter blocks `membarrier`;
    /// // symmetric elsewhere.
    /// let default = Store::new(1);
    /// println!("reads announce with {:?} barriers", default.read_barrier());
    /// let symmetric = Store::builder(1).read_barrier(ReadBarrier::Symmetric).build().unwrap();
    /// assert_eq!(symmetric.read_barrier(), ReadBarrier::Symmetric);
    /// ```
    pub fn read_barrier(&self) -> ReadBarrier {
        let mode = self.cell.mode();
        if !mode.can_be_asymmetric() {
            ReadBarrier::Symmetric
        } else if mode.is_adaptive() {
            ReadBarrier::Adaptive
        } else {
            ReadBarrier::Asymmetric
        }
    }

    /// Switches the readers' barrier as an adaptive store would, for the loom models of the
    /// switch racing with reads and publishes. Returns whether it switched.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_switch_read_barrier(&self, asymmetric: bool) -> bool {
        self.cell.mode().set_asymmetric(asymmetric)
    }

    /// Reads the current version through a short-lived guard.
    ///
    /// Wait-free when writes are serialized; in the common case it writes only to the calling
    /// thread's own hazard slot, never to a shared reference count.
    ///
    /// ```
    /// let store = cowstore::Store::new([1, 2, 3]);
    /// let sum: i32 = store.load().iter().sum();
    /// assert_eq!(sum, 6);
    /// ```
    #[inline]
    pub fn load(&self) -> Guard<'_, T> {
        Guard::new(self.cell.protect())
    }

    /// An owned handle to the current version (`Send + Sync + 'static`).
    ///
    /// It costs about what [`load`](Self::load) costs: the snapshot keeps the hazard slot that
    /// protected it (see [`Snapshot`]) and may be dropped on any thread.
    ///
    /// ```
    /// let store = cowstore::Store::new(5);
    /// let snapshot = store.snapshot();
    /// std::thread::spawn(move || assert_eq!(*snapshot, 5)).join().unwrap();
    /// ```
    #[inline]
    pub fn snapshot(&self) -> Snapshot<T> {
        Snapshot::new(self.cell.snapshot())
    }

    /// A per-thread reader that caches the current snapshot: when nothing was published its
    /// [`load`](Reader::load) is a single atomic load.
    ///
    /// ```
    /// let store = cowstore::Store::new(1);
    /// let mut reader = store.reader();
    /// assert_eq!(**reader.load(), 1);
    /// store.store(2).unwrap();
    /// assert_eq!(**reader.load(), 2);
    /// ```
    pub fn reader(&self) -> Reader<'_, T> {
        Reader::new(self)
    }

    pub(crate) fn is_current(&self, snapshot: &Snapshot<T>) -> bool {
        self.cell.is_current(snapshot.counted())
    }

    /// The current version number.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// store.store(1).unwrap();
    /// assert_eq!(store.version(), 2);
    /// ```
    pub fn version(&self) -> u64 {
        Guard::version(&self.load())
    }

    fn id(&self) -> usize {
        Arc::as_ptr(&self.shared).addr()
    }

    fn validators(&self) -> Option<Arc<Vec<Arc<Validator<T>>>>> {
        if self
            .shared
            .validator_count
            .load(std::sync::atomic::Ordering::Acquire)
            == 0
        {
            return None;
        }
        Some(Arc::clone(
            &self
                .shared
                .validators
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ))
    }

    /// Adds a validator that every later write must pass. The current value is not re-checked.
    ///
    /// ```
    /// let store = cowstore::Store::new(1);
    /// store.add_validator("odd", |v: &i32| if v % 2 == 1 { Ok(()) } else { Err("even".into()) });
    /// assert!(store.store(2).is_err());
    /// assert!(store.store(3).is_ok());
    /// ```
    pub fn add_validator<F>(&self, name: impl Into<Cow<'static, str>>, check: F)
    where
        F: Fn(&T) -> Result<(), ValidationError> + Send + Sync + 'static,
    {
        let mut validators = self
            .shared
            .validators
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next = Vec::clone(&validators);
        next.push(Arc::new(Validator {
            name: name.into(),
            check: Box::new(check),
        }));
        *validators = Arc::new(next);
        self.shared
            .validator_count
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    fn new_node(&self, value: T, version: u64) -> NewNode<T> {
        let bytes = self.shared.size_of.as_ref().map_or(0, |f| f(&value));
        let meta = Meta {
            version,
            published_mono: clock::publish_time(self.shared.precise_timestamps),
            published_wall: None,
            bytes,
        };
        NewNode::new(value, meta)
    }

    /// The core of every write: derive, validate, compare-and-swap; again if the swap lost.
    fn write<E>(
        &self,
        locked: bool,
        mut next: impl FnMut(&Guard<'_, T>) -> Next<T, E>,
    ) -> Result<Snapshot<T>, UpdateError<E>> {
        let Some(mark) = WritingMark::enter(self.id()) else {
            return Err(UpdateError::Reentrant);
        };
        let validators = self.validators();
        let writer_lock = locked.then(|| lock(&self.shared.writer));
        let published = loop {
            // A borrowed guard is enough: it keeps the node, hence its address, alive, so the
            // compare-and-swap below cannot succeed against a recycled node (no ABA).
            let current = self.load();
            let value = match next(&current) {
                Next::Publish(value) => value,
                Next::Fail(error) => return Err(self.count_failure(error)),
            };
            if let Some(validators) = &validators
                && let Err(error) = run_validators(validators, &value)
            {
                return Err(self.count_failure(UpdateError::Rejected {
                    error,
                    current: Guard::version(&current),
                }));
            }
            let node = self.new_node(value, Guard::version(&current) + 1);
            match self.cell.compare_and_swap(current.into_protected(), node) {
                Ok(published) => break published,
                Err(_lost) => Counters::bump(&self.shared.counters.cas_retries),
            }
        };
        drop(writer_lock);
        // Callbacks run from `announce` may write to this store again.
        drop(mark);
        Ok(self.announce(published))
    }

    fn count_failure<E>(&self, error: UpdateError<E>) -> UpdateError<E> {
        let counters = &self.shared.counters;
        match &error {
            UpdateError::Rejected { .. } => Counters::bump(&counters.rejected),
            UpdateError::Aborted(_) => Counters::bump(&counters.aborted),
            UpdateError::Conflict { .. } => Counters::bump(&counters.conflicts),
            UpdateError::Reentrant => {}
        }
        error
    }

    /// Counts a publish and tells subscribers; runs outside the writer lock.
    fn announce(&self, published: Counted<T>) -> Snapshot<T> {
        let snapshot = Snapshot::new(published);
        self.shared.hub.publish(&snapshot);
        #[cfg(feature = "metrics")]
        if let Some(name) = &self.shared.name {
            self.stats().export_metrics(name);
        }
        snapshot
    }

    /// Publishes `f` applied to a clone of the current value. Writers are serialized, so no
    /// update is lost; `f` runs once unless an [`update_cas`](Self::update_cas) races with it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let store = Arc::new(cowstore::Store::new(0u64));
    /// let threads: Vec<_> = (0..4)
    ///     .map(|_| {
    ///         let store = Arc::clone(&store);
    ///         std::thread::spawn(move || for _ in 0..100 { store.update(|n| *n += 1).unwrap(); })
    ///     })
    ///     .collect();
    /// threads.into_iter().for_each(|t| t.join().unwrap());
    /// assert_eq!(*store.load(), 400);
    /// assert_eq!(store.version(), 401);
    /// ```
    pub fn update<F>(&self, mut f: F) -> Result<Snapshot<T>, UpdateError>
    where
        T: Clone,
        F: FnMut(&mut T),
    {
        self.write(true, |current| {
            let mut value = T::clone(current);
            f(&mut value);
            Next::Publish(value)
        })
    }

    /// Like [`update`](Self::update), but `f` may refuse: then nothing is published and its
    /// error comes back as [`UpdateError::Aborted`].
    ///
    /// ```
    /// use cowstore::UpdateError;
    /// let store = cowstore::Store::new(vec![1, 2]);
    /// let err = store
    ///     .try_update(|v| match v.pop() {
    ///         Some(x) if x > 5 => Ok(()),
    ///         _ => Err("nothing to remove"),
    ///     })
    ///     .unwrap_err();
    /// assert_eq!(err, UpdateError::Aborted("nothing to remove"));
    /// assert_eq!(*store.load(), [1, 2]); // rolled back: the clone was discarded
    /// ```
    pub fn try_update<E, F>(&self, mut f: F) -> Result<Snapshot<T>, UpdateError<E>>
    where
        T: Clone,
        F: FnMut(&mut T) -> Result<(), E>,
    {
        self.write(true, |current| {
            let mut value = T::clone(current);
            match f(&mut value) {
                Ok(()) => Next::Publish(value),
                Err(error) => Next::Fail(UpdateError::Aborted(error)),
            }
        })
    }

    /// Publishes the value `f` builds from the current one; for types that are not `Clone` or
    /// that build their next version more cheaply than by cloning.
    ///
    /// ```
    /// let store = cowstore::Store::new(String::from("a"));
    /// store.update_with(|s| format!("{s}b")).unwrap();
    /// assert_eq!(*store.load(), "ab");
    /// ```
    pub fn update_with<F>(&self, mut f: F) -> Result<Snapshot<T>, UpdateError>
    where
        F: FnMut(&T) -> T,
    {
        self.write(true, |current| Next::Publish(f(current)))
    }

    /// Optimistic concurrency: applies `f` and publishes only if `expected_version` is still
    /// current; otherwise fails with [`UpdateError::Conflict`] naming the current version.
    ///
    /// ```
    /// use cowstore::UpdateError;
    /// let store = cowstore::Store::new(10);
    /// let seen = store.version();
    /// store.store(11).unwrap(); // someone else got there first
    /// let err = store.compare_and_set(seen, |v| *v += 1).unwrap_err();
    /// assert_eq!(err, UpdateError::Conflict { expected: 1, current: 2 });
    /// assert!(store.compare_and_set(2, |v| *v += 1).is_ok());
    /// ```
    pub fn compare_and_set<F>(
        &self,
        expected_version: u64,
        f: F,
    ) -> Result<Snapshot<T>, UpdateError>
    where
        T: Clone,
        F: FnOnce(&mut T),
    {
        let mut f = Some(f);
        self.write(true, |current| {
            let found = Guard::version(current);
            let f = match f.take() {
                Some(f) if found == expected_version => f,
                // Either another version is current, or an `update_cas` won the race after `f`
                // ran once: both mean the expected version is gone.
                _ => {
                    return Next::Fail(UpdateError::Conflict {
                        expected: expected_version,
                        current: found,
                    });
                }
            };
            let mut value = T::clone(current);
            f(&mut value);
            Next::Publish(value)
        })
    }

    /// Lock-free update: applies `f` to a clone of the current value and publishes it with a
    /// compare-and-swap, retrying on the newer value when another publish got in first.
    /// `f` may therefore run more than once; retries are counted in [`Stats::cas_retries`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// let store = Arc::new(cowstore::Store::new(0u32));
    /// let threads: Vec<_> = (0..4)
    ///     .map(|_| {
    ///         let store = Arc::clone(&store);
    ///         std::thread::spawn(move || for _ in 0..100 { store.update_cas(|n| *n += 1).unwrap(); })
    ///     })
    ///     .collect();
    /// threads.into_iter().for_each(|t| t.join().unwrap());
    /// assert_eq!(*store.load(), 400); // no lost update despite retries
    /// ```
    pub fn update_cas<F>(&self, mut f: F) -> Result<Snapshot<T>, UpdateError>
    where
        T: Clone,
        F: FnMut(&mut T),
    {
        self.write(false, |current| {
            let mut value = T::clone(current);
            f(&mut value);
            Next::Publish(value)
        })
    }

    /// Replaces the value, whatever it is now.
    ///
    /// ```
    /// let store = cowstore::Store::new("old");
    /// let published = store.store("new").unwrap();
    /// assert_eq!((*published, cowstore::Snapshot::version(&published)), ("new", 2));
    /// ```
    pub fn store(&self, value: T) -> Result<Snapshot<T>, UpdateError> {
        if WritingMark::is_writing(self.id()) {
            return Err(UpdateError::Reentrant);
        }
        // Only validators run user code here, so only they need to mark the thread as writing
        // (a value's `Drop` that writes to this store is fine: no lock is held while old values
        // drop).
        let mut mark = None;
        if let Some(validators) = self.validators() {
            mark = WritingMark::enter(self.id());
            if let Err(error) = run_validators(&validators, &value) {
                return Err(self.count_failure(UpdateError::Rejected {
                    error,
                    current: self.version(),
                }));
            }
        }
        // A blind replace needs no serialization: there is no closure to run again, so a lost
        // race just retries the compare-and-swap with the next version number.
        let current = self.load();
        let mut node = self.new_node(value, Guard::version(&current) + 1);
        let mut current = current.into_protected();
        let published = loop {
            match self.cell.compare_and_swap(current, node) {
                Ok(published) => break published,
                Err((stale, lost)) => {
                    Counters::bump(&self.shared.counters.cas_retries);
                    drop(stale);
                    let fresh = self.load();
                    node = lost;
                    node.set_version(Guard::version(&fresh) + 1);
                    current = fresh.into_protected();
                }
            }
        };
        drop(mark);
        Ok(self.announce(published))
    }

    /// Collects several changes and publishes them as one version.
    ///
    /// ```
    /// let store = cowstore::Store::new(vec![1]);
    /// let published = store
    ///     .batch()
    ///     .then(|v: &mut Vec<i32>| v.push(2))
    ///     .then(|v: &mut Vec<i32>| v.push(3))
    ///     .commit()
    ///     .unwrap();
    /// assert_eq!((cowstore::Snapshot::version(&published), &*published), (2, &vec![1, 2, 3]));
    /// ```
    pub fn batch(&self) -> Batch<'_, T> {
        Batch {
            store: self,
            changes: Vec::new(),
        }
    }

    /// Subscribes to new versions with latest-value semantics; see [`Subscription`].
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// let mut sub = store.subscribe();
    /// store.store(1).unwrap();
    /// assert_eq!(*sub.try_recv().unwrap(), 1);
    /// ```
    pub fn subscribe(&self) -> Subscription<T> {
        self.shared.hub.subscribe(&self.snapshot())
    }

    /// Subscribes to every new version through a bounded queue; see [`QueueSubscription`].
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// let mut queue = store.subscribe_queue(16, cowstore::Overflow::DropOldest);
    /// store.store(1).unwrap();
    /// store.store(2).unwrap();
    /// assert_eq!(cowstore::Snapshot::version(&queue.try_recv().unwrap()), 2);
    /// assert_eq!(cowstore::Snapshot::version(&queue.try_recv().unwrap()), 3);
    /// ```
    pub fn subscribe_queue(&self, capacity: usize, overflow: Overflow) -> QueueSubscription<T> {
        self.shared
            .hub
            .subscribe_queue(&self.snapshot(), capacity, overflow)
    }

    /// Calls `callback` with the latest version after publishes (versions published while a
    /// callback runs coalesce into one call with the newest). Callbacks run on a publishing
    /// thread, one at a time, after the writer lock is released, so a callback may itself write
    /// to the store: that publish is delivered by the loop already running, not recursively.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicU64, Ordering}};
    /// let store = cowstore::Store::new(0);
    /// let seen = Arc::new(AtomicU64::new(0));
    /// let handle = store.on_publish({
    ///     let seen = Arc::clone(&seen);
    ///     move |s| seen.store(cowstore::Snapshot::version(&s), Ordering::SeqCst)
    /// });
    /// store.store(1).unwrap();
    /// assert_eq!(seen.load(Ordering::SeqCst), 2);
    /// drop(handle); // unregisters
    /// store.store(2).unwrap();
    /// assert_eq!(seen.load(Ordering::SeqCst), 2);
    /// ```
    pub fn on_publish<F>(&self, callback: F) -> CallbackHandle
    where
        F: Fn(&Snapshot<T>) + Send + Sync + 'static,
        T: Send + Sync + 'static,
    {
        self.shared
            .hub
            .on_publish(&self.snapshot(), Arc::new(callback))
    }

    /// Current version, its age, pinned old versions and counters; see [`Stats`].
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// let pinned = store.snapshot();
    /// store.store(1).unwrap();
    /// let stats = store.stats();
    /// assert_eq!((stats.version, stats.publishes), (2, 1));
    /// assert_eq!(stats.pinned_versions, 1);            // version 1, held by `pinned`
    /// assert_eq!(stats.oldest_pinned.unwrap().version, 1);
    /// drop(pinned);
    /// assert_eq!(store.stats().pinned_versions, 0);
    /// ```
    pub fn stats(&self) -> Stats {
        let current = self.load();
        let counters = &self.shared.counters;
        let (pinned_versions, pinned_bytes, oldest_pinned) = self.shared.pins.summary();
        Stats {
            version: Guard::version(&current),
            published_at: Guard::published_at(&current),
            age: Guard::age(&current),
            pinned_versions,
            pinned_bytes,
            oldest_pinned,
            // Every publish adds one to the version and retires the version before it, which is
            // dropped at once unless pinned.
            publishes: Guard::version(&current) - self.shared.initial_version,
            rejected: Counters::get(&counters.rejected),
            aborted: Counters::get(&counters.aborted),
            conflicts: Counters::get(&counters.conflicts),
            cas_retries: Counters::get(&counters.cas_retries),
            read_barriers: self.cell.mode().heavy_barriers(),
            read_barrier: if self.cell.mode().asymmetric_now() {
                ReadBarrier::Asymmetric
            } else {
                ReadBarrier::Symmetric
            },
            subscribers: self.shared.hub.watchers(),
            reclaimed: (Guard::version(&current) - self.shared.initial_version)
                .saturating_sub(pinned_versions as u64),
        }
    }

    /// Every retired version still alive, oldest first.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// let a = store.snapshot();
    /// store.store(1).unwrap();
    /// let b = store.snapshot();
    /// store.store(2).unwrap();
    /// let versions: Vec<u64> = store.pinned_versions().iter().map(|p| p.version).collect();
    /// assert_eq!(versions, [1, 2]);
    /// # drop((a, b));
    /// ```
    pub fn pinned_versions(&self) -> Vec<PinnedVersion> {
        self.shared.pins.pinned()
    }

    /// Exports [`stats`](Self::stats) through the `metrics` facade under the store's name
    /// (or `"default"`). Stores with a name also export after every publish.
    ///
    /// ```
    /// let store = cowstore::Store::builder(0).name("flags").build().unwrap();
    /// store.export_metrics();
    /// ```
    #[cfg(feature = "metrics")]
    pub fn export_metrics(&self) {
        self.stats()
            .export_metrics(self.shared.name.as_deref().unwrap_or("default"));
    }
}

impl<T> Drop for Store<T> {
    fn drop(&mut self) {
        self.shared.hub.close();
    }
}

impl<T: Default> Default for Store<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for Store<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let current = self.load();
        f.debug_struct("Store")
            .field("version", &Guard::version(&current))
            .field("value", &*current)
            .finish()
    }
}

type Change<'a, T> = Box<dyn FnMut(&mut T) + 'a>;

/// Several changes published as one version; see [`Store::batch`].
#[must_use = "a batch publishes nothing until `commit` is called"]
pub struct Batch<'a, T> {
    store: &'a Store<T>,
    changes: Vec<Change<'a, T>>,
}

impl<'a, T> Batch<'a, T> {
    /// Adds a change.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// let batch = store.batch().then(|v: &mut i32| *v += 1);
    /// assert_eq!(batch.len(), 1);
    /// # drop(batch);
    /// ```
    pub fn then(mut self, change: impl FnMut(&mut T) + 'a) -> Self {
        self.changes.push(Box::new(change));
        self
    }

    /// Adds a change in place.
    ///
    /// ```
    /// let store = cowstore::Store::new(0);
    /// let mut batch = store.batch();
    /// for i in 1..=3 {
    ///     batch.push(move |v: &mut i32| *v += i);
    /// }
    /// assert_eq!(*batch.commit().unwrap(), 6);
    /// ```
    pub fn push(&mut self, change: impl FnMut(&mut T) + 'a) {
        self.changes.push(Box::new(change));
    }

    /// Number of changes collected.
    ///
    /// ```
    /// assert_eq!(cowstore::Store::new(0).batch().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether no change was collected.
    ///
    /// ```
    /// assert!(cowstore::Store::new(0).batch().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Applies every change, in order, to one clone of the current value and publishes it once
    /// (if the validators accept it).
    ///
    /// ```
    /// let store = cowstore::Store::new(String::new());
    /// store.batch().then(|s: &mut String| s.push('a')).then(|s: &mut String| s.push('b')).commit().unwrap();
    /// assert_eq!((store.version(), &*store.load()), (2, &String::from("ab")));
    /// ```
    pub fn commit(mut self) -> Result<Snapshot<T>, UpdateError>
    where
        T: Clone,
    {
        let changes = &mut self.changes;
        self.store.write(true, |current| {
            let mut value = T::clone(current);
            for change in changes.iter_mut() {
                change(&mut value);
            }
            Next::Publish(value)
        })
    }
}

impl<T> fmt::Debug for Batch<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("changes", &self.changes.len())
            .finish_non_exhaustive()
    }
}
