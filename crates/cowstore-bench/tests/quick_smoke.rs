//! Runs the benchmark binary in quick mode with a tiny time budget and checks that it emits
//! every file, complete and well-formed. Timings are never asserted.

use std::fs;
use std::path::Path;
use std::process::Command;

const CONTENDERS: [&str; 8] = [
    "cow-hashmap",
    "cow-hashmap-sip",
    "sharded",
    "cow-std",
    "rwlock",
    "mutex",
    "dashmap",
    "arcswap-imbl",
];
const MIXES: [&str; 4] = ["100/0", "99/1", "90/10", "50/50"];
const SIZES: [u64; 3] = [1_000, 10_000, 100_000];

fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn assert_contains_all(name: &str, text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{name} lacks {needle:?}");
    }
}

#[test]
fn quick_mode_emits_tables_plots_and_json() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_cowstore-bench"))
        .args([
            "--quick",
            "--duration-ms",
            "20",
            "--warmup-ms",
            "5",
            "--no-progress",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .expect("run cowstore-bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cowstore-bench failed:\n{stderr}");
    assert!(
        !stderr.contains("not available"),
        "a contender was skipped:\n{stderr}"
    );

    // JSON: every contender × mix × size × thread count is there, with sane fields.
    let json: serde_json::Value =
        serde_json::from_str(&read(dir.path(), "results.json")).expect("results.json parses");
    let threads: Vec<u64> = json["config"]["threads"]
        .as_array()
        .expect("config.threads")
        .iter()
        .map(|t| t.as_u64().expect("thread count"))
        .collect();
    assert!(threads.contains(&1));
    let cells = json["cells"].as_array().expect("cells");
    assert_eq!(
        cells.len(),
        CONTENDERS.len() * MIXES.len() * SIZES.len() * threads.len()
    );
    for contender in CONTENDERS {
        for mix in MIXES {
            for size in SIZES {
                for &t in &threads {
                    let cell = cells
                        .iter()
                        .find(|c| {
                            c["contender_id"] == contender
                                && c["mix"] == mix
                                && c["size"] == size
                                && c["threads"] == t
                        })
                        .unwrap_or_else(|| panic!("missing cell {contender} {mix} {size} t={t}"));
                    assert_eq!(cell["misses"], 0, "{contender} {mix} {size}: reads missed");
                    assert!(cell["read_ops_per_s"].is_number());
                    assert!(cell["write_ops_per_s"].is_number());
                    assert!(cell["peak_heap_bytes"].is_number());
                    if mix == "100/0" {
                        assert_eq!(cell["writes"], 0, "{contender}: writes in a read-only mix");
                    }
                }
            }
        }
    }
    let targets = json["targets"].as_array().expect("targets");
    assert!(targets.len() >= 3 * 2 * 2 + 3, "every target is evaluated");
    // A read target's ceiling is the fastest read-only rate at its size and thread count over
    // the target's denominator; other targets have none.
    for target in targets {
        let what = target["what"].as_str().expect("what");
        if what.contains("reads/s") {
            let fastest_pure_reads = cells
                .iter()
                .filter(|c| {
                    c["mix"] == "100/0"
                        && c["size"] == target["size"]
                        && c["threads"] == target["threads"]
                })
                .map(|c| c["read_ops_per_s"].as_f64().expect("read rate"))
                .fold(0.0, f64::max);
            let theirs = target["theirs"].as_f64().expect("theirs");
            let ceiling = target["ceiling"]
                .as_f64()
                .expect("a read target has a ceiling");
            assert!(
                (ceiling - fastest_pure_reads / theirs).abs() <= 1e-9 * ceiling,
                "{what} at {}: ceiling {ceiling}, expected {}",
                target["size"],
                fastest_pure_reads / theirs
            );
        } else {
            assert!(target["ceiling"].is_null(), "{what} has a ceiling");
        }
    }
    assert!(json["machine"]["cpu_model"].is_string());
    assert!(
        json["command"]
            .as_str()
            .is_some_and(|c| c.contains("--quick"))
    );

    // SVG plots.
    let mut svgs = vec!["read-p99-vs-mix.svg".to_owned()];
    svgs.extend(["100-0", "99-1", "90-10", "50-50"].map(|m| format!("throughput-{m}.svg")));
    for svg in &svgs {
        let text = read(dir.path(), svg);
        assert!(text.trim_start().starts_with("<svg"), "{svg} is not an SVG");
        assert!(text.trim_end().ends_with("</svg>"), "{svg} is truncated");
        assert!(text.contains("DashMap"), "{svg} has no legend");
    }

    // Markdown: machine, command, one table per mix, the targets, links to the plots.
    let md = read(dir.path(), "matrix.md");
    assert_contains_all(
        "matrix.md",
        &md,
        &[
            "## Command",
            "## Machine and run conditions",
            "## Targets",
            "| rule | result | ceiling |",
            "| CPU |",
            "| heap allocator |",
        ],
    );
    for mix in MIXES {
        assert!(
            md.contains(&format!("## Mix {mix} (reads/writes)")),
            "no table for {mix}"
        );
    }
    for svg in &svgs {
        assert!(
            md.contains(&format!("({svg})")),
            "matrix.md does not link {svg}"
        );
    }
    let cells_part = &md[md.find("## Mix ").expect("per-mix tables")..];
    let rows = cells_part
        .lines()
        .filter(|l| l.starts_with("| 1K |"))
        .count();
    assert_eq!(rows, CONTENDERS.len() * MIXES.len() * threads.len());

    // The summary: every view, complete rows, and the same text inside matrix.md.
    let summary = read(dir.path(), "summary.md");
    assert_contains_all(
        "summary.md",
        &summary,
        &[
            "#### Total throughput (reads + writes per second)",
            "#### 1 thread, 100/0 (pure lookup cost)",
            "#### Cost of one write (99/1, 1 thread)",
            "#### Read latency p99 (p99.9)",
            "#### Memory: heap of the populated map / peak heap during the 50/50 cell",
            "#### Scaling 1 →",
        ],
    );
    for mix in MIXES {
        assert!(
            summary.contains(&format!("**{mix}**")),
            "no summary for {mix}"
        );
    }
    let throughput = &summary[..summary.find("#### 1 thread").unwrap()];
    let size_rows: Vec<&str> = throughput
        .lines()
        .filter(|l| l.starts_with("| 1K |") || l.starts_with("| 100K |"))
        .collect();
    assert_eq!(size_rows.len(), 2 * MIXES.len());
    for row in size_rows {
        // entries, one column per contender, others' CPU; no cell missing.
        assert_eq!(row.matches('|').count(), CONTENDERS.len() + 3, "{row}");
        assert!(!row.contains("| – |"), "a missing cell: {row}");
    }
    assert!(
        md.contains(&summary),
        "matrix.md does not include summary.md"
    );
}

#[test]
fn report_from_renders_an_earlier_run_again_and_refuses_a_file_that_is_not_one() {
    let run = tempfile::tempdir().expect("temp dir");
    let status = Command::new(env!("CARGO_BIN_EXE_cowstore-bench"))
        .args(["--quick", "--duration-ms", "10", "--warmup-ms", "2"])
        .args([
            "--sizes",
            "1000",
            "--threads",
            "1",
            "--no-progress",
            "--out",
        ])
        .arg(run.path())
        .status()
        .expect("run cowstore-bench");
    assert!(status.success());

    let again = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_cowstore-bench"))
        .arg("--report-from")
        .arg(run.path().join("results.json"))
        .arg("--out")
        .arg(again.path())
        .output()
        .expect("run cowstore-bench --report-from");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for file in [
        "matrix.md",
        "summary.md",
        "throughput-99-1.svg",
        "read-p99-vs-mix.svg",
    ] {
        assert_eq!(
            read(run.path(), file),
            read(again.path(), file),
            "{file} rendered differently from the same results"
        );
    }

    fs::write(again.path().join("bad.json"), "{\"cells\": 3}").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_cowstore-bench"))
        .arg("--report-from")
        .arg(again.path().join("bad.json"))
        .output()
        .expect("run cowstore-bench --report-from");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not a results.json written by cowstore-bench"),
        "{stderr}"
    );
}
