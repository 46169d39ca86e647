//! Opening a store without hanging or panicking, and naming what went wrong.
//!
//! sled 0.34 meets some damage by panicking inside its open (a truncated `db`, a zeroed
//! block in a store that has no snapshot yet) and some by looping forever on a read. So the
//! open, the schema check and the integrity look all run on a thread of their own with a
//! time limit, and a panic there is caught; either ends in [`StoreError::Damaged`]. Only
//! sled's own lock error says "another parleyd"; a damaged snapshot file, which sled
//! rebuilds from its log when the file is removed, is named with that hint.

use super::StoreError;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long opening may take before the store is called damaged. sled replays its log
/// since the last snapshot on open, which takes seconds on a store of hundreds of MB; a
/// damaged one that loops does so forever, so the limit only needs to be generous.
pub const OPEN_LIMIT: Duration = Duration::from_secs(60);

/// How long opening waits for sled's file lock to be released.
pub(super) const LOCK_WAIT: Duration = Duration::from_secs(2);

/// sled's message when another process holds the folder's lock: sled 0.34 reports it only
/// as an `io::Error` of kind `Other` with this text around the `flock` `EWOULDBLOCK`.
const LOCK_MESSAGE: &str = "could not acquire lock";

/// Runs `open` on its own thread; a panic, or no answer within `limit`, is damage to the
/// store at `path`. A thread that never answers is left behind: the caller is about to
/// exit with the error, and sled offers no way to stop it.
pub(super) fn bounded<T: Send + 'static>(
    path: &Path,
    limit: Duration,
    open: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("store-open".into())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(open));
            // The receiver is gone only when the limit passed; nobody waits any more.
            let _ = sender.send(outcome);
        });
    if let Err(err) = spawned {
        return Err(StoreError::Open {
            path: path.to_path_buf(),
            cause: sled::Error::Io(err),
        });
    }
    match receiver.recv_timeout(limit) {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => Err(damaged(
            path,
            format!("sled panicked while reading it ({})", panic_text(&*panic)),
        )),
        Err(_) => Err(damaged(
            path,
            format!(
                "opening and checking it did not finish within {}",
                crate::duration::human(limit)
            ),
        )),
    }
}

/// Opens sled, waiting up to `wait` for its file lock. sled releases the lock when the
/// last handle to a database drops, and its flusher thread holds one for a moment after
/// the database is closed: a store closed and opened again at once (a restart, a command
/// run right after `once`) would otherwise be refused as held by another process.
pub(super) fn open_when_unlocked(
    path: &Path,
    cache_capacity: u64,
    wait: Duration,
) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let opened = sled::Config::new()
            .path(path)
            .cache_capacity(cache_capacity)
            .open();
        match opened {
            Err(err) if is_lock_error(&err) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(db) => return Ok(db),
            Err(err) => return Err(open_error(path, err)),
        }
    }
}

fn is_lock_error(err: &sled::Error) -> bool {
    matches!(err, sled::Error::Io(io) if io.to_string().starts_with(LOCK_MESSAGE))
}

/// What a sled error at open means: the lock, damage (with the snapshot hint when the
/// newest snapshot file fails its checksum), or something about the folder itself.
pub(super) fn open_error(path: &Path, err: sled::Error) -> StoreError {
    if is_lock_error(&err) {
        return StoreError::Locked {
            path: path.to_path_buf(),
        };
    }
    match err {
        sled::Error::Corruption { .. } | sled::Error::ReportableBug(_) => {
            damaged(path, damage_reading(path, &err))
        }
        cause => StoreError::Open {
            path: path.to_path_buf(),
            cause,
        },
    }
}

/// The damage a corruption error points at: the snapshot when its checksum fails, else
/// the log. (sled's own text adds only "offset None backtrace ()".)
fn damage_reading(path: &Path, err: &sled::Error) -> String {
    if let Some(snapshot) = damaged_snapshot(path) {
        return format!(
            "its snapshot file {} fails its checksum; remove that file and sled rebuilds \
             the snapshot from its log, losing nothing",
            snapshot.display()
        );
    }
    match err {
        sled::Error::ReportableBug(bug) => format!("sled failed reading it ({bug})"),
        _ => "sled found corrupted data in its log".to_string(),
    }
}

/// The snapshot file sled would read (the newest `snap.*`), if it fails sled's checksum:
/// the last 12 bytes are the length and a CRC-32 of everything before them.
pub(super) fn damaged_snapshot(path: &Path) -> Option<PathBuf> {
    let newest = std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|file| {
            file.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("snap.") && !name.ends_with(".generating"))
        })
        .max()?;
    let bytes = std::fs::read(&newest).ok()?;
    let intact = bytes.len() > 12 && {
        let (body, trailer) = bytes.split_at(bytes.len() - 12);
        let expected = u32::from_le_bytes(trailer[8..].try_into().ok()?);
        crc32fast::hash(body) == expected
    };
    (!intact).then_some(newest)
}

pub(super) fn damaged(path: &Path, what: String) -> StoreError {
    StoreError::Damaged {
        path: path.to_path_buf(),
        what,
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string())
}
