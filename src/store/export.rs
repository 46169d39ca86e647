//! Export and import: every record as one JSON line, for a backup that does not depend on
//! sled's file format, and to move what a store holds into a new one.
//!
//! A line is `{"tree": NAME, "key": HEX, "value": JSON}`, or `"raw": HEX` instead of
//! `"value"` for a value that is not one of ours. Articles and feed states, stored in a
//! compact binary form since schema 4 (see `compact`), travel as the JSON they were stored
//! as before it: an export reads the same whichever form a record is in, and an import
//! writes the compact form. Of `meta`, only what describes the records travels (the legacy
//! key flag, the last prune, when each feed was first known): the schema, the counts and
//! the rest belong to the store they are in.

use super::records::StoredArticle;
use super::{FeedState, Store, StoreError, compact, counts, io, keys};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

/// The trees an export carries, in order, and the meta keys that travel with them.
const TREES: [&str; 6] = [
    keys::ARTICLES,
    keys::FEEDS,
    keys::STORIES,
    keys::OUTBOX,
    keys::DEAD,
    keys::SENT,
];
const META_KEYS: [&[u8]; 2] = [keys::LEGACY_KEYS_KEY, keys::LAST_PRUNE_KEY];

/// Whether a meta key travels: the fixed ones, and when the store first knew each feed.
fn exported_meta(key: &[u8]) -> bool {
    META_KEYS.contains(&key) || key.starts_with(keys::KNOWN_SINCE_PREFIX)
}

/// Why an export or an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The output could not be written or the input read.
    #[error("{0}")]
    Io(std::io::Error),
    /// A line of the input is not an exported record.
    #[error("line {line}: {why}")]
    Line {
        /// Its number, from 1.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// Import goes into a new store only.
    #[error(
        "the store at {0} already holds records; import into a new store (move this one aside, or point storage.path elsewhere)"
    )]
    NotEmpty(std::path::PathBuf),
}

#[derive(Debug, Serialize, Deserialize)]
struct Line {
    tree: String,
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    raw: Option<String>,
}

impl Store {
    /// Writes every record to `out`, one JSON line each; returns how many.
    ///
    /// # Errors
    /// [`TransferError`] when a read or a write fails.
    pub fn export(&self, out: &mut impl Write) -> Result<u64, TransferError> {
        let mut written = 0;
        for name in TREES {
            for item in self.named(name).iter() {
                let (key, value) = item.map_err(io("export read"))?;
                write_line(out, name, &key, &value)?;
                written += 1;
            }
        }
        for item in self.meta.iter() {
            let (key, value) = item.map_err(io("export read"))?;
            if exported_meta(&key) {
                write_line(out, keys::META, &key, &value)?;
                written += 1;
            }
        }
        out.flush().map_err(TransferError::Io)?;
        Ok(written)
    }

    /// Fills this store, which must hold no records, from an export; returns how many
    /// records it read. The counts are recomputed, and outbox sequences drawn from now on
    /// start above every imported one, so new alerts queue after the imported ones.
    ///
    /// # Errors
    /// [`TransferError`] when the store is not empty, a line is not an exported record, or
    /// a read or a write fails.
    pub fn import(&self, input: impl BufRead) -> Result<u64, TransferError> {
        if self.counts()? != counts::Counts::default() {
            return Err(TransferError::NotEmpty(self.path.clone()));
        }
        const CHUNK: usize = 1000;
        // One batch per run of lines of one tree, at most CHUNK lines each.
        let mut pending: Option<(&'static str, sled::Batch, usize)> = None;
        let mut read = 0;
        let mut floor = 0;
        for (number, line) in input.lines().enumerate() {
            let line = line.map_err(TransferError::Io)?;
            if line.trim().is_empty() {
                continue;
            }
            let bad = |why: String| TransferError::Line {
                line: number + 1,
                why,
            };
            let record: Line = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
            let key = from_hex(&record.key).ok_or_else(|| bad("the key is not hex".into()))?;
            let value = match (&record.value, &record.raw) {
                (Some(json), _) => stored_value(&record.tree, json).map_err(bad)?,
                (None, Some(raw)) => {
                    from_hex(raw).ok_or_else(|| bad("the raw value is not hex".into()))?
                }
                (None, None) => return Err(bad("no value".into())),
            };
            let tree = match record.tree.as_str() {
                keys::META if exported_meta(&key) => keys::META,
                name => TREES
                    .into_iter()
                    .find(|tree| *tree == name)
                    .ok_or_else(|| bad(format!("no tree `{name}` is imported")))?,
            };
            if tree == keys::OUTBOX || tree == keys::DEAD {
                floor = floor.max(sequence_of(&key).saturating_add(1));
            }
            let full = pending
                .as_ref()
                .is_some_and(|(name, _, n)| *name != tree || *n == CHUNK);
            if full && let Some((name, batch, _)) = pending.take() {
                self.named(name)
                    .apply_batch(batch)
                    .map_err(io("import write"))?;
            }
            let (_, batch, n) = pending.get_or_insert_with(|| (tree, sled::Batch::default(), 0));
            batch.insert(key, value);
            *n += 1;
            read += 1;
        }
        if let Some((name, batch, _)) = pending {
            self.named(name)
                .apply_batch(batch)
                .map_err(io("import write"))?;
        }
        let counts = self.count_all()?;
        let mut meta = sled::Batch::default();
        meta.insert(keys::COUNTS_KEY, keys::encode(&counts));
        meta.insert(keys::SEQUENCE_FLOOR_KEY, &floor.to_be_bytes());
        self.meta.apply_batch(meta).map_err(io("import write"))?;
        self.db.flush().map_err(io("flush"))?;
        Ok(read)
    }

    fn named(&self, name: &str) -> &sled::Tree {
        match name {
            keys::ARTICLES => &self.articles,
            keys::FEEDS => &self.feeds,
            keys::STORIES => &self.stories,
            keys::OUTBOX => &self.outbox,
            keys::DEAD => &self.dead,
            keys::SENT => &self.sent,
            _ => &self.meta,
        }
    }
}

fn write_line(
    out: &mut impl Write,
    tree: &str,
    key: &[u8],
    value: &[u8],
) -> Result<(), TransferError> {
    let json = exported_value(tree, value);
    let line = Line {
        tree: tree.to_string(),
        key: to_hex(key),
        raw: json.is_none().then(|| to_hex(value)),
        value: json,
    };
    serde_json::to_writer(&mut *out, &line).map_err(|e| TransferError::Io(e.into()))?;
    out.write_all(b"\n").map_err(TransferError::Io)
}

/// A value as an export shows it: JSON, whichever form it is stored in (a JSON value as
/// it is on disk); `None` for a value that is not one of ours.
fn exported_value(tree: &str, value: &[u8]) -> Option<serde_json::Value> {
    match value.split_first() {
        Some((&keys::VALUE_VERSION, json)) => serde_json::from_slice(json).ok(),
        Some((&compact::COMPACT_VERSION, _)) => match tree {
            keys::ARTICLES => serde_json::to_value(compact::decode_article(value).ok()?).ok(),
            keys::FEEDS => serde_json::to_value(compact::decode_feed_state(value).ok()?).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// An exported JSON value as the store keeps it: an article or a feed state in the compact
/// form, anything else (a tombstone, the other trees) as JSON after the format byte.
fn stored_value(tree: &str, json: &serde_json::Value) -> Result<Vec<u8>, String> {
    let typed = match tree {
        keys::ARTICLES => StoredArticle::deserialize(json)
            .ok()
            .map(|stored| compact::encode_article(&stored)),
        keys::FEEDS => FeedState::deserialize(json)
            .ok()
            .map(|state| compact::encode_feed_state(&state)),
        _ => None,
    };
    if let Some(bytes) = typed {
        return Ok(bytes);
    }
    let mut bytes = vec![keys::VALUE_VERSION];
    serde_json::to_writer(&mut bytes, json).map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// The sequence number at the end of an outbox or dead-letter key.
fn sequence_of(key: &[u8]) -> u64 {
    key.len()
        .checked_sub(8)
        .and_then(|start| key[start..].try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_odd_or_foreign_text() {
        let bytes = [0u8, 1, 0x7f, 0x80, 0xff];
        assert_eq!(from_hex(&to_hex(&bytes)).unwrap(), bytes);
        assert!(from_hex("abc").is_none());
        assert!(from_hex("zz").is_none());
        assert!(from_hex("é0").is_none());
    }

    #[test]
    fn the_sequence_is_the_last_eight_bytes() {
        assert_eq!(sequence_of(&keys::outbox_key("desk", 4242)), 4242);
        assert_eq!(sequence_of(b"short"), 0);
    }
}
