//! The poller against hostile and helpful servers on 127.0.0.1.
//!
//! Guaranteed here: a body over the cap is refused whether or not the server announces its
//! length (an endless body stops at the cap); a server that drips bytes is cut off by the
//! total timeout; validators from one fetch are sent back and a 304 yields `NotModified`;
//! `file://` feeds obey the same cap.

use crate::support::*;
use parleyd::config::{FeedConfig, PollConfig};
use parleyd::poll::{Fetched, PollError, Poller, Validators};
use std::time::Duration;

fn poll_config(max_body_bytes: u64, timeout: Duration) -> PollConfig {
    PollConfig {
        interval: Duration::from_secs(60),
        timeout,
        connect_timeout: Duration::from_secs(2),
        concurrency: 4,
        max_body_bytes,
        alert_on_first_poll: false,
        max_article_age: Duration::from_secs(3600),
        ..PollConfig::default()
    }
}

fn feed(url: &str) -> FeedConfig {
    FeedConfig {
        url: url::Url::parse(url).unwrap(),
        name: "test feed".to_string(),
        interval: Duration::from_secs(60),
        alert_on_first_poll: false,
    }
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused_announced_or_not() {
    let server = FeedServer::start().await;
    server.set(
        "/big.xml",
        Route::ok("application/rss+xml", vec![b'x'; 4096]),
    );
    server.set(
        "/endless.xml",
        Route {
            endless: true,
            ..Route::ok("application/rss+xml", Vec::new())
        },
    );
    let poller = Poller::new(&poll_config(1024, Duration::from_secs(10))).unwrap();
    for path in ["/big.xml", "/endless.xml"] {
        let err = poller
            .fetch(&feed(&server.url(path)), &Validators::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, PollError::TooLarge { limit: 1024, .. }),
            "{path}: {err}"
        );
        assert!(err.to_string().contains("feed `test feed`"));
    }
}

#[tokio::test]
async fn a_dripping_server_is_cut_off_by_the_timeout() {
    let server = FeedServer::start().await;
    server.set(
        "/drip.xml",
        Route {
            drip: Some(Duration::from_millis(200)),
            ..Route::ok("application/rss+xml", rss(&[("a", "title", "text")]))
        },
    );
    let poller = Poller::new(&poll_config(1 << 20, Duration::from_secs(1))).unwrap();
    let err = poller
        .fetch(&feed(&server.url("/drip.xml")), &Validators::default())
        .await
        .unwrap_err();
    assert!(matches!(err, PollError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn validators_are_sent_back_and_304_means_not_modified() {
    let server = FeedServer::start().await;
    server.set(
        "/etag.xml",
        Route::ok("application/rss+xml", rss(&[("a", "title", "text")])).with_etag("\"v1\""),
    );
    let poller = Poller::new(&poll_config(1 << 20, Duration::from_secs(5))).unwrap();
    let target = feed(&server.url("/etag.xml"));
    let Fetched::Body(body) = poller.fetch(&target, &Validators::default()).await.unwrap() else {
        panic!("first fetch has a body");
    };
    assert_eq!(body.validators.etag.as_deref(), Some("\"v1\""));
    let second = poller.fetch(&target, &body.validators).await.unwrap();
    assert!(matches!(second, Fetched::NotModified));
    let requests = server.requests("/etag.xml");
    assert_eq!(requests.len(), 2);
    assert!(requests[0].headers.get("if-none-match").is_none());
    assert_eq!(requests[1].headers["if-none-match"], "\"v1\"");
    let agent = requests[0].headers["user-agent"].to_str().unwrap();
    assert!(
        agent.starts_with(&format!("parleyd/{}", env!("CARGO_PKG_VERSION"))),
        "{agent}"
    );
}

#[tokio::test]
async fn server_errors_carry_status_and_retry_after() {
    let server = FeedServer::start().await;
    let mut busy = Route::status(503);
    busy.headers.push(("retry-after".into(), "120".into()));
    server.set("/busy.xml", busy);
    let poller = Poller::new(&poll_config(1 << 20, Duration::from_secs(5))).unwrap();
    let err = poller
        .fetch(&feed(&server.url("/busy.xml")), &Validators::default())
        .await
        .unwrap_err();
    match err {
        PollError::Status {
            status,
            retry_after,
            ..
        } => {
            assert_eq!(status, 503);
            assert_eq!(retry_after, Some(Duration::from_secs(120)));
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn file_feeds_are_read_and_capped() {
    let dir = TestDir::new();
    let small = dir.write("small.xml", &rss(&[("a", "title", "text")]));
    let big = dir.write("big.xml", &"x".repeat(4096));
    let poller = Poller::new(&poll_config(1024, Duration::from_secs(5))).unwrap();
    let url = url::Url::from_file_path(&small).unwrap();
    let fetched = poller
        .fetch(&feed(url.as_str()), &Validators::default())
        .await
        .unwrap();
    assert!(matches!(fetched, Fetched::Body(ref b) if b.bytes.starts_with(b"<?xml")));
    let url = url::Url::from_file_path(&big).unwrap();
    let err = poller
        .fetch(&feed(url.as_str()), &Validators::default())
        .await
        .unwrap_err();
    assert!(matches!(err, PollError::TooLarge { .. }), "{err}");
    let url = url::Url::from_file_path(dir.path().join("missing.xml")).unwrap();
    let err = poller
        .fetch(&feed(url.as_str()), &Validators::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing.xml"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_charset_from_the_http_header_reaches_the_alert_intact() {
    let server = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let dir = TestDir::new();
    // ISO-8859-1 bytes, no XML declaration: only the HTTP header names the charset.
    let body = rss(&[("g-1", "US and Iran hold talks in Gen\u{e8}ve", "")]);
    let latin1: Vec<u8> = body.chars().map(|c| c as u32 as u8).collect();
    let latin1 = latin1[latin1.iter().position(|b| *b == b'\n').unwrap() + 1..].to_vec();
    server.set(
        "/latin1.xml",
        Route::ok("text/xml; charset=ISO-8859-1", latin1),
    );
    let config = dir.config(&one_feed_to_webhook(
        "[poll]\nalert_on_first_poll = true\n",
        &server.url("/latin1.xml"),
        &receiver.url("/hook"),
    ));
    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let received = receiver.received();
    assert_eq!(received.len(), 1, "{}", run.stderr);
    assert_eq!(
        received[0].json()["article"]["title"],
        "US and Iran hold talks in Genève"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_prints_each_article_with_its_verdict() {
    let server = FeedServer::start().await;
    server.set(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[
                (
                    "a",
                    "US and Iran resume talks in Oman",
                    "Envoys met on Saturday.",
                ),
                ("b", "Markets edge higher", ""),
            ]),
        ),
    );
    // RSS 1.0 items without <link>, which the strict parser drops.
    server.set(
        "/rdf.xml",
        Route::ok(
            "application/rdf+xml",
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\">\
             <channel rdf:about=\"http://x/\"><title>RDF</title></channel>\
             <item rdf:about=\"http://x/1\"><title>One</title></item>\
             <item rdf:about=\"http://x/2\"><title>Two</title></item></rdf:RDF>",
        ),
    );
    let run = parleyd(&["preview", &server.url("/feed.xml")], &[], b"").await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["key"], "id:a");
    assert_eq!(lines[0]["link"], "https://rss.example/a");
    assert_eq!(lines[0]["summary"], "Envoys met on Saturday.");
    assert!(lines[0]["published"].is_string());
    assert_eq!(lines[0]["verdict"]["relevant"], true);
    assert_eq!(lines[1]["verdict"]["relevant"], false);
    assert!(run.stderr.contains("2 item(s)"), "{}", run.stderr);

    let rdf = parleyd(&["preview", &server.url("/rdf.xml")], &[], b"").await;
    assert_eq!(rdf.code, Some(0), "{}", rdf.stderr);
    assert_eq!(rdf.stdout.lines().count(), 2, "{}", rdf.stderr);
    assert!(
        rdf.stdout.contains("\"link\":\"http://x/2\""),
        "{}",
        rdf.stdout
    );

    let missing = parleyd(&["preview", &server.url("/missing.xml")], &[], b"").await;
    assert_eq!(missing.code, Some(2));
    assert!(missing.stderr.contains("HTTP 404"), "{}", missing.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_shows_health_and_one_host_gets_at_most_per_host_fetches() {
    let server = FeedServer::start().await;
    let mut config = String::from("[poll]\nper_host = 2\nconcurrency = 32\n");
    for i in 0..6 {
        let path = format!("/f{i}.xml");
        server.set(
            &path,
            Route {
                delay: Some(Duration::from_millis(300)),
                ..Route::ok(
                    "application/rss+xml",
                    rss(&[("a", "Markets edge higher", "")]),
                )
            },
        );
        config.push_str(&format!(
            "[[feeds]]\nurl = \"{}\"\nname = \"feed {i}\"\n",
            server.url(&path)
        ));
    }
    server.set(
        "/down.xml",
        Route {
            delay: Some(Duration::from_millis(300)),
            ..Route::status(500)
        },
    );
    config.push_str(&format!(
        "[[feeds]]\nurl = \"{}\"\nname = \"down\"\n",
        server.url("/down.xml")
    ));
    let dir = TestDir::new();
    let config = dir.config(&config);
    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        server.max_in_flight() <= 2,
        "{} fetches ran at once against one host",
        server.max_in_flight()
    );

    let feeds = parleyd(
        &["--config", config.to_str().unwrap(), "feeds", "--json"],
        &[],
        b"",
    )
    .await;
    assert_eq!(feeds.code, Some(0), "{}", feeds.stderr);
    let rows: Vec<serde_json::Value> = feeds
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 7);
    let good = &rows[0];
    assert_eq!(good["health"], "ok");
    assert_eq!(good["items_seen"], 1);
    assert!(good["next_poll"].is_string(), "{good}");
    let down = rows.iter().find(|r| r["name"] == "down").unwrap();
    assert_eq!(down["health"], "failing");
    assert_eq!(down["last_error_kind"], "status");
    assert_eq!(down["consecutive_failures"], 1);
    assert!(down["last_error"].as_str().unwrap().contains("HTTP 500"));

    let table = parleyd(&["--config", config.to_str().unwrap(), "feeds"], &[], b"").await;
    assert!(table.stdout.contains("failing"), "{}", table.stdout);
}

fn redirect(status: u16, to: &str) -> Route {
    let mut route = Route::status(status);
    route.headers.push(("location".into(), to.into()));
    route
}

#[tokio::test]
async fn permanent_redirects_are_reported_temporary_ones_not_and_loops_fail() {
    let server = FeedServer::start().await;
    server.set(
        "/new.xml",
        Route::ok("application/rss+xml", rss(&[("a", "t", "")])),
    );
    server.set("/old.xml", redirect(301, "/new.xml"));
    server.set("/moved-twice.xml", redirect(308, "/old.xml"));
    server.set("/temp.xml", redirect(302, "/new.xml"));
    server.set("/loop-a.xml", redirect(302, "/loop-b.xml"));
    server.set("/loop-b.xml", redirect(302, "/loop-a.xml"));
    let poller = Poller::new(&poll_config(1 << 20, Duration::from_secs(5))).unwrap();
    for (path, moved) in [
        ("/old.xml", true),
        ("/moved-twice.xml", true),
        ("/temp.xml", false),
    ] {
        let fetched = poller
            .fetch(&feed(&server.url(path)), &Validators::default())
            .await
            .unwrap();
        let Fetched::Body(body) = fetched else {
            panic!("{path}: no body")
        };
        assert!(body.bytes.starts_with(b"<?xml"), "{path}");
        assert_eq!(
            body.final_url.map(|u| u.path().to_string()),
            moved.then(|| "/new.xml".to_string()),
            "{path}"
        );
    }
    let err = poller
        .fetch(&feed(&server.url("/loop-a.xml")), &Validators::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("redirect loop"), "{err}");
}

#[tokio::test]
async fn a_gzip_bomb_stops_at_the_cap_on_decompressed_bytes() {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![b' '; 64 * 1024 * 1024]).unwrap();
    let bomb = encoder.finish().unwrap();
    assert!(
        bomb.len() < 200 * 1024,
        "the bomb is small on the wire: {}",
        bomb.len()
    );
    let server = FeedServer::start().await;
    let mut route = Route::ok("application/rss+xml", bomb);
    route
        .headers
        .push(("content-encoding".into(), "gzip".into()));
    server.set("/bomb.xml", route);
    let poller = Poller::new(&poll_config(1 << 20, Duration::from_secs(20))).unwrap();
    let err = poller
        .fetch(&feed(&server.url("/bomb.xml")), &Validators::default())
        .await
        .unwrap_err();
    assert!(matches!(err, PollError::TooLarge { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_charset_header_does_not_garble_utf8() {
    let server = FeedServer::start().await;
    server.set(
        "/utf8.xml",
        Route::ok(
            "text/xml; charset=ISO-8859-1",
            rss(&[("u", "Talks in Genève: Iran’s envoy arrives", "")]),
        ),
    );
    let run = parleyd(&["preview", &server.url("/utf8.xml")], &[], b"").await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains("Talks in Genève: Iran’s envoy arrives"),
        "{}",
        run.stdout
    );
}

/// `preview --config` scores with the config's classifier settings, as the daemon does: a
/// threshold above every score there makes the relevant item irrelevant, and `--profile`
/// still wins over the config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_scores_with_the_configs_classifier() {
    let server = FeedServer::start().await;
    server.set(
        "/feed.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[(
                "a",
                "US and Iran resume talks in Oman",
                "Envoys met on Saturday.",
            )]),
        ),
    );
    let dir = TestDir::new();
    // The rules alone, whose scores stay well below 1 (a model's come close to it).
    let mut rules = parleyd::classify::builtin_profile(parleyd::classify::DEFAULT_PROFILE).unwrap();
    rules.model = None;
    let rules_file = dir.write("rules.toml", &rules.to_toml());
    let config = dir.config(&format!(
        "[classifier]\nprofile = \"{}\"\nthreshold = 0.999\n[[feeds]]\nurl = \"{}\"\n\
         [[sinks]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"${{PARLEYD_TEST_NEVER_SET}}\"\n",
        rules_file.display(),
        server.url("/feed.xml")
    ));
    let config = config.to_str().unwrap();
    // The sink's secret cannot be resolved here; preview sends nothing and needs none.
    let verdict = |run: &RunOutput| -> serde_json::Value {
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        serde_json::from_str::<serde_json::Value>(run.stdout.lines().next().unwrap()).unwrap()
            ["verdict"]
            .clone()
    };
    let url = server.url("/feed.xml");
    let strict = parleyd(&["--config", config, "preview", &url], &[], b"").await;
    assert_eq!(verdict(&strict)["relevant"], false, "{}", strict.stdout);
    assert!(
        strict.stderr.contains("threshold 1.00"),
        "{}",
        strict.stderr
    );

    let profile = root_path("profiles/us-iran.toml");
    let own = parleyd(
        &[
            "--config",
            config,
            "preview",
            &url,
            "--profile",
            profile.to_str().unwrap(),
        ],
        &[],
        b"",
    )
    .await;
    assert_eq!(verdict(&own)["relevant"], true, "{}", own.stdout);

    // The same config without the threshold scores as the built-in profile does.
    let plain = dir.write(
        "plain.toml",
        &format!("[[feeds]]\nurl = \"{}\"\n", server.url("/feed.xml")),
    );
    let run = parleyd(
        &["--config", plain.to_str().unwrap(), "preview", &url],
        &[],
        b"",
    )
    .await;
    assert_eq!(verdict(&run)["relevant"], true, "{}", run.stdout);
}

fn root_path(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}
