//! Article text → Slack and webhook payloads: nothing from a feed can ping, open a link of
//! its own, or change the webhook body's fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parleyd::model::{Alert, Article, Verdict};
use parleyd::notify::{slack, webhook};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\u{1}');
    let title = parts.next().unwrap_or_default().to_string();
    let link = parts.next().map(str::to_string);
    let summary = parts.next().unwrap_or_default().to_string();
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let alert = Alert {
        id: "0123456789abcdef0123456789abcdef".to_string(),
        sink: "fuzz".to_string(),
        article: Article {
            key: format!("id:{title}"),
            feed: summary.clone(),
            feed_url: "https://feeds.example.org/rss".to_string(),
            title: title.clone(),
            link,
            summary: summary.clone(),
            published: Some(now),
            first_seen: now,
        },
        verdict: Verdict {
            relevant: true,
            event: None,
            score: 0.9,
            reasons: vec![format!("sentence: {summary}")],
        },
        created: now,
        attempts: 0,
        next_attempt: now,
        last_error: None,
        held: false,
    };
    let body = slack::payload(&alert, &[summary.clone()], None).to_string();
    // Our own markup is `<http…|title>`; anything a feed sends is escaped, so `<!`, `<@`
    // and `<#` (pings and channel links) can never appear.
    for ping in ["<!", "<@", "<#"] {
        assert!(!body.contains(ping), "{ping} in Slack body: {body}");
    }
    let escaped = slack::escape(&text);
    assert!(!escaped.contains('<') && !escaped.contains('>'));
    let hook = webhook::payload(&alert, &[]);
    let round_trip: serde_json::Value = serde_json::from_str(&hook.to_string()).unwrap();
    assert_eq!(
        round_trip["article"]["title"].as_str(),
        Some(title.as_str())
    );
    assert_eq!(round_trip["type"].as_str(), Some("parleyd.alert"));
});
