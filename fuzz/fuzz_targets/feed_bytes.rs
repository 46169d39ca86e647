//! Feed bytes → articles: never a panic, and every article the parser returns is usable
//! (a store key, text without NUL, a link that is absolute when present).
#![no_main]

use libfuzzer_sys::fuzz_target;
use parleyd::parse::{Source, parse_feed};

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/rss+xml"),
    Some("application/atom+xml; charset=iso-8859-1"),
    Some("application/feed+json"),
    Some("text/html; charset=windows-1252"),
];

fuzz_target!(
    init: {
        // parse_feed catches panics inside feed-rs/quick-xml and reports them as parse
        // errors (quick-xml 0.42 panics on some UTF-16 prologs); libfuzzer-sys's own hook
        // would abort on those caught panics too. A panic that escapes parse_feed still
        // aborts the run: libfuzzer-sys checks the target's result.
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let url = url::Url::parse("https://feeds.example.org/world/rss.xml").unwrap();
    let source = Source {
        name: "fuzz",
        url: &url,
    };
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    if let Ok(parsed) = parse_feed(body, content_type, source, now) {
        for article in &parsed.articles {
            let _ = article.store_key();
            assert!(
                !article.title.contains('\0'),
                "NUL in title {:?}",
                article.title
            );
            if let Some(link) = &article.link {
                assert!(url::Url::parse(link).is_ok(), "relative link {link:?}");
            }
        }
    }
});
