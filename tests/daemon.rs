//! `parleyd run` as a real child process: polls on its interval, alerts as items appear, and
//! stops cleanly on SIGTERM.

use crate::support::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_alerts_on_new_items_and_stops_cleanly_on_sigterm() {
    let server = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let dir = TestDir::new();
    server.set(
        "/live.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[("old", "Markets open higher", "")]),
        ),
    );
    let config = dir.config(&format!(
        "[poll]\ninterval = \"1s\"\n[[feeds]]\nurl = \"{}\"\nname = \"live\"\n[[sinks]]\nkind = \"webhook\"\nurl = \"{}\"\n",
        server.url("/live.xml"),
        receiver.url("/hook")
    ));
    let child = spawn_daemon(&config, true);

    // Deadlines below bound a behaviour (the daemon keeps polling), they measure nothing.
    assert!(
        eventually(Duration::from_secs(20), || !server
            .requests("/live.xml")
            .is_empty())
        .await,
        "the daemon never polled"
    );
    server.set(
        "/live.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[
                ("old", "Markets open higher", ""),
                ("new", "Washington and Tehran agree to open a hotline", ""),
            ]),
        ),
    );
    assert!(
        eventually(Duration::from_secs(20), || receiver.received().len() == 1).await,
        "no alert arrived"
    );

    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the daemon stopped after SIGTERM")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Store flushed; stopped."), "{stderr}");

    // The same store after the stop: the alert is not sent again.
    let again = once(&config, &[]).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_in_flight_when_the_daemon_is_killed_is_delivered_after_restart() {
    let server = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let dir = TestDir::new();
    server.set(
        "/live.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[("k-1", "US and Iran agree to resume talks in Oman", "")]),
        ),
    );
    let config = dir.config(&format!(
        "[poll]\ninterval = \"1h\"\nalert_on_first_poll = true\n[delivery]\ntimeout = \"30s\"\n\
         [[feeds]]\nurl = \"{}\"\n[[sinks]]\nkind = \"webhook\"\nurl = \"{}\"\n",
        server.url("/live.xml"),
        receiver.url("/hook")
    ));
    // The receiver takes the first delivery and never answers it.
    receiver.script(&[0]);
    let mut child = spawn_daemon(&config, false);
    assert!(
        eventually(Duration::from_secs(20), || receiver.received().len() == 1).await,
        "the delivery never started"
    );
    // SIGKILL: no shutdown path runs; only what was flushed survives.
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let again = once(&config, &[]).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    let received = receiver.received();
    assert_eq!(
        received.len(),
        2,
        "one interrupted attempt, one delivery, nothing more"
    );
    assert_eq!(
        received[0].headers["webhook-id"], received[1].headers["webhook-id"],
        "the retry after the crash carries the same alert id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_survive_a_receiver_that_throttles_hangs_drops_and_fails_and_polling_goes_on() {
    let server = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let dir = TestDir::new();
    server.set(
        "/live.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[("k-1", "US and Iran agree to resume talks in Oman", "")]),
        ),
    );
    // 429 with Retry-After: 1, then no answer, then a dropped connection, then a 500.
    receiver.script(&[429, 0, 1, 500]);
    let config = dir.config(&format!(
        "[poll]\ninterval = \"1s\"\nalert_on_first_poll = true\n\
         [delivery]\ntimeout = \"1s\"\nretry_base = \"100ms\"\nretry_max = \"400ms\"\n\
         [[feeds]]\nurl = \"{}\"\n[[sinks]]\nkind = \"webhook\"\nurl = \"{}\"\n",
        server.url("/live.xml"),
        receiver.url("/hook")
    ));
    let child = spawn_daemon(&config, true);
    // Deadlines bound behaviour, they measure nothing.
    assert!(
        eventually(Duration::from_secs(30), || receiver.received().len() >= 5).await,
        "the alert never got through: {} attempts",
        receiver.received().len()
    );
    let polls_during_failures = server.requests("/live.xml").len();
    let received = receiver.received();
    let ids: Vec<&str> = received
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one id on every attempt: {ids:?}"
    );
    assert!(
        received[1].at.duration_since(received[0].at) >= Duration::from_millis(950),
        "Retry-After: 1 was not honoured"
    );
    // Polling went on while delivery was failing: the 1s feed was fetched again and again.
    assert!(
        polls_during_failures >= 3,
        "only {polls_during_failures} polls"
    );

    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        receiver.received().len(),
        5,
        "nothing was sent after the success"
    );
}
