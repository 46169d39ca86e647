//! The sled store, on disk in a temp folder.
//!
//! Guaranteed here: an article is stored once across polls and reopenings; a poll's
//! articles, story records and outbox entries land together; an alert leaves a sink's queue
//! only when marked sent or moved to the dead-letter list; a store written with another
//! schema version is refused, as is a store another process holds, each with its path; a
//! schema 1 store is migrated with every article, tombstone and alert id kept; the counts
//! record equals a full scan after every kind of write, and a schema 2 store gets it by a
//! count at migration.

use chrono::Utc;
use parleyd::model::{Article, Verdict};
use parleyd::store::{
    Alerting, FeedState, NewArticle, PollCommit, SCHEMA_VERSION, Store, StoreError,
};
use std::time::Duration;

const CACHE: u64 = 8 << 20;

fn article(feed: &str, key: &str, title: &str) -> Article {
    Article {
        key: format!("id:{key}"),
        feed: feed.to_string(),
        feed_url: format!("https://{feed}.example/rss"),
        title: title.to_string(),
        link: Some(format!("https://{feed}.example/{key}")),
        summary: String::new(),
        published: Some(Utc::now()),
        first_seen: Utc::now(),
    }
}

fn relevant() -> Verdict {
    Verdict {
        relevant: true,
        event: Some(parleyd::Event::Talks),
        score: 0.8,
        reasons: vec!["test".into()],
    }
}

fn commit(
    store: &Store,
    feed_url: &str,
    articles: Vec<NewArticle>,
) -> parleyd::store::CommitOutcome {
    store
        .commit_poll(&PollCommit {
            feed_url,
            state: FeedState {
                first_poll_done: true,
                ..FeedState::default()
            },
            articles,
            story_window: Duration::from_secs(3600),
            join_window: parleyd::classify::story::STORY_JOIN_WINDOW,
            now: Utc::now(),
        })
        .unwrap()
}

fn alerting(article: Article) -> NewArticle {
    alerting_to(article, &["hook"])
}

fn alerting_to(article: Article, sinks: &[&str]) -> NewArticle {
    let classifier = parleyd::Classifier::new(
        parleyd::classify::builtin_profile(parleyd::classify::DEFAULT_PROFILE).unwrap(),
        None,
    );
    // The event kind is the classifier's (talks and a channel are two stories); the rest of
    // the verdict is fixed.
    let event = classifier
        .classify(&article.title, "")
        .event
        .or(Some(parleyd::Event::Talks));
    NewArticle::Alert(Alerting {
        story: classifier.story_key(&article.title),
        article,
        verdict: Verdict {
            event,
            ..relevant()
        },
        sinks: sinks.iter().map(|s| s.to_string()).collect(),
    })
}

#[tokio::test]
async fn articles_are_stored_once_across_polls_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let a = article("one", "1", "US and Iran hold talks in Oman");
    {
        let store = Store::open(&path, CACHE).unwrap();
        let outcome = commit(&store, &a.feed_url, vec![alerting(a.clone())]);
        assert_eq!(outcome.stored, 1);
        assert_eq!(outcome.queued.len(), 1);
        let again = commit(&store, &a.feed_url, vec![alerting(a.clone())]);
        assert_eq!(again.stored, 0, "the same article is not stored twice");
        assert!(again.queued.is_empty());
        store.flush().await.unwrap();
    }
    let store = Store::open(&path, CACHE).unwrap();
    assert!(store.contains_article(&a).unwrap());
    let stored = store.article(&a.store_key()).unwrap().unwrap();
    assert_eq!(stored.article, a);
    assert_eq!(stored.verdict, Some(relevant()));
    assert_eq!(
        store.feed_state(&a.feed_url).unwrap().unwrap().items_seen,
        1
    );
    let again = commit(&store, &a.feed_url, vec![alerting(a.clone())]);
    assert_eq!(again.stored, 0, "not after reopening either");
}

#[tokio::test]
async fn a_first_poll_over_a_crashed_commits_leftovers_stores_each_article_once() {
    // A commit writes its quiet articles before its feed state; a crash in between leaves
    // articles of a feed the store has no state for. Simulated by committing the feed's
    // articles under another feed's state.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), CACHE).unwrap();
    let leftover = article("one", "1", "Rial falls again");
    let news = article("one", "2", "US and Iran hold talks in Oman");
    let outcome = commit(
        &store,
        "https://elsewhere.example/rss",
        vec![quiet(leftover.clone())],
    );
    assert_eq!(outcome.stored, 1);
    assert!(store.feed_state(&news.feed_url).unwrap().is_none());

    let first = commit(
        &store,
        &news.feed_url,
        vec![quiet(leftover.clone()), alerting(news.clone())],
    );
    assert_eq!(first.queued.len(), 1, "the poll's news alerts once");
    assert_eq!(
        store
            .article(&leftover.store_key())
            .unwrap()
            .unwrap()
            .article,
        leftover
    );
    let again = commit(
        &store,
        &news.feed_url,
        vec![quiet(leftover.clone()), alerting(news.clone())],
    );
    assert_eq!(
        again.stored, 0,
        "with the feed's state stored, known articles are skipped"
    );
    assert!(again.queued.is_empty());
}

fn quiet(article: Article) -> NewArticle {
    NewArticle::Quiet {
        article,
        verdict: None,
    }
}

/// A schema 1 key: the feed URL and article key hashed together.
fn schema_1_key(article: &Article) -> [u8; 16] {
    let joined = format!("{}\0{}", article.feed_url, article.key);
    xxhash_rust::xxh3::xxh3_128(joined.as_bytes()).to_be_bytes()
}

/// A store value: the format byte, then JSON.
fn value(json: &impl serde::Serialize) -> Vec<u8> {
    let mut out = vec![1];
    out.extend(serde_json::to_vec(json).unwrap());
    out
}

#[tokio::test]
async fn a_schema_1_store_is_migrated_and_forgets_no_article() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let alerted = article("one", "1", "US and Iran hold talks in Oman");
    let pruned = article("one", "2", "Rial falls");
    let old_id = parleyd::model::alert_id(&schema_1_key(&alerted));
    {
        let db = sled::open(&path).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("schema_version", &1u32.to_be_bytes()).unwrap();
        let articles = db.open_tree("articles").unwrap();
        let stored = parleyd::store::StoredArticle {
            article: alerted.clone(),
            verdict: Some(relevant()),
            alert_id: Some(old_id.clone()),
        };
        articles
            .insert(schema_1_key(&alerted), value(&stored))
            .unwrap();
        let tombstone = serde_json::json!({"pruned": true});
        articles
            .insert(schema_1_key(&pruned), value(&tombstone))
            .unwrap();
        db.flush().unwrap();
    }
    for _reopening in 0..2 {
        let store = Store::open(&path, CACHE).unwrap();
        let moved = store.article(&alerted.store_key()).unwrap().unwrap();
        assert_eq!(moved.article, alerted);
        assert_eq!(
            moved.alert_id.as_deref(),
            Some(old_id.as_str()),
            "alert ids never change"
        );
        assert!(moved.opened_story());
        assert!(
            store.contains_article(&pruned).unwrap(),
            "a pruned article stays known"
        );
        let again = commit(
            &store,
            &alerted.feed_url,
            vec![alerting(alerted.clone()), alerting(pruned.clone())],
        );
        assert_eq!(again.stored, 0);
        assert!(again.queued.is_empty());
        store.flush().await.unwrap();
    }
}

#[tokio::test]
async fn a_story_from_a_second_feed_joins_instead_of_alerting() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), CACHE).unwrap();
    let first = article("one", "1", "Iran and US hold new round of talks in Muscat");
    let second = article(
        "two",
        "9",
        "Iran, US hold new round of talks in Muscat - Wire",
    );
    let outcome = commit(&store, &first.feed_url, vec![alerting(first.clone())]);
    assert_eq!(outcome.queued.len(), 1);
    let outcome = commit(&store, &second.feed_url, vec![alerting(second.clone())]);
    assert!(outcome.queued.is_empty());
    assert_eq!(outcome.joined_story, 1);
    let joined = store.article(&second.store_key()).unwrap().unwrap();
    let original = store.article(&first.store_key()).unwrap().unwrap();
    assert_eq!(
        joined.alert_id, original.alert_id,
        "the article points at the story's alert"
    );
}

#[tokio::test]
async fn the_outbox_keeps_an_alert_until_it_is_sent_or_dead() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), CACHE).unwrap();
    let one = article("one", "1", "US and Iran hold talks in Oman");
    let two = article("one", "2", "Washington and Tehran open a hotline");
    let feed_url = one.feed_url.clone();
    commit(
        &store,
        &feed_url,
        vec![alerting_to(one, &["a", "b"]), alerting_to(two, &["a", "b"])],
    );

    let due_a = store.due_alerts("a", Utc::now(), 10).unwrap();
    let due_b = store.due_alerts("b", Utc::now(), 10).unwrap();
    assert_eq!(due_a.len(), 2, "each sink has its own queue");
    assert_eq!(due_b.len(), 2);
    assert_eq!(due_a[0].1.id, due_b[0].1.id, "one alert id across sinks");
    assert_eq!(
        due_a[0].1.article.title, "US and Iran hold talks in Oman",
        "oldest first"
    );

    let (key, alert) = &due_a[0];
    store.mark_sent(key, alert, Utc::now(), None).unwrap();
    assert!(store.was_sent("a", &alert.id).unwrap());
    assert!(!store.was_sent("b", &alert.id).unwrap());

    let (key, mut alert) = due_a[1].clone();
    alert.attempts = 1;
    alert.next_attempt = Utc::now() + chrono::Duration::hours(1);
    store.update_alert(&key, &alert).unwrap();
    assert!(
        store.due_alerts("a", Utc::now(), 10).unwrap().is_empty(),
        "not due before its time"
    );
    assert_eq!(store.pending("a").unwrap().0, 1);

    store.move_to_dead(&key, &alert).unwrap();
    assert_eq!(store.pending("a").unwrap().0, 0);
    let dead = store.dead_alerts().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, alert.id);
    assert_eq!(store.pending("b").unwrap().0, 2, "sink b is untouched");
}

#[test]
fn a_store_in_use_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let _held = Store::open(&path, CACHE).unwrap();
    // sled locks the folder per process, so the second opener is a child process.
    let config = dir.path().join("parleyd.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\npath = \"{}\"\n[[feeds]]\nurl = \"file:feed.xml\"\n",
            path.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("feed.xml"),
        "<rss version=\"2.0\"><channel/></rss>",
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_parleyd"))
        .args(["--config", config.to_str().unwrap(), "once"])
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let said = format!(
        "the store at {} is in use by another process",
        path.display()
    );
    assert_eq!(stderr.matches(&said).count(), 1, "said once: {stderr}");
    assert!(!stderr.contains("Os {"), "no debug dump: {stderr}");
}

#[test]
fn a_store_with_another_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let db = sled::open(&path).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("schema_version", &(SCHEMA_VERSION + 1).to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    match Store::open(&path, CACHE) {
        Err(StoreError::Schema {
            found, expected, ..
        }) => {
            assert_eq!(found, SCHEMA_VERSION + 1);
            assert_eq!(expected, SCHEMA_VERSION);
        }
        other => panic!("expected a schema error, got {other:?}"),
    }
}

fn commit_at(
    store: &Store,
    article: Article,
    now: chrono::DateTime<Utc>,
) -> parleyd::store::CommitOutcome {
    commit_one(store, alerting(article), now)
}

#[tokio::test]
async fn the_same_event_worded_by_several_outlets_is_one_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), CACHE).unwrap();
    let now = Utc::now();
    let first = article("wire", "1", "US and Iran hold indirect talks in Muscat");
    let outcome = commit_at(&store, first.clone(), now);
    assert_eq!(outcome.queued.len(), 1);
    let id = outcome.queued[0].clone();
    for (feed, title) in [
        (
            "daily",
            "Iran, US negotiators meet in Muscat for indirect talks - Daily",
        ),
        (
            "gazette",
            "Indirect US-Iran talks held in Oman's capital Muscat",
        ),
        (
            "herald",
            "Tehran and Washington hold indirect talks in Muscat",
        ),
    ] {
        let outcome = commit_at(&store, article(feed, "9", title), now);
        assert!(outcome.queued.is_empty(), "{title} alerted again");
        assert_eq!(outcome.joined_story, 1, "{title}");
    }
    let story = store.story(&id).unwrap().unwrap();
    assert_eq!(
        story.reported_by,
        vec!["wire", "daily", "gazette", "herald"]
    );
}

#[tokio::test]
async fn a_new_round_a_week_later_or_a_different_development_is_a_new_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), CACHE).unwrap();
    let now = Utc::now();
    let round = "US and Iran hold indirect talks in Muscat";
    assert_eq!(
        commit_at(&store, article("wire", "1", round), now)
            .queued
            .len(),
        1
    );
    let week_later = now + chrono::Duration::days(7);
    assert_eq!(
        commit_at(&store, article("daily", "2", round), week_later)
            .queued
            .len(),
        1,
        "the next round is news"
    );
    let other = "Washington and Tehran agree to open a military hotline";
    assert_eq!(
        commit_at(&store, article("daily", "3", other), now)
            .queued
            .len(),
        1,
        "a different development the same day is news"
    );
}

#[test]
fn two_feeds_committing_the_same_story_at_once_open_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), CACHE).unwrap();
    let now = Utc::now();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let feed = format!("feed{i}");
                let a = article(
                    &feed,
                    "1",
                    "Iran and US open a new back channel through Oman",
                );
                barrier.wait();
                commit_at(&store, a, now)
            })
        })
        .collect();
    let outcomes: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let queued: usize = outcomes.iter().map(|o| o.queued.len()).sum();
    let joined: usize = outcomes.iter().map(|o| o.joined_story).sum();
    assert_eq!((queued, joined), (1, 7), "{outcomes:?}");
}

#[tokio::test]
async fn pruned_articles_stay_known_and_never_alert_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), CACHE).unwrap();
    let old = article("wire", "old", "US and Iran hold talks in Oman");
    let feed_url = old.feed_url.clone();
    commit(&store, &feed_url, vec![alerting(old.clone())]);
    let pruned = store
        .prune(Utc::now() + chrono::Duration::seconds(1))
        .unwrap();
    assert_eq!(pruned, 1);
    assert!(
        store.article(&old.store_key()).unwrap().is_none(),
        "the content is gone"
    );
    assert!(store.contains_article(&old).unwrap(), "the key stays");
    let again = commit(&store, &feed_url, vec![alerting(old)]);
    assert_eq!(again.stored, 0);
    assert!(again.queued.is_empty());
    let stats = store.stats().unwrap();
    assert_eq!(stats.articles, 1);
    assert!(stats.size_on_disk > 0);
}

#[tokio::test]
async fn pruning_runs_when_due_and_takes_old_stories_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), CACHE).unwrap();
    let old = article("wire", "old", "US and Iran hold talks in Oman");
    let outcome = commit(&store, &old.feed_url.clone(), vec![alerting(old)]);
    let id = outcome.queued[0].clone();
    assert!(store.story(&id).unwrap().is_some());
    let reworded = article("other", "r1", "Iran and US hold talks in Oman");
    assert_eq!(commit_at(&store, reworded, Utc::now()).joined_story, 1);
    let created = Utc::now() + chrono::Duration::seconds(1);
    let every = Duration::from_secs(3600);
    assert_eq!(
        store.prune_if_due(created, every, created).unwrap(),
        None,
        "a new store counts as pruned when it was created"
    );
    let now = created + chrono::Duration::hours(2);
    assert_eq!(store.prune_if_due(now, every, now).unwrap(), Some(2));
    assert!(
        store.story(&id).unwrap().is_none(),
        "the old story went with it"
    );
    // Within the 72-hour story window but pruned: news again, not a join to nothing.
    let again = article("third", "r2", "Iran and US hold talks in Oman");
    assert_eq!(commit_at(&store, again, now).queued.len(), 1);
    let soon = now + chrono::Duration::minutes(5);
    assert_eq!(
        store.prune_if_due(soon, every, soon).unwrap(),
        None,
        "not due yet"
    );
    let later = now + chrono::Duration::hours(2);
    assert_eq!(
        store.prune_if_due(later, every, later).unwrap(),
        Some(1),
        "the article committed after the last prune"
    );
}

fn published_at(mut article: Article, at: chrono::DateTime<Utc>) -> Article {
    article.published = Some(at);
    article.first_seen = at;
    article
}

fn silent(article: Article) -> NewArticle {
    let classifier = parleyd::Classifier::new(
        parleyd::classify::builtin_profile(parleyd::classify::DEFAULT_PROFILE).unwrap(),
        None,
    );
    NewArticle::Silent {
        story: classifier.story_key(&article.title),
        article,
        verdict: relevant(),
    }
}

fn commit_one(
    store: &Store,
    new: NewArticle,
    now: chrono::DateTime<Utc>,
) -> parleyd::store::CommitOutcome {
    commit_in_window(store, new, now, parleyd::classify::story::STORY_JOIN_WINDOW)
}

/// Commits one article as its feed's poll, with stories open 72 hours and `join_window`
/// as the story rule's window.
fn commit_in_window(
    store: &Store,
    new: NewArticle,
    now: chrono::DateTime<Utc>,
    join_window: Duration,
) -> parleyd::store::CommitOutcome {
    let feed_url = new.article().feed_url.clone();
    store
        .commit_poll(&PollCommit {
            feed_url: &feed_url,
            state: FeedState::default(),
            articles: vec![new],
            story_window: Duration::from_secs(72 * 3600),
            join_window,
            now,
        })
        .unwrap()
}

/// Guaranteed: a relevant article stored without an alert (a feed's backlog, or too old)
/// still opens a story, so a later copy of it from another feed (sharing its words) does
/// not alert as news; other news, hours or days later, still does.
#[tokio::test]
async fn a_story_first_seen_in_a_backlog_does_not_alert_when_another_feed_carries_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), CACHE).unwrap();
    let now = Utc::now();
    let backlog = published_at(
        article("one", "1", "US and Iranian envoys meet in Muscat"),
        now,
    );
    let outcome = commit_one(&store, silent(backlog.clone()), now);
    assert!(outcome.queued.is_empty());
    assert_eq!((outcome.stored, outcome.remembered), (1, 1));
    let story = store
        .story(&parleyd::model::alert_id(&backlog.store_key()))
        .unwrap()
        .expect("the backlog opened a story");
    assert!(!story.alerted);

    let later = now + chrono::Duration::hours(5);
    let copy = published_at(
        article(
            "two",
            "2",
            "US, Iranian envoys meet in Muscat, officials say",
        ),
        later,
    );
    let outcome = commit_one(&store, alerting(copy), later);
    assert!(
        outcome.queued.is_empty(),
        "a copy of backlog news is not news"
    );
    assert_eq!(outcome.joined_story, 1);
    // What the user was never alerted to does not swallow other news by time alone.
    let other = published_at(
        article("two", "4", "Tehran hands Washington a written reply"),
        later,
    );
    assert_eq!(
        commit_one(&store, alerting(other), later).queued.len(),
        1,
        "other news hours after a backlog story is news"
    );

    let days_later = now + chrono::Duration::days(4);
    let next = published_at(
        article("two", "3", "US and Iranian envoys meet in Muscat"),
        days_later,
    );
    assert_eq!(
        commit_one(&store, alerting(next), days_later).queued.len(),
        1,
        "the next meeting, days later, is news"
    );
}

/// Guaranteed: reports published within hours of each other join one story however they
/// are worded, unless a marker (place, round, weekday, stage) tells them apart; the story
/// counts its reports and keeps the latest publication time.
#[tokio::test]
async fn reports_hours_apart_join_by_time_unless_a_marker_differs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), CACHE).unwrap();
    let now = Utc::now();
    let first = published_at(
        article("wire", "1", "US and Iranian envoys meet in Muscat"),
        now,
    );
    let id = commit_one(&store, alerting(first), now).queued[0].clone();
    for (hours, feed, title) in [
        (2, "daily", "Washington and Tehran in rare direct contact"),
        (
            9,
            "gazette",
            "Iran calls first session with Americans constructive",
        ),
    ] {
        let at = now + chrono::Duration::hours(hours);
        let outcome = commit_one(
            &store,
            alerting(published_at(article(feed, "2", title), at)),
            at,
        );
        assert!(outcome.queued.is_empty(), "{title} alerted again");
    }
    let story = store.story(&id).unwrap().unwrap();
    assert_eq!(story.reports, 3);
    assert_eq!(story.latest, Some(now + chrono::Duration::hours(9)));

    let at = now + chrono::Duration::hours(10);
    let elsewhere = article("herald", "3", "US and Iranian envoys meet in Geneva");
    assert_eq!(
        commit_one(&store, alerting(published_at(elsewhere, at)), at)
            .queued
            .len(),
        1,
        "another venue the same day is another story"
    );
}

/// Guaranteed: with `story_window` zero, reports join only by shared words, so the same
/// event worded differently alerts twice, and the same words still join.
#[tokio::test]
async fn a_zero_join_window_joins_only_by_words() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), CACHE).unwrap();
    let now = Utc::now();
    let commit_with = |new: NewArticle| commit_in_window(&store, new, now, Duration::ZERO);
    let first = published_at(
        article("wire", "1", "US and Iranian envoys meet in Muscat"),
        now,
    );
    assert_eq!(commit_with(alerting(first)).queued.len(), 1);
    let reworded = published_at(
        article("daily", "2", "Rare contact between Washington and Tehran"),
        now,
    );
    assert_eq!(commit_with(alerting(reworded)).queued.len(), 1);
    let same_words = published_at(
        article(
            "gazette",
            "3",
            "US, Iranian envoys meet in Muscat - Gazette",
        ),
        now,
    );
    assert!(commit_with(alerting(same_words)).queued.is_empty());
}

/// Guaranteed: a story's latest report, written by one commit, is what the next commit
/// decides on (in the same process, as after a restart): a report 30 hours after the
/// story's second report joins it, though it is 60 hours after its first.
#[tokio::test]
async fn a_join_moves_the_story_on_for_the_next_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), CACHE).unwrap();
    let t0 = Utc::now() - chrono::Duration::hours(60);
    let at = |hours| t0 + chrono::Duration::hours(hours);
    let first = published_at(
        article("wire", "1", "US and Iranian envoys meet in Muscat"),
        at(0),
    );
    assert_eq!(commit_one(&store, alerting(first), at(0)).queued.len(), 1);
    let second = published_at(
        article(
            "daily",
            "2",
            "Rare contact between Washington and Tehran in Oman",
        ),
        at(30),
    );
    assert_eq!(commit_one(&store, alerting(second), at(30)).joined_story, 1);
    let third = published_at(
        article("herald", "3", "Washington and Tehran hold talks in Oman"),
        at(60),
    );
    let outcome = commit_one(&store, alerting(third), at(60));
    assert!(outcome.queued.is_empty(), "alerted again: {outcome:?}");
    assert_eq!(outcome.joined_story, 1);
}

/// The counts record equals a full scan, and `stats` says the same.
fn counts_agree(store: &Store, step: &str) {
    let counts = store.counts().unwrap();
    assert_eq!(counts, store.count_all().unwrap(), "after {step}");
    let stats = store.stats().unwrap();
    assert_eq!(
        (
            stats.articles as u64,
            stats.pending as u64,
            stats.dead as u64
        ),
        (counts.articles, counts.pending(), counts.dead_letters()),
        "after {step}"
    );
}

#[tokio::test]
async fn the_counts_record_follows_every_kind_of_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), CACHE).unwrap();
    counts_agree(&store, "a new store");
    let quiet_ones: Vec<NewArticle> = (0..5)
        .map(|i| quiet(article("one", &i.to_string(), "Rial falls")))
        .collect();
    commit(&store, "https://one.example/rss", quiet_ones.clone());
    commit(&store, "https://one.example/rss", quiet_ones);
    counts_agree(&store, "quiet articles, twice");
    let news = article("two", "1", "US and Iran hold talks in Oman");
    commit(
        &store,
        &news.feed_url,
        vec![
            alerting_to(news.clone(), &["a", "b"]),
            quiet(article("two", "2", "Rial falls")),
        ],
    );
    let other = article("three", "1", "Washington and Tehran agree on a hotline");
    commit(
        &store,
        &other.feed_url.clone(),
        vec![alerting_to(other, &["a"])],
    );
    let recent = store.recent().unwrap();
    let newest: Vec<_> = recent.matches.iter().map(|m| m.queued.clone()).collect();
    assert_eq!(newest.len(), 2, "two matches, both alerting");
    assert!(newest.iter().all(Option::is_some));
    let today = recent.days[&Utc::now().date_naive()];
    assert_eq!((today.matches, today.alerts), (2, 2));
    let counts = store.counts().unwrap();
    assert_eq!(counts.articles, 8);
    assert_eq!((counts.feeds, counts.stories), (3, 2));
    assert_eq!(counts.outbox.get("a"), Some(&2));
    assert_eq!(counts.outbox.get("b"), Some(&1));
    counts_agree(&store, "alerting commits");
    store
        .put_feed_state("https://four.example/rss", &FeedState::default())
        .unwrap();
    // The second write finds the feed stored and takes the swap, not the transaction: it
    // must still replace the state and count the feed once.
    let failing = FeedState {
        consecutive_failures: 1,
        ..FeedState::default()
    };
    store
        .put_feed_state("https://four.example/rss", &failing)
        .unwrap();
    assert_eq!(
        store.feed_state("https://four.example/rss").unwrap(),
        Some(failing)
    );
    counts_agree(&store, "a failed poll's feed state, twice");

    let (key, alert) = store.due_alerts("a", Utc::now(), 10).unwrap().remove(0);
    store.mark_sent(&key, &alert, Utc::now(), None).unwrap();
    counts_agree(&store, "a delivery");
    let (key, mut alert) = store.due_alerts("a", Utc::now(), 10).unwrap().remove(0);
    alert.attempts = 1;
    store.update_alert(&key, &alert).unwrap();
    counts_agree(&store, "a retry");
    store.move_to_dead(&key, &alert).unwrap();
    let (key, alert) = store.due_alerts("b", Utc::now(), 10).unwrap().remove(0);
    store.move_to_dead(&key, &alert).unwrap();
    assert_eq!(store.counts().unwrap().dead_letters(), 2);
    counts_agree(&store, "dead-lettering");
    assert_eq!(store.retry_dead(None, Utc::now()).unwrap(), 2);
    counts_agree(&store, "re-queueing the dead");

    store.prune(Utc::now() + chrono::Duration::days(1)).unwrap();
    let counts = store.counts().unwrap();
    assert_eq!(counts.articles, 8, "pruned articles stay as tombstones");
    assert_eq!((counts.stories, counts.sent), (0, 0));
    counts_agree(&store, "pruning");
}

#[test]
fn a_schema_2_store_is_counted_once_when_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let store = Store::open(&path, CACHE).unwrap();
        let news = article("one", "1", "US and Iran hold talks in Oman");
        commit(
            &store,
            &news.feed_url.clone(),
            vec![alerting(news), quiet(article("one", "2", "Rial falls"))],
        );
        store.close().unwrap();
    }
    // What a schema 2 parleyd wrote: no counts record.
    {
        let db = sled::open(&path).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.remove("counts").unwrap();
        meta.remove("recent").unwrap();
        meta.insert("schema_version", &2u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    std::fs::remove_file(path.join("parleyd-clean-shutdown.json")).unwrap();
    let store = Store::open(&path, CACHE).unwrap();
    let counts = store.counts().unwrap();
    assert_eq!((counts.articles, counts.feeds, counts.stories), (2, 1, 1));
    assert_eq!(counts.pending(), 1);
    counts_agree(&store, "the migration");
    let recent = store.recent().unwrap();
    assert_eq!(
        recent.matches.len(),
        1,
        "the status page's matches are rebuilt"
    );
    let (_, sinks) = recent.matches[0].queued.clone().unwrap();
    assert_eq!(sinks, ["hook"]);
    let today = recent.days[&Utc::now().date_naive()];
    assert_eq!((today.matches, today.alerts), (1, 1));
    drop(store);
    let db = sled::open(&path).unwrap();
    let schema = db
        .open_tree("meta")
        .unwrap()
        .get("schema_version")
        .unwrap()
        .unwrap();
    assert_eq!(schema.as_ref(), SCHEMA_VERSION.to_be_bytes());
    assert_eq!(SCHEMA_VERSION, 4);
}

fn json(value: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap()
}

/// The format byte a value starts with, read with sled itself.
fn first_bytes(path: &std::path::Path, tree: &str, keys: &[&[u8]]) -> Vec<u8> {
    let db = sled::open(path).unwrap();
    let tree = db.open_tree(tree).unwrap();
    keys.iter()
        .map(|key| tree.get(key).unwrap().expect("the record is there")[0])
        .collect()
}

/// Guaranteed: a store written before the compact values (schema 3: every article, feed
/// state and tombstone a JSON value) opens as schema 4 and reads as it did: each article
/// and feed state equal to what was written, a pruned article still known, nothing stored
/// or queued twice, counts and a full check sound. Its JSON values stay as they are (both
/// forms read, nothing is rewritten at open) while what is written from then on is
/// compact; an export shows either form as the same JSON, and an import writes it compact.
#[tokio::test]
async fn a_schema_3_store_of_json_values_reads_as_before_and_writes_compact_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let news = article("one", "1", "US and Iran hold talks in Oman");
    let rial = article("one", "2", "Rial falls");
    let pruned = article("two", "3", "Oil steady");
    let state = FeedState {
        title: Some("One".into()),
        etag: Some("\"v7\"".into()),
        body_hash: Some(u64::MAX - 7),
        first_poll_done: true,
        last_success: Some(Utc::now()),
        items_seen: 2,
        next_poll: Some(Utc::now() + chrono::Duration::minutes(5)),
        refresh_hint_secs: Some(600),
        ..FeedState::default()
    };
    let (stored_news, stored_rial) = {
        let store = Store::open(&path, CACHE).unwrap();
        let queued = commit(
            &store,
            &news.feed_url,
            vec![alerting(news.clone()), quiet(rial.clone())],
        );
        assert_eq!(queued.queued.len(), 1);
        commit(&store, &pruned.feed_url, vec![quiet(pruned.clone())]);
        store.put_feed_state(&news.feed_url, &state).unwrap();
        let read = |a: &Article| store.article(&a.store_key()).unwrap().unwrap();
        let both = (read(&news), read(&rial));
        store.close().unwrap();
        both
    };
    assert!(stored_news.opened_story());
    // What a schema 3 parleyd wrote: the same records, each value JSON after byte 1.
    {
        let db = sled::open(&path).unwrap();
        let articles = db.open_tree("articles").unwrap();
        articles
            .insert(news.store_key(), value(&stored_news))
            .unwrap();
        articles
            .insert(rial.store_key(), value(&stored_rial))
            .unwrap();
        articles
            .insert(
                pruned.store_key(),
                value(&serde_json::json!({"pruned": true})),
            )
            .unwrap();
        let feeds = db.open_tree("feeds").unwrap();
        feeds.insert(&news.feed_url, value(&state)).unwrap();
        let other = FeedState {
            first_poll_done: true,
            items_seen: 1,
            ..FeedState::default()
        };
        feeds.insert(&pruned.feed_url, value(&other)).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert("schema_version", &3u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    {
        let store = Store::open(&path, CACHE).unwrap();
        let read = store.article(&news.store_key()).unwrap().unwrap();
        assert_eq!(json(&read), json(&stored_news));
        assert_eq!(
            store.feed_state(&news.feed_url).unwrap(),
            Some(state.clone())
        );
        assert!(
            store.contains_article(&pruned).unwrap(),
            "a tombstone stays"
        );
        assert!(store.article(&pruned.store_key()).unwrap().is_none());
        assert_eq!(
            store
                .articles_since(chrono::DateTime::UNIX_EPOCH)
                .unwrap()
                .len(),
            2
        );
        let again = commit(
            &store,
            &news.feed_url,
            vec![
                alerting(news.clone()),
                quiet(rial.clone()),
                quiet(pruned.clone()),
            ],
        );
        assert_eq!((again.stored, again.queued.len()), (0, 0), "{again:?}");
        let later = article("one", "4", "Rial steadies");
        assert_eq!(
            commit(&store, &news.feed_url, vec![quiet(later.clone())]).stored,
            1
        );
        counts_agree(&store, "opening a schema 3 store");
        let report = store.check_all(Duration::from_secs(60)).unwrap();
        assert!(report.problems().is_empty(), "{:?}", report.problems());

        let mut export = Vec::new();
        store.export(&mut export).unwrap();
        let lines: Vec<serde_json::Value> = export
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect();
        let exported = |tree: &str, title: &str| {
            lines
                .iter()
                .find(|l| l["tree"] == tree && l["value"]["article"]["title"] == title)
                .unwrap_or_else(|| panic!("{title} is exported"))["value"]
                .clone()
        };
        assert_eq!(exported("articles", &news.title), json(&stored_news));
        let written_later = store.article(&later.store_key()).unwrap().unwrap();
        assert_eq!(exported("articles", &later.title), json(&written_later));
        let records = |l: &&serde_json::Value| l["tree"] == "articles" || l["tree"] == "feeds";
        assert_eq!(lines.iter().filter(records).count(), 6);
        assert!(
            lines.iter().filter(records).all(|l| l.get("raw").is_none()),
            "every article, tombstone and feed state is JSON"
        );
        store.close().unwrap();

        let copy = dir.path().join("copy");
        let imported = Store::open(&copy, CACHE).unwrap();
        imported.import(export.as_slice()).unwrap();
        let read = imported.article(&news.store_key()).unwrap().unwrap();
        assert_eq!(json(&read), json(&stored_news));
        imported.close().unwrap();
        drop(imported);
        let keys: [&[u8]; 2] = [&news.store_key(), &pruned.store_key()];
        assert_eq!(
            first_bytes(&copy, "articles", &keys),
            [2, 1],
            "imported compact"
        );
    }
    let keys: [&[u8]; 3] = [
        &news.store_key(),
        &pruned.store_key(),
        &article("one", "4", "").store_key(),
    ];
    assert_eq!(
        first_bytes(&path, "articles", &keys),
        [1, 1, 2],
        "JSON values stay; new ones are compact"
    );
    let urls: [&[u8]; 2] = [news.feed_url.as_bytes(), pruned.feed_url.as_bytes()];
    assert_eq!(
        first_bytes(&path, "feeds", &urls),
        [2, 1],
        "a feed state is compact once a poll writes it"
    );
    let db = sled::open(&path).unwrap();
    let schema = db.open_tree("meta").unwrap().get("schema_version").unwrap();
    assert_eq!(schema.unwrap().as_ref(), 4u32.to_be_bytes());
}

/// Guaranteed: an announcement and the meeting it announced are two stories even when
/// rewordings of the announcement kept coming until the meeting: the stage is timed from
/// the story's first report, which is kept on disk, not from its latest. Within 12 hours of
/// that first report, the day's talks previewed and then held are one story.
#[tokio::test]
async fn the_meeting_an_announcement_announced_is_news_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let now = Utc::now();
    let announced = published_at(
        article(
            "wire",
            "1",
            "US and Iran to hold talks in Muscat on Saturday",
        ),
        now,
    );
    let id = {
        let store = Store::open(&path, CACHE).unwrap();
        let id = commit_one(&store, alerting(announced), now).queued[0].clone();
        let at = now + chrono::Duration::hours(10);
        let again = published_at(
            article("daily", "2", "Oman to host US-Iran round on Saturday"),
            at,
        );
        assert!(commit_one(&store, alerting(again), at).queued.is_empty());
        id
    };
    let store = Store::open(&path, CACHE).unwrap();
    let story = store.story(&id).unwrap().unwrap();
    assert_eq!(story.opened, Some(now), "the first report's time is kept");

    let at = now + chrono::Duration::hours(20);
    let held = published_at(
        article("herald", "3", "US and Iranian envoys meet in Muscat"),
        at,
    );
    assert_eq!(
        commit_one(&store, alerting(held), at).queued.len(),
        1,
        "the meeting, 20 hours after its announcement, is news"
    );

    let preview_at = now + chrono::Duration::days(10);
    let preview = published_at(
        article("wire", "4", "US and Iran to hold talks in Geneva today"),
        preview_at,
    );
    assert_eq!(
        commit_one(&store, alerting(preview), preview_at)
            .queued
            .len(),
        1
    );
    let at = preview_at + chrono::Duration::hours(5);
    let begun = published_at(article("daily", "5", "US-Iran talks begin in Geneva"), at);
    assert!(
        commit_one(&store, alerting(begun), at).queued.is_empty(),
        "the day's talks previewed and begun hours later are one story"
    );
}

/// Guaranteed: the time a store first knew a feed is recorded once and kept across later
/// calls and a reopening (a restart must not move it).
#[test]
fn a_feeds_first_known_time_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let first = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let later = first + chrono::Duration::hours(5);
    {
        let store = Store::open(dir.path(), CACHE).unwrap();
        assert_eq!(
            store.feed_known_since("https://a.example/rss").unwrap(),
            None
        );
        assert_eq!(
            store
                .remember_feeds(["https://a.example/rss"], first)
                .unwrap(),
            1
        );
        let urls = ["https://a.example/rss", "https://b.example/rss"];
        assert_eq!(
            store.remember_feeds(urls, later).unwrap(),
            1,
            "only b is new"
        );
        store.check().unwrap();
    }
    let store = Store::open(dir.path(), CACHE).unwrap();
    assert_eq!(
        store.feed_known_since("https://a.example/rss").unwrap(),
        Some(first)
    );
    assert_eq!(
        store.feed_known_since("https://b.example/rss").unwrap(),
        Some(later)
    );
}
