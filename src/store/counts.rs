//! The counts record: how many records each tree holds, kept in `meta` and changed by the
//! same transaction that changes the records, so the two cannot drift apart.
//!
//! `stats`, `/metrics` and the status page read it instead of walking the trees, so they
//! cost the same on a store of any size. It also lets a damaged store be told from an
//! empty one: at open, a tree the record says holds records must not read as empty (the
//! cheap look of [`Store::look`]); `parleyd store check` compares it with a full scan.

use super::{Store, StoreError, io, keys};
use serde::{Deserialize, Serialize};
use sled::transaction::{TransactionalTree, UnabortableTransactionError};
use std::collections::BTreeMap;

/// How many records each tree holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Records in `articles`, pruned ones (tombstones) included.
    pub articles: u64,
    /// Feeds with recorded state.
    pub feeds: u64,
    /// Stories (pruned with the articles).
    pub stories: u64,
    /// Alerts waiting, per sink.
    pub outbox: BTreeMap<String, u64>,
    /// Dead-lettered alerts, per sink.
    pub dead: BTreeMap<String, u64>,
    /// Sent-alert records (pruned with the articles).
    pub sent: u64,
}

impl Counts {
    /// Alerts waiting, all sinks.
    pub fn pending(&self) -> u64 {
        self.outbox.values().sum()
    }

    /// Dead-lettered alerts, all sinks.
    pub fn dead_letters(&self) -> u64 {
        self.dead.values().sum()
    }

    /// Adds what one transaction changed.
    pub(super) fn add(&mut self, delta: &Counts) {
        self.articles += delta.articles;
        self.feeds += delta.feeds;
        self.stories += delta.stories;
        self.sent += delta.sent;
        for (sink, n) in &delta.outbox {
            add_for_sink(
                &mut self.outbox,
                sink,
                i64::try_from(*n).unwrap_or(i64::MAX),
            );
        }
        for (sink, n) in &delta.dead {
            add_for_sink(&mut self.dead, sink, i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }
}

/// One sink's count moved by `by` (up or down); a sink with none left leaves the map.
pub(super) fn add_for_sink(map: &mut BTreeMap<String, u64>, sink: &str, by: i64) {
    let count = map.entry(sink.to_string()).or_default();
    *count = count.saturating_add_signed(by);
    if *count == 0 {
        map.remove(sink);
    }
}

/// Changes the counts record inside a transaction that writes `meta`.
pub(super) fn change(
    meta: &TransactionalTree,
    update: impl FnOnce(&mut Counts),
) -> Result<(), UnabortableTransactionError> {
    let mut counts = meta
        .get(keys::COUNTS_KEY)?
        .and_then(|bytes| keys::decode::<Counts>(&bytes).ok())
        .unwrap_or_default();
    update(&mut counts);
    meta.insert(keys::COUNTS_KEY, keys::encode(&counts))?;
    Ok(())
}

/// The sink an `outbox` or `dead` key belongs to (see [`keys::outbox_key`]).
pub(super) fn sink_of(key: &[u8]) -> String {
    let sink = key.len().checked_sub(9).map_or(key, |end| &key[..end]);
    String::from_utf8_lossy(sink).into_owned()
}

impl Store {
    /// The counts record.
    ///
    /// # Errors
    /// [`StoreError::Io`] when it cannot be read.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        Ok(self
            .meta
            .get(keys::COUNTS_KEY)
            .map_err(io("counts read"))?
            .and_then(|bytes| keys::decode(&bytes).ok())
            .unwrap_or_default())
    }

    /// Counts every record by walking every tree: what `store check` compares the counts
    /// record with, and how a store written before the record existed gets one.
    ///
    /// # Errors
    /// [`StoreError::Io`] when a read fails.
    pub fn count_all(&self) -> Result<Counts, StoreError> {
        let len = |tree: &sled::Tree| -> Result<u64, StoreError> {
            let mut n = 0;
            for key in tree.iter().keys() {
                key.map_err(io("full scan"))?;
                n += 1;
            }
            Ok(n)
        };
        let per_sink = |tree: &sled::Tree| -> Result<BTreeMap<String, u64>, StoreError> {
            let mut map = BTreeMap::new();
            for key in tree.iter().keys() {
                add_for_sink(&mut map, &sink_of(&key.map_err(io("full scan"))?), 1);
            }
            Ok(map)
        };
        Ok(Counts {
            articles: len(&self.articles)?,
            feeds: len(&self.feeds)?,
            stories: len(&self.stories)?,
            outbox: per_sink(&self.outbox)?,
            dead: per_sink(&self.dead)?,
            sent: len(&self.sent)?,
        })
    }

    /// The cheap look at open: the counts record is there, and each tree it says holds
    /// records reads a first and a last record (each one path from the root), and each it
    /// says is empty reads none. Returns what is wrong, for [`StoreError::Damaged`].
    pub(super) fn look(&self) -> Result<Option<String>, sled::Error> {
        let Some(bytes) = self.meta.get(keys::COUNTS_KEY)? else {
            return Ok(Some(
                "its counts record is missing from the meta tree".into(),
            ));
        };
        let Ok(counts) = keys::decode::<Counts>(&bytes) else {
            return Ok(Some("its counts record cannot be read".into()));
        };
        let trees = [
            (keys::ARTICLES, &self.articles, counts.articles),
            (keys::FEEDS, &self.feeds, counts.feeds),
            (keys::STORIES, &self.stories, counts.stories),
            (keys::OUTBOX, &self.outbox, counts.pending()),
            (keys::DEAD, &self.dead, counts.dead_letters()),
            (keys::SENT, &self.sent, counts.sent),
        ];
        for (name, tree, expected) in trees {
            let reads = tree.first()?.is_some() && tree.last()?.is_some();
            match (expected, reads) {
                (0, true) => {
                    return Ok(Some(format!(
                        "the {name} tree holds records although its counts say none"
                    )));
                }
                (n, false) if n > 0 => {
                    return Ok(Some(format!(
                        "its counts say the {name} tree holds {n} records but it reads as empty"
                    )));
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_counts_move_and_leave_the_map_at_zero() {
        let mut map = BTreeMap::new();
        add_for_sink(&mut map, "slack", 1);
        add_for_sink(&mut map, "slack", 1);
        add_for_sink(&mut map, "hook", 1);
        add_for_sink(&mut map, "slack", -1);
        assert_eq!(map.get("slack"), Some(&1));
        add_for_sink(&mut map, "hook", -1);
        assert!(!map.contains_key("hook"));
        add_for_sink(&mut map, "gone", -1);
        assert!(
            !map.contains_key("gone"),
            "never below zero, never left at zero"
        );
    }

    #[test]
    fn the_sink_of_an_outbox_key_is_its_prefix() {
        assert_eq!(sink_of(&keys::outbox_key("desk-2", 77)), "desk-2");
        assert_eq!(sink_of(&keys::outbox_key("a\u{e9}", u64::MAX)), "a\u{e9}");
    }
}
