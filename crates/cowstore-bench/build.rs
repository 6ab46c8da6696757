//! Records the compiler version so the report can name the toolchain that built the benchmark.
use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=COWSTORE_BENCH_RUSTC={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
