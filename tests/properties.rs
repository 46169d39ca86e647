//! Properties over generated input, and the inputs the fuzzers (fuzz/) once crashed on.
//!
//! Guaranteed here: the parser never panics on any bytes, and every link it returns is an
//! absolute URL; Slack escaping never lets `<`, `>` or a bare `&` through and loses nothing;
//! nothing in an article's text can make a Slack body ping (`<!`, `<@`, `<#`); the webhook
//! body gives back the title exactly.

use parleyd::model::{Alert, Article, Verdict};
use parleyd::notify::{slack, webhook};
use parleyd::parse::{Source, parse_feed};
use proptest::prelude::*;
use std::path::Path;

/// The fuzz target's content types, chosen by an input's first byte.
const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/rss+xml"),
    Some("application/atom+xml; charset=iso-8859-1"),
    Some("application/feed+json"),
    Some("text/html; charset=windows-1252"),
];

/// What the feed_bytes fuzz target checks, for one input.
fn parse_holds_its_invariants(body: &[u8], content_type: Option<&str>) {
    let url = url::Url::parse("https://feeds.example.org/world/rss.xml").unwrap();
    let source = Source {
        name: "generated",
        url: &url,
    };
    if let Ok(parsed) = parse_feed(body, content_type, source, chrono::Utc::now()) {
        for article in &parsed.articles {
            let _ = article.store_key();
            assert!(!article.title.contains('\0'));
            if let Some(link) = &article.link {
                assert!(url::Url::parse(link).is_ok(), "not a URL: {link:?}");
            }
        }
    }
}

#[test]
fn every_input_the_fuzzers_crashed_on_now_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let data = std::fs::read(&path).unwrap();
        if let Some(stripped) = name.strip_prefix("feed_bytes-") {
            let (&selector, body) = data.split_first().expect(stripped);
            let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
            parse_holds_its_invariants(body, content_type);
            seen += 1;
        } else if name.starts_with("config_text-") {
            config_holds_its_invariants(&String::from_utf8_lossy(&data));
            seen += 1;
        }
    }
    assert!(seen >= 1, "the recorded findings are missing");
}

/// What the config_text fuzz target checks: no panic, and a secret from the environment
/// never appears in an error.
fn config_holds_its_invariants(text: &str) {
    const SECRET: &str = "hooks-slack-T000-SECRET-42";
    let lookup = |_: &str| Some(SECRET.to_string());
    let path = Path::new("/etc/parleyd/generated.toml");
    if let Err(err) = parleyd::Config::from_str_with_env(text, path, &lookup) {
        assert!(!err.to_string().contains(SECRET), "secret in: {err}");
    }
}

fn rss_with(title: &str, link: &str, description: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>\
         <item><title>{title}</title><link>{link}</link><description>{description}</description>\
         </item></channel></rss>"
    )
}

fn alert_with(title: &str, link: Option<String>, summary: &str) -> Alert {
    let now = chrono::Utc::now();
    Alert {
        id: "0123456789abcdef0123456789abcdef".to_string(),
        sink: "slack".to_string(),
        article: Article {
            key: "id:generated".to_string(),
            feed: summary.to_string(),
            feed_url: "https://feeds.example.org/rss".to_string(),
            title: title.to_string(),
            link,
            summary: summary.to_string(),
            published: Some(now),
            first_seen: now,
        },
        verdict: Verdict {
            relevant: true,
            event: None,
            score: 0.9,
            reasons: vec![format!("sentence: \"{summary}\"")],
        },
        created: now,
        attempts: 0,
        next_attempt: now,
        last_error: None,
        held: false,
    }
}

fn toml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsing_any_bytes_never_panics(
        selector in 0usize..5,
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        parse_holds_its_invariants(&body, CONTENT_TYPES[selector]);
    }

    #[test]
    fn parsing_a_feed_with_any_text_never_panics(
        title in ".{0,80}",
        link in ".{0,60}",
        description in ".{0,200}",
    ) {
        parse_holds_its_invariants(rss_with(&title, &link, &description).as_bytes(), None);
    }

    #[test]
    fn any_log_level_text_is_an_error_or_a_filter_never_a_panic(level in "\\PC{0,12}") {
        let text = format!("[log]\nlevel = {}\n", toml_string(&level));
        config_holds_its_invariants(&text);
    }

    #[test]
    fn slack_escaping_lets_no_control_character_through_and_loses_nothing(text in ".{0,200}") {
        let escaped = slack::escape(&text);
        prop_assert!(!escaped.contains('<') && !escaped.contains('>'));
        for (at, _) in escaped.match_indices('&') {
            let rest = &escaped[at..];
            prop_assert!(
                rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;"),
                "bare & in {escaped:?}"
            );
        }
        prop_assert_eq!(unescape(&escaped), text);
    }

    #[test]
    fn nothing_in_an_article_can_make_slack_ping(
        title in "[<>!@#&|a-z ]{0,40}",
        link in "(https?://[a-z<>|!@]{1,12}\\.test/[a-z<>|]{0,10})?",
        summary in "[<>!@#&|a-z ]{0,60}",
    ) {
        let link = (!link.is_empty()).then_some(link);
        let alert = alert_with(&title, link, &summary);
        let body = slack::payload(&alert, std::slice::from_ref(&summary), None).to_string();
        for ping in ["<!", "<@", "<#"] {
            prop_assert!(!body.contains(ping), "{} in {}", ping, body);
        }
    }

    #[test]
    fn the_webhook_body_gives_back_the_title_exactly(title in ".{0,120}") {
        let alert = alert_with(&title, None, "");
        let body = webhook::payload(&alert, &parleyd::model::StorySummary::alone(&alert)).to_string();
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        prop_assert_eq!(parsed["article"]["title"].as_str(), Some(title.as_str()));
        prop_assert_eq!(parsed["type"].as_str(), Some("parleyd.alert"));
    }
}
