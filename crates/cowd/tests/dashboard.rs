//! The dashboard in a real headless Chromium, driven over the DevTools protocol: the page
//! loads, shows the current version, follows a PUT live (no reload) and renders a diff.
//!
//! Needs Debian's `chromium` (`/usr/bin/chromium`, or set `CHROMIUM`). Set
//! `COWD_SKIP_BROWSER_TEST=1` to skip it on a machine without one.

mod common;

use std::fs;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

fn chromium() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// A headless Chromium in its own process group, killed (group and all) on drop.
struct Browser {
    child: Child,
    port: u16,
}

impl Browser {
    fn launch(binary: &Path, profile: &Path) -> Self {
        let child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(profile.with_extension("log")).unwrap())
            .process_group(0)
            .spawn()
            .expect("chromium starts");
        let port_file = profile.join("DevToolsActivePort");
        let port = eventually("chromium's DevTools port", || {
            fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.lines().next()?.trim().parse::<u16>().ok())
        });
        Self { child, port }
    }

    /// Connects to the first page target.
    fn page(&self) -> Page {
        let list_url = format!("http://127.0.0.1:{}/json/list", self.port);
        let ws_url = eventually("a page target", || {
            let targets: Value = client().get(&list_url).send().ok()?.json().ok()?;
            targets
                .as_array()?
                .iter()
                .find(|t| t["type"] == "page")
                .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_owned))
        });
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let (socket, _) = tungstenite::client(ws_url.as_str(), stream).expect("CDP websocket");
        Page { socket, next_id: 0 }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A CDP session with one page.
struct Page {
    socket: WebSocket<TcpStream>,
    next_id: u64,
}

impl Page {
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params});
        self.socket
            .send(Message::text(request.to_string()))
            .unwrap();
        let deadline = Instant::now() + PATIENCE;
        loop {
            assert!(Instant::now() < deadline, "no answer to {method}");
            match self.socket.read() {
                Ok(Message::Text(text)) => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    if message["id"] == id {
                        assert!(message.get("error").is_none(), "{method}: {message}");
                        return message["result"].clone();
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("CDP connection failed: {e}"),
            }
        }
    }

    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    fn wait_for(&mut self, what: &str, expression: &str, expected: &Value) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            // Exceptions (the page is still loading: an element is missing) mean "not yet".
            let result = self.call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            );
            let value = if result.get("exceptionDetails").is_some() {
                Value::Null
            } else {
                result["result"]["value"].clone()
            };
            if &value == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: `{expression}` is {value}, expected {expected}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn dashboard_shows_the_version_and_follows_a_put_live() {
    let Some(binary) = chromium() else {
        if std::env::var_os("COWD_SKIP_BROWSER_TEST").is_some() {
            eprintln!("skipped: no chromium and COWD_SKIP_BROWSER_TEST is set");
            return;
        }
        panic!(
            "the dashboard test needs Chromium: `apt-get install chromium` (or set CHROMIUM=/path, or COWD_SKIP_BROWSER_TEST=1 to skip)"
        );
    };
    let work = tempfile::tempdir().unwrap();
    let seed = work.path().join("app.json");
    fs::write(&seed, r#"{"log_level": "info", "flags": {"beta": false}}"#).unwrap();
    let daemon = Daemon::start(
        work.path(),
        &work.path().join("data"),
        &["--config", seed.to_str().unwrap()],
        &[("COWD_TOKEN", TOKEN)],
    );
    let browser = Browser::launch(&binary, &work.path().join("profile"));
    let mut page = browser.page();
    page.call("Page.enable", json!({}));
    page.call("Page.navigate", json!({"url": daemon.url("/")}));

    page.wait_for(
        "the version",
        "document.getElementById('version').textContent",
        &json!("1"),
    );
    page.wait_for(
        "the live indicator",
        "document.getElementById('live').textContent",
        &json!("live"),
    );
    page.wait_for(
        "the timeline",
        "document.querySelectorAll('#timeline li[data-version]').length",
        &json!(1),
    );
    assert!(
        page.eval("document.getElementById('doc').textContent")
            .as_str()
            .unwrap()
            .contains("\"log_level\": \"info\"")
    );
    assert_eq!(
        page.eval("document.getElementById('origin').textContent"),
        "seed"
    );
    assert_eq!(
        page.eval("document.getElementById('mode').textContent"),
        "embedded"
    );

    // Mark the page: a reload would lose the mark.
    page.eval("window.__noReload = 'still here'");
    assert_eq!(
        put(
            &daemon.url(""),
            r#"{"log_level": "debug", "flags": {"beta": true}}"#
        )
        .status(),
        200
    );
    page.wait_for(
        "version 2 after the PUT",
        "document.getElementById('version').textContent",
        &json!("2"),
    );
    assert_eq!(
        page.eval("window.__noReload"),
        "still here",
        "the page reloaded"
    );
    assert!(
        page.eval("document.getElementById('doc').textContent")
            .as_str()
            .unwrap()
            .contains("\"log_level\": \"debug\"")
    );
    assert_eq!(
        page.eval("document.getElementById('origin').textContent"),
        "api"
    );
    assert_eq!(page.eval("document.title"), "cowd · v2");
    page.wait_for(
        "two versions in the timeline",
        "document.querySelectorAll('#timeline li[data-version]').length",
        &json!(2),
    );

    // The diff view between v1 and v2.
    page.eval(
        "document.getElementById('diff-from').value = '1';
         document.getElementById('diff-to').value = '2';
         document.getElementById('diff-show').click();",
    );
    page.wait_for(
        "the diff",
        "[...document.querySelectorAll('#diff-output li')].map(li => li.textContent).sort().join(' | ')",
        &json!("replace /flags/beta = true | replace /log_level = \"debug\""),
    );
    let age = page.eval("document.getElementById('age').textContent");
    assert!(age.as_str().unwrap().ends_with('s'), "{age}");

    let shot = page.call("Page.captureScreenshot", json!({"format": "png"}));
    let png = shot["data"].as_str().unwrap();
    assert!(png.len() > 1000);
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cowd-dashboard.b64");
    fs::write(&out, png).unwrap();
}
