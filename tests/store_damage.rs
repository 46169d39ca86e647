//! Damaged stores, damaged the ways a real one was in a fault probe (issue 15).
//!
//! Guaranteed here: opening a damaged store ends in an error that names the store and
//! says it is damaged, never in a panic, a hang or an empty store, and the error does not
//! blame another parleyd; a damaged snapshot is named with the hint that removing it loses
//! nothing, and removing it does bring every record back; a store whose damage the cheap
//! look at open cannot see opens with its real counts, and the full check then either
//! finds it sound or reports the damage, without hanging.

use chrono::Utc;
use parleyd::model::Article;
use parleyd::store::{FeedState, NewArticle, PollCommit, Store, StoreError};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CACHE: u64 = 8 << 20;
const FEEDS: usize = 60;
const ITEMS: usize = 50;
/// Only so that a regression fails instead of hanging the suite; not a speed assertion.
const TEST_DEADLINE: Duration = Duration::from_secs(600);

fn article(feed: usize, item: usize) -> Article {
    Article {
        key: format!("id:{item}"),
        feed: format!("Feed {feed}"),
        feed_url: format!("https://feed{feed}.example/rss"),
        title: format!("Markets edge higher on day {item} as investors weigh earnings"),
        link: Some(format!("https://feed{feed}.example/{item}")),
        summary: "Shares rose in early trading. ".repeat(10),
        published: Some(Utc::now()),
        first_seen: Utc::now(),
    }
}

/// A store of FEEDS feeds with ITEMS articles each, closed cleanly; with `snapshot`,
/// opened and closed once more, which makes sled write a snapshot file.
fn filled_store(dir: &Path, snapshot: bool) -> PathBuf {
    let path = dir.join("store");
    {
        let store = Store::open(&path, CACHE).unwrap();
        for feed in 0..FEEDS {
            let articles = (0..ITEMS)
                .map(|item| NewArticle::Quiet {
                    article: article(feed, item),
                    verdict: None,
                })
                .collect();
            store
                .commit_poll(&PollCommit {
                    feed_url: &format!("https://feed{feed}.example/rss"),
                    state: FeedState::default(),
                    articles,
                    story_window: Duration::from_secs(3600),
                    join_window: Duration::from_secs(3600),
                    now: Utc::now(),
                })
                .unwrap();
        }
        store.close().unwrap();
    }
    if snapshot {
        Store::open(&path, CACHE).unwrap().close().unwrap();
        assert!(snapshot_file(&path).is_some(), "sled wrote a snapshot");
    }
    path
}

fn zero_block(file: &Path, at: u64) {
    let mut f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.seek(SeekFrom::Start(at & !4095)).unwrap();
    f.write_all(&[0; 4096]).unwrap();
}

fn db_len(path: &Path) -> u64 {
    std::fs::metadata(path.join("db")).unwrap().len()
}

/// A copy of the store folder `from` at `to`.
fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_store(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Changes the store's trees behind parleyd's back, with sled itself.
fn with_raw_sled(path: &Path, change: impl FnOnce(&sled::Db)) {
    let db = sled::open(path).unwrap();
    change(&db);
    db.flush().unwrap();
}

fn snapshot_file(path: &Path) -> Option<PathBuf> {
    std::fs::read_dir(path)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|file| {
            file.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("snap.")
        })
}

/// Overwrites 64 bytes of the newest snapshot file; returns its path.
fn damage_snapshot(path: &Path) -> PathBuf {
    let snapshot = snapshot_file(path).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&snapshot)
        .unwrap();
    f.seek(SeekFrom::Start(10)).unwrap();
    f.write_all(&[0xAB; 64]).unwrap();
    snapshot
}

/// Opens the store on another thread, so that a hang fails the test instead of the suite.
fn open(path: &Path) -> Result<Store, StoreError> {
    let path = path.to_path_buf();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(Store::open(&path, CACHE));
    });
    receiver
        .recv_timeout(TEST_DEADLINE)
        .expect("Store::open returned (it must not hang or let a panic out)")
}

/// The error of opening a damaged store: `Damaged`, naming the path, pointing at the
/// README, and not blaming another parleyd.
fn damage_reported(path: &Path) -> String {
    let message = match open(path) {
        Err(err @ StoreError::Damaged { .. }) => err.to_string(),
        Err(other) => panic!("expected a damaged store, got {other}"),
        Ok(store) => panic!("a damaged store opened: {:?}", store.stats()),
    };
    assert!(
        message.starts_with(&format!("store at {} is damaged: ", path.display())),
        "{message}"
    );
    assert!(
        message.ends_with("see README 'Recovering a store'"),
        "{message}"
    );
    assert!(!message.contains("another parleyd"), "{message}");
    message
}

#[test]
fn a_half_truncated_db_is_reported_damaged_not_a_panic_or_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), false);
    let db = std::fs::OpenOptions::new()
        .write(true)
        .open(path.join("db"))
        .unwrap();
    db.set_len(db_len(&path) / 2).unwrap();
    damage_reported(&path);
}

/// Zeroes one 4 KiB block at each eighth of the `db` file, in a copy each: the store must
/// then be reported damaged at open, or open with the counts that were written (never
/// empty) and have its full check end, sound or reporting damage. Returns in how many
/// copies the damage was found, at open or by the check.
fn zeroed_blocks_found(snapshot: bool) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let original = filled_store(dir.path(), snapshot);
    let len = db_len(&original);
    let mut found = 0;
    for eighth in 0..8 {
        let path = dir.path().join(format!("copy-{eighth}"));
        copy_store(&original, &path);
        zero_block(&path.join("db"), len * eighth / 8);
        let store = match open(&path) {
            Err(StoreError::Damaged { .. }) => {
                found += 1;
                continue;
            }
            Err(other) => panic!("block {eighth}/8: expected damage or a store, got {other}"),
            Ok(store) => store,
        };
        let stats = store.stats().unwrap();
        assert_eq!(
            (stats.articles, stats.feeds),
            (FEEDS * ITEMS, FEEDS),
            "block {eighth}/8: opened with other counts than were written"
        );
        match store.check_all(TEST_DEADLINE) {
            Ok(report) if report.problems().is_empty() => {}
            Ok(_) | Err(StoreError::Damaged { .. }) => found += 1,
            Err(other) => panic!("block {eighth}/8: the check failed otherwise: {other}"),
        }
    }
    found
}

#[test]
fn a_zeroed_block_in_a_store_without_a_snapshot_never_opens_empty_or_hangs() {
    assert!(
        zeroed_blocks_found(false) > 0,
        "no zeroed block was noticed"
    );
}

#[test]
fn a_cleanly_shut_store_with_a_zeroed_block_never_opens_empty_or_hangs() {
    assert!(zeroed_blocks_found(true) > 0, "no zeroed block was noticed");
}

#[test]
fn a_lost_tree_is_reported_damaged_not_taken_for_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), false);
    with_raw_sled(&path, |db| {
        db.open_tree("articles").unwrap().clear().unwrap()
    });
    let message = damage_reported(&path);
    assert!(
        message.contains(&format!(
            "its counts say the articles tree holds {} records but it reads as empty",
            FEEDS * ITEMS
        )),
        "{message}"
    );
}

#[test]
fn a_lost_meta_tree_is_reported_damaged_not_taken_for_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), false);
    with_raw_sled(&path, |db| db.open_tree("meta").unwrap().clear().unwrap());
    let message = damage_reported(&path);
    assert!(message.contains("no schema record"), "{message}");
}

#[test]
fn a_damaged_snapshot_is_named_and_removing_it_brings_everything_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), true);
    let snapshot = damage_snapshot(&path);
    let message = damage_reported(&path);
    assert!(
        message.contains(&format!(
            "its snapshot file {} fails its checksum; remove that file",
            snapshot.display()
        )),
        "{message}"
    );
    std::fs::remove_file(&snapshot).unwrap();
    let store = open(&path).expect("the store opens without its snapshot");
    let stats = store.stats().unwrap();
    assert_eq!((stats.articles, stats.feeds), (FEEDS * ITEMS, FEEDS));
}

#[test]
fn the_binary_exits_2_naming_the_damage_without_the_lock_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), true);
    damage_snapshot(&path);
    let config = dir.path().join("parleyd.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\npath = \"{}\"\n[[feeds]]\nurl = \"https://feed.example/rss\"\n",
            path.display()
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_parleyd"))
        .args(["--config", config.to_str().unwrap(), "stats"])
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("store at {} is damaged: ", path.display())),
        "{stderr}"
    );
    assert!(!stderr.contains("another parleyd"), "{stderr}");
}

/// A config whose store is `store`, for running the binary on it.
fn config_for(dir: &Path, name: &str, store: &Path) -> PathBuf {
    let config = dir.join(name);
    std::fs::write(
        &config,
        format!(
            "[storage]\npath = \"{}\"\n[[feeds]]\nurl = \"https://feed.example/rss\"\n",
            store.display()
        ),
    )
    .unwrap();
    config
}

fn parleyd(config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_parleyd"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

#[test]
fn store_check_finds_a_sound_store_sound_and_a_lost_tree_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), false);
    let config = config_for(dir.path(), "parleyd.toml", &path);
    let sound = parleyd(&config, &["store", "check"]);
    let stdout = String::from_utf8_lossy(&sound.stdout);
    assert_eq!(sound.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "records:  {} articles, {FEEDS} feeds",
            FEEDS * ITEMS
        )),
        "{stdout}"
    );
    assert!(stdout.contains("sound:"), "{stdout}");

    with_raw_sled(&path, |db| db.open_tree("feeds").unwrap().clear().unwrap());
    let damaged = parleyd(&config, &["store", "check", "--json"]);
    assert_eq!(damaged.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&damaged.stdout).unwrap();
    assert_eq!(report["sound"], false);
    let problem = report["problems"][0].as_str().unwrap();
    assert!(
        problem.contains("its counts say the feeds tree holds 60 records but it reads as empty"),
        "{problem}"
    );
}

#[tokio::test]
async fn an_export_imported_into_a_new_store_keeps_every_record_and_queues_after_them() {
    use parleyd::store::Alerting;
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), false);
    let classifier = parleyd::Classifier::new(
        parleyd::classify::builtin_profile(parleyd::classify::DEFAULT_PROFILE).unwrap(),
        None,
    );
    let alert = |feed: usize, item: usize, title: &str| {
        let mut article = article(feed, item);
        article.title = title.to_string();
        let verdict = classifier.classify_article(&article);
        NewArticle::Alert(Alerting {
            story: classifier.story_key(&article.title),
            article,
            verdict,
            sinks: vec!["desk".into(), "pager".into()],
        })
    };
    let commit = |store: &Store, feed: usize, news: NewArticle| {
        store
            .commit_poll(&PollCommit {
                feed_url: &format!("https://feed{feed}.example/rss"),
                state: FeedState::default(),
                articles: vec![news],
                story_window: Duration::from_secs(3600),
                join_window: Duration::from_secs(0),
                now: Utc::now(),
            })
            .unwrap()
    };
    {
        let store = Store::open(&path, CACHE).unwrap();
        let queued = commit(&store, 0, alert(0, 900, "US and Iran hold talks in Oman"));
        assert_eq!(queued.queued.len(), 1);
        let (key, sent) = store.due_alerts("desk", Utc::now(), 1).unwrap().remove(0);
        store.mark_sent(&key, &sent, Utc::now(), None).unwrap();
        store.close().unwrap();
    }
    let old = config_for(dir.path(), "old.toml", &path);
    let export = dir.path().join("backup.jsonl");
    let exported = parleyd(&old, &["store", "export", export.to_str().unwrap()]);
    assert_eq!(exported.status.code(), Some(0), "{exported:?}");
    let again = parleyd(&old, &["store", "export", export.to_str().unwrap()]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "an export never overwrites a file"
    );

    let new_path = dir.path().join("new-store");
    let new = config_for(dir.path(), "new.toml", &new_path);
    let imported = parleyd(&new, &["store", "import", export.to_str().unwrap()]);
    assert_eq!(imported.status.code(), Some(0), "{imported:?}");
    let twice = parleyd(&new, &["store", "import", export.to_str().unwrap()]);
    assert_eq!(
        twice.status.code(),
        Some(2),
        "an import goes into an empty store only"
    );
    let checked = parleyd(&new, &["store", "check"]);
    assert_eq!(checked.status.code(), Some(0), "{checked:?}");

    let before = Store::open(&path, CACHE)
        .unwrap()
        .check_all(TEST_DEADLINE)
        .unwrap();
    let store = open(&new_path).unwrap();
    let after = store.check_all(TEST_DEADLINE).unwrap();
    assert_eq!(after.scanned, before.scanned);
    assert_eq!(after.scanned.pending(), 1);
    assert_eq!(after.scanned.sent, 1);
    let article = article(7, 7);
    assert_eq!(
        store
            .article(&article.store_key())
            .unwrap()
            .unwrap()
            .article
            .title,
        article.title
    );
    // A new alert for the same sink queues after the imported one, not over it.
    commit(
        &store,
        1,
        alert(1, 901, "Washington and Tehran agree on a hotline"),
    );
    let pager = store.due_alerts("pager", Utc::now(), 10).unwrap();
    assert_eq!(pager.len(), 2);
    assert_eq!(
        pager[0].1.article.key, "id:900",
        "the imported alert stays first"
    );
}
