//! A description of the machine and the run conditions, for the report.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What the benchmark ran on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Machine {
    /// `model name` from /proc/cpuinfo.
    pub(crate) cpu_model: String,
    /// Logical CPUs listed in /proc/cpuinfo.
    pub(crate) cpus_listed: usize,
    /// `std::thread::available_parallelism()`: the "core count" used for the thread axis.
    pub(crate) available_parallelism: usize,
    /// `MemTotal` from /proc/meminfo, bytes.
    pub(crate) memory_bytes: u64,
    /// The kernel release.
    pub(crate) kernel: String,
    /// The compiler that built this binary.
    pub(crate) rustc: String,
    /// `release` or `debug`.
    pub(crate) profile: String,
    /// The commit the binary was built from (`+modified`: with uncommitted changes to the
    /// benchmark or the library), when `git` can tell.
    pub(crate) git_commit: Option<String>,
    /// /proc/loadavg when the run started.
    pub(crate) load_at_start: String,
    /// /proc/loadavg when the run ended.
    pub(crate) load_at_end: String,
    /// The cheapest `Instant::now()` pair observed, ns: included once in every latency sample.
    pub(crate) timer_overhead_ns: u64,
    /// Peak resident set size of the benchmark process (`VmHWM`), bytes.
    pub(crate) process_peak_rss_bytes: Option<u64>,
    /// Start of the run, UTC, ISO 8601.
    pub(crate) started_utc: String,
    /// The heap allocator under the counting one (runs recorded before this field existed used
    /// the system allocator).
    #[serde(default = "system_allocator")]
    pub(crate) allocator: String,
}

fn system_allocator() -> String {
    crate::alloc::SYSTEM_ALLOCATOR_NAME.to_owned()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The current /proc/loadavg line (first three fields).
pub(crate) fn loadavg() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `VmHWM` of this process, bytes.
pub(crate) fn peak_rss() -> Option<u64> {
    read("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

fn timer_overhead() -> u64 {
    (0..10_000)
        .map(|_| {
            let t = Instant::now();
            t.elapsed().as_nanos() as u64
        })
        .min()
        .unwrap_or(0)
}

/// Formats a UNIX time as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil-from-days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

impl Machine {
    /// Describes this machine now; `load_at_end` and the peak RSS are filled in at the end.
    pub(crate) fn probe() -> Self {
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let cpus_listed = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let memory_bytes = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024);
        // Set by build.rs when `git` could tell. No fallback to the repository's HEAD at run
        // time: that names whatever is checked out, not what this binary measures.
        let git_commit = option_env!("COWSTORE_BENCH_COMMIT").map(str::to_owned);
        Self {
            cpu_model,
            cpus_listed,
            available_parallelism: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            rustc: env!("COWSTORE_BENCH_RUSTC").to_owned(),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_owned(),
            git_commit,
            load_at_start: loadavg(),
            load_at_end: String::new(),
            timer_overhead_ns: timer_overhead(),
            process_peak_rss_bytes: None,
            started_utc: utc_now(),
            allocator: crate::alloc::UNDERLYING_NAME.to_owned(),
        }
    }
}

/// CPU time counters, to tell how much of the machine other processes used during a cell.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpuSample {
    total: u64,
    idle: u64,
    own: u64,
}

impl CpuSample {
    /// Reads /proc/stat and /proc/self/stat (clock ticks); `None` where they are unavailable.
    pub(crate) fn now() -> Option<Self> {
        let stat = read("/proc/stat");
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal [guest guest_nice: already in user]
        let total: u64 = fields.iter().take(8).sum();
        let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
        let own_stat = read("/proc/self/stat");
        // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
        let after = own_stat.rsplit_once(')')?.1;
        let own_fields: Vec<&str> = after.split_whitespace().collect();
        let utime: u64 = own_fields.get(11)?.parse().ok()?;
        let stime: u64 = own_fields.get(12)?.parse().ok()?;
        Some(Self {
            total,
            idle,
            own: utime + stime,
        })
    }

    /// Share of the whole machine's CPU capacity (percent) that was busy with something other
    /// than this process (other processes, the kernel on their behalf, time stolen by the
    /// hypervisor) between `self` and `later`.
    pub(crate) fn others_percent(&self, later: &Self) -> Option<f64> {
        let total = later.total.checked_sub(self.total)?;
        if total == 0 {
            return None;
        }
        let busy = total.saturating_sub(later.idle.saturating_sub(self.idle));
        let others = busy.saturating_sub(later.own.saturating_sub(self.own));
        Some(100.0 * others as f64 / total as f64)
    }
}
