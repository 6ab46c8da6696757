//! Runtime dispatch to code compiled for an instruction the baseline target lacks.
//!
//! The baseline `x86_64` target has no population-count instruction, so `u32::count_ones` is a
//! dozen dependent instructions; a CHAMP lookup does one per trie level, on its critical path.
//! A [`Kernel`] run through [`with_popcnt`] is compiled a second time with `popcnt` enabled, and
//! that copy runs when the CPU has the instruction (every x86-64 CPU since about 2008). Builds
//! that already enable it (`-C target-cpu=x86-64-v2` or newer), other architectures and Miri
//! run the kernel as is.

/// A piece of hot code to compile with `popcnt`. `run` must be `#[inline(always)]` (and so must
/// what it calls) for the second copy to get the instruction.
pub(crate) trait Kernel {
    /// What the kernel returns.
    type Output;
    /// Runs the kernel.
    fn run(self) -> Self::Output;
}

#[cfg(all(target_arch = "x86_64", not(target_feature = "popcnt"), not(miri)))]
mod detect {
    use std::sync::atomic::{AtomicU8, Ordering};

    const UNKNOWN: u8 = 0;
    const ABSENT: u8 = 1;
    const PRESENT: u8 = 2;

    static POPCNT: AtomicU8 = AtomicU8::new(UNKNOWN);

    #[inline]
    pub(super) fn has_popcnt() -> bool {
        match POPCNT.load(Ordering::Relaxed) {
            PRESENT => true,
            ABSENT => false,
            _ => probe(),
        }
    }

    #[cold]
    fn probe() -> bool {
        let present = std::arch::is_x86_feature_detected!("popcnt");
        POPCNT.store(if present { PRESENT } else { ABSENT }, Ordering::Relaxed);
        present
    }
}

/// Runs `kernel`, with `popcnt` when the CPU has it and the build does not enable it already.
#[inline(always)]
pub(crate) fn with_popcnt<K: Kernel>(kernel: K) -> K::Output {
    #[cfg(all(target_arch = "x86_64", not(target_feature = "popcnt"), not(miri)))]
    if detect::has_popcnt() {
        // SAFETY: the CPU supports `popcnt`, the only feature `run_with_popcnt` enables.
        return unsafe { run_with_popcnt(kernel) };
    }
    kernel.run()
}

#[cfg(all(target_arch = "x86_64", not(target_feature = "popcnt"), not(miri)))]
#[target_feature(enable = "popcnt")]
#[inline]
fn run_with_popcnt<K: Kernel>(kernel: K) -> K::Output {
    kernel.run()
}
