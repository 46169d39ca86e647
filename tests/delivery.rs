//! Delivery features: signatures, routing, mentions, dead-lettering by age.

use crate::support::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn feed_with(items: &[(&str, &str, &str)]) -> (String, Route) {
    (
        "/rss.xml".to_string(),
        Route::ok("application/rss+xml", rss(items)),
    )
}

/// Verifies a Standard Webhooks signature with the hmac crate directly, independently of
/// parleyd's own signing code.
fn verify(received: &Received) -> bool {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let header = |name: &str| received.headers[name].to_str().unwrap().to_string();
    let key = base64::engine::general_purpose::STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let signed = format!(
        "{}.{}.{}",
        header("webhook-id"),
        header("webhook-timestamp"),
        String::from_utf8(received.body.clone()).unwrap()
    );
    let signature = header("webhook-signature");
    let Some(encoded) = signature.strip_prefix("v1,") else {
        return false;
    };
    let given = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    mac.verify_slice(&given).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_and_routes_pick_the_sinks() {
    let feeds = FeedServer::start().await;
    let signed = WebhookReceiver::start().await;
    let channels_only = WebhookReceiver::start().await;
    let picky = WebhookReceiver::start().await;
    let (path, route) = feed_with(&[
        ("t-1", "US and Iran hold indirect talks in Oman", ""),
        ("c-1", "Washington and Tehran agree to open a hotline", ""),
    ]);
    feeds.set(&path, route);
    let dir = TestDir::new();
    // The rules alone: their scores (about 0.8 here) sit well below the picky sink's
    // floor, where a model's probabilities for such clear headlines come close to 1.
    let rules = dir.path().join("rules.toml");
    let mut profile =
        parleyd::classify::builtin_profile(parleyd::classify::DEFAULT_PROFILE).unwrap();
    profile.model = None;
    std::fs::write(&rules, profile.to_toml()).unwrap();
    let config = dir.config(&format!(
        r#"
[poll]
alert_on_first_poll = true

[classifier]
profile = "{rules}"

[[feeds]]
url = "{feed}"
name = "wire"

[[sinks]]
kind = "webhook"
name = "signed"
url = "{signed}"
secret = "${{HOOK_SECRET}}"

[[sinks]]
kind = "webhook"
name = "channels"
url = "{channels}"
events = ["channel"]
feeds = ["wire"]

[[sinks]]
kind = "webhook"
name = "picky"
url = "{picky}"
min_score = 0.99
"#,
        feed = feeds.url(&path),
        signed = signed.url("/hook"),
        channels = channels_only.url("/hook"),
        picky = picky.url("/hook"),
        rules = rules.display(),
    ));
    let run = once(&config, &[("HOOK_SECRET", SECRET)]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        !run.stderr.contains("MfKQ9r8"),
        "the secret reached the log"
    );

    let received = signed.received();
    assert_eq!(received.len(), 2);
    for post in &received {
        assert!(verify(post), "signature did not verify: {:?}", post.headers);
    }
    let channel_posts = channels_only.received();
    assert_eq!(channel_posts.len(), 1);
    assert_eq!(channel_posts[0].json()["event"], "channel");
    assert!(picky.received().is_empty(), "no alert scores 0.99");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_signing_secret_or_route_is_a_config_problem() {
    let dir = TestDir::new();
    let config = dir.config(
        r#"
[[feeds]]
url = "https://example.org/a.xml"
name = "a"

[[sinks]]
kind = "webhook"
url = "https://hooks.example/x"
secret = "${HOOK_SECRET}"
feeds = ["b"]
events = ["war"]
min_score = 2

[[sinks]]
kind = "slack"
url = "https://hooks.example/y"
mention = "someone"
secret = "${HOOK_SECRET}"
"#,
    );
    let run = check_config(&config, &[("HOOK_SECRET", "plain-t0ps3cret")]).await;
    assert_eq!(run.code, Some(2));
    for key in [
        "sinks[0].secret",
        "sinks[0].feeds[0]",
        "sinks[0].events[0]",
        "sinks[0].min_score",
        "sinks[1].mention",
        "sinks[1].secret",
    ] {
        assert!(
            run.stderr.contains(&format!(": {key}: ")),
            "{key}: {}",
            run.stderr
        );
    }
    assert!(!run.stderr.contains("t0ps3cret"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_mentions_only_when_configured() {
    let feeds = FeedServer::start().await;
    let quiet = WebhookReceiver::start().await;
    let loud = WebhookReceiver::start().await;
    let (path, route) = feed_with(&[("t-1", "US and Iran hold indirect talks in Oman", "")]);
    feeds.set(&path, route);
    let dir = TestDir::new();
    let config = dir.config(&format!(
        "[poll]\nalert_on_first_poll = true\n[[feeds]]\nurl = \"{}\"\n\
         [[sinks]]\nkind = \"slack\"\nname = \"quiet\"\nurl = \"{}\"\n\
         [[sinks]]\nkind = \"slack\"\nname = \"loud\"\nurl = \"{}\"\nmention = \"here\"\n",
        feeds.url(&path),
        quiet.url("/q"),
        loud.url("/l"),
    ));
    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let quiet_text = quiet.received()[0].json()["text"]
        .as_str()
        .unwrap()
        .to_string();
    let loud_text = loud.received()[0].json()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!quiet_text.contains("<!"), "{quiet_text}");
    assert!(loud_text.starts_with("<!here> "), "{loud_text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_older_than_max_age_is_dead_lettered_not_sent() {
    let feeds = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    receiver.script(&[503]);
    let (path, route) = feed_with(&[("t-1", "US and Iran hold indirect talks in Oman", "")]);
    feeds.set(&path, route);
    let dir = TestDir::new();
    let config = dir.config(&one_feed_to_webhook(
        "[poll]\nalert_on_first_poll = true\n[delivery]\nmax_age = \"1s\"\nretry_base = \"100ms\"\n",
        &feeds.url(&path),
        &receiver.url("/hook"),
    ));
    let first = once(&config, &[]).await;
    assert_eq!(
        first.code,
        Some(1),
        "the first attempt fails: {}",
        first.stderr
    );
    // The alert is too old once `max_age` (1 s) has passed since it was queued.
    let queued = dir.read_store(|store| store.pending_alerts().unwrap()[0].created);
    sleep_past(queued + chrono::Duration::seconds(1)).await;
    let second = once(&config, &[]).await;
    assert_eq!(second.code, Some(1), "{}", second.stderr);
    assert!(
        second.stderr.contains("too old to send"),
        "{}",
        second.stderr
    );
    assert_eq!(
        receiver.received().len(),
        1,
        "no second attempt after max_age"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_listed_retried_from_dead_letters_and_sinks_can_be_tested() {
    let feeds = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    receiver.script(&[500]);
    let (path, route) = feed_with(&[("t-1", "US and Iran hold indirect talks in Oman", "")]);
    feeds.set(&path, route);
    let dir = TestDir::new();
    let config = dir.config(&format!(
        "[poll]\nalert_on_first_poll = true\n[delivery]\nmax_attempts = 1\n\
         [[feeds]]\nurl = \"{}\"\n[[sinks]]\nkind = \"webhook\"\nname = \"hook\"\nurl = \"{}\"\n",
        feeds.url(&path),
        receiver.url("/hook"),
    ));
    let config_arg = config.to_str().unwrap();
    let alerts = |args: &'static [&'static str]| {
        let mut full = vec!["--config", config_arg, "alerts"];
        full.extend_from_slice(args);
        async move { parleyd(&full, &[], b"").await }
    };
    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);

    let dead = alerts(&["--state", "dead", "--json"]).await;
    assert_eq!(dead.code, Some(0), "{}", dead.stderr);
    let rows: Vec<serde_json::Value> = dead
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{}", dead.stdout);
    assert_eq!(rows[0]["state"], "dead");
    assert_eq!(rows[0]["last_error"], "the receiver answered HTTP 500");
    let id = rows[0]["id"].as_str().unwrap().to_string();

    let table = alerts(&[]).await;
    assert!(table.stdout.contains(&id), "{}", table.stdout);
    assert!(table.stdout.contains("dead"), "{}", table.stdout);

    let retry = alerts(&["retry", "--all-dead"]).await;
    assert_eq!(retry.code, Some(0), "{}", retry.stderr);
    assert!(retry.stdout.contains("re-queued 1"), "{}", retry.stdout);
    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].headers["webhook-id"].to_str().unwrap(), id);

    let sent = alerts(&["--state", "sent", "--json"]).await;
    assert!(
        sent.stdout.contains(&format!("\"id\":\"{id}\"")),
        "{}",
        sent.stdout
    );
    assert!(
        sent.stdout.contains("\"state\":\"sent\""),
        "{}",
        sent.stdout
    );
    let nothing_dead = alerts(&["retry", "--all-dead"]).await;
    assert_eq!(nothing_dead.code, Some(1));

    let test = alerts(&["test", "hook"]).await;
    assert_eq!(test.code, Some(0), "{}", test.stderr);
    let last = receiver.received().last().unwrap().json();
    assert!(
        last["article"]["title"]
            .as_str()
            .unwrap()
            .contains("test alert")
    );
    let unknown = alerts(&["test", "nope"]).await;
    assert_eq!(unknown.code, Some(2));
    assert!(
        unknown.stderr.contains("no sink named `nope`"),
        "{}",
        unknown.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_capped_and_the_excess_arrives_as_one_digest() {
    let feeds = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    // Five stories published at the same moment: each names another place, so the story
    // rule (which joins reports close in time unless a marker differs) keeps them apart.
    let (path, route) = feed_with(&[
        ("a", "US and Iran hold talks on prisoners in Geneva", ""),
        (
            "b",
            "Washington and Tehran open a hotline for naval incidents in Bahrain",
            "",
        ),
        (
            "c",
            "Iran ready to negotiate with US on enrichment limits in Vienna",
            "",
        ),
        (
            "d",
            "Oman delivers Trump letter to Iran's supreme leader",
            "",
        ),
        (
            "e",
            "Witkoff and Araghchi agree on a new back channel in Qatar",
            "",
        ),
    ]);
    feeds.set(&path, route);
    let dir = TestDir::new();
    let config = dir.config(&format!(
        "[poll]\nalert_on_first_poll = true\n[[feeds]]\nurl = \"{}\"\n\
         [[sinks]]\nkind = \"webhook\"\nurl = \"{}\"\nflood_limit = 2\nflood_window = \"2s\"\n",
        feeds.url(&path),
        receiver.url("/hook"),
    ));
    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        receiver.received().len(),
        2,
        "only the limit goes out at once"
    );
    assert!(run.stderr.contains("Flood guard"), "{}", run.stderr);

    // The window (2 s) is empty again once the last message sent in it has left it.
    let last = dir.read_store(|store| {
        let sent = store.sent_alerts().unwrap();
        sent.iter().map(|s| s.sent_at).max().unwrap()
    });
    sleep_past(last + chrono::Duration::seconds(2)).await;
    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let received = receiver.received();
    assert_eq!(received.len(), 3, "then one digest, never more");
    let digest = received[2].json();
    assert_eq!(digest["type"], "parleyd.digest");
    assert_eq!(digest["count"], 3);
    assert_eq!(
        received[2].headers["webhook-id"].to_str().unwrap(),
        digest["id"].as_str().unwrap()
    );
    let mut titles: Vec<String> = received[..2]
        .iter()
        .map(|r| r.json()["article"]["title"].as_str().unwrap().to_string())
        .chain(
            digest["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["article"]["title"].as_str().unwrap().to_string()),
        )
        .collect();
    titles.sort();
    titles.dedup();
    assert_eq!(
        titles.len(),
        5,
        "every alert arrived exactly once: {titles:?}"
    );
}

/// A receiver that refuses an alert with a 4xx other than 408 and 429 (a deleted webhook,
/// a revoked token) will refuse it again: the alert goes to the dead-letter list on the
/// first answer, with the status in its reason, and is not retried. 408 and 429 are retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_refusing_with_a_4xx_dead_letters_at_once_but_408_and_429_are_retried() {
    for (status, dead) in [
        (404, true),
        (410, true),
        (403, true),
        (408, false),
        (429, false),
    ] {
        let feeds = FeedServer::start().await;
        let receiver = WebhookReceiver::start().await;
        receiver.script(&[status]);
        let (path, route) = feed_with(&[("t-1", "US and Iran hold indirect talks in Oman", "")]);
        feeds.set(&path, route);
        let dir = TestDir::new();
        let config = dir.config(&one_feed_to_webhook(
            "[poll]\nalert_on_first_poll = true\n",
            &feeds.url(&path),
            &receiver.url("/hook"),
        ));
        let run = once(&config, &[]).await;
        assert_eq!(run.code, Some(1), "{status}: {}", run.stderr);
        let listed = parleyd(
            &["--config", config.to_str().unwrap(), "alerts", "--json"],
            &[],
            b"",
        )
        .await;
        let row: serde_json::Value = serde_json::from_str(listed.stdout.trim()).unwrap();
        let reason = row["last_error"].as_str().unwrap_or_default();
        assert!(
            reason.contains(&format!("HTTP {status}")),
            "{status}: {row}"
        );
        assert_eq!(row["attempts"], 1, "{status}: {row}");
        if dead {
            assert_eq!(row["state"], "dead", "{status}: {row}");
            assert!(reason.contains("not retried"), "{status}: {row}");
        } else {
            assert_eq!(row["state"], "pending", "{status}: {row}");
        }
        assert_eq!(receiver.received().len(), 1, "{status}");
    }
}
