//! The local cache file: the last version received, so a follower restarted while the leader
//! is down still has a configuration.
//!
//! Format: one line of JSON metadata (`{"cowd_client_cache":1,"url":…,"version":…,
//! "published_ms":…,"sha256":…,"size":…}`), a newline, then the document's bytes exactly as the
//! leader's hash covers them. A file whose hash does not match is refused, never used.
//!
//! Writes are atomic: a temporary file in the same directory is written and fsynced, renamed
//! over the cache file, and the directory is fsynced. A crash leaves the old file or the new
//! one, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde_json::{Value, json};

use crate::Error;
use crate::sync::sha256_hex;

/// A version read from (or written to) the cache file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cached {
    /// The leader URL it came from.
    pub url: String,
    /// The leader's version number.
    pub version: u64,
    /// When the leader accepted it (ms since the Unix epoch), if known.
    pub published_ms: Option<u64>,
    /// The document's bytes (compact JSON).
    pub body: Bytes,
}

impl Cached {
    /// A cache entry.
    ///
    /// ```
    /// let entry = cowd_client::cache::Cached::new("http://leader", 7, None, bytes::Bytes::from_static(b"{}"));
    /// assert_eq!(entry.version, 7);
    /// ```
    pub fn new(url: &str, version: u64, published_ms: Option<u64>, body: Bytes) -> Self {
        Self {
            url: url.to_owned(),
            version,
            published_ms,
            body,
        }
    }
}

fn cache_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Cache {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Writes `entry` to `path` atomically and durably (see the [module docs](self)).
///
/// ```
/// use cowd_client::cache::{self, Cached};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("app.cache");
/// let entry = Cached::new("http://leader", 3, Some(1000), bytes::Bytes::from_static(br#"{"a":1}"#));
/// cache::write(&path, &entry).unwrap();
/// assert_eq!(cache::read(&path).unwrap(), entry);
/// ```
pub fn write(path: &Path, entry: &Cached) -> Result<(), Error> {
    let meta = json!({
        "cowd_client_cache": 1,
        "url": entry.url,
        "version": entry.version,
        "published_ms": entry.published_ms,
        "sha256": sha256_hex(&entry.body),
        "size": entry.body.len(),
    });
    let mut bytes = serde_json::to_vec(&meta).expect("JSON always serializes");
    bytes.push(b'\n');
    bytes.extend_from_slice(&entry.body);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| cache_error(path, "the cache path names no file"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        cache_error(path, format!("cannot write it: {e}"))
    })
}

/// Reads and verifies the cache file.
pub fn read(path: &Path) -> Result<Cached, Error> {
    let bytes = fs::read(path).map_err(|e| cache_error(path, format!("cannot read it: {e}")))?;
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| cache_error(path, "no metadata line; not a cowd-client cache file"))?;
    let meta: Value = serde_json::from_slice(&bytes[..newline])
        .map_err(|e| cache_error(path, format!("bad metadata line: {e}")))?;
    if meta["cowd_client_cache"] != json!(1) {
        return Err(cache_error(
            path,
            "not a cowd-client cache file (version 1)",
        ));
    }
    let body = Bytes::copy_from_slice(&bytes[newline + 1..]);
    let field = |name: &str| meta[name].as_u64();
    let version = field("version")
        .filter(|v| *v > 0)
        .ok_or_else(|| cache_error(path, "no version in the metadata"))?;
    let sha256 = meta["sha256"].as_str().unwrap_or_default();
    if sha256 != sha256_hex(&body) {
        return Err(cache_error(
            path,
            "the document does not match its SHA-256 (a torn or edited file); ignoring it",
        ));
    }
    serde_json::from_slice::<Value>(&body)
        .map_err(|e| cache_error(path, format!("the document is not JSON: {e}")))?;
    Ok(Cached {
        url: meta["url"].as_str().unwrap_or_default().to_owned(),
        version,
        published_ms: field("published_ms"),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_cache_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        write(
            &path,
            &Cached::new("u", 2, None, Bytes::from_static(br#"{"k":"value"}"#)),
        )
        .unwrap();
        let good = fs::read(&path).unwrap();
        // Every truncation and a flipped byte in the document are detected.
        for cut in 0..good.len() {
            fs::write(&path, &good[..cut]).unwrap();
            assert!(read(&path).is_err(), "cut at {cut}");
        }
        let mut flipped = good.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x01;
        fs::write(&path, &flipped).unwrap();
        assert!(read(&path).is_err());
        fs::write(&path, &good).unwrap();
        assert_eq!(read(&path).unwrap().version, 2);
    }
}
