//! The outbox and what follows a delivery.
//!
//! Due alerts per sink, sent records (which the flood guard counts), retries and the
//! dead-letter list.

use super::records::SentAlert;
use super::{Store, StoreError, counts, decode_all, io, keys, tx_error};
use crate::model::Alert;
use chrono::{DateTime, Utc};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::convert::Infallible;

impl Store {
    /// Up to `limit` outbox entries for `sink` whose next attempt is due, oldest first.
    /// Entries that cannot be decoded are moved aside to `dead` as raw bytes, not lost.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn due_alerts(
        &self,
        sink: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Alert)>, StoreError> {
        let mut due = Vec::new();
        for item in self.outbox.scan_prefix(keys::sink_prefix(sink)) {
            let (key, value) = item.map_err(io("outbox scan"))?;
            match keys::decode::<Alert>(&value) {
                Ok(alert) if alert.next_attempt <= now => {
                    due.push((key.to_vec(), alert));
                    if due.len() >= limit {
                        break;
                    }
                }
                Ok(_) => {}
                Err(reason) => {
                    tracing::error!(sink, %reason, "Undecodable outbox entry moved to the dead-letter list.");
                    self.move_entry(&key, &value, Queue::Outbox, Queue::Dead)
                        .map_err(tx_error("dead-letter move"))?;
                }
            }
        }
        Ok(due)
    }

    /// The number of entries waiting for `sink`, and when the earliest is due.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn pending(&self, sink: &str) -> Result<(usize, Option<DateTime<Utc>>), StoreError> {
        let mut count = 0;
        let mut earliest: Option<DateTime<Utc>> = None;
        for item in self.outbox.scan_prefix(keys::sink_prefix(sink)) {
            let (_, value) = item.map_err(io("outbox scan"))?;
            count += 1;
            if let Ok(alert) = keys::decode::<Alert>(&value) {
                earliest = Some(earliest.map_or(alert.next_attempt, |e| e.min(alert.next_attempt)));
            }
        }
        Ok((count, earliest))
    }

    /// Every alert waiting in the outbox, all sinks, oldest first per sink.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn pending_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        decode_all(&self.outbox, "outbox scan", keys::decode)
    }

    /// Every delivered alert with when it was sent.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn sent_alerts(&self) -> Result<Vec<SentAlert>, StoreError> {
        decode_all(&self.sent, "sent scan", keys::decode)
    }

    /// Moves dead-lettered alerts back to the outbox, due now with a fresh attempt count
    /// and age; `id` picks one alert id (on every sink it died on), `None` takes them all.
    /// Returns how many were re-queued.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read or write failure.
    pub fn retry_dead(&self, id: Option<&str>, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut moved = 0;
        for item in self.dead.iter() {
            let (key, value) = item.map_err(io("dead-letter scan"))?;
            let Ok(mut alert) = keys::decode::<Alert>(&value) else {
                continue;
            };
            if id.is_some_and(|id| id != alert.id) {
                continue;
            }
            alert.attempts = 0;
            alert.next_attempt = now;
            alert.created = now;
            alert.last_error = None;
            // Only if it is still dead: a retry running at the same time (the control API
            // takes them while the daemon delivers) may have moved it, and it may be sent
            // by now.
            let was_dead = self
                .move_entry(&key, &keys::encode(&alert), Queue::Dead, Queue::Outbox)
                .map_err(tx_error("dead-letter retry"))?;
            moved += usize::from(was_dead);
        }
        Ok(moved)
    }

    /// Records a delivery: the entry leaves the outbox and the alert id is marked sent.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a write failure (the alert may then be sent again, with the
    /// same id).
    pub fn mark_sent(
        &self,
        key: &[u8],
        alert: &Alert,
        at: DateTime<Utc>,
        digest: Option<&str>,
    ) -> Result<(), StoreError> {
        let sent_key = keys::sent_key(&alert.sink, &alert.id);
        let record = keys::encode(&SentAlert {
            alert: alert.clone(),
            sent_at: at,
            digest: digest.map(str::to_string),
        });
        (&self.outbox, &self.sent, &self.meta)
            .transaction(|(outbox, sent, meta)| {
                let left = outbox.remove(key)?.is_some();
                let new = sent
                    .insert(sent_key.as_slice(), record.as_slice())?
                    .is_none();
                counts::change(meta, |counts| {
                    if left {
                        counts::add_for_sink(&mut counts.outbox, &alert.sink, -1);
                    }
                    counts.sent += u64::from(new);
                })?;
                Ok::<_, ConflictableTransactionError<Infallible>>(())
            })
            .map_err(tx_error("mark sent"))
    }

    /// Messages a sink was sent since `since` (an alert alone, or one digest of several),
    /// and when the oldest of them was sent.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn messages_sent_since(
        &self,
        sink: &str,
        since: DateTime<Utc>,
    ) -> Result<(u32, Option<DateTime<Utc>>), StoreError> {
        let mut count = 0;
        let mut digests: Vec<String> = Vec::new();
        let mut oldest: Option<DateTime<Utc>> = None;
        for item in self.sent.scan_prefix(keys::sink_prefix(sink)) {
            let (_, value) = item.map_err(io("sent scan"))?;
            let Ok(sent) = keys::decode::<SentAlert>(&value) else {
                continue;
            };
            if sent.sent_at < since {
                continue;
            }
            oldest = Some(oldest.map_or(sent.sent_at, |o| o.min(sent.sent_at)));
            match sent.digest {
                Some(digest) if digests.contains(&digest) => {}
                Some(digest) => {
                    digests.push(digest);
                    count += 1;
                }
                None => count += 1,
            }
        }
        Ok((count, oldest))
    }

    /// Whether an alert id was delivered to a sink.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn was_sent(&self, sink: &str, alert_id: &str) -> Result<bool, StoreError> {
        self.sent
            .contains_key(keys::sent_key(sink, alert_id))
            .map_err(io("sent lookup"))
    }

    /// Saves an entry after a failed attempt (attempts, next attempt, last error).
    ///
    /// # Errors
    /// [`StoreError::Io`] on a write failure.
    pub fn update_alert(&self, key: &[u8], alert: &Alert) -> Result<(), StoreError> {
        let value = keys::encode(alert);
        (&self.outbox, &self.meta)
            .transaction(|(outbox, meta)| {
                // The entry is the caller's and still there; were it not, it is back now.
                if outbox.insert(key, value.as_slice())?.is_none() {
                    counts::change(meta, |counts| {
                        counts::add_for_sink(&mut counts.outbox, &alert.sink, 1);
                    })?;
                }
                Ok::<_, ConflictableTransactionError<Infallible>>(())
            })
            .map_err(tx_error("outbox update"))
    }

    /// Moves an entry that ran out of attempts to the dead-letter list.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a write failure.
    pub fn move_to_dead(&self, key: &[u8], alert: &Alert) -> Result<(), StoreError> {
        self.move_entry(key, &keys::encode(alert), Queue::Outbox, Queue::Dead)
            .map(drop)
            .map_err(tx_error("dead-letter move"))
    }

    /// Every dead-lettered alert.
    ///
    /// # Errors
    /// [`StoreError::Io`] on a read failure.
    pub fn dead_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        decode_all(&self.dead, "dead-letter scan", keys::decode)
    }

    /// Moves one entry between the outbox and the dead-letter list, under the same key,
    /// with its new value, and moves its sink's counts with it; returns whether it was
    /// still in `from` (when not, nothing changes).
    fn move_entry(
        &self,
        key: &[u8],
        value: &[u8],
        from: Queue,
        to: Queue,
    ) -> Result<bool, TransactionError<Infallible>> {
        let sink = counts::sink_of(key);
        (&self.outbox, &self.dead, &self.meta).transaction(|(outbox, dead, meta)| {
            let tree = |queue: Queue| match queue {
                Queue::Outbox => outbox,
                Queue::Dead => dead,
            };
            if tree(from).remove(key)?.is_none() {
                return Ok(false);
            }
            let new = tree(to).insert(key, value)?.is_none();
            counts::change(meta, |counts| {
                counts::add_for_sink(from.count(counts), &sink, -1);
                if new {
                    counts::add_for_sink(to.count(counts), &sink, 1);
                }
            })?;
            Ok(true)
        })
    }
}

/// The two queues an alert entry can be in, under the same key.
#[derive(Clone, Copy)]
enum Queue {
    Outbox,
    Dead,
}

impl Queue {
    fn count(self, counts: &mut counts::Counts) -> &mut std::collections::BTreeMap<String, u64> {
        match self {
            Queue::Outbox => &mut counts.outbox,
            Queue::Dead => &mut counts.dead,
        }
    }
}
