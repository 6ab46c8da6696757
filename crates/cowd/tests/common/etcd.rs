//! A real etcd cluster for tests: N members of Debian's `etcd` (3.4) on loopback ports in a
//! temporary directory, with kill/restart per member, and a few direct operations through
//! etcd's JSON gateway (put, revision, compaction) that bypass cowd.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{PATIENCE, client, eventually, free_port};

/// The etcd binary (`COWD_TEST_ETCD` overrides).
pub fn etcd_bin() -> String {
    std::env::var("COWD_TEST_ETCD").unwrap_or_else(|_| "/usr/bin/etcd".to_owned())
}

/// Whether an etcd binary is installed; tests that need one say so loudly and fail in CI
/// rather than pass silently.
pub fn require_etcd() {
    assert!(
        Path::new(&etcd_bin()).exists(),
        "etcd is not installed at {} (Debian: apt-get install etcd-server; or set COWD_TEST_ETCD)",
        etcd_bin()
    );
}

pub struct Member {
    pub name: String,
    pub client_port: u16,
    /// The `https://` client port of a TLS cluster.
    pub tls_port: u16,
    pub peer_port: u16,
    data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Member {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn tls_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.tls_port)
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

pub struct EtcdCluster {
    pub members: Vec<Member>,
    initial_cluster: String,
    /// Extra `etcd` arguments of every member.
    extra_args: Vec<String>,
    /// A TLS cluster also serves clients on `https://` (see [`Pki`]).
    tls: bool,
    _dir: tempfile::TempDir,
}

impl EtcdCluster {
    /// Starts `n` members and waits until the cluster has a leader.
    pub fn start(n: usize) -> Self {
        Self::start_with(n, &[])
    }

    /// Like [`start`](Self::start), and every member also serves clients on
    /// [`Member::tls_url`] with `pki`'s server certificate, requiring a client certificate
    /// signed by `pki`'s CA (`--client-cert-auth`). The plain `http://` port stays for the
    /// helpers here.
    pub fn start_tls(n: usize, pki: &Pki) -> Self {
        let args = [
            "--cert-file",
            pki.server_cert.to_str().unwrap(),
            "--key-file",
            pki.server_key.to_str().unwrap(),
            "--trusted-ca-file",
            pki.ca.to_str().unwrap(),
            "--client-cert-auth",
        ];
        Self::start_inner(n, &args, true)
    }

    /// Like [`start`](Self::start), with extra `etcd` arguments for every member.
    pub fn start_with(n: usize, extra_args: &[&str]) -> Self {
        Self::start_inner(n, extra_args, false)
    }

    /// Starts every member on fresh ports and waits until each one serves a linearizable
    /// read. A member that exits on the way (a port that [`free_port`] handed out was taken
    /// again before etcd bound it) fails the attempt, and the whole cluster is started anew:
    /// tests that kill a member rely on all `n` being up, since two of three can lose quorum.
    fn start_inner(n: usize, extra_args: &[&str], tls: bool) -> Self {
        require_etcd();
        const ATTEMPTS: usize = 3;
        for attempt in 1..=ATTEMPTS {
            let mut cluster = Self::launch(n, extra_args, tls);
            match cluster.wait_every_member_serving() {
                Ok(()) => return cluster,
                Err(why) if attempt < ATTEMPTS => {
                    eprintln!(
                        "etcd cluster start, attempt {attempt}: {why}; starting again on fresh ports\n{}",
                        cluster.logs()
                    );
                }
                Err(why) => panic!(
                    "etcd cluster did not start in {ATTEMPTS} attempts: {why}\n{}",
                    cluster.logs()
                ),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    fn launch(n: usize, extra_args: &[&str], tls: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let members: Vec<Member> = (0..n)
            .map(|i| Member {
                name: format!("m{i}"),
                client_port: free_port(),
                tls_port: free_port(),
                peer_port: free_port(),
                data_dir: dir.path().join(format!("m{i}.etcd")),
                log: dir.path().join(format!("m{i}.log")),
                child: None,
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = Self {
            members,
            initial_cluster,
            extra_args: extra_args.iter().map(ToString::to_string).collect(),
            tls,
            _dir: dir,
        };
        for i in 0..n {
            cluster.start_member(i);
        }
        cluster
    }

    /// Waits (up to [`PATIENCE`]) until every member runs and serves a
    /// linearizable read; an error names the first member that exited.
    fn wait_every_member_serving(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mut all_serving = true;
            for m in &mut self.members {
                if !m.is_running() {
                    return Err(format!("member {} exited", m.name));
                }
                all_serving &= serves_linearizable_reads(&m.url());
            }
            if all_serving {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err("not every member serves reads".to_owned());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The `https://` client URLs of a TLS cluster, comma-separated.
    pub fn tls_endpoints(&self) -> String {
        assert!(self.tls, "not a TLS cluster");
        self.members
            .iter()
            .map(Member::tls_url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The client URLs, comma-separated (for `--etcd-endpoints`).
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(Member::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts (or restarts, keeping its data dir) member `i`.
    pub fn start_member(&mut self, i: usize) {
        let initial_cluster = self.initial_cluster.clone();
        let extra_args = self.extra_args.clone();
        let tls = self.tls;
        let m = &mut self.members[i];
        assert!(!m.is_running(), "member {} already runs", m.name);
        let peer = format!("http://127.0.0.1:{}", m.peer_port);
        let client_url = m.url();
        let listen_client_urls = if tls {
            format!("{client_url},{}", m.tls_url())
        } else {
            client_url.clone()
        };
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)
            .unwrap();
        let child = Command::new(etcd_bin())
            .args(["--name", &m.name])
            .arg("--data-dir")
            .arg(&m.data_dir)
            .args(["--listen-client-urls", &listen_client_urls])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &initial_cluster])
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", "cowd-test"])
            // Defaults (100 ms / 1 s) are fine on a loaded 2-core machine; keep them.
            .args(["--heartbeat-interval", "100", "--election-timeout", "1000"])
            .args(["--logger", "zap", "--log-level", "warn"])
            .args(&extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("etcd starts");
        m.child = Some(child);
    }

    /// SIGKILLs member `i`.
    pub fn kill_member(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn kill_all(&mut self) {
        for i in 0..self.members.len() {
            self.kill_member(i);
        }
    }

    pub fn restart_all(&mut self) {
        for i in 0..self.members.len() {
            if !self.members[i].is_running() {
                self.start_member(i);
            }
        }
        self.wait_healthy();
    }

    /// Waits until a running member serves a linearizable read (the cluster has a quorum and
    /// a leader).
    pub fn wait_healthy(&mut self) {
        eventually("the etcd cluster to be healthy", || {
            for m in &mut self.members {
                if !m.is_running() {
                    continue;
                }
                if serves_linearizable_reads(&m.url()) {
                    return Some(());
                }
            }
            None
        });
    }

    fn any_url(&mut self) -> String {
        let running = (0..self.members.len())
            .find(|&i| self.members[i].is_running())
            .expect("a running member");
        self.members[running].url()
    }

    /// Puts `value` at `key` directly (not through cowd); returns the new revision.
    pub fn put(&mut self, key: &str, value: &str) -> u64 {
        let url = self.any_url();
        let response = eventually("a direct etcd put", || {
            gateway(
                &url,
                "/v3/kv/put",
                &json!({"key": b64(key), "value": b64(value)}),
            )
        });
        revision_of(&response)
    }

    /// The cluster's current revision.
    pub fn revision(&mut self) -> u64 {
        let url = self.any_url();
        let response = eventually("an etcd range", || {
            gateway(&url, "/v3/kv/range", &json!({"key": b64("any")}))
        });
        revision_of(&response)
    }

    /// Compacts the history up to the current revision (physically).
    pub fn compact(&mut self) -> u64 {
        let revision = self.revision();
        let url = self.any_url();
        eventually("etcd compaction", || {
            gateway(
                &url,
                "/v3/kv/compaction",
                &json!({"revision": revision.to_string(), "physical": true}),
            )
        });
        revision
    }

    /// Turns on etcd authentication: a `root` user (required by etcd) and `user`, whose only
    /// role may read and write `key` and nothing else. Afterwards every request needs a
    /// token, so the unauthenticated helpers here stop working.
    pub fn enable_auth(&mut self, user: &str, password: &str, key: &str) {
        let url = self.any_url();
        let role = format!("{user}-role");
        let steps = [
            (
                "/v3/auth/user/add",
                json!({"name": "root", "password": "root-password"}),
            ),
            (
                "/v3/auth/user/grant",
                json!({"user": "root", "role": "root"}),
            ),
            ("/v3/auth/role/add", json!({"name": role})),
            (
                "/v3/auth/role/grant",
                json!({"name": role, "perm": {"permType": "READWRITE", "key": b64(key)}}),
            ),
            (
                "/v3/auth/user/add",
                json!({"name": user, "password": password}),
            ),
            ("/v3/auth/user/grant", json!({"user": user, "role": role})),
            ("/v3/auth/enable", json!({})),
        ];
        for (path, body) in steps {
            gateway(&url, path, &body).unwrap_or_else(|| panic!("etcd {path} {body} failed"));
        }
        // Now an anonymous read is refused.
        eventually("etcd to require authentication", || {
            gateway(&url, "/v3/kv/range", &json!({"key": b64(key)}))
                .is_none()
                .then_some(())
        });
    }

    pub fn logs(&self) -> String {
        self.members
            .iter()
            .map(|m| {
                format!(
                    "--- {} ---\n{}",
                    m.name,
                    fs::read_to_string(&m.log).unwrap_or_default()
                )
            })
            .collect()
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Whether the member at `url` answers a linearizable read (it is up and the cluster has a
/// leader it can reach).
fn serves_linearizable_reads(url: &str) -> bool {
    gateway(url, "/v3/kv/range", &json!({"key": b64("health-probe")}))
        .is_some_and(|v| v.get("header").is_some())
}

fn revision_of(response: &Value) -> u64 {
    response["header"]["revision"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .or_else(|| response["header"]["revision"].as_u64())
        .expect("a revision in the header")
}

/// POSTs `body` to etcd's JSON gateway; `None` on any failure.
pub fn gateway(base: &str, path: &str, body: &Value) -> Option<Value> {
    let response = client()
        .post(format!("{base}{path}"))
        .timeout(Duration::from_secs(5))
        .json(body)
        .send()
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().ok()
}

/// Standard base64 (the gateway's encoding of keys and values).
pub fn b64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A throwaway certificate authority made with the `openssl` command: a CA, a server
/// certificate for 127.0.0.1 and a client certificate, all ECDSA P-256, valid for two days.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    _dir: tempfile::TempDir,
}

impl Pki {
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("the openssl command runs (Debian: apt-get install openssl)");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend_from_slice(&ec);
        ca.extend_from_slice(&["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"]);
        ca.extend_from_slice(&["-subj", "/CN=cowd-test-ca"]);
        openssl(&ca);
        for (name, extensions) in [
            (
                "server",
                "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            ),
            ("client", "extendedKeyUsage=clientAuth\n"),
        ] {
            fs::write(at(&format!("{name}.ext")), extensions).unwrap();
            let (key, csr, pem, ext, subject) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.ext"),
                format!("/CN=cowd-test-{name}"),
            );
            let mut request = vec!["req"];
            request.extend_from_slice(&ec);
            request.extend_from_slice(&["-keyout", &key, "-out", &csr, "-subj", &subject]);
            openssl(&request);
            openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ]);
        }
        Self {
            ca: at("ca.pem"),
            server_cert: at("server.pem"),
            server_key: at("server.key"),
            client_cert: at("client.pem"),
            client_key: at("client.key"),
            _dir: dir,
        }
    }
}
