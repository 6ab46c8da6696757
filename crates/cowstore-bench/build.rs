//! Records the compiler version and the commit the benchmark is built from, so the report can
//! name what was measured (the repository's HEAD when a binary runs may be a later commit).
use std::process::Command;

/// The trimmed standard output of `program args`, if it ran and succeeded.
fn output_of(program: &str, args: &[&str]) -> Option<String> {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
}

fn git(args: &[&str]) -> Option<String> {
    output_of("git", args)
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = output_of(&rustc, &["--version"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=COWSTORE_BENCH_RUSTC={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");

    if let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) {
        // Uncommitted changes to what is measured (this crate, the library) are flagged.
        let modified = git(&[
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            "../cowstore",
        ])
        .is_some_and(|status| !status.is_empty());
        let suffix = if modified { "+modified" } else { "" };
        println!("cargo:rustc-env=COWSTORE_BENCH_COMMIT={commit}{suffix}");
        if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
            // Only paths that exist: a missing one would rerun this script on every build.
            for path in ["HEAD", "refs/heads", "packed-refs"] {
                let path = std::path::Path::new(&git_dir).join(path);
                if path.exists() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
        println!("cargo:rerun-if-changed=src");
        println!("cargo:rerun-if-changed=../cowstore/src");
    }
}
