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

    sigterm(&child);
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
    let config = dir.config(&one_feed_to_webhook(
        "[poll]\ninterval = \"1h\"\nalert_on_first_poll = true\n[delivery]\ntimeout = \"30s\"\n",
        &server.url("/live.xml"),
        &receiver.url("/hook"),
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
    let config = dir.config(&one_feed_to_webhook(
        "[poll]\ninterval = \"1s\"\nalert_on_first_poll = true\n\
         [delivery]\ntimeout = \"1s\"\nretry_base = \"100ms\"\nretry_max = \"400ms\"\n",
        &server.url("/live.xml"),
        &receiver.url("/hook"),
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

    sigterm(&child);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_config_and_an_invalid_one_keeps_the_old() {
    let server = FeedServer::start().await;
    for path in ["/a.xml", "/b.xml"] {
        server.set(
            path,
            Route::ok(
                "application/rss+xml",
                rss(&[("x", "Markets edge higher", "")]),
            ),
        );
    }
    let dir = TestDir::new();
    let feed = |path: &str| {
        format!(
            "[poll]\ninterval = \"1s\"\n[[feeds]]\nurl = \"{}\"\n",
            server.url(path)
        )
    };
    let config = dir.config(&feed("/a.xml"));
    let child = spawn_daemon(&config, true);
    let pid = child.id().unwrap().to_string();
    let signal = |name: &str| {
        std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap()
    };
    assert!(
        eventually(Duration::from_secs(20), || !server
            .requests("/a.xml")
            .is_empty())
        .await
    );

    // Replace feed a with feed b.
    dir.config(&feed("/b.xml"));
    assert!(signal("HUP").success());
    assert!(
        eventually(Duration::from_secs(20), || !server
            .requests("/b.xml")
            .is_empty())
        .await,
        "the added feed was never polled"
    );
    // Counted once feed b has polled again (1s later), so a poll of feed a still in flight
    // at the reload has finished; then watched for three more of b's 1s intervals (at least
    // 2.7 s with jitter), in which feed a, also on 1s, would have polled again.
    let b_polls = || server.requests("/b.xml").len();
    let b_first = b_polls();
    assert!(eventually(Duration::from_secs(20), || b_polls() > b_first).await);
    let a_after_reload = server.requests("/a.xml").len();
    let b_then = b_polls();
    assert!(
        eventually(Duration::from_secs(20), || b_polls() >= b_then + 3).await,
        "feed b stopped polling"
    );
    assert_eq!(
        server.requests("/a.xml").len(),
        a_after_reload,
        "the removed feed kept being polled"
    );

    // A broken config is refused and feed b goes on.
    dir.write("parleyd.toml", "[[feeds]]\nurl = \"ftp://nope\"\n");
    assert!(signal("HUP").success());
    let b_before = server.requests("/b.xml").len();
    assert!(
        eventually(Duration::from_secs(20), || server.requests("/b.xml").len()
            > b_before + 1)
        .await,
        "polling stopped after a refused reload"
    );

    assert!(signal("TERM").success());
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Config reloaded."), "{stderr}");
    assert!(stderr.contains("Reload refused"), "{stderr}");
    assert!(stderr.contains("feeds[0].url"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_quiets_every_feed_on_that_host() {
    let server = FeedServer::start().await;
    let mut busy = Route::status(429);
    busy.headers.push(("retry-after".into(), "3".into()));
    server.set("/busy.xml", busy);
    server.set(
        "/calm.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[("x", "Markets edge higher", "")]),
        ),
    );
    let dir = TestDir::new();
    let config = dir.config(&format!(
        "[poll]\ninterval = \"1s\"\n[[feeds]]\nurl = \"{}\"\nname = \"busy\"\n[[feeds]]\nurl = \"{}\"\nname = \"calm\"\n",
        server.url("/busy.xml"),
        server.url("/calm.xml")
    ));
    let mut child = spawn_daemon(&config, false);
    assert!(
        eventually(Duration::from_secs(20), || !server
            .requests("/busy.xml")
            .is_empty())
        .await
    );
    let throttled_at = server.requests("/busy.xml")[0].at;
    // Until the calm feed polls again after the 429: on its own 1s schedule that would be
    // a second later, so when it does says how long the host was quiet.
    assert!(
        eventually(Duration::from_secs(20), || server
            .requests("/calm.xml")
            .iter()
            .any(
                |r| r.at.duration_since(throttled_at) > Duration::from_millis(200)
            ))
        .await,
        "the calm feed was never polled again"
    );
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let next_calm = server
        .requests("/calm.xml")
        .into_iter()
        .map(|r| r.at)
        .find(|at| at.duration_since(throttled_at) > Duration::from_millis(200))
        .expect("the calm feed was polled again after the quiet period");
    // The host asked for 3 s (jitter may take a tenth off); a tolerance, not a benchmark.
    assert!(
        next_calm.duration_since(throttled_at) >= Duration::from_millis(2500),
        "the calm feed on the same host was polled {:?} after the 429",
        next_calm.duration_since(throttled_at)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_status_and_stopping() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[("x", "Markets edge higher", "")]),
        ),
    );
    let dir = TestDir::new();
    let socket_path = dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let config = dir.config(&format!(
        "[poll]\ninterval = \"1s\"\n[[feeds]]\nurl = \"{}\"\n",
        server.url("/a.xml")
    ));
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_parleyd"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env_clear()
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let receive = |socket: &std::os::unix::net::UnixDatagram| {
        let mut buf = [0u8; 4096];
        let n = socket.recv(&mut buf).expect("a notification arrived");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = receive(&socket);
    assert!(first.contains("READY=1"), "{first}");
    assert!(
        first.contains("STATUS=1 feeds (0 failing), 0 alerts pending"),
        "{first}"
    );

    sigterm(&child);
    let mut seen = Vec::new();
    while !seen.iter().any(|m: &String| m.contains("STOPPING=1")) {
        seen.push(receive(&socket));
    }
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(output.status.code(), Some(0));
}

/// Where the daemon's stderr goes in [`stops_on_sigterm_whatever_its_stderr_is`].
#[derive(Debug, Clone, Copy)]
enum BrokenStderr {
    /// File descriptor 2 closed before the program starts.
    Closed,
    /// `/dev/full`: every write fails with "no space left on device".
    Full,
    /// A pipe whose reader has gone, as in `parleyd run 2>&1 | head -2`: every write fails
    /// with a broken pipe.
    ReaderGone,
}

fn spawn_daemon_with_stderr(
    config: &std::path::Path,
    stderr: BrokenStderr,
) -> tokio::process::Child {
    let program = env!("CARGO_BIN_EXE_parleyd");
    let config = config.to_str().unwrap();
    let mut command = match stderr {
        // `exec` keeps the pid, so the signal below reaches parleyd, not the shell.
        BrokenStderr::Closed => {
            let mut command = tokio::process::Command::new("sh");
            command.args([
                "-c",
                "exec \"$0\" --config \"$1\" run 2>&-",
                program,
                config,
            ]);
            command
        }
        BrokenStderr::Full | BrokenStderr::ReaderGone => {
            let mut command = tokio::process::Command::new(program);
            command.args(["--config", config, "run"]);
            command
        }
    };
    match stderr {
        BrokenStderr::Closed => {}
        BrokenStderr::Full => {
            let full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full exists on Linux");
            command.stderr(full);
        }
        BrokenStderr::ReaderGone => {
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            command.stderr(writer);
        }
    }
    command
        .env_clear()
        // Debug logs a line per poll, so writes fail before, during and after the signal.
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the parleyd binary starts")
}

/// A log line that cannot be written must never take down a task: with stderr closed, on a
/// full device or a pipe nobody reads, the daemon still polls and SIGTERM still stops it,
/// cleanly (exit 0). The 90 s bound (beyond the 60 s drain deadline) only turns a daemon that
/// never stops into a failure instead of a hung test; it measures nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_on_sigterm_whatever_its_stderr_is() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[("x", "Washington and Tehran agree to open a hotline", "")]),
        ),
    );
    for stderr in [
        BrokenStderr::Closed,
        BrokenStderr::Full,
        BrokenStderr::ReaderGone,
    ] {
        let dir = TestDir::new();
        let config = dir.config(&format!(
            "[poll]\ninterval = \"1s\"\nalert_on_first_poll = true\n[[feeds]]\nurl = \"{}\"\n[[sinks]]\nkind = \"stdout\"\n",
            server.url("/a.xml")
        ));
        let seen_before = server.requests("/a.xml").len();
        let mut child = spawn_daemon_with_stderr(&config, stderr);
        // Two polls: the daemon is running and has logged (and failed to log) a while.
        assert!(
            eventually(Duration::from_secs(30), || server.requests("/a.xml").len()
                >= seen_before + 2)
            .await,
            "{stderr:?}: the daemon never polled twice"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "{stderr:?}: the daemon died before it was asked to stop"
        );
        sigterm(&child);
        let exit = tokio::time::timeout(Duration::from_secs(90), child.wait())
            .await
            .unwrap_or_else(|_| panic!("{stderr:?}: the daemon did not stop after SIGTERM"))
            .unwrap();
        assert_eq!(exit.code(), Some(0), "{stderr:?}");
    }
}

/// Guaranteed: SIGTERM during a slow fetch cancels it at once. The feed drips its body
/// for ten minutes (a byte every two seconds, under the read timeout; the poll timeout is
/// ten minutes), so waiting for it would use up the 60-second shutdown grace and log
/// that tasks did not finish; instead the daemon stops cleanly, and the cancelled fetch is
/// not recorded as a failure of the feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cancels_a_slow_fetch_at_once() {
    let server = FeedServer::start().await;
    let dir = TestDir::new();
    let mut slow = Route::ok("application/rss+xml", vec![b' '; 300]);
    slow.drip = Some(Duration::from_secs(2));
    server.set("/slow.xml", slow);
    let config = dir.config(&format!(
        "[poll]\ntimeout = \"10m\"\n[[feeds]]\nurl = \"{}\"\nname = \"slow\"\n",
        server.url("/slow.xml")
    ));
    let child = spawn_daemon(&config, true);
    assert!(
        eventually(Duration::from_secs(20), || !server
            .requests("/slow.xml")
            .is_empty())
        .await,
        "the daemon never polled"
    );
    sigterm(&child);
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the daemon stopped after SIGTERM")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Store flushed; stopped."), "{stderr}");
    assert!(!stderr.contains("did not finish in time"), "{stderr}");
    let failures = dir.read_store(|store| {
        store
            .feed_state(&server.url("/slow.xml"))
            .unwrap()
            .map_or(0, |state| state.consecutive_failures)
    });
    assert_eq!(failures, 0, "a cancelled fetch is not a failure");
}
