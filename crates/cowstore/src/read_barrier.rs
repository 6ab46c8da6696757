//! How a store's readers and writers agree on which versions are still being read.

/// How a [`Store`](crate::Store)'s readers announce what they read, which decides who pays
/// for the memory barrier that immediate reclamation needs: every read, or every publish.
///
/// A reader announces the version it is about to read in its thread's hazard slot and then
/// checks that the version is still current; a writer swaps in the new version and then scans
/// the slots. One of the two must see the other, which takes a full memory barrier on *both*
/// sides — unless one side pays for both.
///
/// | barrier | `load()` (2-vCPU VM) | a publish while another thread reads |
/// |---|---|---|
/// | [`Asymmetric`](Self::Asymmetric) | 2.8–3.4 ns: one locked instruction | + `membarrier`: 11–14 µs |
/// | [`Symmetric`](Self::Symmetric) | ~5.0 ns: two locked instructions | 0.2–0.5 µs |
/// | [`Adaptive`](Self::Adaptive) (default) | as asymmetric while publishes are rare | as symmetric while they are frequent |
///
/// Chosen with [`Builder::read_barrier`](crate::Builder::read_barrier); a store reports what
/// it was built with from [`Store::read_barrier`](crate::Store::read_barrier), and what its
/// readers use right now in [`Stats::read_barrier`](crate::Stats::read_barrier).
///
/// ```
/// use cowstore::{ReadBarrier, Store};
///
/// // A store written thousands of times a second while other threads read it.
/// let counters = Store::builder(0u64).read_barrier(ReadBarrier::Symmetric).build().unwrap();
/// counters.update(|n| *n += 1).unwrap();
/// assert_eq!(counters.read_barrier(), ReadBarrier::Symmetric);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ReadBarrier {
    /// Starts [`Asymmetric`](Self::Asymmetric) and switches to
    /// [`Symmetric`](Self::Symmetric) while publishes that race with other threads' reads are
    /// frequent (more than 1,000 a second over 100 ms), back when they are rare again (fewer
    /// than 100 a second over a second). A store published a few times a second gets the
    /// cheap reads; one written in bursts pays `membarrier` for at most about 100 ms per
    /// burst.
    ///
    /// The default. Where the asymmetric barrier is not available the store runs
    /// [`Symmetric`](Self::Symmetric).
    #[default]
    Adaptive,
    /// Readers pay nothing for the announcement, a plain store; a publish made while another
    /// thread may be reading runs a process-wide barrier (Linux `membarrier`), which
    /// interrupts every CPU running a thread of the process: 11–14 µs per publish on a 2-vCPU
    /// VM with a reader busy on the other CPU, against 0.2–0.5 µs with
    /// [`Symmetric`](Self::Symmetric). `load()` then costs one locked instruction instead of
    /// two (2.8–3.4 ns against 5.0 ns there). "May be reading" means: some other live thread
    /// has read from any store (its hazard record is active); a publish while no other thread
    /// has pays nothing extra. [`Stats::read_barriers`](crate::Stats::read_barriers) counts the
    /// barriers run.
    ///
    /// Where the barrier is not available (other operating systems, Linux before 4.14, a
    /// seccomp filter that blocks it) the store runs [`Symmetric`](Self::Symmetric) instead.
    Asymmetric,
    /// Every read pays a locked instruction to announce, and publishes pay nothing extra:
    /// for stores published thousands of times a second while other threads read them
    /// (the shards of a [`ShardedMap`](crate::collections::ShardedMap) use it).
    Symmetric,
}
