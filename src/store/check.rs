//! The full check behind `parleyd store check`: every record of every tree read and
//! decoded, counted, and compared with the counts record, within a time limit.

use super::counts::{self, Counts};
use super::records::{SentAlert, StoryRecord, Tombstone};
use super::{Store, StoreError, compact, keys, open};
use crate::model::Alert;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How long the full check may take before the store is called damaged: sled loops
/// forever on some damaged pages, and a healthy store of a million records reads in well
/// under a minute.
pub const CHECK_LIMIT: Duration = Duration::from_secs(600);

/// What the full check found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The counts record as stored.
    pub recorded: Counts,
    /// What the scan counted.
    pub scanned: Counts,
    /// Records per tree whose value does not decode, by tree name.
    pub undecodable: Vec<(String, u64)>,
}

impl CheckReport {
    /// What is wrong, one line each; empty when the store is sound.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let pairs = [
            ("articles", self.recorded.articles, self.scanned.articles),
            ("feeds", self.recorded.feeds, self.scanned.feeds),
            ("stories", self.recorded.stories, self.scanned.stories),
            ("outbox", self.recorded.pending(), self.scanned.pending()),
            (
                "dead",
                self.recorded.dead_letters(),
                self.scanned.dead_letters(),
            ),
            ("sent", self.recorded.sent, self.scanned.sent),
        ];
        for (tree, recorded, scanned) in pairs {
            if recorded != scanned {
                problems.push(format!(
                    "{tree}: the counts record says {recorded}, the tree holds {scanned}"
                ));
            }
        }
        if problems.is_empty() && self.recorded != self.scanned {
            problems.push("the per-sink counts differ from the outbox and dead trees".into());
        }
        for (tree, n) in &self.undecodable {
            problems.push(format!("{tree}: {n} records cannot be read"));
        }
        problems
    }
}

impl Store {
    /// Reads every record within `limit` (see [`CheckReport`]).
    ///
    /// # Errors
    /// [`StoreError::Damaged`] when sled finds corrupted data, panics, or the scan does
    /// not finish in time; [`StoreError::Io`] when a read fails otherwise.
    pub fn check_all(&self, limit: Duration) -> Result<CheckReport, StoreError> {
        let store = self.clone();
        open::bounded(&self.path, limit, move || store.scan())
    }

    fn scan(&self) -> Result<CheckReport, StoreError> {
        let mut undecodable = Vec::new();
        let mut scanned = Counts::default();
        let mut count = |name: &str, tree: &sled::Tree, valid: &dyn Fn(&[u8]) -> bool| {
            let (mut n, mut bad) = (0, 0);
            let mut per_sink = std::collections::BTreeMap::new();
            for item in tree.iter() {
                let (key, value) = item.map_err(|err| read_error(&self.path, name, err))?;
                n += 1;
                bad += u64::from(!valid(&value));
                counts::add_for_sink(&mut per_sink, &counts::sink_of(&key), 1);
            }
            if bad > 0 {
                undecodable.push((name.to_string(), bad));
            }
            Ok::<_, StoreError>((n, per_sink))
        };
        scanned.articles = count(keys::ARTICLES, &self.articles, &|v| {
            compact::decode_article(v).is_ok() || decodes::<Tombstone>(v)
        })?
        .0;
        scanned.feeds = count(keys::FEEDS, &self.feeds, &|v| {
            compact::decode_feed_state(v).is_ok()
        })?
        .0;
        scanned.stories = count(keys::STORIES, &self.stories, &decodes::<StoryRecord>)?.0;
        scanned.outbox = count(keys::OUTBOX, &self.outbox, &decodes::<Alert>)?.1;
        scanned.dead = count(keys::DEAD, &self.dead, &decodes::<Alert>)?.1;
        scanned.sent = count(keys::SENT, &self.sent, &decodes::<SentAlert>)?.0;
        Ok(CheckReport {
            recorded: self.counts()?,
            scanned,
            undecodable,
        })
    }
}

/// A read that fails on corrupted data means damage; anything else is an I/O failure.
fn read_error(path: &std::path::Path, tree: &str, err: sled::Error) -> StoreError {
    match err {
        sled::Error::Corruption { .. } | sled::Error::ReportableBug(_) => open::damaged(
            path,
            format!("sled found corrupted data reading the {tree} tree"),
        ),
        cause => StoreError::Io {
            operation: "full check",
            cause,
        },
    }
}

fn decodes<T: DeserializeOwned>(value: &[u8]) -> bool {
    keys::decode::<T>(value).is_ok()
}
