//! The summary tables (`summary.md`, also a section of `matrix.md`): the few views of a run
//! that BENCHMARKS.md publishes, generated from the cells so that they are never copied by hand.

use std::fmt::Write as _;

use crate::contenders::Kind;
use crate::report::{Cell, Report, fmt_bytes, fmt_ns, fmt_rate, fmt_size};
use crate::workload::Mix;

/// `1 thread`, `2 threads`.
fn threads_label(n: usize) -> String {
    format!("{n} thread{}", if n == 1 { "" } else { "s" })
}

fn header(s: &mut String, first: &str, columns: &[Kind], extra: Option<&str>) {
    let _ = write!(s, "| {first} |");
    for k in columns {
        let _ = write!(s, " `{}` |", k.name());
    }
    if let Some(extra) = extra {
        let _ = write!(s, " {extra} |");
    }
    // Sizes are numbers (right-aligned); mixes are labels.
    s.push_str(if first == "entries" {
        "\n|---:|"
    } else {
        "\n|---|"
    });
    for _ in columns {
        s.push_str("---:|");
    }
    if extra.is_some() {
        s.push_str("---|");
    }
    s.push('\n');
}

/// `0–2%`: the range of other processes' CPU share over some cells.
fn others_range<'a>(cells: impl Iterator<Item = &'a Cell>) -> String {
    let shares: Vec<f64> = cells
        .filter_map(|c| c.measured.others_cpu_percent)
        .collect();
    if shares.is_empty() {
        return "–".to_owned();
    }
    let min = shares.iter().copied().fold(f64::INFINITY, f64::min);
    let max = shares.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.0}–{max:.0}%")
}

/// One row per size, one column per contender, `f` of each cell (`–` where one is missing).
fn size_table(
    s: &mut String,
    report: &Report,
    columns: &[Kind],
    mix: Mix,
    threads: usize,
    with_others: bool,
    f: impl Fn(&Cell) -> String,
) {
    header(
        s,
        "entries",
        columns,
        with_others.then_some("others' CPU (min–max)"),
    );
    for &size in &report.config.sizes {
        let _ = write!(s, "| {} |", fmt_size(size));
        let row: Vec<Option<&Cell>> = columns
            .iter()
            .map(|&k| report.cell(k, mix, size, threads))
            .collect();
        for c in &row {
            let _ = write!(s, " {} |", c.map_or("–".to_owned(), &f));
        }
        if with_others {
            let _ = write!(s, " {} |", others_range(row.iter().flatten().copied()));
        }
        s.push('\n');
    }
    s.push('\n');
}

/// The summary tables of `report` in Markdown, headings at level `####`.
pub(crate) fn markdown(report: &Report) -> String {
    let mut s = String::new();
    let all = report.kinds();
    let max_t = report.max_threads();
    let min_t = report.min_threads();
    let has_mix = |m: Mix| report.config.mixes.contains(&m);
    // The SipHash control only repeats its neighbour outside the lookup tables, and `Mutex`
    // the `RwLock` column in the cost and memory tables, so those leave them out.
    let no_sip: Vec<Kind> = all
        .iter()
        .copied()
        .filter(|&k| k != Kind::CowHashMapSip)
        .collect();
    let writers: Vec<Kind> = no_sip
        .iter()
        .copied()
        .filter(|&k| k != Kind::Mutex)
        .collect();

    let _ = writeln!(
        s,
        "#### Total throughput (reads + writes per second), {}\n",
        threads_label(max_t)
    );
    for &mix in &report.config.mixes {
        let _ = writeln!(s, "**{}**\n", mix.label());
        size_table(&mut s, report, &all, mix, max_t, true, |c| {
            fmt_rate(c.measured.read_ops_per_s + c.measured.write_ops_per_s)
        });
    }

    if has_mix(Mix::ReadOnly) {
        let _ = writeln!(
            s,
            "#### {}, 100/0 (pure lookup cost): reads per second\n",
            threads_label(min_t)
        );
        size_table(&mut s, report, &all, Mix::ReadOnly, min_t, true, |c| {
            fmt_rate(c.measured.read_ops_per_s)
        });
    }

    if has_mix(Mix::R99) {
        let _ = writeln!(
            s,
            "#### Cost of one write (99/1, {}): write p50 / bytes allocated / allocations\n",
            threads_label(min_t)
        );
        size_table(&mut s, report, &writers, Mix::R99, min_t, false, |c| {
            let m = &c.measured;
            format!(
                "{} / {} / {}",
                fmt_ns(m.write_p50_ns),
                m.bytes_per_write.map_or("–".to_owned(), fmt_bytes),
                m.allocs_per_write
                    .map_or("–".to_owned(), |a| format!("{a:.1}"))
            )
        });
    }

    let _ = writeln!(
        s,
        "#### Read latency p99 (p99.9) at {}, by mix\n",
        threads_label(max_t)
    );
    for &size in &report.config.sizes {
        let _ = writeln!(s, "**{} entries**\n", fmt_size(size));
        header(&mut s, "mix", &no_sip, None);
        for &mix in &report.config.mixes {
            let _ = write!(s, "| {} |", mix.label());
            for &k in &no_sip {
                let text = report
                    .cell(k, mix, size, max_t)
                    .map_or("–".to_owned(), |c| {
                        format!(
                            "{} ({})",
                            fmt_ns(c.measured.read_p99_ns),
                            fmt_ns(c.measured.read_p999_ns)
                        )
                    });
                let _ = write!(s, " {text} |");
            }
            s.push('\n');
        }
        s.push('\n');
    }

    if has_mix(Mix::R50) {
        let _ = writeln!(
            s,
            "#### Memory: heap of the populated map / peak heap during the 50/50 cell ({})\n",
            threads_label(max_t)
        );
        size_table(&mut s, report, &writers, Mix::R50, max_t, false, |c| {
            format!(
                "{} / {}",
                fmt_bytes(c.measured.base_heap_bytes as f64),
                fmt_bytes(c.measured.peak_heap_bytes as f64)
            )
        });
    }

    if has_mix(Mix::ReadOnly) && max_t > min_t {
        let _ = writeln!(
            s,
            "#### Scaling {min_t} → {max_t} threads (100/0 reads/s ratio), and fairness at {max_t} threads (slowest thread ÷ fastest)\n"
        );
        header(&mut s, "entries", &no_sip, None);
        for &size in &report.config.sizes {
            let _ = write!(s, "| {} |", fmt_size(size));
            for &k in &no_sip {
                let one = report.cell(k, Mix::ReadOnly, size, min_t);
                let many = report.cell(k, Mix::ReadOnly, size, max_t);
                let text = match (one, many) {
                    (Some(one), Some(many)) if one.measured.read_ops_per_s > 0.0 => format!(
                        "{:.2}× ({:.2})",
                        many.measured.read_ops_per_s / one.measured.read_ops_per_s,
                        many.measured.thread_fairness
                    ),
                    _ => "–".to_owned(),
                };
                let _ = write!(s, " {text} |");
            }
            s.push('\n');
        }
        s.push('\n');
    }
    s
}
