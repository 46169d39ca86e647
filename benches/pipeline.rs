//! Throughput of the per-article hot path: parse, classify, store commit.
//!
//! Run with `cargo bench --bench pipeline`. `cargo test --all-targets` runs each benchmark
//! once as a smoke test.

mod support;

use chrono::Utc;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use parleyd::Verdict;
use parleyd::classify::{Classifier, DEFAULT_PROFILE, builtin_profile};
use parleyd::parse::{ParsedFeed, Source, parse_feed};
use parleyd::store::{NewArticle, Store};
use std::hint::black_box;
use support::{commit, new_articles};

const LEAD: &str = "Officials from both governments met for several hours on Saturday, according to \
    diplomats familiar with the meeting, who said the discussions covered prisoner releases, \
    shipping incidents in the Gulf and the sequencing of sanctions relief. Neither side \
    commented publicly on the substance, but a spokesman said a further meeting was likely \
    within weeks. Analysts cautioned that previous rounds had produced little, and that \
    domestic politics in both capitals limit what negotiators can offer before elections.";

/// A 50-item RSS feed of news-like items, a fifth of them on topic.
fn sample_feed() -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Bench</title>",
    );
    for i in 0..50 {
        let title = if i % 5 == 0 {
            format!("US and Iran hold round {i} of indirect talks in Muscat")
        } else {
            format!("Markets edge higher as investors weigh earnings, day {i}")
        };
        out.push_str(&format!(
            "<item><guid>bench-{i}</guid><title>{title}</title><link>https://bench.example/{i}</link>\
             <pubDate>Fri, 20 Nov 2026 09:12:00 GMT</pubDate><description>&lt;p&gt;{LEAD}&lt;/p&gt;</description></item>"
        ));
    }
    out.push_str("</channel></rss>");
    out
}

fn parse(feed: &str) -> ParsedFeed {
    let url = url::Url::parse("https://bench.example/feed.xml").unwrap();
    let source = Source {
        name: "bench",
        url: &url,
    };
    parse_feed(feed.as_bytes(), None, source, Utc::now()).unwrap()
}

fn bench_parse(c: &mut Criterion) {
    let feed = sample_feed();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(feed.len() as u64));
    group.bench_function("rss_50_items", |b| {
        b.iter(|| black_box(parse(black_box(&feed)).articles.len()))
    });
    group.finish();
}

/// The team's labelled headlines, each with a lead of about 600 characters (its own lead,
/// padded with news-like text), so the benchmark sees varied vocabulary.
fn labelled_articles() -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/corpus/us-iran/labelled/team.jsonl"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let item: serde_json::Value = serde_json::from_str(line).unwrap();
            let mut lead = item["summary"].as_str().unwrap_or("").to_string();
            for word in LEAD.split(' ') {
                if lead.len() >= 600 {
                    break;
                }
                lead.push(' ');
                lead.push_str(word);
            }
            (item["title"].as_str().unwrap().to_string(), lead)
        })
        .collect()
}

fn bench_classify(c: &mut Criterion) {
    let classifier = Classifier::new(builtin_profile(DEFAULT_PROFILE).unwrap(), None);
    let articles = labelled_articles();
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(articles.len() as u64));
    group.bench_function("headline_and_600_char_lead", |b| {
        b.iter(|| {
            for (title, lead) in &articles {
                black_box(classifier.classify(black_box(title), black_box(lead)));
            }
        })
    });
    group.finish();
}

fn bench_store(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), 64 << 20).unwrap();
    let parsed = parse(&sample_feed());
    let feed_url = parsed.articles[0].feed_url.clone();
    let mut round = 0u64;
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(parsed.articles.len() as u64));
    group.bench_function("commit_50_new_articles", |b| {
        b.iter_batched(
            || {
                round += 1;
                parsed
                    .articles
                    .iter()
                    .map(|a| {
                        let mut article = a.clone();
                        article.key = format!("{}-{round}", a.key);
                        NewArticle::Quiet {
                            article,
                            verdict: None,
                        }
                    })
                    .collect::<Vec<_>>()
            },
            |articles| commit(&store, &feed_url, articles),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Feeds already in the store when the many-feed benchmark starts.
const STORED_FEEDS: usize = 1000;

/// Whether criterion measures (`cargo bench`) rather than runs each benchmark once as a
/// test (`cargo test --all-targets`), where filling a large store would only cost time.
fn measuring() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// A poll's new articles committed into a store that already holds 1000 feeds of 50
/// articles (the daemon's default cache size), feed after feed, as a running daemon does.
/// Unlike `commit_50_new_articles`, each commit lands among other feeds' articles and
/// looks up its feed's stored articles first.
fn bench_store_many_feeds(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &dir.path().join("store"),
        parleyd::config::DEFAULT_CACHE_CAPACITY,
    )
    .unwrap();
    let classifier = Classifier::new(builtin_profile(DEFAULT_PROFILE).unwrap(), None);
    let parsed = parse(&sample_feed());
    let verdicts: Vec<Verdict> = parsed
        .articles
        .iter()
        .map(|a| classifier.classify_article(a))
        .collect();
    let stored_feeds = if measuring() { STORED_FEEDS } else { 10 };
    for feed in 0..stored_feeds {
        let (feed_url, articles) = new_articles(&parsed, &verdicts, feed, 0);
        commit(&store, &feed_url, articles);
    }
    let mut round = 0u64;
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(parsed.articles.len() as u64));
    group.bench_function("commit_50_new_articles_among_1000_feeds", |b| {
        b.iter_batched(
            || {
                round += 1;
                let feed = (round as usize * 7919) % stored_feeds;
                new_articles(&parsed, &verdicts, feed, round)
            },
            |(feed_url, articles)| commit(&store, &feed_url, articles),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_parse,
    bench_classify,
    bench_store,
    bench_store_many_feeds
);
criterion_main!(benches);
