//! Owns the sled database: articles, feed state, stories and the alert outbox.
//!
//! A poll is written in one serializable transaction: its articles, story records,
//! outbox entries, the feed's state and the counts record. Callers flush before any alert
//! leaves. A crash at any point therefore keeps the whole poll or loses it, and the next
//! poll redoes a lost one because the feed state (ETag, body hash) was lost with it.
//! Transaction closures only read and write the trees: sled may run them more than once.
//!
//! Every write that adds or removes records changes the counts record in the same
//! transaction, so `stats`, `/metrics` and the status page read counts, never scan; at
//! open the counts are compared with a cheap look at the trees and with the mark a clean
//! close left, so a damaged store is reported instead of starting empty.
//!
//! One file per job: `keys` (the on-disk layout table and value codec), `compact` (the
//! binary values of articles and feed states), `records` (what is stored), `feed` (a
//! feed's state and its transitions), `commit` (a poll's commit and the story rule),
//! `outbox` (delivery bookkeeping), `articles` (reads and pruning), `migrate` (schema
//! versions), `open` (a bounded open and what its errors mean), `counts` (the counts
//! record and the cheap look), `clean` (the clean-shutdown mark), `export` (export and
//! import) and `check` (the full check).

mod articles;
mod check;
mod clean;
mod commit;
mod compact;
mod counts;
mod export;
mod feed;
mod keys;
mod migrate;
mod open;
mod outbox;
mod recent;
mod records;
mod stories;

pub use check::{CHECK_LIMIT, CheckReport};
pub use commit::{Alerting, CommitOutcome, NewArticle, PollCommit};
pub use counts::Counts;
pub use export::TransferError;
pub use feed::{FeedState, NewBody};
pub use keys::SCHEMA_VERSION;
pub use open::OPEN_LIMIT;
pub use recent::{DayCount, RECENT_MATCHES, Recent, RecentMatch};
pub use records::{SentAlert, StoreStats, StoredArticle, StoryRecord};

use sled::transaction::TransactionError;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use stories::StoriesRead;

/// Store failures. Each names the store path or the tree involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be read as it is: sled panicked, looped, or found corrupted data,
    /// or what it holds contradicts the store's own counts.
    #[error("store at {path} is damaged: {what}; see README 'Recovering a store'")]
    Damaged {
        /// The sled directory.
        path: PathBuf,
        /// What is wrong, and the way out when there is a simple one.
        what: String,
    },
    /// The folder could not be opened for another reason (permissions, a full disk).
    #[error("cannot open the store at {path}: {cause}")]
    Open {
        /// The sled directory.
        path: PathBuf,
        /// Why (in the message, so not also a `source()`, which would print it twice).
        cause: sled::Error,
    },
    /// Another process holds sled's file lock on the database: usually a running daemon.
    /// Its own message, with no cause: sled's is a debug dump of the `flock` error.
    #[error(
        "the store at {path} is in use by another process (a running parleyd with the same storage.path?)"
    )]
    Locked {
        /// The sled directory.
        path: PathBuf,
    },
    /// The store was written by an incompatible version.
    #[error(
        "the store at {path} has schema version {found}; this parleyd reads version {expected}"
    )]
    Schema {
        /// The sled directory.
        path: PathBuf,
        /// The version on disk.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// A commit kept meeting concurrent story changes and gave up (it is retried at the
    /// next poll).
    #[error("store {operation} gave up after repeated conflicts")]
    Busy {
        /// What was being done.
        operation: &'static str,
    },
    /// A read, write or flush failed.
    #[error("store {operation} failed: {cause}")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// Why (in the message, so not also a `source()`, which would print it twice).
        cause: sled::Error,
    },
    /// A write to disk failed, and sled takes no write after that until the store is
    /// opened again: the daemon stops so that it can be restarted.
    #[error(
        "the store at {path} cannot be written ({cause}); sled takes no more writes after a failed one until it is opened again, so parleyd stops: make room under storage.path and start it again (systemd restarts it)"
    )]
    Unwritable {
        /// The sled directory.
        path: PathBuf,
        /// What failed and why, with "storage full" first when the disk is.
        cause: String,
    },
}

impl StoreError {
    /// Whether the cause is a full disk, or a file size or quota limit: the store needs
    /// room, not repair.
    pub fn is_storage_full(&self) -> bool {
        use std::io::ErrorKind;
        let cause = match self {
            StoreError::Open { cause, .. } | StoreError::Io { cause, .. } => cause,
            StoreError::Unwritable { cause, .. } => return cause.starts_with(STORAGE_FULL),
            _ => return false,
        };
        matches!(cause, sled::Error::Io(err) if matches!(
            err.kind(),
            ErrorKind::StorageFull | ErrorKind::FileTooLarge | ErrorKind::QuotaExceeded
        ))
    }

    /// Whether this is a failure of the disk under the store (as opposed to a conflict,
    /// a schema or a lock), which sled does not recover from while it runs.
    pub fn is_io(&self) -> bool {
        matches!(self, StoreError::Io { .. } | StoreError::Unwritable { .. })
    }
}

/// How a cause that is a full disk begins, in messages and logs.
const STORAGE_FULL: &str = "storage full";

fn io(operation: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
    move |cause| StoreError::Io { operation, cause }
}

/// Our transactions never abort on purpose, so only storage errors remain.
fn tx_error(operation: &'static str) -> impl FnOnce(TransactionError<Infallible>) -> StoreError {
    move |err| match err {
        TransactionError::Abort(never) => match never {},
        TransactionError::Storage(cause) => StoreError::Io { operation, cause },
    }
}

/// The sled database and its trees. Cheap to clone: sled handles are reference-counted.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    articles: sled::Tree,
    feeds: sled::Tree,
    stories: sled::Tree,
    outbox: sled::Tree,
    dead: sled::Tree,
    sent: sled::Tree,
    meta: sled::Tree,
    /// Tombstones from schema 1 remain under their old keys (see `keys::article_keys`).
    legacy_keys: bool,
    /// Added to the outbox sequences sled generates (see `keys::SEQUENCE_FLOOR_KEY`).
    sequence_floor: u64,
    /// Every story as last decoded, with the stories version it was read at. A commit that
    /// writes a story (opens or joins one) moves the version on and updates this list in
    /// place, so commits reuse it instead of decoding every story again (that was 8% of a
    /// cold start's CPU).
    stories_read: Arc<Mutex<Option<StoriesRead>>>,
    /// Flushes asked for so far, and (under the lock) the count the last flush covered:
    /// one flush runs at a time and covers everyone who asked before it started.
    flush_requests: Arc<AtomicU64>,
    flushed: Arc<tokio::sync::Mutex<u64>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the store at `path`, waiting a moment for a lock that a process
    /// that just stopped still holds, and checks it, all within [`OPEN_LIMIT`].
    ///
    /// # Errors
    /// [`StoreError::Locked`] if another process holds it, [`StoreError::Damaged`] if it
    /// cannot be read as it is, [`StoreError::Schema`] if it was written by an incompatible
    /// version, [`StoreError::Open`] for anything else sled refuses.
    pub fn open(path: &Path, cache_capacity: u64) -> Result<Store, StoreError> {
        Store::open_bounded(path, cache_capacity, open::LOCK_WAIT)
    }

    /// Like [`Store::open`], without waiting for the lock: for a command that asks a
    /// running daemon instead when the store is in use.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_now(path: &Path, cache_capacity: u64) -> Result<Store, StoreError> {
        Store::open_bounded(path, cache_capacity, std::time::Duration::ZERO)
    }

    fn open_bounded(
        path: &Path,
        cache_capacity: u64,
        wait: std::time::Duration,
    ) -> Result<Store, StoreError> {
        let owned = path.to_path_buf();
        open::bounded(path, OPEN_LIMIT, move || {
            Store::open_checked(&owned, cache_capacity, wait)
        })
    }

    /// Opens and checks the store on the calling thread (see [`open::bounded`]).
    fn open_checked(
        path: &Path,
        cache_capacity: u64,
        wait: std::time::Duration,
    ) -> Result<Store, StoreError> {
        let open_error = |cause| open::open_error(path, cause);
        // sled writes nothing until its first flush, which comes after a new store's
        // schema record: a log on disk means the store existed.
        let existed = std::fs::metadata(path.join("db")).is_ok_and(|file| file.len() > 0);
        let db = open::open_when_unlocked(path, cache_capacity, wait)?;
        let tree = |name: &str| db.open_tree(name).map_err(open_error);
        let mut store = Store {
            articles: tree(keys::ARTICLES)?,
            legacy_keys: false,
            sequence_floor: 0,
            stories_read: Arc::new(Mutex::new(None)),
            flush_requests: Arc::new(AtomicU64::new(0)),
            flushed: Arc::new(tokio::sync::Mutex::new(0)),
            feeds: tree(keys::FEEDS)?,
            stories: tree(keys::STORIES)?,
            outbox: tree(keys::OUTBOX)?,
            dead: tree(keys::DEAD)?,
            sent: tree(keys::SENT)?,
            meta: tree(keys::META)?,
            path: path.to_path_buf(),
            db: db.clone(),
        };
        migrate::check_schema(&store, existed)?;
        if let Some(what) = store.look().map_err(open_error)? {
            return Err(open::damaged(path, what));
        }
        store.legacy_keys = store
            .meta
            .contains_key(keys::LEGACY_KEYS_KEY)
            .map_err(open_error)?;
        store.sequence_floor = store
            .meta
            .get(keys::SEQUENCE_FLOOR_KEY)
            .map_err(open_error)?
            .map_or(0, |bytes| commit::decode_u64(&bytes));
        if !store.take_mark()? && existed {
            tracing::warn!(
                store = %path.display(),
                "The store was not closed cleanly last time (a crash, a kill or a power loss); sled recovered it from its log."
            );
        }
        Ok(store)
    }

    /// Whether the store answers and takes writes: one small read and one small write,
    /// cheap enough for every health check.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the read or the write fails.
    pub fn check(&self) -> Result<(), StoreError> {
        self.meta
            .get(keys::SCHEMA_KEY)
            .map(drop)
            .map_err(io("health check"))?;
        // sled keeps answering reads after a write to disk failed (a full disk) but refuses
        // every write from then on, until it is opened again: only a write tells.
        let now = chrono::Utc::now().timestamp().to_be_bytes();
        self.meta
            .insert(keys::HEALTH_PROBE_KEY, &now)
            .map(drop)
            .map_err(io("health check write"))
    }

    /// `err` as the store's failure to take writes, naming the store and saying "storage
    /// full" first when the disk is.
    pub fn unwritable(&self, err: &StoreError) -> StoreError {
        let cause = match err {
            StoreError::Unwritable { cause, .. } => cause.clone(),
            // sled renders an I/O error with `Debug`; the kind says it plainly.
            StoreError::Io {
                operation,
                cause: sled::Error::Io(io),
            } if err.is_storage_full() => {
                format!("{STORAGE_FULL}: {operation} failed: {}", io.kind())
            }
            other => other.to_string(),
        };
        StoreError::Unwritable {
            path: self.path.clone(),
            cause,
        }
    }

    /// The sled directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes every write so far durable. Call before anything leaves the process.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the disk write fails.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let request = self.flush_requests.fetch_add(1, Ordering::SeqCst) + 1;
        let mut flushed = self.flushed.lock().await;
        if *flushed >= request {
            // A flush that started after this request finished meanwhile.
            return Ok(());
        }
        let covers = self.flush_requests.load(Ordering::SeqCst);
        // Not sled's `flush_async`: it runs the flush on sled's own IO pool, and flushes
        // waiting there for IO that the same pool must do deadlocked `once` under a cold
        // start's concurrent commits (sled#1308, fixed only in unreleased sled). A plain
        // `flush` on tokio's blocking pool leaves sled's pool free for the IO; one at a
        // time, so a burst of commits does not start a thread each.
        let db = self.db.clone();
        let result = tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|join_error| StoreError::Io {
                operation: "flush",
                cause: sled::Error::Io(std::io::Error::other(join_error)),
            })?;
        result.map_err(io("flush"))?;
        *flushed = covers;
        Ok(())
    }

    /// Makes every write durable and marks the store as closed cleanly, with its counts,
    /// which the next open checks and clears. Call once, when nothing writes any more.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the flush or the mark fails.
    pub fn close(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(io("flush"))?;
        let counts = self.counts()?;
        clean::write_mark(&self.path, &counts).map_err(|err| StoreError::Io {
            operation: "clean shutdown mark",
            cause: sled::Error::Io(err),
        })
    }

    /// Counts and size, for `parleyd stats`: from the counts record, so cheap at any size.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the size or the counts cannot be read.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let counts = self.counts()?;
        Ok(StoreStats {
            size_on_disk: self.db.size_on_disk().map_err(io("size read"))?,
            articles: counts.articles as usize,
            feeds: counts.feeds as usize,
            stories: counts.stories as usize,
            pending: counts.pending() as usize,
            sent: counts.sent as usize,
            dead: counts.dead_letters() as usize,
        })
    }
}

/// Every value of a tree that `decode` reads, in key order.
fn decode_all<T>(
    tree: &sled::Tree,
    operation: &'static str,
    decode: impl Fn(&[u8]) -> Result<T, String>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for item in tree.iter() {
        let (_, value) = item.map_err(io(operation))?;
        if let Ok(decoded) = decode(&value) {
            out.push(decoded);
        }
    }
    Ok(out)
}
