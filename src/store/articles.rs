//! Reading stored articles back, and pruning what is past retention.
//!
//! A pruned article leaves a tombstone, so it is never taken for new again.

use super::counts::{self, Counts};
use super::records::{SentAlert, StoredArticle, StoryRecord, Tombstone};
use super::{Store, StoreError, compact, decode_all, io, keys, tx_error};
use crate::model::Article;
use crate::sync::lock;
use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::convert::Infallible;

impl Store {
    /// Whether this article is already stored (or was, and has been pruned).
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn contains_article(&self, article: &Article) -> Result<bool, StoreError> {
        for key in keys::article_keys(article, self.legacy_keys) {
            if self
                .articles
                .contains_key(key)
                .map_err(io("article lookup"))?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A stored article.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn article(&self, key: &[u8; 16]) -> Result<Option<StoredArticle>, StoreError> {
        let bytes = self.articles.get(key).map_err(io("article read"))?;
        Ok(bytes.and_then(|b| compact::decode_article(&b).ok()))
    }

    /// Stored articles first seen at or after `since` (pruned ones are gone).
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn articles_since(&self, since: DateTime<Utc>) -> Result<Vec<StoredArticle>, StoreError> {
        let mut out: Vec<StoredArticle> =
            decode_all(&self.articles, "article scan", compact::decode_article)?;
        out.retain(|a| a.article.first_seen >= since);
        out.sort_by_key(|a| a.article.first_seen);
        Ok(out)
    }

    /// Prunes what is older than `cutoff`: articles (keeping a small tombstone under each
    /// key so a pruned article is never taken for new again), stories and sent-alert
    /// records. Returns how many articles were pruned.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read or write failure.
    pub fn prune(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let tombstone = keys::encode(&Tombstone { pruned: true });
        let mut pruned = 0;
        for item in self.articles.iter() {
            let (key, value) = item.map_err(io("article scan"))?;
            if let Ok(stored) = compact::decode_article(&value)
                && stored.article.first_seen < cutoff
            {
                self.articles
                    .insert(key, tombstone.as_slice())
                    .map_err(io("article prune"))?;
                pruned += 1;
            }
        }
        let mut old_stories = Vec::new();
        for item in self.stories.iter() {
            let (key, value) = item.map_err(io("stories scan"))?;
            if keys::decode::<StoryRecord>(&value).is_ok_and(|story| story.first_seen < cutoff) {
                old_stories.push(key);
            }
        }
        self.remove_counted(&self.stories, &old_stories, |counts, n| {
            counts.stories = counts.stories.saturating_sub(n);
        })
        .map_err(tx_error("stories prune"))?;
        // Stories were removed without a version change: read them afresh next time.
        *lock(&self.stories_read) = None;
        let mut old_sent = Vec::new();
        for item in self.sent.iter() {
            let (key, value) = item.map_err(io("sent scan"))?;
            if let Ok(sent) = keys::decode::<SentAlert>(&value)
                && sent.sent_at < cutoff
            {
                old_sent.push(key);
            }
        }
        self.remove_counted(&self.sent, &old_sent, |counts, n| {
            counts.sent = counts.sent.saturating_sub(n);
        })
        .map_err(tx_error("sent prune"))?;
        Ok(pruned)
    }

    /// Prunes as [`Store::prune`] unless that was done less than `every` ago, and records
    /// when; both `run` and each `once` call this, so cron-driven setups are pruned too.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read or write failure.
    pub fn prune_if_due(
        &self,
        cutoff: DateTime<Utc>,
        every: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<usize>, StoreError> {
        let last = self
            .meta
            .get(keys::LAST_PRUNE_KEY)
            .map_err(io("last prune read"))?
            .and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes))
            .and_then(|secs| DateTime::from_timestamp(secs, 0));
        let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::hours(6));
        if last.is_some_and(|last| now - last < every) {
            return Ok(None);
        }
        let pruned = self.prune(cutoff)?;
        self.meta
            .insert(keys::LAST_PRUNE_KEY, &now.timestamp().to_be_bytes())
            .map_err(io("last prune write"))?;
        Ok(Some(pruned))
    }

    /// Removes `keys` from `tree`, a chunk per transaction, taking each chunk's removals off
    /// the counts with `uncount`.
    fn remove_counted(
        &self,
        tree: &sled::Tree,
        keys: &[sled::IVec],
        uncount: impl Fn(&mut Counts, u64),
    ) -> Result<(), TransactionError<Infallible>> {
        const CHUNK: usize = 500;
        for chunk in keys.chunks(CHUNK) {
            (tree, &self.meta).transaction(|(tree, meta)| {
                let mut removed = 0;
                for key in chunk {
                    removed += u64::from(tree.remove(key)?.is_some());
                }
                counts::change(meta, |counts| uncount(counts, removed))?;
                Ok::<_, ConflictableTransactionError<Infallible>>(())
            })?;
        }
        Ok(())
    }
}
