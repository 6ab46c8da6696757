//! The durable history: an append-only, checksummed log in the data dir.
//!
//! # Format
//!
//! `journal.log` starts with the 8-byte magic `COWDJNL1`, followed by frames:
//!
//! ```text
//! [payload length: u32 LE][CRC-32 of (length bytes ++ payload): u32 LE][payload]
//! payload = {"v": version, "t": published_at_ms, "o": origin, "c": document}
//! ```
//!
//! # Durability
//!
//! [`Journal::append`] writes one frame and `fdatasync`s the file before it returns, so a record
//! it acknowledged survives `kill -9` and power loss. A crash in the middle of an append leaves
//! at most one incomplete or checksum-failing frame at the end (a *torn tail*): [`Journal::open`]
//! cuts it off (keeping a copy of the dropped bytes next to the journal for forensics) and
//! fsyncs. A frame after the last acknowledged one can only be an unacknowledged write, so
//! recovery never loses an acknowledged version.
//!
//! The file is created, and compacted to the newest `keep` records when it has grown to twice
//! that, by writing a temporary file, fsyncing it, renaming it over `journal.log` and fsyncing
//! the directory: at every instant the journal is either the old or the new complete file.
//!
//! Damage that a crash cannot cause — a bad frame with an intact frame after it, or a frame
//! whose checksum is valid but whose content is unreadable or out of order — is disk or file
//! corruption. Cutting the journal there would drop acknowledged versions, so `open` refuses
//! with [`JournalError::Corrupt`] and leaves the file as it is.
//!
//! A failed write or fsync is rolled back (the file is truncated to its last good length); if
//! even that fails the journal refuses further appends ([`JournalError::Poisoned`]) until the
//! process restarts and recovers from disk.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::record::{Origin, VersionRecord, ms_to_system_time};

/// The journal's file name inside the data dir.
pub const JOURNAL_FILE: &str = "journal.log";
const COMPACT_FILE: &str = "journal.log.compact";
const NEW_FILE: &str = "journal.log.new";
const MAGIC: &[u8; 8] = b"COWDJNL1";
const FRAME_HEADER: usize = 8;
/// Frames larger than this are treated as garbage (a torn length field).
const MAX_PAYLOAD: usize = 1 << 30;

/// Errors of the durable log.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An I/O operation on the data dir failed.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The file does not start with the journal magic.
    #[error(
        "{} is not a cowd journal (bad header); move it away or point --data-dir at another directory",
        .path.display()
    )]
    NotAJournal {
        /// The file.
        path: PathBuf,
    },
    /// A previous write failed and could not be rolled back; nothing more is written.
    #[error(
        "the data dir is in an unknown state after a failed write ({reason}); fix the disk and restart cowd"
    )]
    Poisoned {
        /// The original failure.
        reason: String,
    },
    /// The journal is damaged somewhere a crash cannot have damaged it: before an intact
    /// record, or in a record whose checksum is valid. Cutting it there would drop
    /// acknowledged versions, so it is left untouched.
    #[error(
        "{} is damaged at byte {offset}: {reason}. A crash can only tear the last record, so this \
         is disk or file corruption, and cutting the journal here would drop acknowledged \
         versions; cowd left the file untouched and did not start. Restore the data dir from a \
         backup, or move the journal away to start over from the config file",
        .path.display()
    )]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong there, and what follows it.
        reason: String,
    },
    /// Another process holds the data dir.
    #[error(
        "the data dir {} is in use by another cowd process; stop it or use another --data-dir",
        .path.display()
    )]
    Locked {
        /// The data dir.
        path: PathBuf,
    },
}

fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> JournalError + 'a {
    move |source| JournalError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Exclusive lock on a data dir, held for the life of the process (`flock` on `LOCK`).
#[derive(Debug)]
pub struct DataDirLock {
    _lock: nix::fcntl::Flock<File>,
}

impl DataDirLock {
    /// Creates `dir` if needed (fsyncing its parent) and locks it.
    pub fn acquire(dir: &Path) -> Result<Self, JournalError> {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(io_error("cannot create data dir", dir))?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        let path = dir.join("LOCK");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error("cannot open", &path))?;
        match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Self { _lock: lock }),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(JournalError::Locked {
                path: dir.to_owned(),
            }),
            Err((_, errno)) => Err(JournalError::Io {
                action: "cannot lock",
                path,
                source: io::Error::from(errno),
            }),
        }
    }
}

/// Fsyncs a directory so that file creations and renames in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("cannot fsync directory", dir))
}

/// The append-only log of published versions; see the [module docs](self).
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    /// Length of the valid content (everything is fsynced up to here).
    len: u64,
    /// Frames in the file.
    frames: usize,
    keep: usize,
    poisoned: Option<String>,
}

/// What [`Journal::open`] found.
#[derive(Debug)]
pub struct Opened {
    /// The journal, ready for appends.
    pub journal: Journal,
    /// The newest `keep` records, oldest first (empty for a new data dir).
    pub records: Vec<VersionRecord>,
    /// Bytes cut off a torn tail, and where a copy of them was saved.
    pub recovered_tail: Option<(u64, PathBuf)>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    v: u64,
    t: u64,
    o: Origin,
    #[serde(borrow)]
    c: &'a RawValue,
}

/// A frame found by [`scan`].
struct Frame {
    start: usize,
    end: usize,
    version: u64,
}

struct Scan {
    frames: Vec<Frame>,
    /// End of the last good frame.
    valid_len: usize,
    /// Why scanning stopped before the end of the file.
    stopped: Option<Stop>,
}

/// Why [`scan`] stopped before the end of the file.
struct Stop {
    reason: String,
    /// The bad frame's checksum is valid: it was written that way, not torn by a crash.
    checksum_valid: bool,
}

impl Stop {
    fn torn(reason: String) -> Self {
        Self {
            reason,
            checksum_valid: false,
        }
    }

    fn written(reason: String) -> Self {
        Self {
            reason,
            checksum_valid: true,
        }
    }
}

/// The payload of the frame that starts `rest`, if its header is plausible, the frame is
/// complete and its checksum matches; otherwise what is wrong with it (a frame torn by a crash
/// fails here).
fn checked_payload(rest: &[u8]) -> Result<&[u8], String> {
    if rest.len() < FRAME_HEADER {
        return Err("incomplete frame header".to_owned());
    }
    let len_bytes: [u8; 4] = rest[..4].try_into().expect("4 bytes");
    let len = u32::from_le_bytes(len_bytes) as usize;
    let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
    if len == 0 || len > MAX_PAYLOAD {
        return Err(format!("implausible frame length {len}"));
    }
    let Some(payload) = rest.get(FRAME_HEADER..FRAME_HEADER + len) else {
        return Err("incomplete frame".to_owned());
    };
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len_bytes);
    hasher.update(payload);
    if hasher.finalize() != crc {
        return Err("checksum mismatch in the frame".to_owned());
    }
    Ok(payload)
}

/// Whether an intact frame starts at `offset`.
fn intact_frame_at(bytes: &[u8], offset: usize) -> bool {
    bytes
        .get(offset..)
        .is_some_and(|rest| checked_payload(rest).is_ok())
}

/// The first intact frame after a damaged one at `damaged`, if any. An append torn by a crash
/// is the last thing in the file, so anything intact after it means the damage is elsewhere.
/// Tries the position the damaged frame's own length points to first (a flipped bit in a
/// payload leaves the framing intact), then every byte.
fn intact_frame_after(bytes: &[u8], damaged: usize) -> Option<usize> {
    let declared = bytes.get(damaged..damaged + 4).map(|len| {
        damaged + FRAME_HEADER + u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize
    });
    if let Some(next) = declared.filter(|&next| next < bytes.len()) {
        if intact_frame_at(bytes, next) {
            return Some(next);
        }
    }
    (damaged + 1..bytes.len().saturating_sub(FRAME_HEADER)).find(|&at| intact_frame_at(bytes, at))
}

/// Walks the frames of a journal image (after the magic).
fn scan(bytes: &[u8], mut on_record: impl FnMut(VersionRecord)) -> Scan {
    let mut offset = MAGIC.len();
    let mut frames = Vec::new();
    let mut last_version = 0;
    let stopped = loop {
        if offset == bytes.len() {
            break None;
        }
        let payload = match checked_payload(&bytes[offset..]) {
            Ok(payload) => payload,
            Err(fault) => break Some(Stop::torn(format!("{fault} at byte {offset}"))),
        };
        let parsed: Payload<'_> = match serde_json::from_slice(payload) {
            Ok(p) => p,
            Err(e) => {
                break Some(Stop::written(format!(
                    "unreadable record at byte {offset}: {e}"
                )));
            }
        };
        if parsed.v <= last_version {
            break Some(Stop::written(format!(
                "version {} at byte {offset} does not follow version {last_version}",
                parsed.v
            )));
        }
        last_version = parsed.v;
        on_record(VersionRecord::new(
            parsed.v,
            ms_to_system_time(parsed.t),
            parsed.o,
            Bytes::copy_from_slice(parsed.c.get().as_bytes()),
        ));
        let end = offset + FRAME_HEADER + payload.len();
        frames.push(Frame {
            start: offset,
            end,
            version: parsed.v,
        });
        offset = end;
    };
    Scan {
        frames,
        valid_len: offset,
        stopped,
    }
}

/// Encodes one record as a frame.
fn encode(record: &VersionRecord) -> Vec<u8> {
    let origin = serde_json::to_vec(record.origin()).expect("origins always serialize");
    let mut payload = Vec::with_capacity(64 + origin.len() + record.size());
    write!(
        payload,
        "{{\"v\":{},\"t\":{},\"o\":",
        record.version(),
        record.published_at_ms()
    )
    .expect("writing to a Vec cannot fail");
    payload.extend_from_slice(&origin);
    payload.extend_from_slice(b",\"c\":");
    payload.extend_from_slice(record.body());
    payload.push(b'}');
    let len = u32::try_from(payload.len()).expect("documents are far smaller than 4 GiB");
    let len_bytes = len.to_le_bytes();
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len_bytes);
    hasher.update(&payload);
    let mut frame = Vec::with_capacity(FRAME_HEADER + payload.len());
    frame.extend_from_slice(&len_bytes);
    frame.extend_from_slice(&hasher.finalize().to_le_bytes());
    frame.extend_from_slice(&payload);
    frame
}

/// Writes `contents` to `dir/tmp_name`, fsyncs it, renames it to `dir/name` and fsyncs `dir`.
fn replace_file(
    dir: &Path,
    tmp_name: &str,
    name: &str,
    contents: &[&[u8]],
) -> Result<(), JournalError> {
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut file = File::create(&tmp).map_err(io_error("cannot create", &tmp))?;
        for part in contents {
            file.write_all(part)
                .map_err(io_error("cannot write", &tmp))?;
        }
        file.sync_all().map_err(io_error("cannot fsync", &tmp))?;
        let target = dir.join(name);
        std::fs::rename(&tmp, &target).map_err(io_error("cannot rename into place", &target))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, recovering from a torn tail, and returns the
    /// newest `keep` records. Call [`DataDirLock::acquire`] first.
    pub fn open(dir: &Path, keep: usize) -> Result<Opened, JournalError> {
        let keep = keep.max(1);
        let path = dir.join(JOURNAL_FILE);
        for stale in [COMPACT_FILE, NEW_FILE] {
            let stale = dir.join(stale);
            if stale.exists() {
                std::fs::remove_file(&stale).map_err(io_error("cannot remove", &stale))?;
            }
        }
        if !path.exists() {
            replace_file(dir, NEW_FILE, JOURNAL_FILE, &[MAGIC])?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_error("cannot open", &path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io_error("cannot read", &path))?;
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(JournalError::NotAJournal { path });
        }
        let mut records = VecDeque::with_capacity(keep.min(1024));
        let scan = scan(&bytes, |record| {
            if records.len() == keep {
                records.pop_front();
            }
            records.push_back(record);
        });
        let mut recovered_tail = None;
        if let Some(stop) = &scan.stopped {
            let corrupt = |reason: String| JournalError::Corrupt {
                path: path.clone(),
                offset: scan.valid_len as u64,
                reason,
            };
            if stop.checksum_valid {
                return Err(corrupt(format!(
                    "{}, in a record whose checksum is valid",
                    stop.reason
                )));
            }
            if let Some(intact) = intact_frame_after(&bytes, scan.valid_len) {
                return Err(corrupt(format!(
                    "{}, and an intact record follows at byte {intact}",
                    stop.reason
                )));
            }
            let reason = &stop.reason;
            let dropped = &bytes[scan.valid_len..];
            let copy = dir.join(format!("journal.log.torn-at-{}", scan.valid_len));
            std::fs::write(&copy, dropped).map_err(io_error("cannot save torn tail to", &copy))?;
            tracing::warn!(
                journal = %path.display(),
                dropped_bytes = dropped.len(),
                copy = %copy.display(),
                "recovered the journal from a torn tail ({reason}); the dropped bytes were an \
                 unacknowledged write"
            );
            file.set_len(scan.valid_len as u64)
                .map_err(io_error("cannot truncate", &path))?;
            file.sync_all().map_err(io_error("cannot fsync", &path))?;
            recovered_tail = Some((dropped.len() as u64, copy));
        }
        let mut journal = Self {
            dir: dir.to_owned(),
            path,
            file,
            len: scan.valid_len as u64,
            frames: scan.frames.len(),
            keep,
            poisoned: None,
        };
        if journal.should_compact() {
            journal.compact()?;
        }
        Ok(Opened {
            journal,
            records: records.into(),
            recovered_tail,
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of records in the file (the newest `keep` of them are the served history).
    pub fn frames(&self) -> usize {
        self.frames
    }

    fn should_compact(&self) -> bool {
        self.frames > self.keep + self.keep.max(16)
    }

    /// Appends `record` and fsyncs. When this returns `Ok`, the record survives a crash.
    pub fn append(&mut self, record: &VersionRecord) -> Result<(), JournalError> {
        if let Some(reason) = &self.poisoned {
            return Err(JournalError::Poisoned {
                reason: reason.clone(),
            });
        }
        let frame = encode(record);
        let written = self
            .file
            .write_all_at(&frame, self.len)
            .map_err(io_error("cannot append to", &self.path))
            .and_then(|()| {
                self.file
                    .sync_data()
                    .map_err(io_error("cannot fsync", &self.path))
            });
        if let Err(error) = written {
            // Roll back so that later appends do not land after a torn frame.
            let rollback = self
                .file
                .set_len(self.len)
                .and_then(|()| self.file.sync_all());
            if let Err(rollback_error) = rollback {
                self.poisoned = Some(format!("{error}; then rollback failed: {rollback_error}"));
            } else if matches!(
                &error,
                JournalError::Io {
                    action: "cannot fsync",
                    ..
                }
            ) {
                // After a failed fsync the kernel may have dropped dirty pages: trust nothing.
                self.poisoned = Some(error.to_string());
            }
            return Err(error);
        }
        self.len += frame.len() as u64;
        self.frames += 1;
        if self.should_compact() {
            if let Err(error) = self.compact() {
                // The append itself is durable; a failed compaction only costs disk space.
                tracing::error!(%error, "journal compaction failed; will retry after the next write");
            }
        }
        Ok(())
    }

    /// Rewrites the journal with only the newest `keep` records (atomically, via rename).
    fn compact(&mut self) -> Result<(), JournalError> {
        let mut bytes = vec![0; self.len as usize];
        self.file
            .read_exact_at(&mut bytes, 0)
            .map_err(io_error("cannot read", &self.path))?;
        let scan = scan(&bytes, |_| {});
        let skip = scan.frames.len().saturating_sub(self.keep);
        let kept = &scan.frames[skip..];
        let (Some(first), Some(last)) = (kept.first(), kept.last()) else {
            return Ok(());
        };
        let body = &bytes[first.start..last.end];
        replace_file(&self.dir, COMPACT_FILE, JOURNAL_FILE, &[MAGIC, body])?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(io_error("cannot reopen", &self.path))?;
        tracing::debug!(
            kept = kept.len(),
            dropped = skip,
            oldest = first.version,
            "compacted the journal"
        );
        self.file = file;
        self.len = (MAGIC.len() + body.len()) as u64;
        self.frames = kept.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn record(version: u64, doc: serde_json::Value) -> VersionRecord {
        VersionRecord::from_value(version, SystemTime::now(), Origin::Api, &doc)
    }

    fn versions(records: &[VersionRecord]) -> Vec<u64> {
        records.iter().map(VersionRecord::version).collect()
    }

    #[test]
    fn appends_survive_reopen_with_content_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let opened = Journal::open(dir.path(), 10).unwrap();
        assert!(opened.records.is_empty());
        let mut journal = opened.journal;
        journal
            .append(&record(1, serde_json::json!({"a": 1})))
            .unwrap();
        let rollback = VersionRecord::from_value(
            2,
            SystemTime::now(),
            Origin::Rollback { of: 1 },
            &serde_json::json!({"a": [1, "x"]}),
        );
        journal.append(&rollback).unwrap();
        drop(journal);
        let opened = Journal::open(dir.path(), 10).unwrap();
        assert_eq!(versions(&opened.records), [1, 2]);
        assert_eq!(opened.records[1].body(), rollback.body());
        assert_eq!(opened.records[1].origin(), &Origin::Rollback { of: 1 });
        assert_eq!(
            opened.records[1].published_at_ms(),
            rollback.published_at_ms()
        );
        assert!(opened.recovered_tail.is_none());
    }

    #[test]
    fn every_torn_tail_is_cut_back_to_the_last_whole_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path(), 10).unwrap().journal;
        journal
            .append(&record(1, serde_json::json!("one")))
            .unwrap();
        journal
            .append(&record(2, serde_json::json!("two")))
            .unwrap();
        let good_len = journal.len;
        let frame = encode(&record(3, serde_json::json!({"three": [3, 3, 3]})));
        drop(journal);
        let path = dir.path().join(JOURNAL_FILE);
        let image = std::fs::read(&path).unwrap();
        // Every prefix of the third frame, and a corrupted whole frame.
        let mut cases: Vec<Vec<u8>> = (1..frame.len()).map(|n| frame[..n].to_vec()).collect();
        let mut flipped = frame.clone();
        *flipped.last_mut().unwrap() ^= 0x40;
        cases.push(flipped);
        cases.push(vec![0; 64]);
        for tail in cases {
            let mut torn = image.clone();
            torn.extend_from_slice(&tail);
            std::fs::write(&path, &torn).unwrap();
            let opened = Journal::open(dir.path(), 10).unwrap();
            assert_eq!(
                versions(&opened.records),
                [1, 2],
                "tail of {} bytes",
                tail.len()
            );
            assert_eq!(opened.recovered_tail.as_ref().unwrap().0, tail.len() as u64);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);
            // And the journal keeps working after recovery.
            let mut journal = opened.journal;
            journal.append(&record(3, serde_json::json!(3))).unwrap();
            drop(journal);
            assert_eq!(
                versions(&Journal::open(dir.path(), 10).unwrap().records),
                [1, 2, 3]
            );
            std::fs::write(&path, &image).unwrap();
        }
    }

    /// Offsets of the frames of a journal image.
    fn frame_starts(image: &[u8]) -> Vec<usize> {
        let mut starts = Vec::new();
        let mut at = MAGIC.len();
        while at < image.len() {
            starts.push(at);
            let len = u32::from_le_bytes(image[at..at + 4].try_into().unwrap()) as usize;
            at += FRAME_HEADER + len;
        }
        starts
    }

    #[test]
    fn damage_that_a_crash_cannot_cause_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path(), 10).unwrap().journal;
        for v in 1..=4 {
            journal
                .append(&record(
                    v,
                    serde_json::json!({"v": v, "pad": "p".repeat(40)}),
                ))
                .unwrap();
        }
        drop(journal);
        let path = dir.path().join(JOURNAL_FILE);
        let image = std::fs::read(&path).unwrap();
        let starts = frame_starts(&image);
        assert_eq!(starts.len(), 4);
        let second = starts[1];

        let mut payload_flip = image.clone();
        payload_flip[second + FRAME_HEADER + 10] ^= 0x01;
        let mut length_garbage = image.clone();
        length_garbage[second..second + 4].copy_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
        let mut checksum_flip = image.clone();
        checksum_flip[second + 5] ^= 0x80;
        // A whole, checksum-valid frame that breaks the version order: written, not torn.
        let mut out_of_order = image.clone();
        out_of_order.extend_from_slice(&encode(&record(2, serde_json::json!("again"))));
        let cases = [
            (
                "a flipped payload bit",
                payload_flip,
                second,
                "intact record follows",
            ),
            (
                "a garbage length",
                length_garbage,
                second,
                "intact record follows",
            ),
            (
                "a flipped checksum bit",
                checksum_flip,
                second,
                "intact record follows",
            ),
            (
                "a version out of order",
                out_of_order,
                image.len(),
                "checksum is valid",
            ),
        ];
        for (what, damaged, offset, says) in cases {
            std::fs::write(&path, &damaged).unwrap();
            let error = Journal::open(dir.path(), 10).unwrap_err();
            let JournalError::Corrupt {
                offset: reported, ..
            } = &error
            else {
                panic!("{what}: expected Corrupt, got {error:?}");
            };
            assert_eq!(*reported, offset as u64, "{what}");
            let message = error.to_string();
            assert!(message.contains(says), "{what}: {message}");
            assert!(
                message.contains("Restore the data dir"),
                "{what}: {message}"
            );
            assert_eq!(
                std::fs::read(&path).unwrap(),
                damaged,
                "{what}: file changed"
            );
            let leftovers: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|name| name.contains("torn"))
                .collect();
            assert!(leftovers.is_empty(), "{what}: {leftovers:?}");
        }
        // The same flipped bit in the last frame is a torn tail: cut, not refused.
        let mut last_flip = image.clone();
        last_flip[starts[3] + FRAME_HEADER + 10] ^= 0x01;
        std::fs::write(&path, &last_flip).unwrap();
        let opened = Journal::open(dir.path(), 10).unwrap();
        assert_eq!(versions(&opened.records), [1, 2, 3]);
    }

    #[test]
    fn compaction_keeps_the_newest_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path(), 5).unwrap().journal;
        for v in 1..=100 {
            journal
                .append(&record(v, serde_json::json!({"v": v})))
                .unwrap();
            assert!(journal.frames() <= 5 + 16 + 1);
        }
        drop(journal);
        let opened = Journal::open(dir.path(), 5).unwrap();
        assert_eq!(versions(&opened.records), [96, 97, 98, 99, 100]);
        assert_eq!(opened.records[4].doc().unwrap()["v"], 100);
        assert!(!dir.path().join(COMPACT_FILE).exists());
    }

    #[test]
    fn rejects_foreign_files_and_second_lock() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(JOURNAL_FILE), b"hello world").unwrap();
        assert!(matches!(
            Journal::open(dir.path(), 5),
            Err(JournalError::NotAJournal { .. })
        ));
        let _lock = DataDirLock::acquire(dir.path()).unwrap();
        assert!(matches!(
            DataDirLock::acquire(dir.path()),
            Err(JournalError::Locked { .. })
        ));
    }
}
