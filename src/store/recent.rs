//! What the status page shows of the last days, kept small: the latest matches (their
//! keys and where their alerts were queued) and matches and alerts per day, updated by the
//! commit that stores the matches, so the page reads one record and a few articles
//! instead of every article of the week.

use super::{Store, StoreError, io, keys};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{TransactionalTree, UnabortableTransactionError};
use std::collections::BTreeMap;

/// How many matches the record keeps (the status page lists fewer).
pub const RECENT_MATCHES: usize = 50;
/// How many days of counts it keeps (the status page's chart shows a week).
const RECENT_DAYS: usize = 8;

/// The latest matches and the counts per day.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Recent {
    /// The latest matches, oldest first.
    pub matches: Vec<RecentMatch>,
    /// Matches and alerts per day of first sight (UTC), oldest first.
    pub days: BTreeMap<NaiveDate, DayCount>,
}

/// A match the status page can show without a scan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecentMatch {
    /// The article's store key.
    pub key: [u8; 16],
    /// When it was first seen.
    pub first_seen: DateTime<Utc>,
    /// The sinks its alert was queued for, and the outbox sequence (the same for each),
    /// when it opened a story that alerted.
    #[serde(default)]
    pub queued: Option<(u64, Vec<String>)>,
}

/// Matches and alerts (stories opened by an alert) first seen on one day.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DayCount {
    /// Relevant articles.
    pub matches: u64,
    /// Alerts raised.
    pub alerts: u64,
}

/// A relevant article a commit stored, as the record takes it in.
pub(super) struct NewMatch {
    pub(super) key: [u8; 16],
    pub(super) first_seen: DateTime<Utc>,
    /// Whether it opened a story that alerted.
    pub(super) opened: bool,
    pub(super) queued: Option<(u64, Vec<String>)>,
}

impl Recent {
    /// Takes one stored relevant article in.
    pub(super) fn add(&mut self, new: NewMatch) {
        let day = self.days.entry(new.first_seen.date_naive()).or_default();
        day.matches += 1;
        day.alerts += u64::from(new.opened);
        while self.days.len() > RECENT_DAYS {
            self.days.pop_first();
        }
        self.matches.push(RecentMatch {
            key: new.key,
            first_seen: new.first_seen,
            queued: new.queued,
        });
        // Commits of several feeds interleave: keep the newest by first sight.
        self.matches.sort_by_key(|m| m.first_seen);
        let excess = self.matches.len().saturating_sub(RECENT_MATCHES);
        self.matches.drain(..excess);
    }
}

/// Changes the record inside a transaction that writes `meta`.
pub(super) fn change(
    meta: &TransactionalTree,
    update: impl FnOnce(&mut Recent),
) -> Result<(), UnabortableTransactionError> {
    let mut recent = meta
        .get(keys::RECENT_KEY)?
        .and_then(|bytes| keys::decode::<Recent>(&bytes).ok())
        .unwrap_or_default();
    update(&mut recent);
    meta.insert(keys::RECENT_KEY, keys::encode(&recent))?;
    Ok(())
}

impl Store {
    /// The record of recent matches and daily counts.
    ///
    /// # Errors
    /// [`StoreError::Io`] when it cannot be read.
    pub fn recent(&self) -> Result<Recent, StoreError> {
        Ok(self
            .meta
            .get(keys::RECENT_KEY)
            .map_err(io("recent read"))?
            .and_then(|bytes| keys::decode(&bytes).ok())
            .unwrap_or_default())
    }

    /// Each sink's state of a recent match's alert (`sent`, `pending` or `dead`), by point
    /// reads: its sent record, its outbox entry, its dead-letter entry.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn alert_states(
        &self,
        alert_id: &str,
        sequence: u64,
        sinks: &[String],
    ) -> Result<Vec<(String, &'static str)>, StoreError> {
        let mut states = Vec::new();
        for sink in sinks {
            let key = keys::outbox_key(sink, sequence);
            let state = if self.was_sent(sink, alert_id)? {
                "sent"
            } else if self.outbox.contains_key(&key).map_err(io("outbox read"))? {
                "pending"
            } else if self
                .dead
                .contains_key(&key)
                .map_err(io("dead-letter read"))?
            {
                "dead"
            } else {
                continue;
            };
            states.push((sink.clone(), state));
        }
        Ok(states)
    }

    /// Builds the record from the articles of the last days and the alert queues: once,
    /// when a store written before it existed is migrated.
    pub(super) fn rebuild_recent(&self, now: DateTime<Utc>) -> Result<Recent, StoreError> {
        let mut queued: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
        for tree in [&self.outbox, &self.dead] {
            for item in tree.iter() {
                let (key, value) = item.map_err(io("outbox scan"))?;
                if let Ok(alert) = keys::decode::<crate::model::Alert>(&value) {
                    let sequence = key
                        .len()
                        .checked_sub(8)
                        .map_or(0, |start| super::commit::decode_u64(&key[start..]));
                    let entry = queued.entry(alert.id).or_default();
                    entry.0 = sequence;
                    entry.1.push(alert.sink);
                }
            }
        }
        for sent in self.sent_alerts()? {
            queued
                .entry(sent.alert.id)
                .or_default()
                .1
                .push(sent.alert.sink);
        }
        let since = now - chrono::Duration::days(RECENT_DAYS as i64);
        let mut recent = Recent::default();
        for stored in self.articles_since(since)? {
            if !stored.verdict.as_ref().is_some_and(|v| v.relevant) {
                continue;
            }
            let opened = stored.opened_story();
            recent.add(NewMatch {
                key: stored.article.store_key(),
                first_seen: stored.article.first_seen,
                opened,
                queued: stored
                    .alert_id
                    .as_ref()
                    .filter(|_| opened)
                    .and_then(|id| queued.get(id).cloned()),
            });
        }
        Ok(recent)
    }
}
