//! A store that stops taking writes while the daemon runs (a full disk), through the real
//! binary.
//!
//! The disk is made full without mounting anything: bash's `ulimit -f` (RLIMIT_FSIZE)
//! caps the size a file may grow to, so sled's writes past the cap fail with "File too
//! large" as they would on a full filesystem, and SIGXFSZ is ignored so that the write
//! fails instead of killing the process. A run without the cap is the disk with room again.

use crate::support::*;
use std::path::Path;
use std::time::Duration;

/// sled 0.34 writes its log in 512 KiB segments and begins a fresh one each time it opens
/// a store.
const SEGMENT: u64 = 512 * 1024;

const EARLIER_NEWS: (&str, &str, &str) = (
    "a-1",
    "US and Iran agree to resume indirect talks in Oman",
    "",
);
const BACKLOG_NEWS: &str = "Iranian and American envoys hold talks in Geneva";
const NEWS_DURING_OUTAGE: &str = "Washington and Tehran agree to open a hotline";

/// A feed of 400 notices of about 2 KB each (their first poll writes about 1 MB) and a
/// relevant backlog item, all published two hours ago, then `extra` (guid, title) items
/// published now.
fn big_feed(extra: &[(&str, &str)]) -> String {
    let earlier = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc2822();
    let now = chrono::Utc::now().to_rfc2822();
    let mut out =
        String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>B</title>\n");
    let item = |guid: &str, title: &str, date: &str, text: &str| {
        format!(
            "<item><guid>{guid}</guid><title>{title}</title><pubDate>{date}</pubDate><description>{text}</description></item>\n"
        )
    };
    for (guid, title) in extra {
        out.push_str(&item(guid, title, &now, ""));
    }
    out.push_str(&item("b-backlog", BACKLOG_NEWS, &earlier, ""));
    let filler = "word ".repeat(390);
    for i in 0..400 {
        out.push_str(&item(
            &format!("b-{i}"),
            &format!("Local notice {i}"),
            &earlier,
            &filler,
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// `parleyd run` with files capped at `limit_kib` KiB, systemd notifications to `notify`,
/// a watchdog of two seconds (so health checks come every second) and `$HOOK_URL`.
fn spawn_with_file_limit(
    config: &Path,
    limit_kib: u64,
    notify: &Path,
    hook_url: &str,
) -> tokio::process::Child {
    tokio::process::Command::new("bash")
        .args([
            "-c",
            "trap '' XFSZ; ulimit -f \"$1\"; exec \"$0\" --config \"$2\" run",
            env!("CARGO_BIN_EXE_parleyd"),
            &limit_kib.to_string(),
            config.to_str().unwrap(),
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn,sled=off,parleyd=info")
        .env("NOTIFY_SOCKET", notify)
        .env("WATCHDOG_USEC", "2000000")
        .env("HOOK_URL", hook_url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("bash starts")
}

/// Guaranteed, with a store that stops taking writes while the daemon runs:
/// - the daemon notices and says so: `/readyz` answers 503 with "storage full", systemd
///   hears a "storage full" status and no watchdog ping after it, and the log says it once
///   per health check, never once per poll;
/// - it then exits with code 2 and a message naming the store and "storage full", for
///   systemd's `Restart=on-failure` to start it again;
/// - after that restart with room on the disk, an alert that was pending before the
///   outage is delivered, and a feed whose first poll never reached the disk is not read
///   as all backlog: the news it published after the daemon first knew it alerts, what it
///   held before does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_daemon_cleanly_and_loses_no_news() {
    let feeds = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let dir = TestDir::new();
    let port = free_port();
    let config_text = |with_b: bool| {
        let b = match with_b {
            true => format!(
                "[[feeds]]\nurl = \"{}\"\nname = \"b\"\ninterval = \"1s\"\n",
                feeds.url("/b.xml")
            ),
            false => String::new(),
        };
        format!(
            "[delivery]\nretry_base = \"100ms\"\nretry_max = \"1s\"\n\
             [[feeds]]\nurl = \"{}\"\nname = \"a\"\nalert_on_first_poll = true\n{b}\
             [[sinks]]\nkind = \"webhook\"\nname = \"hook\"\nurl = \"${{HOOK_URL}}\"\n",
            feeds.url("/a.xml")
        )
    };
    let dead_sink = format!("http://127.0.0.1:{}/hook", free_port());

    // Before the outage: feed A's news is queued while its sink is down.
    feeds.set(
        "/a.xml",
        Route::ok("application/rss+xml", rss(&[EARLIER_NEWS])),
    );
    let config = dir.config(&config_text(false));
    let run = once(&config, &[("HOOK_URL", dead_sink.as_str())]).await;
    assert_eq!(run.code, Some(1), "the delivery failed: {}", run.stderr);

    // The outage: feed B is added, and its first poll does not fit on the disk.
    feeds.set("/b.xml", Route::ok("application/rss+xml", big_feed(&[])));
    let config = dir.config_with_server(&format!("127.0.0.1:{port}"), &config_text(true));
    let db_len = std::fs::metadata(dir.path().join("store").join("db"))
        .unwrap()
        .len();
    let limit_kib = (db_len / SEGMENT + 2) * SEGMENT / 1024;
    let notify_path = dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    let child = spawn_with_file_limit(&config, limit_kib, &notify_path, &dead_sink);
    assert!(
        eventually(Duration::from_secs(20), || !feeds
            .requests("/b.xml")
            .is_empty())
        .await,
        "feed B was never fetched"
    );
    // News that B publishes while its first poll cannot be saved.
    feeds.set(
        "/b.xml",
        Route::ok(
            "application/rss+xml",
            big_feed(&[("b-news", NEWS_DURING_OUTAGE)]),
        ),
    );
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    let mut unready = None;
    for _ in 0..600 {
        if let Ok(response) = reqwest::get(&readyz).await
            && response.status() == 503
        {
            let body = response.text().await.unwrap();
            if body.contains("storage full") {
                unready = Some(body);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the daemon stopped by itself")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        unready.is_some(),
        "/readyz never said 503 with storage full: {stderr}"
    );
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("the store at") && last.contains("cannot be written (storage full"),
        "{stderr}"
    );
    // Three failed checks stop the daemon: two are logged, the third is the exit message.
    let reported = stderr
        .lines()
        .filter(|l| l.contains("Storage failed"))
        .count();
    assert_eq!(reported, 2, "{stderr}");
    assert!(
        !stderr
            .lines()
            .any(|l| l.contains("Feed poll failed") && l.contains("store")),
        "store failures are not logged per poll: {stderr}"
    );
    notify.set_nonblocking(true).unwrap();
    let mut notes = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = notify.recv(&mut buf) {
        notes.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let failing = notes
        .iter()
        .position(|n| n.contains("STATUS=storage full"))
        .unwrap_or_else(|| panic!("no storage full status: {notes:?}"));
    assert!(
        !notes[failing..].iter().any(|n| n.contains("WATCHDOG=1")),
        "the watchdog was fed after the store failed: {notes:?}"
    );

    // Room again, and the sink is up: what was pending goes, B's news alerts, its backlog
    // does not.
    let due = dir.read_store(|store| {
        store
            .pending_alerts()
            .unwrap()
            .iter()
            .map(|alert| alert.next_attempt)
            .max()
    });
    sleep_past(due.expect("A's alert is still pending")).await;
    let hook = receiver.url("/hook");
    let run = once(&config, &[("HOOK_URL", hook.as_str())]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mut titles: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["article"]["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [EARLIER_NEWS.1, NEWS_DURING_OUTAGE],
        "{}",
        run.stderr
    );
}
