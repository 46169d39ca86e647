//! The parser on the feedparser test suite's feeds (tests/fixtures/feedparser, BSD licence,
//! see LICENSE.feedparser there): real-world dialects, encodings and breakage.
//!
//! Guaranteed here: no input makes the parser panic or hang; every error names the feed;
//! every file the suite calls well-formed parses; ill-formed files are read where they hold
//! anything readable; undeclared legacy charsets are detected; and the share of the suite's
//! title, link and id expectations that parleyd meets does not fall below the recorded
//! floor.

use parleyd::parse::{ParseError, ParsedFeed, Source, parse_feed, plain_text};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feedparser")
}

struct Case {
    path: String,
    wellformed: bool,
    expect: String,
}

fn manifest() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("MANIFEST.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            Case {
                path: cols[0].to_string(),
                wellformed: cols[1] == "wellformed",
                expect: cols.get(2).unwrap_or(&"").to_string(),
            }
        })
        .collect()
}

fn parse_fixture(path: &str) -> Result<ParsedFeed, ParseError> {
    let bytes = std::fs::read(fixtures().join(path)).unwrap();
    let url = url::Url::parse("http://fixtures.example/feed.xml").unwrap();
    parse_feed(
        &bytes,
        None,
        Source {
            name: path,
            url: &url,
        },
        chrono::Utc::now(),
    )
}

#[test]
fn no_fixture_panics_and_every_error_names_its_feed() {
    let cases = manifest();
    assert_eq!(cases.len(), 398);
    for case in &cases {
        let outcome = catch_unwind(AssertUnwindSafe(|| parse_fixture(&case.path)));
        let result = outcome.unwrap_or_else(|_| panic!("{} panicked", case.path));
        if let Err(err) = result {
            assert!(
                err.to_string().contains(&format!("feed `{}`", case.path)),
                "{err}"
            );
        }
    }
}

#[test]
fn every_wellformed_fixture_parses() {
    let failures: Vec<String> = manifest()
        .iter()
        .filter(|case| case.wellformed)
        .filter_map(|case| parse_fixture(&case.path).err().map(|e| e.to_string()))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn illformed_fixtures_are_read_or_reported() {
    let mut read = 0;
    let mut reported = Vec::new();
    for case in manifest().iter().filter(|case| !case.wellformed) {
        match parse_fixture(&case.path) {
            Ok(_) => read += 1,
            Err(err) => reported.push(err.to_string()),
        }
    }
    println!(
        "illformed: {read} read, {} reported: {reported:#?}",
        reported.len()
    );
    // Only documents with nothing in them to read may fail.
    assert!(reported.len() <= 2, "{reported:#?}");
}

#[test]
fn double_encoded_and_windows_1252_text_is_repaired() {
    let double = parse_fixture("encoding/double-encoded-html.xml").unwrap();
    assert_eq!(double.articles[0].summary, "\u{2026}");
    let moron = parse_fixture("encoding/demoronize-1.xml").unwrap();
    assert_eq!(moron.articles[0].summary, "don\u{2019}t");
}

#[test]
fn undeclared_legacy_charsets_are_detected() {
    for (path, expected) in [
        (
            "illformed/chardet/koi8r.xml",
            "Как пережить новогоднюю ночь",
        ),
        (
            "illformed/chardet/shiftjis.xml",
            "DrecomRSSに記事投稿が反映されない",
        ),
    ] {
        let feed = parse_fixture(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let title = &feed.articles[0].title;
        assert!(title.starts_with(expected), "{path}: {title}");
    }
}

#[test]
fn undeclared_legacy_charsets_and_utf16_decode() {
    // UTF-16 with and without a BOM, and UTF-32, come out as text (feed-rs alone panics on
    // UTF-16BE and rejects the rest).
    for path in [
        "encoding/utf-16be-bom.xml",
        "encoding/utf-16le-bom.xml",
        "encoding/utf-16be-autodetect.xml",
        "encoding/utf-16le-autodetect.xml",
        "encoding/utf-32be-bom.xml",
        "encoding/utf-32le-bom.xml",
        "encoding/utf-8-bom.xml",
    ] {
        assert!(parse_fixture(path).is_ok(), "{path}");
    }
    let korean = parse_fixture("encoding/euc-kr.xml").unwrap();
    assert_eq!(korean.title.as_deref(), Some("\u{b144}"));
}

/// One `lhs == 'literal'` clause of an Expect line that parleyd can be held to.
#[derive(Debug, PartialEq)]
enum Check {
    EntryTitle(String),
    EntryLink(String),
    EntryId(String),
    FeedTitle(String),
    EntryCount(usize),
}

fn checks(expect: &str) -> Vec<Check> {
    let mut out = Vec::new();
    for clause in expect.split(" and ") {
        let clause = clause.trim();
        let Some((lhs, rhs)) = clause.split_once(" == ") else {
            continue;
        };
        let lhs = lhs
            .trim()
            .replace(".title", "['title']")
            .replace(".link", "['link']");
        if lhs == "len(entries)" {
            if let Ok(n) = rhs.trim().parse() {
                out.push(Check::EntryCount(n));
            }
            continue;
        }
        let Some(value) = python_string(rhs.trim()) else {
            continue;
        };
        match lhs.as_str() {
            "entries[0]['title']" => out.push(Check::EntryTitle(value)),
            "entries[0]['link']" => out.push(Check::EntryLink(value)),
            "entries[0]['id']" => out.push(Check::EntryId(value)),
            "feed['title']" => out.push(Check::FeedTitle(value)),
            _ => {}
        }
    }
    out
}

/// A Python string literal: optional `u`, single, double or triple quotes, `\uXXXX`,
/// `\xXX`, `\'`, `\"` and `\\` escapes.
fn python_string(literal: &str) -> Option<String> {
    let literal = literal.strip_prefix('u').unwrap_or(literal);
    let body = ["\"\"\"", "'", "\""].iter().find_map(|q| {
        literal
            .strip_prefix(q)
            .and_then(|rest| rest.strip_suffix(q))
    })?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            'n' => out.push('\n'),
            't' => out.push('\t'),
            other => out.push(other),
        }
    }
    Some(out)
}

fn met(check: &Check, feed: &ParsedFeed) -> bool {
    let first = feed.articles.first();
    // parleyd keeps titles as plain text; feedparser keeps sanitised HTML. A title counts as
    // met when it equals the expected text with its markup removed.
    let same_text = |ours: &str, expected: &str| ours == expected || ours == plain_text(expected);
    match check {
        Check::EntryTitle(expected) => first.is_some_and(|a| same_text(&a.title, expected)),
        Check::EntryLink(expected) => {
            first.is_some_and(|a| a.link.as_deref() == Some(expected.as_str()))
        }
        Check::EntryId(expected) => first.is_some_and(|a| a.key == format!("id:{expected}")),
        Check::FeedTitle(expected) => feed
            .title
            .as_deref()
            .is_some_and(|t| same_text(t, expected)),
        Check::EntryCount(n) => feed.articles.len() == *n,
    }
}

#[test]
fn title_link_and_id_expectations_are_met() {
    let mut applicable = 0;
    let mut passed = 0;
    let mut missed = Vec::new();
    for case in manifest().iter().filter(|c| c.wellformed) {
        let list = checks(&case.expect);
        if list.is_empty() {
            continue;
        }
        let parsed = parse_fixture(&case.path);
        for check in list {
            applicable += 1;
            if parsed.as_ref().is_ok_and(|feed| met(&check, feed)) {
                passed += 1;
            } else {
                missed.push(format!("{}: {check:?}", case.path));
            }
        }
    }
    println!("met {passed} of {applicable} title/link/id/count expectations");
    for miss in &missed {
        println!("  missed {miss}");
    }
    // The floor measured when this test was written; issue 4 raises it. A drop is a regression.
    assert!(
        passed >= FLOOR,
        "met {passed} of {applicable}, floor {FLOOR}; missed: {missed:#?}"
    );
}

const FLOOR: usize = 66;

#[test]
fn python_literals_decode() {
    assert_eq!(python_string("u'\\u5154'").as_deref(), Some("\u{5154}"));
    assert_eq!(python_string("'a\\'b'").as_deref(), Some("a'b"));
    assert_eq!(
        checks("not bozo and entries[0]['title'] == 'x' and len(entries) == 2"),
        vec![Check::EntryTitle("x".into()), Check::EntryCount(2)]
    );
}
