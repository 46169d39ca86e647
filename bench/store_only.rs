//! The store's share of a cold start, alone: commits FEEDS polls of ITEMS new, classified
//! articles into a fresh store (feed after feed, as a cold `once` does), then flushes.
//!
//!     cargo build --release --locked -p parleyd-bench --bin store_only
//!     /usr/bin/time -f '%e s wall, %U s user, %S s sys, %M KB' \
//!         target/release/store_only [FEEDS [ITEMS]]     # default 1000 x 50
//!
//! No HTTP, parsing or classifying is timed: the articles and their verdicts are built
//! before the clock starts. BENCHMARKS.md compares the result with the load benchmark's
//! floor (fetch, gunzip and tokenise every body).

#[path = "../benches/support/mod.rs"]
mod support;

use chrono::Utc;
use parleyd::Verdict;
use parleyd::classify::{Classifier, DEFAULT_PROFILE, builtin_profile};
use parleyd::config::DEFAULT_CACHE_CAPACITY;
use parleyd::parse::{ParsedFeed, Source, parse_feed};
use parleyd::store::{NewArticle, Store};
use std::time::Instant;
use support::{commit, new_articles};

/// About the length of the farm's leads once their markup is stripped.
const LEAD: &str = "Officials from both governments met for several hours on Saturday, \
    according to diplomats familiar with the meeting, who said the discussions covered \
    prisoner releases, shipping incidents in the Gulf and the sequencing of sanctions relief.";

fn main() {
    let mut args = std::env::args().skip(1);
    let feeds = number(args.next(), 1000);
    let items = number(args.next(), 50);
    let parsed = sample_feed(items);
    let classifier = Classifier::new(
        builtin_profile(DEFAULT_PROFILE).expect("the default profile"),
        None,
    );
    let verdicts: Vec<Verdict> = parsed
        .articles
        .iter()
        .map(|a| classifier.classify_article(a))
        .collect();
    // Every feed's first poll: every article new and classified, none alerting (a cold
    // start with the default `alert_on_first_poll = false`).
    let polls: Vec<(String, Vec<NewArticle>)> = (0..feeds)
        .map(|feed| new_articles(&parsed, &verdicts, feed, 0))
        .collect();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(&dir.path().join("store"), DEFAULT_CACHE_CAPACITY).expect("a store");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let start = Instant::now();
    for (feed_url, articles) in polls {
        commit(&store, &feed_url, articles);
    }
    runtime.block_on(store.flush()).expect("a flush");
    let took = start.elapsed();
    let size = store.stats().expect("store stats").size_on_disk;
    println!(
        "{feeds} feeds x {items} articles committed and flushed in {:.2} s \
         ({:.0} articles/s), {:.1} MB on disk",
        took.as_secs_f64(),
        (feeds * items) as f64 / took.as_secs_f64(),
        size as f64 / 1e6
    );
}

fn number(arg: Option<String>, default: usize) -> usize {
    arg.map_or(default, |a| a.parse().expect("FEEDS and ITEMS are numbers"))
}

/// An RSS feed of `items` news items, a fifth of them on topic, parsed.
fn sample_feed(items: usize) -> ParsedFeed {
    let mut body = String::from("<rss version=\"2.0\"><channel><title>Store only</title>");
    for i in 0..items {
        let title = if i % 5 == 0 {
            format!("US and Iran hold round {i} of indirect talks in Muscat")
        } else {
            format!("Markets edge higher as investors weigh earnings, day {i}")
        };
        body.push_str(&format!(
            "<item><guid>urn:store-only:{i}</guid><title>{title}</title>\
             <link>http://127.0.1.2:18080/a/{i}</link>\
             <pubDate>Fri, 20 Nov 2026 09:12:00 GMT</pubDate>\
             <description>{LEAD}</description></item>"
        ));
    }
    body.push_str("</channel></rss>");
    let url = url::Url::parse("http://127.0.1.1:18080/feed/0").expect("a URL");
    let source = Source {
        name: "Store only",
        url: &url,
    };
    parse_feed(body.as_bytes(), None, source, Utc::now()).expect("the sample feed parses")
}
