//! The clean-shutdown mark: a small file next to sled's own, written by a clean close with
//! the counts the store held, and checked and removed by the next open.
//!
//! It lives outside sled on purpose: damage that makes sled recover an older state (a
//! zeroed block early in its log) takes an in-sled mark with it, but not this file. A
//! store closed cleanly must open with exactly the counts it was closed with; one that
//! opens without a mark was not closed cleanly (a crash, a kill, a power loss), which sled
//! recovers from on its own.

use super::counts::Counts;
use super::{Store, StoreError, open};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The mark's file name in the store folder.
const MARK_FILE: &str = "parleyd-clean-shutdown.json";

#[derive(Debug, Serialize, Deserialize)]
struct CleanMark {
    closed_at: DateTime<Utc>,
    counts: Counts,
}

fn mark_path(store: &Path) -> PathBuf {
    store.join(MARK_FILE)
}

/// Writes the mark for a store just flushed, durably (file, then folder).
pub(super) fn write_mark(path: &Path, counts: &Counts) -> std::io::Result<()> {
    let mark = CleanMark {
        closed_at: Utc::now(),
        counts: counts.clone(),
    };
    let partial = path.join(format!("{MARK_FILE}.partial"));
    let bytes = serde_json::to_vec(&mark).map_err(std::io::Error::other)?;
    std::fs::write(&partial, bytes)?;
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, mark_path(path))?;
    std::fs::File::open(path)?.sync_all()
}

impl Store {
    /// Checks the mark a clean close left against the store as opened, then removes it,
    /// so that only the next clean close leaves one. Returns whether there was one.
    pub(super) fn take_mark(&self) -> Result<bool, StoreError> {
        let file = mark_path(&self.path);
        let Ok(bytes) = std::fs::read(&file) else {
            return Ok(false);
        };
        let mark: Option<CleanMark> = serde_json::from_slice(&bytes).ok();
        if let Some(mark) = &mark {
            let now = self.counts()?;
            if now != mark.counts {
                return Err(open::damaged(
                    &self.path,
                    format!(
                        "it was closed cleanly at {} holding {} but now holds {} (sled recovered \
                         an older or partial state)",
                        mark.closed_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        summary(&mark.counts),
                        summary(&now)
                    ),
                ));
            }
        }
        let removed =
            std::fs::remove_file(&file).and_then(|()| std::fs::File::open(&self.path)?.sync_all());
        removed.map_err(|err| StoreError::Open {
            path: self.path.clone(),
            cause: sled::Error::Io(err),
        })?;
        Ok(mark.is_some())
    }
}

fn summary(counts: &Counts) -> String {
    format!(
        "{} articles, {} feeds, {} stories, {} alerts pending, {} sent, {} dead",
        counts.articles,
        counts.feeds,
        counts.stories,
        counts.pending(),
        counts.sent,
        counts.dead_letters()
    )
}
