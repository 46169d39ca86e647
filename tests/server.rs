//! The status server of a running daemon: health, readiness, metrics and the status page,
//! over real HTTP, and the page as a browser renders it (headless Chromium, where installed).

use crate::support::*;
use std::time::Duration;

const HOSTILE: &str =
    "US and Iran resume talks <img src=x onerror=alert(1)> <script>alert(2)</script>";

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_a_status_page_that_keeps_titles_as_text() {
    let feeds = FeedServer::start().await;
    feeds.set(
        "/wire.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[("h", HOSTILE, ""), ("m", "Markets edge higher", "")]),
        ),
    );
    let dir = TestDir::new();
    let port = free_port();
    let config = dir.config_with_server(
        &format!("127.0.0.1:{port}"),
        &format!(
            "[poll]\ninterval = \"1s\"\nalert_on_first_poll = true\n[[feeds]]\nurl = \"{}\"\nname = \"Wire <b>One</b>\"\n[[sinks]]\nkind = \"stdout\"\n",
            feeds.url("/wire.xml")
        ),
    );
    let child = spawn_daemon(&config, false);
    let base = format!("http://127.0.0.1:{port}");
    let mut page = String::new();
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(format!("{base}/")).await {
            page = response.text().await.unwrap_or_default();
            if page.contains("resume talks") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(page.contains("resume talks"), "{page}");
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{page}"
    );
    assert!(
        !page.contains("<img") && !page.contains("<script>"),
        "{page}"
    );
    assert!(page.contains("Wire &lt;b&gt;One&lt;/b&gt;"), "{page}");
    assert!(page.contains("<svg id=\"chart\""), "{page}");

    let (status, health) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200);
    assert!(health.contains("alive"));
    let (status, ready) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{ready}");
    assert!(ready.contains("\"ready\":true"), "{ready}");
    let (status, metrics) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert!(metrics.contains("parleyd_polls_total"), "{metrics}");
    assert!(metrics.contains("feed=\"Wire <b>One</b>\""), "{metrics}");
    assert!(metrics.contains("parleyd_outbox_depth"), "{metrics}");
    // Poll durations are a histogram of fixed buckets, not a summary of sketches, which
    // cost tens of KB a feed (BENCHMARKS.md, "The daemon's steady state").
    assert!(
        metrics
            .contains("parleyd_poll_duration_seconds_bucket{feed=\"Wire <b>One</b>\",le=\"0.01\"}"),
        "{metrics}"
    );
    assert!(!metrics.contains("quantile="), "{metrics}");

    if let Some(dom) = chromium_dom(&format!("{base}/")) {
        // What a person sees: the feed table, the hostile title as text, no injected elements.
        assert!(dom.contains("Latest matches"), "{dom}");
        assert!(dom.contains(" UTC</time>"), "{dom}");
        assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"), "{dom}");
        assert!(!dom.contains("<img"), "an img element was injected: {dom}");
        assert!(
            !dom.contains("<script"),
            "a script element was injected: {dom}"
        );
    }
    drop(child);
}

/// The page's DOM after headless Chromium rendered it, or `None` when Chromium is missing.
fn chromium_dom(url: &str) -> Option<String> {
    let browser = ["chromium", "chromium-browser"].into_iter().find(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(browser) = browser else {
        skipped(
            "status page in a browser",
            "chromium is not installed, so the page was not rendered",
        );
        return None;
    };
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            url,
        ])
        .output()
        .unwrap();
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The page as text, tags removed, for checking what a reader sees.
fn visible_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The status page says where each alert stands with each sink (one sent, one pending, one
/// dead), tells a backlog item from one too old to alert, gives times with their zone, and
/// reloads itself with a meta refresh that the Content-Security-Policy (no scripts) allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_each_sinks_state_and_why_a_match_was_not_alerted() {
    let feeds = FeedServer::start().await;
    feeds.set(
        "/fresh.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[("fresh", "Washington and Tehran agree to open a hotline", "")]),
        ),
    );
    feeds.set(
        "/old.xml",
        Route::ok(
            "application/rss+xml",
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Old</title>\
             <item><guid>old</guid><title>US and Iran hold talks in Geneva</title>\
             <pubDate>Mon, 06 Jan 2020 10:00:00 +0000</pubDate></item></channel></rss>",
        ),
    );
    feeds.set(
        "/backlog.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[("backlog", "US and Iran hold talks in Oman", "")]),
        ),
    );
    let gone = WebhookReceiver::start().await;
    gone.script(&[404]);
    let slow = WebhookReceiver::start().await;
    slow.script(&[503; 20]);
    let dir = TestDir::new();
    let port = free_port();
    let config = dir.config_with_server(
        &format!("127.0.0.1:{port}"),
        &format!(
            "[poll]\ninterval = \"1h\"\n\
             [[feeds]]\nurl = \"{}\"\nname = \"fresh\"\nalert_on_first_poll = true\n\
             [[feeds]]\nurl = \"{}\"\nname = \"old\"\nalert_on_first_poll = true\n\
             [[feeds]]\nurl = \"{}\"\nname = \"backlog\"\n\
             [[sinks]]\nkind = \"stdout\"\nname = \"screen\"\n\
             [[sinks]]\nkind = \"webhook\"\nname = \"gone\"\nurl = \"{}\"\n\
             [[sinks]]\nkind = \"webhook\"\nname = \"slow\"\nurl = \"{}\"\n",
            feeds.url("/fresh.xml"),
            feeds.url("/old.xml"),
            feeds.url("/backlog.xml"),
            gone.url("/hook"),
            slow.url("/hook"),
        ),
    );
    let child = spawn_daemon(&config, false);
    let url = format!("http://127.0.0.1:{port}/");
    let wanted = ["screen: sent", "gone: dead", "slow: pending"];
    let mut page = String::new();
    let mut csp = None;
    // A bound on how long the daemon may take to poll and deliver, not a speed measurement.
    for _ in 0..200 {
        if let Ok(response) = reqwest::get(&url).await {
            csp = response
                .headers()
                .get("content-security-policy")
                .map(|v| v.to_str().unwrap().to_string());
            page = response.text().await.unwrap_or_default();
            let seen = visible_text(&page);
            if wanted.iter().all(|w| seen.contains(w)) && seen.contains("backlog") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = visible_text(&page);
    for state in wanted {
        assert!(seen.contains(state), "{state} missing: {seen}");
    }
    assert!(seen.contains("not alerted: too old (published"), "{seen}");
    assert!(
        seen.contains("not alerted: backlog (its feed's first poll)"),
        "{seen}"
    );
    assert!(seen.contains(" UTC"), "times carry their zone: {seen}");
    assert!(
        page.contains("<meta http-equiv=\"refresh\" content=\"60\">"),
        "{page}"
    );
    assert_eq!(
        csp.as_deref(),
        Some("default-src 'none'; style-src 'unsafe-inline'")
    );
    assert!(!page.contains("<script"), "{page}");
    drop(child);
}
