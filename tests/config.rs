//! `parleyd check-config` on good and broken configs, through the real binary.

use crate::support::*;

const SECRET: &str = "https://hooks.slack.example/services/T123/B456/s3cr3tt0k3n";

#[tokio::test]
async fn a_valid_config_prints_what_would_run() {
    let dir = TestDir::new();
    let config = dir.config(
        r#"
[poll]
interval = "2m"

[[feeds]]
url = "https://news.example.org/world.xml?token=abc123"
name = "World"

[[feeds]]
url = "file:local/feed.xml"
interval = "30s"

[[sinks]]
kind = "slack"
url = "${SLACK}"

[[sinks]]
kind = "stdout"
"#,
    );
    let run = check_config(&config, &[("SLACK", SECRET)]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains(": OK"), "{}", run.stdout);
    assert!(run.stdout.contains("feeds (2):"), "{}", run.stdout);
    assert!(run.stdout.contains("World"), "{}", run.stdout);
    assert!(run.stdout.contains("every 2m"), "{}", run.stdout);
    assert!(run.stdout.contains("every 30s"), "{}", run.stdout);
    assert!(run.stdout.contains("URL from $SLACK"), "{}", run.stdout);
    assert!(!run.stdout.contains("s3cr3t"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("abc123"),
        "a feed URL's query may hold a token: {}",
        run.stdout
    );
}

#[tokio::test]
async fn every_problem_is_listed_with_file_and_key_and_no_secret_is_printed() {
    let dir = TestDir::new();
    let config = dir.config(
        r#"
[poll]
intervall = "5m"
timeout = 30
concurrency = -1
max_items = 0

[classifier]
profile = "builtin:us-china"

[[feeds]]
url = "ftp://example.org/feed"

[[feeds]]
url = "https://example.org/a.xml"
interval = "5 parsecs"

[[feeds]]
url = "https://example.org/a.xml"

[[feeds]]
name = "no url"

[[sinks]]
kind = "slack"
url = "${MISSING_SLACK}"

[[sinks]]
kind = "webhook"
url = "${NOT_A_URL}"

[[sinks]]
kind = "pager"
"#,
    );
    let run = check_config(&config, &[("NOT_A_URL", "s3cr3t-but-not-a-url")]).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let file = config.display().to_string();
    let expected_keys = [
        "poll.intervall",
        "poll.timeout",
        "poll.concurrency",
        "poll.max_items",
        "classifier.profile",
        "feeds[0].url",
        "feeds[1].interval",
        "feeds[2].url",
        "feeds[3].url",
        "sinks[0].url",
        "sinks[1].url",
        "sinks[2].kind",
    ];
    for key in expected_keys {
        assert!(
            run.stderr.contains(&format!("{file}: {key}: ")),
            "{key} missing from:\n{}",
            run.stderr
        );
    }
    assert!(
        run.stderr
            .contains(&format!("{} problems found", expected_keys.len())),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `interval`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("MISSING_SLACK is not set"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("duplicates feeds[1].url"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("s3cr3t"),
        "secret printed: {}",
        run.stderr
    );
}

#[tokio::test]
async fn a_syntax_error_gives_the_position_but_never_quotes_the_line() {
    let dir = TestDir::new();
    let config = dir.config(&format!(
        "[[feeds]]\nurl = \"https://example.org/a.xml\"\n\n[[sinks]]\nkind = \"slack\"\nurl = \"{SECRET}\" oops\n"
    ));
    let run = check_config(&config, &[]).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let written = std::fs::read_to_string(&config).unwrap();
    let line = written.lines().position(|l| l.contains("oops")).unwrap() + 1;
    assert!(
        run.stderr.contains(&format!("line {line}")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("TOML syntax error"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("s3cr3t"),
        "secret printed: {}",
        run.stderr
    );
}

#[tokio::test]
async fn missing_and_non_utf8_files_are_named() {
    let dir = TestDir::new();
    let missing = dir.path().join("nope.toml");
    let run = once(&missing, &[]).await;
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("nope.toml: cannot read the config file"),
        "{}",
        run.stderr
    );

    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(
        &latin1,
        b"[[feeds]]\nurl = \"https://example.org/caf\xe9\"\n",
    )
    .unwrap();
    let run = check_config(&latin1, &[]).await;
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("latin1.toml: (file): is not valid UTF-8"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn no_feeds_is_a_problem_and_parleyd_config_env_is_honoured() {
    let dir = TestDir::new();
    let config = dir.config("[poll]\ninterval = \"5m\"\n");
    let run = parleyd(
        &["check-config"],
        &[("PARLEYD_CONFIG", config.to_str().unwrap())],
        b"",
    )
    .await;
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("feeds: no feeds configured"),
        "{}",
        run.stderr
    );
}

/// Guaranteed: the README's offline demo prints what the README says: one alert for each
/// of the four sample stories (the Muscat talks, carried by two feeds, once), and nothing
/// for the other sample items.
#[tokio::test]
async fn the_offline_demo_alerts_each_sample_story_once() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = TestDir::new();
    let demo = std::fs::read_to_string(root.join("config/demo.toml")).unwrap();
    // The demo's own store and feed paths, moved into this test's folder and made absolute.
    let store = dir.path().join("store");
    let config = demo
        .replace("../target/demo-store", store.to_str().unwrap())
        .replace("file:../", &format!("file:{}/", root.display()));
    let config = dir.write("demo.toml", &config);
    let run = parleyd(&["--config", config.to_str().unwrap(), "once"], &[], b"").await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mut alerts: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("ALERT"))
        .collect();
    alerts.sort_unstable();
    assert_eq!(alerts.len(), 4, "{}", run.stdout);
    for story in [
        "agree on a hotline",
        "ready to negotiate",
        "channel with Witkoff remains open",
        "resume indirect talks in Muscat",
    ] {
        assert_eq!(
            alerts.iter().filter(|a| a.contains(story)).count(),
            1,
            "{story}: {alerts:?}"
        );
    }
}

#[tokio::test]
async fn the_shipped_configs_are_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = root.join("config/demo.toml");
    let run = check_config(&demo, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let production = root.join("config/parleyd.toml");
    let run = check_config(&production, &[("PARLEYD_SLACK_WEBHOOK", SECRET)]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!run.stdout.contains("s3cr3t"));
}

#[tokio::test]
async fn opml_exports_become_feeds_entries() {
    let dir = TestDir::new();
    let opml = dir.write(
        "subs.opml",
        r#"<?xml version="1.0"?><opml version="1.0"><body><outline text="News">
            <outline type="rss" text="World &amp; Co" xmlUrl="https://a.example/rss"/>
            <outline type="rss" title="Desk" xmlUrl="https://b.example/atom"/>
        </outline></body></opml>"#,
    );
    let printed = parleyd(&["feeds", "import", opml.to_str().unwrap()], &[], b"").await;
    assert_eq!(printed.code, Some(0), "{}", printed.stderr);
    assert!(
        printed
            .stdout
            .contains("[[feeds]]\nurl = \"https://a.example/rss\"\nname = \"World & Co\""),
        "{}",
        printed.stdout
    );

    let config = dir.config("[[feeds]]\nurl = \"https://a.example/rss\"\n");
    let appended = parleyd(
        &[
            "feeds",
            "import",
            opml.to_str().unwrap(),
            "--append",
            config.to_str().unwrap(),
        ],
        &[],
        b"",
    )
    .await;
    assert_eq!(appended.code, Some(0), "{}", appended.stderr);
    assert!(
        appended.stderr.contains("added 1 feed(s)"),
        "{}",
        appended.stderr
    );
    let check = check_config(&config, &[]).await;
    assert_eq!(check.code, Some(0), "{}", check.stderr);
    assert!(check.stdout.contains("feeds (2):"), "{}", check.stdout);

    let not_opml = dir.write("x.opml", "<html></html>");
    let run = parleyd(&["feeds", "import", not_opml.to_str().unwrap()], &[], b"").await;
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("no <outline> with an xmlUrl"),
        "{}",
        run.stderr
    );
}

/// Guaranteed: `[classifier] story_window` takes a duration, zero included (reports then
/// join a story only by shared words), defaults to the story rule's own window, and a
/// value that is not a duration is a problem naming the key.
#[test]
fn story_window_defaults_to_the_rules_window_and_accepts_zero() {
    let path = std::path::Path::new("/etc/parleyd/parleyd.toml");
    let no_env = |_: &str| None;
    let feeds = "[[feeds]]\nurl = \"https://example.org/a.xml\"\n";
    let config = parleyd::Config::from_str_with_env(feeds, path, &no_env).unwrap();
    assert_eq!(
        config.classifier.story_window,
        parleyd::classify::story::STORY_JOIN_WINDOW
    );
    assert_eq!(
        parleyd::config::DEFAULT_STORY_WINDOW,
        parleyd::classify::story::STORY_JOIN_WINDOW
    );
    let zero = format!("[classifier]\nstory_window = \"0s\"\n{feeds}");
    let config = parleyd::Config::from_str_with_env(&zero, path, &no_env).unwrap();
    assert!(config.classifier.story_window.is_zero());
    assert_eq!(
        parleyd::config::MAX_STORY_WINDOW,
        parleyd::classify::story::STORY_OPEN_FOR
    );
    let too_long = format!("[classifier]\nstory_window = \"4d\"\n{feeds}");
    let err = parleyd::Config::from_str_with_env(&too_long, path, &no_env).unwrap_err();
    assert!(err.to_string().contains("at most 72h"), "{err}");
    let bad = format!("[classifier]\nstory_window = \"a while\"\n{feeds}");
    let err = parleyd::Config::from_str_with_env(&bad, path, &no_env).unwrap_err();
    assert!(err.to_string().contains("classifier.story_window"), "{err}");
}

/// Durations take exactly the documented units (ms, s, m, h, d): "5M" is not five months nor
/// five minutes, "2 days" and "1w" are refused, each with the list of units, wherever a
/// duration is read: config keys and the `--since` flag.
#[tokio::test]
async fn durations_take_only_the_documented_units() {
    let dir = TestDir::new();
    let config = dir.config(
        "[poll]\ninterval = \"5M\"\n[delivery]\nmax_age = \"2 days\"\n[[feeds]]\nurl = \"https://example.org/a.xml\"\ninterval = \"1w\"\n",
    );
    let run = check_config(&config, &[]).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    for (key, unit) in [
        ("poll.interval", "`M`"),
        ("delivery.max_age", "`days`"),
        ("feeds[0].interval", "`w`"),
    ] {
        let line = run
            .stderr
            .lines()
            .find(|line| line.contains(&format!(": {key}: ")))
            .unwrap_or_else(|| panic!("{key} missing from:\n{}", run.stderr));
        assert!(line.contains(unit), "{line}");
        assert!(line.contains("ms, s, m, h, d"), "{line}");
    }

    let valid = dir
        .config("[poll]\ninterval = \"1h30m\"\n[[feeds]]\nurl = \"https://example.org/a.xml\"\n");
    let run = parleyd(
        &[
            "--config",
            valid.to_str().unwrap(),
            "replay",
            "--since",
            "1w",
        ],
        &[],
        b"",
    )
    .await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("--since: `w` in `1w` is not a unit"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ms, s, m, h, d"), "{}", run.stderr);
}

/// A sink URL that is still the example's placeholder passes every check of form, so
/// check-config warns about it (exit 0: it may be on purpose) and so does the daemon's log
/// at start; the warning names the key and the variable, never the URL.
#[tokio::test]
async fn placeholder_sink_urls_are_warned_about() {
    let dir = TestDir::new();
    let placeholder =
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";
    let config = dir.config(
        "[[feeds]]\nurl = \"file:missing.xml\"\n[[sinks]]\nkind = \"slack\"\nurl = \"${SLACK}\"\n[[sinks]]\nkind = \"stdout\"\n",
    );
    let env = [("SLACK", placeholder)];
    let run = check_config(&config, &env).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("sinks[0].url: warning:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("placeholder"), "{}", run.stderr);
    assert!(run.stderr.contains("$SLACK"), "{}", run.stderr);
    assert!(!run.stderr.contains("sinks[1]"), "{}", run.stderr);
    assert!(!run.stderr.contains("XXXX"), "URL printed: {}", run.stderr);

    let run = once(&config, &env).await;
    assert!(run.stderr.contains("Config warning."), "{}", run.stderr);
    assert!(run.stderr.contains("sinks[0].url"), "{}", run.stderr);
    assert!(!run.stderr.contains("XXXX"), "URL printed: {}", run.stderr);

    let real = [(
        "SLACK",
        "https://hooks.slack.com/services/T024BE7LD/B01ABCDEF/n3Q8aZkP2wXy7LmR4tVb9cDe",
    )];
    let run = check_config(&config, &real).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
}

/// Guaranteed: a config file holding a sink URL inline warns, in `check-config` and at the
/// start of `once`, when group or others may read it, naming the key and never the value;
/// the same file at mode 0600, or with the URL from the environment, does not warn.
#[tokio::test]
async fn an_inline_secret_in_a_readable_config_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TestDir::new();
    let feed = dir.write("feed.xml", &rss(&[]));
    let body = |url: &str| {
        format!(
            "[[feeds]]\nurl = \"file://{}\"\n[[sinks]]\nkind = \"slack\"\nurl = \"{url}\"\n",
            feed.display()
        )
    };
    let config = dir.config(&body("https://hooks.slack.example/T0/B0/inline-s3cr3t"));
    let check = |config: std::path::PathBuf| async move {
        check_config(&config, &[("HOOK", "https://hooks.slack.example/env")]).await
    };
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = check(config.clone()).await;
    assert_eq!(run.code, Some(0), "a warning, not an error: {}", run.stderr);
    assert!(
        run.stderr
            .contains("sinks[0].url: warning: holds a secret inline"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("mode 644"), "{}", run.stderr);
    assert!(!run.stderr.contains("inline-s3cr3t") && !run.stdout.contains("inline-s3cr3t"));
    let started = once(&config, &[]).await;
    let warned = started
        .stderr
        .lines()
        .any(|line| line.contains("key=sinks[0].url") && line.contains("mode 644"));
    assert!(warned, "{}", started.stderr);
    assert!(
        !started.stderr.contains("inline-s3cr3t"),
        "{}",
        started.stderr
    );

    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = check(config.clone()).await;
    assert!(!run.stderr.contains("inline"), "{}", run.stderr);

    let config = dir.config(&body("${HOOK}"));
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = check(config).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        !run.stderr.contains("inline"),
        "from the environment: {}",
        run.stderr
    );
}

/// Guaranteed: a feed URL that does not parse is quoted the way logs show URLs, without
/// its query (which may hold a token) or user info.
#[tokio::test]
async fn an_invalid_feed_url_is_quoted_without_its_query() {
    let dir = TestDir::new();
    let config = dir.config(
        "[[feeds]]\nurl = \"https://user:pw-s3cr3t@exa mple.org/feed.xml?token=q-s3cr3t\"\n",
    );
    let run = check_config(&config, &[]).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("feeds[0].url: `https://exa mple.org/feed.xml` is not a valid URL"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("s3cr3t"), "{}", run.stderr);
}
