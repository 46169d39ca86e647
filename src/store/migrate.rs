//! Schema versions: stamp a new store, migrate a schema 1 store, refuse anything else.

use super::records::StoredArticle;
use super::{SCHEMA_VERSION, StoreError, keys};
use chrono::Utc;
use std::path::Path;

/// Brings the store at `path` to [`SCHEMA_VERSION`], or says why it cannot.
pub(super) fn check_schema(
    path: &Path,
    meta: &sled::Tree,
    articles: &sled::Tree,
) -> Result<(), StoreError> {
    let open_error = |cause| StoreError::Open {
        path: path.to_path_buf(),
        cause,
    };
    match meta.get(keys::SCHEMA_KEY).map_err(open_error)? {
        Some(bytes) => {
            let found = bytes
                .as_ref()
                .try_into()
                .map(u32::from_be_bytes)
                .unwrap_or(0);
            if found == 1 {
                migrate_article_keys(articles, meta).map_err(open_error)?;
            } else if found != SCHEMA_VERSION {
                return Err(StoreError::Schema {
                    path: path.to_path_buf(),
                    found,
                    expected: SCHEMA_VERSION,
                });
            }
        }
        None => {
            meta.insert(keys::SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
                .map_err(open_error)?;
            // A new store has nothing to prune: without this, the first `once` of a
            // cold start read back every article it had just written.
            meta.insert(keys::LAST_PRUNE_KEY, &Utc::now().timestamp().to_be_bytes())
                .map_err(open_error)?;
        }
    }
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
        let Ok(stored) = keys::decode::<StoredArticle>(&value) else {
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
    meta.insert(keys::SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
    meta.flush()?;
    tracing::info!(
        moved,
        tombstones,
        "Store migrated to schema {SCHEMA_VERSION}: article keys now lead with the feed."
    );
    Ok(())
}
