//! Black-box tests of the real `cowd` binary: processes, loopback ports, files and signals.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::*;
use nix::sys::signal::Signal;
use serde_json::{Value, json};

/// A metric's value, which must be present.
fn metric(daemon: &Daemon, name: &str) -> f64 {
    common::metric(&daemon.url(""), name).unwrap_or_else(|| panic!("{name} missing from /metrics"))
}

fn wait_for_version(daemon: &Daemon, version: u64) -> Value {
    eventually(&format!("version {version}"), || {
        let (v, doc) = get_config(&daemon.url(""));
        (v == version).then_some(doc)
    })
}

fn wait_for_log(daemon: &Daemon, needle: &str) -> String {
    eventually(&format!("`{needle}` in the log"), || {
        let log = daemon.log_text();
        log.contains(needle).then_some(log)
    })
}

#[test]
fn help_documents_every_option_and_default() {
    let output = Command::new(cowd_bin()).arg("--help").output().unwrap();
    assert!(output.status.success());
    let top = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "serve",
        "check",
        "/v1/config/watch",
        "/v1/events",
        "/metrics",
        "rollback",
    ] {
        assert!(
            top.contains(needle),
            "`{needle}` missing from cowd --help:\n{top}"
        );
    }
    let output = Command::new(cowd_bin())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "--listen",
        "127.0.0.1:8080",
        "--data-dir",
        "./cowd-data",
        "--config",
        "--watch",
        "--schema",
        "--token-file",
        "COWD_TOKEN",
        "--etcd-user",
        "--etcd-password-file",
        "COWD_ETCD_PASSWORD",
        "--etcd-ca-cert",
        "--etcd-client-cert",
        "--history",
        "1000",
        "--max-body",
        "1MiB",
        "SIGHUP",
        "SIGTERM",
    ] {
        assert!(
            help.contains(needle),
            "`{needle}` missing from cowd serve --help:\n{help}"
        );
    }
}

/// The README's command, `cowd serve --config crates/cowd/examples/config.toml`, from a fresh
/// directory: creates ./cowd-data and serves the example (on port 0 here, so tests never fight
/// over 8080; the default address is checked by the help test).
#[test]
fn readme_command_serves_the_example_config_with_default_data_dir() {
    let work = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config.toml");
    let addr_file = work.path().join("addr");
    let mut child = Command::new(cowd_bin())
        .current_dir(work.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--addr-file"])
        .arg(&addr_file)
        .arg("--config")
        .arg(&example)
        .stderr(fs::File::create(work.path().join("log")).unwrap())
        .spawn()
        .unwrap();
    let addr = eventually("the address file", || fs::read_to_string(&addr_file).ok());
    let base = format!("http://{}", addr.trim());
    let (version, doc) = get_config(&base);
    assert_eq!(version, 1);
    let expected = cowd::config_format::parse(
        &fs::read(&example).unwrap(),
        cowd::config_format::Format::Toml,
    )
    .unwrap();
    assert_eq!(doc, expected);
    assert_eq!(doc["log_level"], "info");
    assert!(work.path().join("cowd-data/journal.log").exists());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn example_config_matches_example_schema() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let output = Command::new(cowd_bin())
        .arg("check")
        .arg("--config")
        .arg(dir.join("config.toml"))
        .arg("--schema")
        .arg(dir.join("config.schema.json"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let work = tempfile::tempdir().unwrap();
    let bad = work.path().join("bad.toml");
    fs::write(
        &bad,
        fs::read_to_string(dir.join("config.toml"))
            .unwrap()
            .replace("log_level = \"info\"", "log_level = \"loud\""),
    )
    .unwrap();
    let output = Command::new(cowd_bin())
        .arg("check")
        .arg("--config")
        .arg(&bad)
        .arg("--schema")
        .arg(dir.join("config.schema.json"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/log_level"));
}

#[test]
fn sigterm_stops_gracefully_and_a_restart_keeps_versions_and_history() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let mut daemon = Daemon::start(work.path(), &data, &[], &[("COWD_TOKEN", TOKEN)]);
    let base = daemon.url("");
    for i in 1..=3 {
        assert_eq!(put(&base, &json!({"i": i}).to_string()).status(), 200);
    }
    let history = client()
        .get(daemon.url("/v1/history"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    // Open a long-poll and an event stream: shutdown must end both.
    let poll = {
        let url = daemon.url("/v1/config/watch?after=4&timeout_ms=120000");
        thread::spawn(move || client().get(url).send().unwrap().status().as_u16())
    };
    let stream = client().get(daemon.url("/v1/events")).send().unwrap();
    let events = thread::spawn(move || read_events(stream, 100).len());
    eventually("the long-poll and the stream", || {
        (metric(&daemon, "cowd_watch_waiting") >= 1.0 && metric(&daemon, "cowd_sse_clients") >= 1.0)
            .then_some(())
    });
    daemon.signal(Signal::SIGTERM);
    let status = daemon.wait_exit();
    assert!(status.success(), "exit status {status}");
    assert_eq!(poll.join().unwrap(), 304);
    assert_eq!(
        events.join().unwrap(),
        1,
        "the stream ends after the current version"
    );
    let log = daemon.log_text();
    assert!(
        log.contains("SIGTERM received") && log.contains("stopped"),
        "{log}"
    );

    let daemon = Daemon::start(work.path(), &data, &[], &[("COWD_TOKEN", TOKEN)]);
    assert_eq!(get_config(&daemon.url("")), (4, json!({"i": 3})));
    let after = client()
        .get(daemon.url("/v1/history"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(after, history);
}

#[test]
fn token_file_enables_writes_and_a_second_server_cannot_share_the_data_dir() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let token_file = work.path().join("token");
    fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let daemon = Daemon::start(
        work.path(),
        &data,
        &["--token-file", token_file.to_str().unwrap()],
        &[],
    );
    assert_eq!(put(&daemon.url(""), r#"{"ok": true}"#).status(), 200);
    assert_eq!(current_version(&daemon.url("")), 2);

    let stderr = cowd_fails(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(stderr.contains("in use by another cowd"), "{stderr}");

    // Nor can a second server take the same port (SO_REUSEPORT must not share it).
    let stderr = cowd_fails(&[
        "serve",
        "--listen",
        &daemon.addr.to_string(),
        "--data-dir",
        work.path().join("other-data").to_str().unwrap(),
    ]);
    assert!(stderr.contains("cannot listen on"), "{stderr}");
}

#[test]
fn an_unusable_seed_file_stops_startup_with_its_position() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("app.toml");
    fs::write(&file, "a = 1\nb = [1,\n").unwrap();
    let stderr = cowd_fails(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        work.path().join("data").to_str().unwrap(),
        "--config",
        file.to_str().unwrap(),
    ]);
    assert!(
        stderr.contains("TOML parse error at line 2, column 8"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("parse error").count(),
        1,
        "said once: {stderr}"
    );
}

fn file_mode(work: &Path, file: &Path, extra: &[&str]) -> Daemon {
    let mut args = vec![
        "--config",
        file.to_str().unwrap(),
        "--watch",
        "--poll-interval",
        "0",
    ];
    args.extend_from_slice(extra);
    Daemon::start(work, &work.join("data"), &args, &[("COWD_TOKEN", TOKEN)])
}

#[test]
fn file_mode_reloads_in_place_writes_renames_and_sighup() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("app.toml");
    fs::write(&file, "level = \"info\"\n").unwrap();
    let daemon = file_mode(work.path(), &file, &[]);
    assert_eq!(get_config(&daemon.url("")), (1, json!({"level": "info"})));

    // In place.
    fs::write(&file, "level = \"debug\"\n").unwrap();
    assert_eq!(wait_for_version(&daemon, 2), json!({"level": "debug"}));
    // An editor's save: write a temporary file and rename it over the original.
    write_by_rename(&file, "level = \"warn\"\n");
    assert_eq!(wait_for_version(&daemon, 3), json!({"level": "warn"}));
    // Same content again: no new version.
    write_by_rename(&file, "level = \"warn\" # same value\n");
    thread::sleep(Duration::from_millis(300));
    assert_eq!(current_version(&daemon.url("")), 3);

    // SIGHUP reloads (and says so in the log); an unchanged file publishes nothing.
    fs::write(&file, "level = \"error\"\n").unwrap();
    daemon.signal(Signal::SIGHUP);
    assert_eq!(wait_for_version(&daemon, 4), json!({"level": "error"}));
    wait_for_log(&daemon, "SIGHUP: reloading");
    daemon.signal(Signal::SIGHUP);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        current_version(&daemon.url("")),
        4,
        "an unchanged file publishes nothing"
    );

    let history: Value = get_json(&daemon.url("/v1/history"));
    assert!(
        history["versions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["origin"] == "file")
    );
    assert_eq!(history["mode"], "file");
    // The API refuses writes in file mode.
    let refused = put(&daemon.url(""), "{}");
    assert_eq!(refused.status(), 409);
}

#[test]
fn file_mode_follows_a_kubernetes_configmap_symlink_swap() {
    let work = tempfile::tempdir().unwrap();
    let mount = work.path().join("config");
    fs::create_dir(&mount).unwrap();
    // What the kubelet lays out: app.yaml -> ..data/app.yaml, ..data -> ..<timestamp>
    let first = mount.join("..2026_01_01_00_00_00.000000001");
    fs::create_dir(&first).unwrap();
    fs::write(first.join("app.yaml"), "replicas: 1\n").unwrap();
    std::os::unix::fs::symlink(first.file_name().unwrap(), mount.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/app.yaml", mount.join("app.yaml")).unwrap();
    let daemon = file_mode(work.path(), &mount.join("app.yaml"), &[]);
    assert_eq!(get_config(&daemon.url("")), (1, json!({"replicas": 1})));

    for (n, replicas) in [(2u64, 2), (3, 5), (4, 9)] {
        let dir = mount.join(format!("..2026_01_01_00_00_0{n}.000000001"));
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("app.yaml"), format!("replicas: {replicas}\n")).unwrap();
        let tmp = mount.join("..data_tmp");
        std::os::unix::fs::symlink(dir.file_name().unwrap(), &tmp).unwrap();
        let old = fs::read_link(mount.join("..data")).unwrap();
        fs::rename(&tmp, mount.join("..data")).unwrap();
        fs::remove_dir_all(mount.join(old)).unwrap();
        assert_eq!(wait_for_version(&daemon, n), json!({"replicas": replicas}));
    }
}

#[test]
fn file_mode_keeps_serving_through_bad_files_and_says_where() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("app.json");
    let schema = work.path().join("schema.json");
    fs::write(
        &schema,
        json!({"type": "object", "properties": {"port": {"type": "integer", "maximum": 65535}}})
            .to_string(),
    )
    .unwrap();
    fs::write(&file, r#"{"port": 80}"#).unwrap();
    let daemon = file_mode(work.path(), &file, &["--schema", schema.to_str().unwrap()]);
    assert_eq!(current_version(&daemon.url("")), 1);

    write_by_rename(&file, "{\n  \"port\": 81,\n  oops\n}\n");
    wait_for_log(&daemon, "JSON parse error at line 3, column 3");
    assert_eq!(metric(&daemon, "cowd_config_reload_failures_total"), 1.0);
    assert_eq!(get_config(&daemon.url("")), (1, json!({"port": 80})));

    write_by_rename(&file, r#"{"port": 70000}"#);
    wait_for_log(&daemon, "/port: 70000 is greater than the maximum of 65535");
    assert_eq!(metric(&daemon, "cowd_config_reload_failures_total"), 2.0);
    assert_eq!(get_config(&daemon.url("")), (1, json!({"port": 80})));

    fs::remove_file(&file).unwrap();
    wait_for_log(&daemon, "cannot read");
    assert_eq!(metric(&daemon, "cowd_config_reload_failures_total"), 3.0);
    daemon.signal(Signal::SIGHUP);
    eventually("the failed SIGHUP reload to be counted", || {
        (metric(&daemon, "cowd_config_reload_failures_total") == 4.0).then_some(())
    });
    assert_eq!(get_config(&daemon.url("")), (1, json!({"port": 80})));

    write_by_rename(&file, r#"{"port": 82}"#);
    assert_eq!(wait_for_version(&daemon, 2), json!({"port": 82}));
    assert_eq!(metric(&daemon, "cowd_config_updates_total"), 1.0);
}

#[test]
fn file_mode_restart_picks_up_edits_made_while_down() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("app.yaml");
    fs::write(&file, "a: 1\n").unwrap();
    let mut daemon = file_mode(work.path(), &file, &[]);
    fs::write(&file, "a: 2\n").unwrap();
    wait_for_version(&daemon, 2);
    daemon.signal(Signal::SIGTERM);
    assert!(daemon.wait_exit().success());
    fs::write(&file, "a: 3\n").unwrap();
    let daemon = file_mode(work.path(), &file, &[]);
    assert_eq!(get_config(&daemon.url("")), (3, json!({"a": 3})));
    let history: Value = get_json(&daemon.url("/v1/history"));
    assert_eq!(history["versions"].as_array().unwrap().len(), 3);
}

#[test]
fn embedded_mode_ignores_sighup_and_seeds_only_once() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("seed.json");
    fs::write(&file, r#"{"seed": 1}"#).unwrap();
    let data = work.path().join("data");
    let args = ["--config", file.to_str().unwrap()];
    let mut daemon = Daemon::start(work.path(), &data, &args, &[("COWD_TOKEN", TOKEN)]);
    assert_eq!(put(&daemon.url(""), r#"{"api": 2}"#).status(), 200);
    daemon.signal(Signal::SIGHUP);
    wait_for_log(&daemon, "SIGHUP ignored");
    assert_eq!(current_version(&daemon.url("")), 2);
    // Ctrl-C stops it cleanly too.
    daemon.signal(Signal::SIGINT);
    assert!(daemon.wait_exit().success());
    assert!(daemon.log_text().contains("SIGINT received"));
    fs::write(&file, r#"{"seed": "changed"}"#).unwrap();
    let daemon = Daemon::start(work.path(), &data, &args, &[("COWD_TOKEN", TOKEN)]);
    assert_eq!(get_config(&daemon.url("")), (2, json!({"api": 2})));
    wait_for_log(&daemon, "only seeds an empty data dir");
}

#[test]
fn a_journal_damaged_before_its_end_stops_startup_and_is_left_untouched() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let mut daemon = Daemon::start(work.path(), &data, &[], &[("COWD_TOKEN", TOKEN)]);
    for i in 1..=3 {
        assert_eq!(
            put(&daemon.url(""), &json!({"i": i}).to_string()).status(),
            200
        );
    }
    daemon.signal(Signal::SIGTERM);
    assert!(daemon.wait_exit().success());

    // Flip one payload byte of the second frame (after the 8-byte magic and the first frame).
    let journal = data.join("journal.log");
    let mut image = fs::read(&journal).unwrap();
    let first_len = u32::from_le_bytes(image[8..12].try_into().unwrap()) as usize;
    let second = 8 + 8 + first_len;
    image[second + 8 + 3] ^= 0x20;
    fs::write(&journal, &image).unwrap();

    let stderr = cowd_fails(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(
        stderr.contains(&format!("is damaged at byte {second}"))
            && stderr.contains("intact record follows")
            && stderr.contains("Restore the data dir"),
        "{stderr}"
    );
    assert_eq!(
        fs::read(&journal).unwrap(),
        image,
        "the journal was changed"
    );
}

#[test]
fn sighup_reloads_the_schema_and_an_unusable_schema_file_keeps_the_one_in_force() {
    let work = tempfile::tempdir().unwrap();
    let schema = work.path().join("app.schema.json");
    fs::write(&schema, r#"{"type": "object", "required": ["port"]}"#).unwrap();
    let daemon = Daemon::start(
        work.path(),
        &work.path().join("data"),
        &["--schema", schema.to_str().unwrap()],
        &[("COWD_TOKEN", TOKEN)],
    );
    let base = daemon.url("");
    assert_eq!(put(&base, r#"{"port": 1}"#).status(), 200);
    assert_eq!(put(&base, r#"{"name": "a"}"#).status(), 422);

    fs::write(&schema, r#"{"type": "object", "required": ["name"]}"#).unwrap();
    daemon.signal(Signal::SIGHUP);
    let log = wait_for_log(&daemon, "SIGHUP: reloaded the schema");
    assert!(
        log.contains("the current version does not match the schema"),
        "the current version lacks `name`: {log}"
    );
    assert_eq!(put(&base, r#"{"port": 2}"#).status(), 422);
    assert_eq!(put(&base, r#"{"name": "b"}"#).status(), 200);

    fs::write(&schema, "{").unwrap();
    daemon.signal(Signal::SIGHUP);
    wait_for_log(&daemon, "cannot reload the schema");
    assert_eq!(put(&base, r#"{"port": 3}"#).status(), 422);
    assert_eq!(put(&base, r#"{"name": "c"}"#).status(), 200);
    assert_eq!(get_config(&base), (4, json!({"name": "c"})));
}
