//! Schema versions: stamp a new store, migrate a schema 1, 2 or 3 store, refuse anything
//! else.

use super::{SCHEMA_VERSION, Store, StoreError, compact, keys};
use chrono::Utc;

/// Brings the store to [`SCHEMA_VERSION`], or says why it cannot. `existed` says whether
/// sled had written anything to disk before this open: such a store without a schema
/// record has lost its meta tree, and starting it as a new, empty store would hide that.
pub(super) fn check_schema(store: &Store, existed: bool) -> Result<(), StoreError> {
    let path = &store.path;
    let open_error = |cause| super::open::open_error(path, cause);
    let Some(bytes) = store.meta.get(keys::SCHEMA_KEY).map_err(open_error)? else {
        if existed {
            return Err(super::open::damaged(
                path,
                "it holds data on disk but no schema record: its meta tree is lost".into(),
            ));
        }
        return stamp_new(store).map_err(open_error);
    };
    let found = bytes
        .as_ref()
        .try_into()
        .map(u32::from_be_bytes)
        .unwrap_or(0);
    if found == 1 {
        migrate_article_keys(&store.articles, &store.meta).map_err(open_error)?;
    }
    match found {
        1 | 2 => count_records(store),
        3 => stamp_compact(store).map_err(open_error),
        SCHEMA_VERSION => Ok(()),
        _ => Err(StoreError::Schema {
            path: path.to_path_buf(),
            found,
            expected: SCHEMA_VERSION,
        }),
    }
}

/// A new store: its schema, zero counts, and no pruning due yet (without that, the first
/// `once` of a cold start read back every article it had just written). Flushed at once,
/// so that a store with anything on disk always has its schema record.
fn stamp_new(store: &Store) -> sled::Result<()> {
    let mut batch = sled::Batch::default();
    batch.insert(keys::SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes());
    batch.insert(keys::LAST_PRUNE_KEY, &Utc::now().timestamp().to_be_bytes());
    batch.insert(keys::COUNTS_KEY, keys::encode(&super::Counts::default()));
    store.meta.apply_batch(batch)?;
    store.meta.flush()?;
    Ok(())
}

/// Schema 3: counts every record once and gathers the recent matches, then writes both
/// records and the new schema together. Re-running after a crash part-way counts again.
fn count_records(store: &Store) -> Result<(), StoreError> {
    let counts = store.count_all()?;
    let recent = store.rebuild_recent(Utc::now())?;
    let mut batch = sled::Batch::default();
    batch.insert(keys::COUNTS_KEY, keys::encode(&counts));
    batch.insert(keys::RECENT_KEY, keys::encode(&recent));
    batch.insert(keys::SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes());
    let write = |result: sled::Result<()>| {
        result.map_err(|cause| StoreError::Io {
            operation: "migration",
            cause,
        })
    };
    write(store.meta.apply_batch(batch))?;
    write(store.meta.flush().map(drop))?;
    tracing::info!(
        articles = counts.articles,
        feeds = counts.feeds,
        stories = counts.stories,
        pending = counts.pending(),
        "Store migrated to schema {SCHEMA_VERSION}: its records were counted once."
    );
    Ok(())
}

/// Schema 4: nothing to rewrite, since both value formats read; the new schema keeps an
/// older parleyd, which would take every compact value for absent, from opening the store.
fn stamp_compact(store: &Store) -> sled::Result<()> {
    store
        .meta
        .insert(keys::SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
    store.meta.flush()?;
    tracing::info!(
        "Store migrated to schema {SCHEMA_VERSION}: articles and feed states are written in the compact form from now on; those written before read as they are."
    );
    Ok(())
}

/// Moves a schema 1 store's articles to schema 2 keys, then records schema 2. Tombstones
/// keep no article to re-key from, so they stay where they are and the store looks up
/// both layouts from then on. Re-running after a crash part-way is safe: articles already
/// under their new key are left alone, and the schema stays 1 until all are moved.
fn migrate_article_keys(articles: &sled::Tree, meta: &sled::Tree) -> sled::Result<()> {
    const CHUNK: usize = 1000;
    let mut batch = sled::Batch::default();
    let (mut queued, mut moved, mut tombstones) = (0, 0, 0);
    for item in articles.iter() {
        let (key, value) = item?;
        let Ok(stored) = compact::decode_article(&value) else {
            tombstones += 1;
            continue;
        };
        let new_key = stored.article.store_key();
        if key.as_ref() == new_key {
            continue;
        }
        batch.insert(&new_key[..], value);
        batch.remove(key);
        queued += 1;
        if queued == CHUNK {
            articles.apply_batch(std::mem::take(&mut batch))?;
            moved += queued;
            queued = 0;
        }
    }
    articles.apply_batch(batch)?;
    moved += queued;
    if tombstones > 0 {
        meta.insert(keys::LEGACY_KEYS_KEY, &[1])?;
    }
    meta.insert(keys::SCHEMA_KEY, &2u32.to_be_bytes())?;
    meta.flush()?;
    tracing::info!(
        moved,
        tombstones,
        "Store migrated to schema 2: article keys now lead with the feed."
    );
    Ok(())
}
