//! The status server of a running daemon: health, readiness, metrics and the status page,
//! over real HTTP, and the page as a browser renders it (headless Chromium, where installed).

use crate::support::*;
use std::time::Duration;

const HOSTILE: &str =
    "US and Iran resume talks <img src=x onerror=alert(1)> <script>alert(2)</script>";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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

    if let Some(dom) = chromium_dom(&format!("{base}/")) {
        // What a person sees: the feed table, the hostile title as text, no injected elements.
        assert!(dom.contains("Latest matches"), "{dom}");
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
