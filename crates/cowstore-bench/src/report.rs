//! The results: the JSON document, the target ratios and the Markdown tables.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::contenders::Kind;
use crate::machine::Machine;
use crate::workload::{Measured, Mix};

/// How the matrix was run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Config {
    /// `--quick` was given.
    pub(crate) quick: bool,
    /// `--large` was given.
    pub(crate) large: bool,
    /// Measured phase per cell, ms.
    pub(crate) duration_ms: u64,
    /// Unmeasured warm-up per cell, ms.
    pub(crate) warmup_ms: u64,
    /// Runs per cell (of the rounds about as quiet as the quietest, the fastest is kept).
    pub(crate) rounds: usize,
    /// Before each group of cells the run waited for other processes to use less than this
    /// share of the CPU (0 = never waited).
    pub(crate) quiet_below_percent: f64,
    /// The wait happened before every run of a cell (else before each group of cells).
    #[serde(default)]
    pub(crate) quiet_each_cell: bool,
    /// Total time spent waiting for a quiet machine, seconds.
    pub(crate) waited_for_quiet_s: f64,
    /// The thread axis.
    pub(crate) threads: Vec<usize>,
    /// The size axis (entries).
    pub(crate) sizes: Vec<u64>,
    /// The mixes, as reads/writes.
    pub(crate) mixes: Vec<Mix>,
    /// The contenders' names.
    pub(crate) contenders: Vec<String>,
    /// How keys are chosen.
    pub(crate) key_distribution: String,
    /// What a write does.
    pub(crate) write_kind: String,
    /// How latency is sampled.
    pub(crate) latency_sampling: String,
    /// How each contender is used.
    pub(crate) usage: Vec<(String, String)>,
}

/// One measured cell of the matrix.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Cell {
    /// The contender's display name.
    pub(crate) contender: String,
    /// The contender's `--only` identifier.
    pub(crate) contender_id: String,
    /// The read/write mix.
    pub(crate) mix: Mix,
    /// Entries.
    pub(crate) size: u64,
    /// Worker threads.
    pub(crate) threads: usize,
    /// What was measured.
    #[serde(flatten)]
    pub(crate) measured: Measured,
}

/// One target of the issue, evaluated on this run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Target {
    /// What is compared.
    pub(crate) what: String,
    /// Mix of the compared cells.
    pub(crate) mix: Mix,
    /// Size of the compared cells.
    pub(crate) size: u64,
    /// Threads of the compared cells.
    pub(crate) threads: usize,
    /// The numerator of the ratio.
    pub(crate) ours: Option<f64>,
    /// The denominator of the ratio.
    pub(crate) theirs: Option<f64>,
    /// `ours / theirs` (or `theirs / ours` for "at most" targets; see `rule`).
    pub(crate) ratio: Option<f64>,
    /// The rule, e.g. `>= 5`.
    pub(crate) rule: String,
    /// Whether the ratio meets the rule (none when a cell is missing).
    pub(crate) pass: Option<bool>,
    /// For read targets: the fastest 100/0 read rate of *any* contender at the same size and
    /// thread count, divided by `theirs`. A read in a mix with writes costs at least a pure
    /// lookup, so no read path over these maps takes the ratio much past this on this machine:
    /// a ceiling under the rule says the target is out of reach here, whatever the design.
    #[serde(default)]
    pub(crate) ceiling: Option<f64>,
}

/// The whole result document (`results.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Report {
    /// The machine and the run conditions.
    pub(crate) machine: Machine,
    /// The command that reproduces the run.
    pub(crate) command: String,
    /// The configuration.
    pub(crate) config: Config,
    /// Every cell.
    pub(crate) cells: Vec<Cell>,
    /// The issue's targets.
    pub(crate) targets: Vec<Target>,
    /// Wall time of the whole run, seconds.
    pub(crate) wall_seconds: f64,
}

impl Report {
    /// The cell for these coordinates.
    pub(crate) fn cell(&self, kind: Kind, mix: Mix, size: u64, threads: usize) -> Option<&Cell> {
        self.cells.iter().find(|c| {
            c.contender_id == kind.id() && c.mix == mix && c.size == size && c.threads == threads
        })
    }

    /// The largest thread count measured.
    pub(crate) fn max_threads(&self) -> usize {
        self.config.threads.iter().copied().max().unwrap_or(1)
    }

    /// The smallest thread count measured.
    pub(crate) fn min_threads(&self) -> usize {
        self.config.threads.iter().copied().min().unwrap_or(1)
    }

    /// The contenders that have cells in this run, in report order.
    pub(crate) fn kinds(&self) -> Vec<Kind> {
        Kind::ALL
            .into_iter()
            .filter(|k| self.cells.iter().any(|c| c.contender_id == k.id()))
            .collect()
    }
}

/// Evaluates the issue's four targets on the measured cells.
pub(crate) fn evaluate_targets(report: &Report) -> Vec<Target> {
    let t = report.machine.available_parallelism;
    let mut out = Vec::new();
    let mut at_least = |what: &str,
                        mix: Mix,
                        size: u64,
                        threads,
                        ours: Option<f64>,
                        theirs: Option<f64>,
                        min: f64,
                        ceiling: Option<f64>| {
        let ratio = match (ours, theirs) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            (Some(a), Some(_)) if a > 0.0 => Some(f64::INFINITY),
            _ => None,
        };
        out.push(Target {
            what: what.to_owned(),
            mix,
            size,
            threads,
            ours,
            theirs,
            ratio,
            rule: format!(">= {min}"),
            pass: ratio.map(|r| r >= min),
            ceiling: ceiling
                .zip(theirs)
                .and_then(|(c, b)| (b > 0.0).then(|| c / b)),
        });
    };
    let reads = |k, m, s, th| report.cell(k, m, s, th).map(|c| c.measured.read_ops_per_s);
    let writes = |k, m, s, th| report.cell(k, m, s, th).map(|c| c.measured.write_ops_per_s);
    let fastest_pure_reads = |size, th| {
        report
            .cells
            .iter()
            .filter(|c| c.mix == Mix::ReadOnly && c.size == size && c.threads == th)
            .map(|c| c.measured.read_ops_per_s)
            .reduce(f64::max)
    };
    for mix in [Mix::R90, Mix::R99] {
        for &size in &report.config.sizes {
            let ceiling = fastest_pure_reads(size, t);
            at_least(
                "Store<cowstore::HashMap> reads/s ÷ RwLock<HashMap> reads/s",
                mix,
                size,
                t,
                reads(Kind::CowHashMap, mix, size, t),
                reads(Kind::RwLock, mix, size, t),
                5.0,
                ceiling,
            );
            at_least(
                "Store<cowstore::HashMap> reads/s ÷ DashMap reads/s",
                mix,
                size,
                t,
                reads(Kind::CowHashMap, mix, size, t),
                reads(Kind::DashMap, mix, size, t),
                1.0,
                ceiling,
            );
        }
    }
    for &size in &report.config.sizes {
        at_least(
            "ShardedMap writes/s ÷ DashMap writes/s",
            Mix::R50,
            size,
            t,
            writes(Kind::Sharded, Mix::R50, size, t),
            writes(Kind::DashMap, Mix::R50, size, t),
            1.0,
            None,
        );
    }
    // Bytes per write: full copy ÷ ours must be >= 100, at 100K entries, every mix with writes.
    let per_write = |k, m, th| {
        report
            .cell(k, m, 100_000, th)
            .and_then(|c| c.measured.bytes_per_write)
    };
    for mix in [Mix::R99, Mix::R90, Mix::R50] {
        let ours = per_write(Kind::CowHashMap, mix, t);
        let theirs = per_write(Kind::CowStd, mix, t);
        let ratio = match (ours, theirs) {
            (Some(a), Some(b)) if a > 0.0 => Some(b / a),
            (Some(_), Some(_)) => Some(f64::INFINITY),
            _ => None,
        };
        out.push(Target {
            what: "bytes allocated per write: Store<std::HashMap> (full copy) ÷ Store<cowstore::HashMap>"
                .to_owned(),
            mix,
            size: 100_000,
            threads: t,
            ours,
            theirs,
            ratio,
            rule: ">= 100".to_owned(),
            pass: ratio.map(|r| r >= 100.0),
            ceiling: None,
        });
    }
    out
}

/// `1.23M`, `456k`, `789`.
pub(crate) fn fmt_rate(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2}G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// `85 ns`, `1.2 µs`, `3.4 ms`.
pub(crate) fn fmt_ns(ns: Option<u64>) -> String {
    match ns {
        None => "–".to_owned(),
        Some(n) if n < 1_000 => format!("{n} ns"),
        Some(n) if n < 1_000_000 => format!("{:.1} µs", n as f64 / 1e3),
        Some(n) if n < 1_000_000_000 => format!("{:.1} ms", n as f64 / 1e6),
        Some(n) => format!("{:.2} s", n as f64 / 1e9),
    }
}

/// `512 B`, `1.5 KiB`, `2.3 MiB`.
pub(crate) fn fmt_bytes(b: f64) -> String {
    let a = b.abs();
    if a < 1024.0 {
        format!("{b:.0} B")
    } else if a < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else if a < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
    }
}

/// `1K`, `100K`, `1M`.
pub(crate) fn fmt_size(n: u64) -> String {
    if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n % 1_000 == 0 {
        format!("{}K", n / 1_000)
    } else {
        n.to_string()
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    match r {
        None => "n/a".to_owned(),
        Some(r) if r.is_infinite() => "∞".to_owned(),
        Some(r) if r >= 100.0 => format!("{r:.0}×"),
        Some(r) => format!("{r:.2}×"),
    }
}

/// The Markdown report (`matrix.md`).
pub(crate) fn markdown(report: &Report, svgs: &[(String, String)]) -> String {
    let m = &report.machine;
    let c = &report.config;
    let mut s = String::new();
    let _ = writeln!(s, "# cowstore workload matrix\n");
    let _ = writeln!(
        s,
        "Generated by `cowstore-bench` ({} build){}. Every number below was measured in this one run; \
         absolute numbers depend on the machine and on what else ran on it, so compare ratios \
         between contenders of the same run.\n",
        m.profile,
        if c.quick {
            ", **quick mode: short cells, smoke-test quality numbers**"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "## Command\n\n```sh\n{}\n```\n", report.command);
    let _ = writeln!(s, "## Machine and run conditions\n");
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| CPU | {} |", m.cpu_model);
    let _ = writeln!(
        s,
        "| cores | {} logical CPUs listed, available parallelism {} |",
        m.cpus_listed, m.available_parallelism
    );
    let _ = writeln!(s, "| memory | {} |", fmt_bytes(m.memory_bytes as f64));
    let _ = writeln!(s, "| kernel | {} |", m.kernel);
    let _ = writeln!(s, "| compiler | {} ({} profile) |", m.rustc, m.profile);
    let _ = writeln!(s, "| heap allocator | {} |", m.allocator);
    if let Some(commit) = &m.git_commit {
        let _ = writeln!(s, "| commit | {commit} |");
    }
    let _ = writeln!(s, "| started | {} |", m.started_utc);
    let _ = writeln!(
        s,
        "| load average (1/5/15 min) | {} at start, {} at end |",
        m.load_at_start, m.load_at_end
    );
    let _ = writeln!(s, "| wall time | {:.0} s |", report.wall_seconds);
    let _ = writeln!(
        s,
        "| timer overhead | {} ns per `Instant::now()` pair (included in every latency sample) |",
        m.timer_overhead_ns
    );
    if let Some(rss) = m.process_peak_rss_bytes {
        let _ = writeln!(s, "| process peak RSS | {} |", fmt_bytes(rss as f64));
    }
    let _ = writeln!(s, "\n## Method\n");
    let _ = writeln!(
        s,
        "- Cells: {} mixes × sizes {} × threads {:?} × {} contenders; {} ms measured per cell after {} ms of warm-up{}.",
        c.mixes.len(),
        c.sizes
            .iter()
            .map(|&n| fmt_size(n))
            .collect::<Vec<_>>()
            .join(", "),
        c.threads,
        c.contenders.len(),
        c.duration_ms,
        c.warmup_ms,
        if c.rounds > 1 {
            format!(
                ", {} rounds per cell; kept: the fastest of the rounds in which other processes used at most 5 points more CPU than in the quietest",
                c.rounds
            )
        } else {
            String::new()
        }
    );
    if c.quiet_below_percent > 0.0 {
        let _ = writeln!(
            s,
            "- Before {} the run waited until other processes used less than {}% of the CPU (at \
             most a bounded time); it waited {:.0} s in total.",
            if c.quiet_each_cell {
                "every run of a cell"
            } else {
                "each group of cells (one mix, size and thread count; all contenders)"
            },
            c.quiet_below_percent,
            c.waited_for_quiet_s
        );
    }
    let _ = writeln!(s, "- Keys: {}.", c.key_distribution);
    let _ = writeln!(s, "- Writes: {}.", c.write_kind);
    let _ = writeln!(s, "- Latency: {}.", c.latency_sampling);
    let _ = writeln!(
        s,
        "- Bytes per write: every byte the worker threads allocated during the measured phase \
         (counting global allocator, per-thread counters), divided by the writes. \
         Map heap: live heap bytes of the populated map. Peak heap: allocator high-water mark \
         during the measured phase above the heap before the map was built (map + pinned old \
         versions + not-yet-freed garbage; exact to within 64 KiB per thread)."
    );
    let _ = writeln!(
        s,
        "- Each worker thread runs the mix on its own (every thread reads and writes), so a \
         thread's reads wait for its own writes: reads/s and writes/s of a cell are tied by the \
         mix. Others' CPU: share of the machine's CPU capacity used by other processes during the \
         cell (from /proc/stat; high values mean the cell's threads did not have the cores to \
         themselves). Fairness: ops/s of the slowest thread ÷ the fastest (a lock that parks one thread \
         can show a high total with a fairness near 0)."
    );
    let _ = writeln!(s, "\nHow each contender is used:\n");
    for (name, usage) in &c.usage {
        let _ = writeln!(s, "- **`{name}`** — {usage}");
    }

    let _ = writeln!(
        s,
        "\n## Targets (issue #6), at {} threads\n",
        m.available_parallelism
    );
    let _ = writeln!(
        s,
        "| target | mix | entries | ours | theirs | ratio | rule | result | ceiling |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for t in &report.targets {
        let bytes = t.what.starts_with("bytes");
        let f = |x: Option<f64>| match x {
            None => "n/a".to_owned(),
            Some(v) if bytes => fmt_bytes(v),
            Some(v) => format!("{}/s", fmt_rate(v)),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            t.what.replace('<', "\\<"),
            t.mix.label(),
            fmt_size(t.size),
            f(t.ours),
            f(t.theirs),
            fmt_ratio(t.ratio),
            t.rule,
            match t.pass {
                Some(true) => "pass",
                Some(false) => "**FAIL**",
                None => "n/a",
            },
            match t.ceiling {
                None => "—".to_owned(),
                ceiling => fmt_ratio(ceiling),
            }
        );
    }
    let _ = writeln!(
        s,
        "\nceiling (read targets): the fastest 100/0 read rate of any contender at that size and \
         thread count ÷ theirs. A read in a mix with writes costs at least a pure lookup, so no read \
         path over these maps takes the ratio much past it on this machine; a ceiling under the rule \
         means the target is out of reach here whatever the design (noise can move a cell by 10–20%)."
    );
    if !svgs.is_empty() {
        let _ = writeln!(s, "\n## Plots\n");
        for (file, title) in svgs {
            let _ = writeln!(s, "![{title}]({file})\n");
        }
    }
    let _ = writeln!(
        s,
        "\n## Summary\n\nThe views BENCHMARKS.md publishes (also written alone to `summary.md`); \
         every cell in full below.\n"
    );
    s.push_str(&crate::summary::markdown(report));
    for &mix in &c.mixes {
        let _ = writeln!(s, "\n## Mix {} (reads/writes)\n", mix.label());
        let _ = writeln!(
            s,
            "| entries | threads | contender | reads/s | writes/s | read p50 | read p99 | read p99.9 | write p50 | write p99 | alloc/write | allocs/write | map heap | peak heap | fairness | others' CPU |"
        );
        let _ = writeln!(
            s,
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for &size in &c.sizes {
            for &threads in &c.threads {
                for cell in report
                    .cells
                    .iter()
                    .filter(|x| x.mix == mix && x.size == size && x.threads == threads)
                {
                    let r = &cell.measured;
                    let _ = writeln!(
                        s,
                        "| {} | {} | `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {} |",
                        fmt_size(size),
                        threads,
                        cell.contender,
                        fmt_rate(r.read_ops_per_s),
                        if r.writes > 0 || mix != Mix::ReadOnly {
                            fmt_rate(r.write_ops_per_s)
                        } else {
                            "–".to_owned()
                        },
                        fmt_ns(r.read_p50_ns),
                        fmt_ns(r.read_p99_ns),
                        fmt_ns(r.read_p999_ns),
                        fmt_ns(r.write_p50_ns),
                        fmt_ns(r.write_p99_ns),
                        r.bytes_per_write.map_or("–".to_owned(), fmt_bytes),
                        r.allocs_per_write
                            .map_or("–".to_owned(), |a| format!("{a:.1}")),
                        fmt_bytes(r.base_heap_bytes as f64),
                        fmt_bytes(r.peak_heap_bytes as f64),
                        r.thread_fairness,
                        r.others_cpu_percent
                            .map_or("–".to_owned(), |p| format!("{p:.0}%")),
                    );
                }
            }
        }
    }
    let misses: u64 = report.cells.iter().map(|c| c.measured.misses).sum();
    let _ = writeln!(
        s,
        "\nSanity check: {misses} reads missed their key (every key exists, so this must be 0)."
    );
    s
}
