//! The workload benchmark matrix (issue #6): `cowstore` against `RwLock`, `Mutex`, `DashMap` and
//! `arc-swap` + `imbl`, across read/write mixes, map sizes and thread counts.
//!
//! ```sh
//! cargo run --release -p cowstore-bench -- [--quick] [--large] [--duration-ms N] [--out DIR] \
//!     [--threads LIST] [--only CONTENDER]...
//! ```
//!
//! Writes `matrix.md`, `summary.md`, `results.json` and SVG plots to `bench-results/` at the
//! repository root (or `--out DIR`). `--report-from results.json` renders the tables and plots
//! of an earlier run again without measuring anything.
#![deny(unsafe_code)]

mod alloc;
mod contenders;
mod machine;
mod plot;
mod report;
mod summary;
mod workload;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use contenders::Kind;
use report::{Cell, Config, Report, fmt_size};
use workload::{CellSpec, Measured, Mix, run_cell};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// Runs the workload matrix and writes tables, plots and JSON.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// CI smoke mode: short cells (the whole default matrix in well under 2 minutes on 2 cores).
    #[arg(long)]
    quick: bool,
    /// Add 1M-entry maps to the size axis.
    #[arg(long)]
    large: bool,
    /// Measured time per cell in ms (default 1500, or 200 with --quick).
    #[arg(long, value_name = "N")]
    duration_ms: Option<u64>,
    /// Warm-up per cell in ms (default: a fifth of the duration, at most 200).
    #[arg(long, value_name = "N")]
    warmup_ms: Option<u64>,
    /// Output directory (default: bench-results/ at the repository root).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Comma-separated thread counts (default: 1, 2 and the machine's core count, deduplicated).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    threads: Option<Vec<usize>>,
    /// Comma-separated map sizes in entries (default: 1000,10000,100000; plus 1000000 with --large).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    sizes: Option<Vec<u64>>,
    /// Run only these mixes (repeatable; default: all).
    #[arg(long = "mix", value_enum, value_name = "MIX")]
    mixes: Vec<Mix>,
    /// Run only these contenders (repeatable; default: all).
    #[arg(long, value_enum, value_name = "CONTENDER")]
    only: Vec<Kind>,
    /// Runs per cell; the least disturbed run is kept (see `least_disturbed`).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u64).range(1..1000))]
    rounds: u64,
    /// Before each group of cells, wait (up to --quiet-max-wait-s) until other processes use
    /// less than this percentage of the machine's CPU capacity. 0 (default) never waits.
    #[arg(long, default_value_t = 0.0, value_name = "PCT")]
    quiet_below: f64,
    /// Wait for a quiet machine before every run of a cell instead of before each group.
    #[arg(long)]
    quiet_each_cell: bool,
    /// Longest wait for a quiet machine before each group of cells, seconds.
    #[arg(long, default_value_t = 60, value_name = "S")]
    quiet_max_wait_s: u64,
    /// Do not draw a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Measure nothing: render `matrix.md`, `summary.md` and the plots again from this
    /// `results.json` of an earlier run (into --out, default: the file's directory). The
    /// targets are evaluated again from the recorded cells.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["quick", "large", "duration_ms", "threads", "sizes", "mixes", "only"])]
    report_from: Option<PathBuf>,
}

fn run_kind(kind: Kind, spec: &CellSpec, seed: u64) -> Measured {
    use contenders::*;
    match kind {
        Kind::CowHashMap => run_cell::<CowHashMap>(spec, seed),
        Kind::CowHashMapSip => run_cell::<CowHashMap<std::hash::RandomState>>(spec, seed),
        Kind::Sharded => run_cell::<Sharded>(spec, seed),
        Kind::CowStd => run_cell::<CowStd>(spec, seed),
        Kind::RwLock => run_cell::<RwLocked>(spec, seed),
        Kind::Mutex => run_cell::<Mutexed>(spec, seed),
        Kind::DashMap => run_cell::<Dash>(spec, seed),
        Kind::ArcSwapImbl => run_cell::<ArcSwapImbl>(spec, seed),
    }
}

/// Samples the CPU use of other processes in half-second windows until it is below `percent`
/// or `max` has passed; returns the time spent waiting.
fn wait_for_quiet(percent: f64, max: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let before = machine::CpuSample::now();
        std::thread::sleep(Duration::from_millis(500));
        let others = before
            .zip(machine::CpuSample::now())
            .and_then(|(a, b)| a.others_percent(&b));
        match others {
            Some(p) if p >= percent && start.elapsed() < max => continue,
            _ => return start.elapsed(),
        }
    }
}

fn default_threads(cores: usize) -> Vec<usize> {
    let mut t = vec![1, 2, cores];
    t.sort_unstable();
    t.dedup();
    t
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let profile = if cfg!(debug_assertions) {
        ""
    } else {
        "--release "
    };
    let features = if cfg!(feature = "mimalloc") {
        "--features mimalloc "
    } else {
        ""
    };
    let mut cmd = format!("cargo run {profile}-p cowstore-bench {features}--");
    for a in args {
        cmd.push(' ');
        if a.contains(|c: char| c.is_whitespace() || c == '\'') {
            cmd.push_str(&format!("'{}'", a.replace('\'', r"'\''")));
        } else {
            cmd.push_str(&a);
        }
    }
    cmd
}

type BoxError = Box<dyn std::error::Error>;

/// Writes the plots, `matrix.md` and `summary.md` of `report` to `out`.
fn render(report: &Report, out: &Path) -> Result<(), BoxError> {
    let mut svgs = Vec::new();
    for &mix in &report.config.mixes {
        let file = format!("throughput-{}.svg", mix.slug());
        plot::throughput_vs_size(report, mix, &out.join(&file))?;
        svgs.push((file, format!("Throughput vs size, mix {}", mix.label())));
    }
    plot::read_p99_vs_mix(report, &out.join("read-p99-vs-mix.svg"))?;
    svgs.push((
        "read-p99-vs-mix.svg".to_owned(),
        "Read p99 vs mix".to_owned(),
    ));
    std::fs::write(out.join("matrix.md"), report::markdown(report, &svgs))?;
    std::fs::write(out.join("summary.md"), summary::markdown(report))?;
    Ok(())
}

/// `--report-from`: renders an earlier run's results again.
fn rerender(results: &Path, out: Option<&Path>) -> Result<(), BoxError> {
    let text = std::fs::read_to_string(results)
        .map_err(|e| format!("cannot read {}: {e}", results.display()))?;
    let mut report: Report = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not a results.json written by cowstore-bench: {e}",
            results.display()
        )
    })?;
    report.targets = report::evaluate_targets(&report);
    let out = match out {
        Some(out) => out.to_owned(),
        None => results
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    std::fs::create_dir_all(&out)?;
    render(&report, &out)?;
    println!(
        "rendered {} cells of {} into {}",
        report.cells.len(),
        results.display(),
        out.display()
    );
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let cli = Cli::parse();
    if let Some(results) = &cli.report_from {
        return rerender(results, cli.out.as_deref());
    }
    let wall = Instant::now();
    let mut machine = machine::Machine::probe();
    let cores = machine.available_parallelism;

    let duration_ms = cli
        .duration_ms
        .unwrap_or(if cli.quick { 200 } else { 1500 });
    let warmup_ms = cli.warmup_ms.unwrap_or((duration_ms / 5).min(200));
    let threads = cli
        .threads
        .clone()
        .unwrap_or_else(|| default_threads(cores));
    let sizes = cli.sizes.clone().unwrap_or_else(|| {
        let mut s = vec![1_000, 10_000, 100_000];
        if cli.large {
            s.push(1_000_000);
        }
        s
    });
    let mixes: Vec<Mix> = if cli.mixes.is_empty() {
        Mix::ALL.to_vec()
    } else {
        Mix::ALL
            .into_iter()
            .filter(|m| cli.mixes.contains(m))
            .collect()
    };
    let kinds: Vec<Kind> = if cli.only.is_empty() {
        Kind::ALL.to_vec()
    } else {
        Kind::ALL
            .into_iter()
            .filter(|k| cli.only.contains(k))
            .collect()
    };
    let out = cli.out.clone().unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench-results"))
    });
    std::fs::create_dir_all(&out)?;

    let total = (mixes.len() * sizes.len() * threads.len() * kinds.len()) as u64 * cli.rounds;
    let bar = if cli.no_progress {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:36.cyan/blue}] {pos}/{len} (eta {eta}) {msg}",
        )?
        .progress_chars("=> "),
    );

    let mut cells = Vec::new();
    let mut waited = Duration::ZERO;
    let mut seed = 0x5EED_C0DE_u64;
    // All contenders of one (mix, size, threads) run back to back, and with several rounds the
    // rounds go round-robin over the contenders, so the ratios between contenders see the same
    // machine conditions.
    for &mix in &mixes {
        for &size in &sizes {
            for &t in &threads {
                let spec = CellSpec {
                    mix,
                    size,
                    threads: t,
                    duration: Duration::from_millis(duration_ms),
                    warmup: Duration::from_millis(warmup_ms),
                };
                if cli.quiet_below > 0.0 && !cli.quiet_each_cell {
                    bar.set_message(format!("waiting for others' CPU < {}%", cli.quiet_below));
                    waited +=
                        wait_for_quiet(cli.quiet_below, Duration::from_secs(cli.quiet_max_wait_s));
                }
                let mut rounds: Vec<Vec<Measured>> = kinds.iter().map(|_| Vec::new()).collect();
                for _ in 0..cli.rounds {
                    for (i, &kind) in kinds.iter().enumerate() {
                        bar.set_message(format!(
                            "{} {} t={t} {}",
                            mix.label(),
                            fmt_size(size),
                            kind.name()
                        ));
                        if cli.quiet_below > 0.0 && cli.quiet_each_cell {
                            waited += wait_for_quiet(
                                cli.quiet_below,
                                Duration::from_secs(cli.quiet_max_wait_s),
                            );
                        }
                        seed = seed
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        rounds[i].push(run_kind(kind, &spec, seed));
                        bar.inc(1);
                    }
                }
                for (&kind, mut runs) in kinds.iter().zip(rounds) {
                    let kept = least_disturbed(&runs);
                    cells.push(Cell {
                        contender: kind.name().to_owned(),
                        contender_id: kind.id().to_owned(),
                        mix,
                        size,
                        threads: t,
                        measured: runs.swap_remove(kept),
                    });
                }
            }
        }
    }
    bar.finish_and_clear();

    machine.load_at_end = machine::loadavg();
    machine.process_peak_rss_bytes = machine::peak_rss();
    let measured_kinds = kinds;
    let config = Config {
        quick: cli.quick,
        large: cli.large,
        duration_ms,
        warmup_ms,
        rounds: cli.rounds as usize,
        quiet_below_percent: cli.quiet_below,
        quiet_each_cell: cli.quiet_each_cell,
        waited_for_quiet_s: waited.as_secs_f64(),
        threads,
        sizes,
        mixes,
        contenders: measured_kinds.iter().map(|k| k.name().to_owned()).collect(),
        key_distribution: "uniform over the populated key space 0..N (splitmix64, multiply-shift \
                           range reduction); every read hits"
            .to_owned(),
        write_kind: "update of an existing key (insert over it with a new value); no removes, so \
                     the size stays N"
            .to_owned(),
        latency_sampling: format!(
            "one read in {} and one write in {} timed with `Instant::now()` (vDSO clock) into an \
             HDR histogram (3 significant digits); percentiles over all threads",
            workload::READ_SAMPLE_EVERY,
            workload::WRITE_SAMPLE_EVERY
        ),
        usage: measured_kinds
            .iter()
            .map(|k| (k.name().to_owned(), k.usage().to_owned()))
            .collect(),
    };
    let mut report = Report {
        machine,
        command: command_line(),
        config,
        cells,
        targets: Vec::new(),
        wall_seconds: 0.0,
    };
    report.targets = report::evaluate_targets(&report);

    report.wall_seconds = wall.elapsed().as_secs_f64();
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    render(&report, &out)?;
    println!("wrote {} cells to {}", report.cells.len(), out.display());
    for t in report.targets.iter().filter(|t| t.pass == Some(false)) {
        println!(
            "target missed: {} ({} {} entries): {:.2} (rule {})",
            t.what,
            t.mix.label(),
            fmt_size(t.size),
            t.ratio.unwrap_or(f64::NAN),
            t.rule
        );
    }
    Ok(())
}

/// Other processes' CPU share within this many percentage points of the quietest round counts
/// as equally quiet.
const QUIET_MARGIN_PERCENT: f64 = 5.0;

/// The round of a cell to keep: among the rounds in which other processes used about as little
/// CPU as in the quietest one, the fastest. Interference from outside this machine (other
/// virtual machines on the host sharing caches and memory bandwidth) shows in no CPU counter
/// here and only ever slows a round down, so of equally quiet rounds the fastest is the least
/// disturbed. (Keeping the first of them, as before, kept an arbitrary one on a quiet VM.)
fn least_disturbed(runs: &[Measured]) -> usize {
    let others = |m: &Measured| m.others_cpu_percent.unwrap_or(0.0);
    let quietest = runs.iter().map(others).fold(f64::INFINITY, f64::min);
    let ops = |m: &Measured| m.read_ops_per_s + m.write_ops_per_s;
    (0..runs.len())
        .filter(|&i| others(&runs[i]) <= quietest + QUIET_MARGIN_PERCENT)
        .max_by(|&a, &b| ops(&runs[a]).total_cmp(&ops(&runs[b])).then(b.cmp(&a)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(others_cpu_percent: f64, read_ops_per_s: f64) -> Measured {
        Measured {
            others_cpu_percent: Some(others_cpu_percent),
            read_ops_per_s,
            ..Measured::default()
        }
    }

    #[test]
    fn of_the_equally_quiet_rounds_the_fastest_is_kept() {
        // A round that ran while other processes were busy loses even when it is faster.
        assert_eq!(
            least_disturbed(&[round(0.0, 10.0), round(2.0, 30.0), round(40.0, 99.0)]),
            1
        );
        assert_eq!(least_disturbed(&[round(20.0, 10.0), round(0.0, 5.0)]), 1);
        assert_eq!(least_disturbed(&[round(0.0, 7.0), round(0.0, 7.0)]), 0);
    }
}
