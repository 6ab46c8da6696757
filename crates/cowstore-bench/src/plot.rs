//! SVG plots (plotters, SVG backend only).

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

use crate::contenders::Kind;
use crate::report::{Report, fmt_size};
use crate::workload::Mix;

type PlotResult<T> = Result<T, Box<dyn Error>>;

fn color(kind: Kind) -> RGBColor {
    match kind {
        Kind::CowHashMap => RGBColor(214, 39, 40),
        Kind::CowHashMapSip => RGBColor(227, 119, 194),
        Kind::Sharded => RGBColor(255, 127, 14),
        Kind::CowStd => RGBColor(140, 86, 75),
        Kind::RwLock => RGBColor(31, 119, 180),
        Kind::Mutex => RGBColor(127, 127, 127),
        Kind::DashMap => RGBColor(44, 160, 44),
        Kind::ArcSwapImbl => RGBColor(148, 103, 189),
    }
}

/// A legend strip under the panels: one colored line and name per contender.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    kinds: &[Kind],
) -> PlotResult<()>
where
    DB::ErrorType: 'static,
{
    let (width, _) = area.dim_in_pixel();
    let per_row = ((width as i32 - 40) / 230).max(1) as usize;
    for (i, &k) in kinds.iter().enumerate() {
        let (row, col) = ((i / per_row) as i32, (i % per_row) as i32);
        let (x, y) = (40 + col * 230, 14 + row * 20);
        let c = color(k);
        area.draw(&PathElement::new(
            vec![(x, y), (x + 24, y)],
            c.stroke_width(3),
        ))?;
        area.draw(&Circle::new((x + 12, y), 3, c.filled()))?;
        area.draw(&Text::new(
            k.name(),
            (x + 30, y - 7),
            ("sans-serif", 13).into_font(),
        ))?;
    }
    Ok(())
}

/// Height of the legend strip for `n` contenders in a figure `width` pixels wide.
fn legend_height(n: usize, width: u32) -> u32 {
    let per_row = ((width as i32 - 40) / 230).max(1) as u32;
    (n as u32).div_ceil(per_row) * 20 + 12
}

/// The label of category `x` on a categorical axis (empty between categories).
fn index_label<T>(x: f64, items: &[T], label: impl Fn(&T) -> String) -> String {
    let i = x.round();
    if (x - i).abs() < 0.05 && i >= 0.0 {
        items.get(i as usize).map_or(String::new(), label)
    } else {
        String::new()
    }
}

/// Log-scale bounds that cover `values` with a little room.
fn log_bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| *v > 0.0 && v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (1.0, 10.0);
    }
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
    (lo, hi)
}

/// Throughput (reads + writes per second, all threads) against map size: one file for `mix`,
/// one panel per thread count.
pub(crate) fn throughput_vs_size(report: &Report, mix: Mix, path: &Path) -> PlotResult<()> {
    let kinds = report.kinds();
    let threads = &report.config.threads;
    let sizes = &report.config.sizes;
    let total = |k: Kind, size, t| {
        report
            .cell(k, mix, size, t)
            .map(|c| c.measured.read_ops_per_s + c.measured.write_ops_per_s)
    };
    let (y_lo, y_hi) = log_bounds(
        kinds
            .iter()
            .flat_map(|&k| {
                sizes
                    .iter()
                    .flat_map(move |&s| threads.iter().map(move |&t| (k, s, t)))
            })
            .filter_map(|(k, s, t)| total(k, s, t)),
    );

    let width = 520 * threads.len().max(1) as u32;
    let height = 500 + legend_height(kinds.len(), width);
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!(
            "Throughput vs map size, mix {} reads/writes (ops/s, all threads, log scales)",
            mix.label()
        ),
        ("sans-serif", 20),
    )?;
    let (charts, strip) = root.split_vertically(470);
    legend(&strip, &kinds)?;
    let panels = charts.split_evenly((1, threads.len().max(1)));
    for (panel, &t) in panels.iter().zip(threads) {
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{t} thread{}", if t == 1 { "" } else { "s" }),
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                -0.3f64..(sizes.len() as f64 - 0.7),
                (y_lo..y_hi).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_labels(sizes.len())
            .x_desc("entries")
            .y_desc("ops/s")
            .x_label_formatter(&|x| index_label(*x, sizes, |n| fmt_size(*n)))
            .y_label_formatter(&|y| crate::report::fmt_rate(*y))
            .draw()?;
        for &k in &kinds {
            let points: Vec<(f64, f64)> = sizes
                .iter()
                .enumerate()
                .filter_map(|(i, &s)| total(k, s, t).filter(|v| *v > 0.0).map(|v| (i as f64, v)))
                .collect();
            let c = color(k);
            chart.draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))?;
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, c.filled())))?;
        }
    }
    root.present()?;
    Ok(())
}

/// Read p99 latency against the mix, at the largest thread count: one panel per size.
pub(crate) fn read_p99_vs_mix(report: &Report, path: &Path) -> PlotResult<()> {
    let kinds = report.kinds();
    let sizes = &report.config.sizes;
    let mixes = &report.config.mixes;
    let t = report.max_threads();
    let p99 = |k: Kind, mix: Mix, size| {
        report
            .cell(k, mix, size, t)
            .and_then(|c| c.measured.read_p99_ns)
            .map(|v| v as f64)
    };
    let (y_lo, y_hi) = log_bounds(
        kinds
            .iter()
            .flat_map(|&k| {
                sizes
                    .iter()
                    .flat_map(move |&s| mixes.iter().map(move |&m| (k, m, s)))
            })
            .filter_map(|(k, m, s)| p99(k, m, s)),
    );
    let width = 480 * sizes.len().max(1) as u32;
    let height = 500 + legend_height(kinds.len(), width);
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!("Read latency p99 vs read/write mix, {t} threads (ns, log scale)"),
        ("sans-serif", 20),
    )?;
    let (charts, strip) = root.split_vertically(470);
    legend(&strip, &kinds)?;
    let panels = charts.split_evenly((1, sizes.len().max(1)));
    for (panel, &size) in panels.iter().zip(sizes) {
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{} entries", fmt_size(size)), ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(
                -0.3f64..(mixes.len() as f64 - 0.7),
                (y_lo..y_hi).log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_labels(mixes.len())
            .x_desc("reads/writes")
            .y_desc("read p99 (ns)")
            .x_label_formatter(&|x| index_label(*x, mixes, |m| m.label().to_owned()))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()?;
        for &k in &kinds {
            let points: Vec<(f64, f64)> = mixes
                .iter()
                .enumerate()
                .filter_map(|(i, &m)| p99(k, m, size).filter(|v| *v > 0.0).map(|v| (i as f64, v)))
                .collect();
            let c = color(k);
            chart.draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))?;
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, c.filled())))?;
        }
    }
    root.present()?;
    Ok(())
}
