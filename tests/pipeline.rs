//! End to end through the real binary: feed server → parleyd once → webhook receiver.

use crate::support::*;

const RELEVANT_RSS: (&str, &str, &str) = (
    "r-1",
    "US and Iran to resume indirect talks in Oman next week",
    "Envoys from Washington and Tehran will exchange messages through Omani mediators.",
);
const RELEVANT_JSON: (&str, &str, &str) = (
    "j-1",
    "Araghchi and Witkoff set up a direct channel of communication",
    "Iran's foreign minister and the US envoy agreed on a hotline for incidents at sea.",
);
const IRRELEVANT_ATOM: (&str, &str, &str) = (
    "a-1",
    "US imposes new sanctions on Iranian oil exports",
    "The Treasury named a network of tankers.",
);

fn webhook_config(feeds: &FeedServer, extra_feed_keys: &str) -> String {
    format!(
        r#"
[[feeds]]
url = "{rss}"
name = "rss feed"
{extra_feed_keys}

[[feeds]]
url = "{atom}"
name = "atom feed"

[[feeds]]
url = "{json}"
name = "json feed"

[[sinks]]
kind = "webhook"
name = "hook"
url = "${{HOOK_URL}}"
"#,
        rss = feeds.url("/rss.xml"),
        atom = feeds.url("/atom.xml"),
        json = feeds.url("/feed.json"),
    )
}

fn serve_all(
    feeds: &FeedServer,
    rss_items: &[(&str, &str, &str)],
    atom_items: &[(&str, &str, &str)],
    json_items: &[(&str, &str, &str)],
) {
    feeds.set("/rss.xml", Route::ok("application/rss+xml", rss(rss_items)));
    feeds.set(
        "/atom.xml",
        Route::ok("application/atom+xml", atom(atom_items)),
    );
    feeds.set(
        "/feed.json",
        Route::ok("application/feed+json", json_feed(json_items)),
    );
}

const BACKLOG_RSS: (&str, &str, &str) = (
    "old-1",
    "Iran and the US held talks in Geneva",
    "Washington and Tehran met through mediators.",
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relevant_new_items_alert_once_and_never_again_after_restart() {
    let feeds = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let dir = TestDir::new();
    let config = dir.config(&webhook_config(&feeds, ""));
    let hook = receiver.url("/hook");
    let env = [("HOOK_URL", hook.as_str())];

    // First poll: the backlog, relevant item included, is stored without alerting.
    serve_all(&feeds, &[BACKLOG_RSS], &[], &[]);
    let first = once(&config, &env).await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert!(receiver.received().is_empty(), "the backlog alerted");

    // New items arrive: two relevant (RSS, JSON Feed), one irrelevant (Atom).
    serve_all(
        &feeds,
        &[BACKLOG_RSS, RELEVANT_RSS],
        &[IRRELEVANT_ATOM],
        &[RELEVANT_JSON],
    );
    let second = once(&config, &env).await;
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    let received = receiver.received();
    assert_eq!(
        received.len(),
        2,
        "one POST per relevant item: {received:#?}"
    );
    let mut titles: Vec<String> = received
        .iter()
        .map(|r| r.json()["article"]["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        vec![RELEVANT_JSON.1.to_string(), RELEVANT_RSS.1.to_string()]
    );

    for post in &received {
        let body = post.json();
        assert_eq!(body["version"], 1);
        assert_eq!(body["type"], "parleyd.alert");
        let id = body["id"].as_str().unwrap();
        assert_eq!(id.len(), 32);
        assert_eq!(post.headers["webhook-id"].to_str().unwrap(), id);
        assert!(body["score"].as_f64().unwrap() >= 0.6);
        assert!(matches!(body["event"].as_str(), Some("talks" | "channel")));
        let reasons: Vec<&str> = body["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert!(
            reasons.iter().any(|r| r.starts_with("parties:")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|r| r.starts_with("event:")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|r| r.starts_with("sentence:")),
            "{reasons:?}"
        );
        assert!(
            body["article"]["link"]
                .as_str()
                .unwrap()
                .starts_with("https://")
        );
        assert!(body["article"]["published"].is_string());
        assert!(matches!(
            body["feed"]["name"].as_str(),
            Some("rss feed" | "json feed")
        ));
        assert!(
            body["feed"]["url"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:")
        );
    }
    let json_alert = received
        .iter()
        .map(Received::json)
        .find(|b| b["feed"]["name"] == "json feed")
        .unwrap();
    assert_eq!(json_alert["event"], "channel");

    // A restart on the same store: nothing new, nothing sent again.
    let third = once(&config, &env).await;
    assert_eq!(third.code, Some(0), "{}", third.stderr);
    assert_eq!(receiver.received().len(), 2, "a restart re-sent alerts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_on_first_poll_is_per_feed() {
    let feeds = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let dir = TestDir::new();
    let config = dir.config(&webhook_config(&feeds, "alert_on_first_poll = true"));
    let hook = receiver.url("/hook");
    serve_all(&feeds, &[RELEVANT_RSS], &[], &[RELEVANT_JSON]);
    let run = once(&config, &[("HOOK_URL", hook.as_str())]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let received = receiver.received();
    assert_eq!(
        received.len(),
        1,
        "only the opted-in feed alerts on its backlog"
    );
    assert_eq!(received[0].json()["feed"]["name"], "rss feed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_story_from_two_feeds_alerts_once() {
    let feeds = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let dir = TestDir::new();
    let config = dir.config(&format!(
        "[poll]\nalert_on_first_poll = true\n{}",
        webhook_config(&feeds, "")
    ));
    let hook = receiver.url("/hook");
    serve_all(
        &feeds,
        &[("x-1", "Iran and US hold new round of talks in Muscat", "")],
        &[(
            "y-1",
            "Iran, US hold new round of talks in Muscat - Wire",
            "",
        )],
        &[],
    );
    let run = once(&config, &[("HOOK_URL", hook.as_str())]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let received = receiver.received();
    assert_eq!(received.len(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("joined_story=1"), "{}", run.stderr);
    let body = received[0].json();
    let first = body["feed"]["name"].as_str().unwrap();
    let other = if first == "rss feed" {
        "atom feed"
    } else {
        "rss feed"
    };
    assert_eq!(body["also_reported_by"], serde_json::json!([other]));
    // The story, for receivers that thread: its id is the alert's (a story sends one
    // alert), and both feeds' reports are in it by the time `once` delivers.
    assert_eq!(body["story"]["id"], body["id"]);
    assert_eq!(body["story"]["reports"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_feed_and_a_500_do_not_stop_the_others() {
    let feeds = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let dir = TestDir::new();
    let config = dir.config(&format!(
        r#"
[poll]
alert_on_first_poll = true

[[feeds]]
url = "{broken}"
name = "broken xml"

[[feeds]]
url = "{down}"
name = "server error"

[[feeds]]
url = "{html}"
name = "html page"

[[feeds]]
url = "{truncated}"
name = "truncated"

[[feeds]]
url = "{good}"
name = "good feed"

[[sinks]]
kind = "webhook"
url = "${{HOOK_URL}}"
"#,
        broken = feeds.url("/broken.xml"),
        down = feeds.url("/down.xml"),
        html = feeds.url("/page.html"),
        truncated = feeds.url("/truncated.xml"),
        good = feeds.url("/good.xml"),
    ));
    feeds.set(
        "/broken.xml",
        Route::ok(
            "application/rss+xml",
            "<<< this is not XML, JSON or anything >>>",
        ),
    );
    feeds.set(
        "/truncated.xml",
        Route::ok(
            "application/rss+xml",
            "<rss version=\"2.0\"><channel><item><title>Markets close higher</title></item><item><title>cut off",
        ),
    );
    feeds.set("/down.xml", Route::status(500));
    feeds.set(
        "/page.html",
        Route::ok(
            "text/html",
            "<!DOCTYPE html><html><body>Sign in</body></html>",
        ),
    );
    feeds.set(
        "/good.xml",
        Route::ok("application/rss+xml", rss(&[RELEVANT_RSS])),
    );
    let hook = receiver.url("/hook");
    let run = once(&config, &[("HOOK_URL", hook.as_str())]).await;
    assert_eq!(
        run.code,
        Some(1),
        "failures make `once` exit 1: {}",
        run.stderr
    );
    assert_eq!(receiver.received().len(), 1, "the good feed still alerted");
    let failures: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("Feed poll failed"))
        .collect();
    assert_eq!(failures.len(), 3, "{}", run.stderr);
    assert!(
        failures.iter().any(|l| l.contains("feed=broken xml")),
        "{}",
        run.stderr
    );
    assert!(
        failures
            .iter()
            .any(|l| l.contains("feed=server error") && l.contains("HTTP 500"))
    );
    assert!(
        failures
            .iter()
            .any(|l| l.contains("feed=html page") && l.contains("got an HTML page"))
    );
    assert!(
        run.stderr.contains("feed=truncated") && run.stderr.contains("read leniently"),
        "a truncated feed's items still come through: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("feeds_ok=2 feeds_failed=3"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_titles_cannot_ping_or_inject_links_and_the_url_never_reaches_logs() {
    let feeds = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let dir = TestDir::new();
    let secret_path = "/services/T0SECRET/B0SECRET/tokentokentoken";
    let config = dir.config(&format!(
        r#"
[poll]
alert_on_first_poll = true

[[feeds]]
url = "{url}"

[[sinks]]
kind = "slack"
url = "${{SLACK_URL}}"
"#,
        url = feeds.url("/rss.xml"),
    ));
    feeds.set(
        "/rss.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[(
                "s-1",
                "<!channel> US and Iran resume talks <https://evil.example|click here> & more",
                "Washington and Tehran exchanged messages.",
            )]),
        ),
    );
    let slack = receiver.url(secret_path);
    // The first attempt is refused, so the failure path is logged too.
    receiver.script(&[500]);
    let first = once(&config, &[("SLACK_URL", slack.as_str())]).await;
    assert_eq!(first.code, Some(1), "a failed delivery makes `once` exit 1");
    assert!(first.stderr.contains("HTTP 500"), "{}", first.stderr);
    // The retry is due after the back-off (2 s base, jitter to as little as half), at the
    // time the store recorded for it.
    let due = dir.read_store(|store| store.pending_alerts().unwrap()[0].next_attempt);
    sleep_past(due).await;
    let second = once(&config, &[("SLACK_URL", slack.as_str())]).await;
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].headers["webhook-id"], received[1].headers["webhook-id"],
        "a retry carries the same alert id"
    );
    let body = String::from_utf8(received[1].body.clone()).unwrap();
    let payload: serde_json::Value = serde_json::from_str(&body).unwrap();
    let section = payload["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(section.contains("&lt;!channel&gt;"), "{section}");
    assert!(
        section.contains("&lt;https://evil.example|click here&gt; &amp; more"),
        "{section}"
    );
    for text in [section, payload["text"].as_str().unwrap()] {
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(!text.contains("<https://evil.example"), "{text}");
    }
    for output in [&first.stderr, &first.stdout, &second.stderr, &second.stdout] {
        assert!(!output.contains("T0SECRET"), "secret leaked: {output}");
        assert!(
            !output.contains("tokentokentoken"),
            "secret leaked: {output}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_sink_does_not_stop_another() {
    let feeds = FeedServer::start().await;
    let broken = WebhookReceiver::start().await;
    let healthy = WebhookReceiver::start().await;
    let dir = TestDir::new();
    broken.script(&[503, 503, 503]);
    let config = dir.config(&format!(
        r#"
[poll]
alert_on_first_poll = true

[[feeds]]
url = "{feed}"

[[sinks]]
kind = "webhook"
name = "broken"
url = "{broken}"

[[sinks]]
kind = "webhook"
name = "healthy"
url = "{healthy}"
"#,
        feed = feeds.url("/rss.xml"),
        broken = broken.url("/hook"),
        healthy = healthy.url("/hook"),
    ));
    feeds.set(
        "/rss.xml",
        Route::ok("application/rss+xml", rss(&[RELEVANT_RSS])),
    );
    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(healthy.received().len(), 1);
    assert_eq!(broken.received().len(), 1);
    assert!(
        run.stderr.contains("sink=broken") && run.stderr.contains("HTTP 503"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_or_redated_item_does_not_alert_again() {
    let feeds = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let dir = TestDir::new();
    let config = dir.config(&format!(
        "[poll]\nalert_on_first_poll = true\n[[feeds]]\nurl = \"{}\"\n\
         [[sinks]]\nkind = \"webhook\"\nurl = \"{}\"\n",
        feeds.url("/feed.xml"),
        receiver.url("/hook")
    ));
    let item = |title: &str, date: &str, guid: bool| {
        let guid = if guid { "<guid>edit-1</guid>" } else { "" };
        format!(
            "<rss version=\"2.0\"><channel><title>t</title><item>{guid}<title>{title}</title>\
             <link>https://news.example/edit-1</link><pubDate>{date}</pubDate></item></channel></rss>"
        )
    };
    let now = chrono::Utc::now();
    let today = now.to_rfc2822();
    let later = (now + chrono::Duration::hours(2)).to_rfc2822();
    feeds.set(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            item("US and Iran resume talks in Oman", &today, true),
        ),
    );
    assert_eq!(once(&config, &[]).await.code, Some(0));
    assert_eq!(receiver.received().len(), 1);
    // The publisher rewrites the headline and re-dates the item.
    feeds.set(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            item(
                "UPDATE: US and Iran resume nuclear talks in Muscat, Oman",
                &later,
                true,
            ),
        ),
    );
    assert_eq!(once(&config, &[]).await.code, Some(0));
    // And later drops the guid, leaving only the same link.
    feeds.set(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            item("US, Iran resume talks", &later, false),
        ),
    );
    assert_eq!(once(&config, &[]).await.code, Some(0));
    assert_eq!(
        receiver.received().len(),
        1,
        "edits and re-dating alerted again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_and_replay_read_the_store_without_sending() {
    let feeds = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let dir = TestDir::new();
    let config = dir.config(&webhook_config(&feeds, ""));
    serve_all(
        &feeds,
        &[BACKLOG_RSS, RELEVANT_RSS],
        &[IRRELEVANT_ATOM],
        &[RELEVANT_JSON],
    );
    let hook = receiver.url("/hook");
    let run = once(&config, &[("HOOK_URL", hook.as_str())]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(receiver.received().is_empty(), "the backlog stays quiet");

    let args = |cmd: &'static [&'static str]| {
        let mut full = vec!["--config", config.to_str().unwrap()];
        full.extend_from_slice(cmd);
        full
    };
    let env = [("HOOK_URL", hook.as_str())];
    let stats = parleyd(&args(&["stats", "--json"]), &env, b"").await;
    assert_eq!(stats.code, Some(0), "{}", stats.stderr);
    let stats: serde_json::Value = serde_json::from_str(&stats.stdout).unwrap();
    assert_eq!(stats["articles"], 4);
    assert_eq!(stats["feeds"], 3);

    let replay = parleyd(&args(&["replay", "--since", "1h"]), &env, b"").await;
    assert_eq!(replay.code, Some(0), "{}", replay.stderr);
    assert_eq!(replay.stdout.lines().count(), 3, "{}", replay.stdout);
    assert!(
        replay.stderr.contains("3 of 4 stored articles"),
        "{}",
        replay.stderr
    );
    assert!(receiver.received().is_empty(), "replay sends nothing");
}

/// Guaranteed: news first seen in a feed's backlog (its first poll, which never alerts) is
/// remembered as a story, so a copy of it from another feed later does not alert as new;
/// other news still does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn news_already_in_a_backlog_does_not_alert_from_another_feed() {
    let feeds = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let dir = TestDir::new();
    let config = dir.config(&webhook_config(&feeds, ""));
    let hook = receiver.url("/hook");
    let env = [("HOOK_URL", hook.as_str())];
    let backlog = ("b-1", "US and Iranian envoys meet in Muscat", "");
    serve_all(&feeds, &[backlog], &[IRRELEVANT_ATOM], &[]);
    let run = once(&config, &env).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(receiver.received().is_empty(), "first polls never alert");

    let reworded = (
        "c-1",
        "US, Iranian envoys meet in Muscat, officials say",
        "",
    );
    serve_all(&feeds, &[backlog], &[IRRELEVANT_ATOM, reworded], &[]);
    let run = once(&config, &env).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        receiver.received().is_empty(),
        "the backlog's news reworded by another feed is not news: {}",
        run.stderr
    );

    let other = ("d-1", "US and Iran hold a second meeting in Geneva", "");
    serve_all(&feeds, &[backlog], &[IRRELEVANT_ATOM, reworded, other], &[]);
    let run = once(&config, &env).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let received = receiver.received();
    assert_eq!(received.len(), 1, "{}", run.stderr);
    assert_eq!(received[0].json()["article"]["title"], other.1);
}

/// Guaranteed: a feed with more items than `poll.max_items` (500 by default) has only
/// its 500 newest stored, whatever their order in the feed, and the rest are counted in
/// one warning per poll (not one per item).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_feed_is_cut_to_its_newest_items() {
    let feeds = FeedServer::start().await;
    let dir = TestDir::new();
    let total: i64 = 2000;
    let newest = chrono::Utc::now() - chrono::Duration::hours(1);
    // Oldest first, as some feeds list them, so keeping the first 500 would be wrong.
    let mut body =
        String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Huge</title>\n");
    for i in 0..total {
        let published = newest - chrono::Duration::minutes(total - 1 - i);
        body.push_str(&format!(
            "<item><guid>item-{i}</guid><title>Local notice {i}</title><pubDate>{}</pubDate></item>\n",
            published.to_rfc2822()
        ));
    }
    body.push_str("</channel></rss>\n");
    feeds.set("/huge.xml", Route::ok("application/rss+xml", body));
    let config = dir.config(&format!(
        "[[feeds]]\nurl = \"{}\"\nname = \"huge\"\n",
        feeds.url("/huge.xml")
    ));
    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.contains("poll.max_items"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning per poll:\n{}", run.stderr);
    assert!(warnings[0].contains("skipped=1500"), "{}", warnings[0]);
    let stored = dir.read_store(|store| {
        store
            .articles_since(newest - chrono::Duration::days(30))
            .unwrap()
    });
    assert_eq!(stored.len(), 500);
    let mut numbers: Vec<i64> = stored
        .iter()
        .map(|stored| {
            stored
                .article
                .key
                .trim_start_matches("id:item-")
                .parse()
                .unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1500..total).collect::<Vec<_>>(), "the newest 500");
}
