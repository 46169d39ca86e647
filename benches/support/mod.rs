//! Store commits shared by the criterion benchmarks (`benches/pipeline.rs`) and the
//! store-only load run (`bench/store_only.rs`).

use chrono::Utc;
use parleyd::Verdict;
use parleyd::parse::ParsedFeed;
use parleyd::store::{FeedState, NewArticle, PollCommit, Store};
use std::hint::black_box;
use std::time::Duration;

/// One poll's commit, as the daemon makes it for articles that raise no alert.
pub fn commit(store: &Store, feed_url: &str, articles: Vec<NewArticle>) {
    let commit = PollCommit {
        feed_url,
        state: FeedState::default(),
        articles,
        story_window: Duration::from_secs(3600),
        join_window: parleyd::classify::story::STORY_JOIN_WINDOW,
        now: Utc::now(),
    };
    black_box(store.commit_poll(&commit).unwrap());
}

/// A parsed feed's articles as new, quiet articles of feed number `feed`, with `verdicts`
/// (one per article), and keys unique to `round` so every commit stores them all.
pub fn new_articles(
    parsed: &ParsedFeed,
    verdicts: &[Verdict],
    feed: usize,
    round: u64,
) -> (String, Vec<NewArticle>) {
    let feed_url = format!("https://bench{feed}.example/feed.xml");
    let articles = parsed
        .articles
        .iter()
        .zip(verdicts)
        .map(|(a, verdict)| {
            let mut article = a.clone();
            article.feed_url = feed_url.clone();
            article.key = format!("{}-{round}", a.key);
            article.link = a.link.as_ref().map(|l| format!("{l}/{feed}/{round}"));
            NewArticle::Quiet {
                verdict: Some(verdict.clone()),
                article,
            }
        })
        .collect();
    (feed_url, articles)
}
