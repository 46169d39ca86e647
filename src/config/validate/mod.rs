//! Walks a parsed TOML table and builds a [`Config`], collecting every problem on the way.
//!
//! One walker, split by job: `keys` lists every table's keys and reports unknown ones with
//! a did-you-mean; `values` reads typed values (strings, durations, sizes, secrets) and
//! reports wrong types; `sections` builds the single-table sections (`[storage]`, `[poll]`,
//! …); `feeds` and `sinks` build the `[[feeds]]` and `[[sinks]]` lists, and `sink_kinds`
//! reads the keys of the Discord, Teams, ntfy and email sinks.

mod feeds;
mod keys;
mod sections;
mod sink_kinds;
mod sinks;
mod values;

use super::{Config, Problem, SinkSecrets};
use std::path::{Path, PathBuf};
use toml::Table;

/// Builds a [`Config`] from TOML text, or returns every problem found.
pub(super) fn validate(
    text: &str,
    path: &Path,
    base_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    secrets: SinkSecrets,
) -> Result<Config, Vec<Problem>> {
    let table: Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(err) => return Err(vec![syntax_problem(text, &err)]),
    };
    let mut walker = Walker {
        problems: Vec::new(),
        lookup,
        secrets,
        base_dir: absolute(base_dir),
    };
    walker.check_keys(&table, "", keys::TOP_KEYS);

    let section = walker.section(&table, "storage");
    let storage = walker.storage(section);
    let section = walker.section(&table, "poll");
    let poll = walker.poll(section);
    let section = walker.section(&table, "classifier");
    let classifier = walker.classifier(section);
    let section = walker.section(&table, "delivery");
    let delivery = walker.delivery(section);
    let section = walker.section(&table, "log");
    let log = walker.log(section);
    let section = walker.section(&table, "server");
    let server = walker.server(section);
    let feeds = walker.feeds(table.get("feeds"), &poll);
    let feed_names: Vec<String> = feeds.iter().map(|f| f.name.clone()).collect();
    let sinks = walker.sinks(table.get("sinks"), &feed_names);

    if walker.problems.is_empty() {
        Ok(Config {
            source: path.to_path_buf(),
            storage,
            poll,
            classifier,
            delivery,
            log,
            server,
            feeds,
            sinks,
        })
    } else {
        Err(walker.problems)
    }
}

/// A TOML syntax error, reported by line and column only. The toml crate's own message
/// quotes the offending line, which could hold a pasted webhook URL, so it is not used.
fn syntax_problem(text: &str, err: &toml::de::Error) -> Problem {
    let location = match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}")
        }
        None => "(unknown position)".to_string(),
    };
    Problem {
        key: location,
        why: format!("TOML syntax error: {}", err.message().trim_end()),
    }
}

fn absolute(dir: &Path) -> PathBuf {
    if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf())
    }
}

/// Removes `.` and `name/..` pairs without touching the file system, so paths in messages
/// read as the user would write them (the file need not exist yet).
fn normalise(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else {
                    out.push(component);
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The walk's state: the problems found so far and what resolving values needs.
struct Walker<'a> {
    problems: Vec<Problem>,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Whether secrets are looked up or only checked.
    secrets: SinkSecrets,
    base_dir: PathBuf,
}

impl Walker<'_> {
    fn problem(&mut self, key: impl Into<String>, why: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            why: why.into(),
        });
    }

    fn resolve_path(&self, raw: &str) -> PathBuf {
        let path = PathBuf::from(raw);
        if path.is_absolute() {
            normalise(&path)
        } else {
            normalise(&self.base_dir.join(path))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_INTERVAL, SinkKind};

    fn load(text: &str) -> Result<Config, Vec<Problem>> {
        let env = |name: &str| {
            (name == "HOOK").then(|| "https://hooks.slack.example/T/B/xyz".to_string())
        };
        validate(
            text,
            Path::new("/etc/parleyd/test.toml"),
            Path::new("/etc/parleyd"),
            &env,
            SinkSecrets::Resolve,
        )
    }

    /// Sinks whose secrets no lookup can resolve: no variable is set, no credentials
    /// directory exists.
    const UNRESOLVABLE: &str = "[[feeds]]\nurl = \"https://example.org/rss.xml\"\n\
        [[sinks]]\nkind = \"slack\"\nurl = \"${credential:slack}\"\n\
        [[sinks]]\nkind = \"webhook\"\nurl = \"https://hooks.example/${NOPE}\"\nsecret = \"${ALSO_NOPE}\"\n";

    #[test]
    fn leaving_sink_secrets_loads_a_config_whose_secrets_are_missing() {
        let nothing = |_: &str| -> Option<String> { panic!("nothing is looked up") };
        let path = Path::new("/etc/parleyd/test.toml");
        let base = Path::new("/etc/parleyd");
        let config = validate(UNRESOLVABLE, path, base, &nothing, SinkSecrets::Leave).unwrap();
        match &config.sinks[0].kind {
            SinkKind::Slack { url, .. } => {
                assert!(!url.is_resolved());
                assert_eq!(url.expose(), "", "nothing to send with");
                assert_eq!(url.origin(), "credential slack");
            }
            other => panic!("{other:?}"),
        }
        match &config.sinks[1].kind {
            SinkKind::Webhook { url, signing_key } => {
                assert!(!url.is_resolved());
                assert!(signing_key.is_none());
            }
            other => panic!("{other:?}"),
        }
        // The same file resolved, as the commands that send load it, is refused.
        let problems =
            validate(UNRESOLVABLE, path, base, &|_| None, SinkSecrets::Resolve).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn leaving_sink_secrets_still_reports_a_malformed_reference() {
        let text = "[[feeds]]\nurl = \"https://example.org/rss.xml\"\n\
            [[sinks]]\nkind = \"slack\"\nurl = \"${not a name}\"\n";
        let problems = validate(
            text,
            Path::new("/etc/parleyd/test.toml"),
            Path::new("/etc/parleyd"),
            &|_| None,
            SinkSecrets::Leave,
        )
        .unwrap_err();
        assert_eq!(problems[0].key, "sinks[0].url", "{problems:?}");
    }

    /// Guaranteed: a URL or a name listed again is reported at each repeat, naming the
    /// first feed that had it (not the latest repeat).
    #[test]
    fn repeated_feed_urls_and_names_name_the_first_feed() {
        let feed =
            |url: &str, name: &str| format!("[[feeds]]\nurl = \"{url}\"\nname = \"{name}\"\n");
        let text = [
            feed("https://a.example/rss", "A"),
            feed("https://b.example/rss", "B"),
            feed("https://a.example/rss", "C"),
            feed("https://d.example/rss", "A"),
            feed("https://e.example/rss", "A"),
            feed("https://a.example/rss", "F"),
        ]
        .concat();
        let problems = load(&text).unwrap_err();
        let said: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.key.as_str(), p.why.as_str()))
            .collect();
        assert_eq!(
            said,
            [
                (
                    "feeds[2].url",
                    "duplicates feeds[0].url; each feed may be listed once"
                ),
                (
                    "feeds[3].name",
                    "`A` is already the name of feeds[0]; give each feed its own name"
                ),
                (
                    "feeds[4].name",
                    "`A` is already the name of feeds[0]; give each feed its own name"
                ),
                (
                    "feeds[5].url",
                    "duplicates feeds[0].url; each feed may be listed once"
                ),
            ]
        );
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let config = load("[[feeds]]\nurl = \"https://example.org/rss.xml\"\n").unwrap();
        assert_eq!(config.feeds[0].name, "example.org/rss.xml");
        assert_eq!(config.feeds[0].interval, DEFAULT_INTERVAL);
        assert_eq!(config.storage.path, PathBuf::from("/var/lib/parleyd"));
        assert!(config.sinks.is_empty());
    }

    #[test]
    fn relative_file_urls_resolve_against_the_config_folder() {
        let config = load("[[feeds]]\nurl = \"file:feeds/a.xml\"\n").unwrap();
        assert_eq!(
            config.feeds[0].url.as_str(),
            "file:///etc/parleyd/feeds/a.xml"
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let problems = load(
            r#"
[poll]
intervall = "5m"
timeout = 20
[[feeds]]
url = "ftp://example.org/x"
[[feeds]]
url = "https://example.org/a"
interval = "5 parsecs"
[[feeds]]
url = "https://example.org/a"
[[sinks]]
kind = "slack"
url = "${MISSING}"
"#,
        )
        .unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "poll.intervall",
                "poll.timeout",
                "feeds[0].url",
                "feeds[1].interval",
                "feeds[2].url",
                "sinks[0].url"
            ],
            "{problems:#?}"
        );
        assert!(problems[0].why.contains("did you mean `interval`"));
        assert!(problems[5].why.contains("MISSING"));
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(
            normalise(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalise(Path::new("../x")), PathBuf::from("../x"));
    }
}
