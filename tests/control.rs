//! The control API: the store commands (`feeds`, `stats`, `alerts`, `alerts retry`,
//! `replay`) run as the real binary against a real daemon that holds the store, without
//! the sink secrets the daemon has; the API refuses whoever lacks the daemon's token.

use crate::support::*;
use std::path::Path;
use std::time::Duration;

/// `parleyd run` with `CREDENTIALS_DIRECTORY` set, as systemd's `LoadCredential=` runs it:
/// the daemon can resolve `${credential:…}`, the commands run next to it cannot.
fn spawn_daemon_with_credentials(config: &Path, credentials: &Path) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_parleyd"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env_clear()
        .env("RUST_LOG", "info")
        .env("CREDENTIALS_DIRECTORY", credentials)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the parleyd binary starts")
}

/// Runs `parleyd --config CONFIG ARGS…` with no credentials and no variables.
async fn command(config: &Path, args: &[&str]) -> RunOutput {
    let mut all = vec!["--config", config.to_str().unwrap()];
    all.extend_from_slice(args);
    parleyd(&all, &[], b"").await
}

async fn stop(mut child: tokio::process::Child) {
    sigterm(&child);
    let exit = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the daemon stopped after SIGTERM")
        .unwrap();
    assert_eq!(exit.code(), Some(0));
}

/// A daemon polling one feed with one alerting article, whose only sink (a webhook whose
/// URL is a systemd credential) answers 500 once, so the alert is dead-lettered after its
/// one allowed attempt. Returns the daemon and the config, once the alert is dead.
struct Setup {
    dir: TestDir,
    config: std::path::PathBuf,
    receiver: WebhookReceiver,
    port: u16,
    daemon: tokio::process::Child,
    _feeds: FeedServer,
}

async fn daemon_with_a_dead_alert() -> Setup {
    let feeds = FeedServer::start().await;
    feeds.set(
        "/wire.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[
                ("k-1", "US and Iran agree to resume talks in Oman", ""),
                ("k-2", "Markets edge higher", ""),
            ]),
        ),
    );
    let receiver = WebhookReceiver::start().await;
    receiver.script(&[500]);
    let dir = TestDir::new();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(credentials.join("hook"), receiver.url("/hook") + "\n").unwrap();
    let port = free_port();
    let config = dir.config_with_server(
        &format!("127.0.0.1:{port}"),
        &format!(
            "[poll]\ninterval = \"1h\"\nalert_on_first_poll = true\n\
             [delivery]\nmax_attempts = 1\n\
             [[feeds]]\nurl = \"{}\"\nname = \"wire\"\n\
             [[sinks]]\nkind = \"webhook\"\nname = \"hook\"\nurl = \"${{credential:hook}}\"\n",
            feeds.url("/wire.xml")
        ),
    );
    let daemon = spawn_daemon_with_credentials(&config, &credentials);
    // The deadline bounds a behaviour (the alert gets dead-lettered); it measures nothing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let dead = command(&config, &["alerts", "--state", "dead", "--json"]).await;
        if dead.code == Some(0) && dead.stdout.lines().count() == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the alert was never dead-lettered: {dead:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Setup {
        dir,
        config,
        receiver,
        port,
        daemon,
        _feeds: feeds,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_commands_ask_the_running_daemon_and_print_what_they_print_without_it() {
    let setup = daemon_with_a_dead_alert().await;
    let config = &setup.config;
    // The commands run without the credential the sink's URL needs; loading a config that
    // resolves it fails in this environment.
    let check = command(config, &["check-config"]).await;
    assert_eq!(check.code, Some(2), "{check:?}");
    assert!(check.stderr.contains("credential hook"), "{}", check.stderr);

    let asked = [
        command(config, &["feeds", "--json"]).await,
        command(config, &["feeds"]).await,
        command(config, &["alerts", "--json"]).await,
        command(config, &["alerts"]).await,
        command(config, &["replay", "--since", "1d"]).await,
    ];
    for output in &asked {
        assert_eq!(output.code, Some(0), "{output:?}");
    }
    let feed: serde_json::Value = serde_json::from_str(asked[0].stdout.trim()).unwrap();
    assert_eq!(feed["name"], "wire");
    assert_eq!(feed["health"], "ok");
    assert_eq!(feed["items_seen"], 2);
    let alert: serde_json::Value = serde_json::from_str(asked[2].stdout.trim()).unwrap();
    assert_eq!(alert["state"], "dead");
    assert_eq!(alert["sink"], "hook");
    assert_eq!(alert["title"], "US and Iran agree to resume talks in Oman");
    assert_eq!(asked[4].stdout.lines().count(), 1, "{:?}", asked[4]);
    assert!(asked[4].stdout.contains("resume talks in Oman"));
    let stats = command(config, &["stats", "--json"]).await;
    assert_eq!(stats.code, Some(0), "{stats:?}");
    let stats: serde_json::Value = serde_json::from_str(stats.stdout.trim()).unwrap();
    assert_eq!(stats["articles"], 2);
    assert_eq!(stats["dead"], 1);
    assert_eq!(stats["pending"], 0);

    // Stopped, the daemon leaves the store to the commands: the same output, read directly.
    stop(setup.daemon).await;
    let direct = [
        command(config, &["feeds", "--json"]).await,
        command(config, &["feeds"]).await,
        command(config, &["alerts", "--json"]).await,
        command(config, &["alerts"]).await,
        command(config, &["replay", "--since", "1d"]).await,
    ];
    for (asked, direct) in asked.iter().zip(&direct) {
        assert_eq!(direct.code, Some(0), "{direct:?}");
        assert_eq!(asked.stdout, direct.stdout);
    }
    drop(setup.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_calls_without_the_daemons_token_and_retry_works_with_it() {
    let setup = daemon_with_a_dead_alert().await;
    let config = &setup.config;
    let base = format!("http://127.0.0.1:{}/api/v1", setup.port);
    let token_file = setup.dir.path().join("store").join("control.token");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file).unwrap().permissions(),
    );
    assert_eq!(
        mode & 0o777,
        0o600,
        "only the daemon's user may read the token"
    );
    let token = std::fs::read_to_string(&token_file).unwrap();

    let client = reqwest::Client::new();
    let retry = |token: Option<&str>| {
        let request = client
            .post(format!("{base}/alerts/retry"))
            .header("content-type", "application/json")
            .body(r#"{"all_dead": true}"#);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };
    let none = retry(None).await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    let wrong = retry(Some(&"0".repeat(token.len()))).await.unwrap();
    assert_eq!(wrong.status(), 401);
    let read = client.get(format!("{base}/feeds")).send().await.unwrap();
    assert_eq!(read.status(), 401, "reading needs the token too");
    let still_dead = command(config, &["alerts", "--state", "dead", "--json"]).await;
    assert_eq!(
        still_dead.stdout.lines().count(),
        1,
        "refused calls changed nothing"
    );

    // The same call with the token from the file is let in.
    let hello = client
        .get(&base)
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(hello.status(), 200);
    let hello: serde_json::Value = serde_json::from_str(&hello.text().await.unwrap()).unwrap();
    assert_eq!(hello["api"], 1);

    assert_eq!(
        setup.receiver.received().len(),
        1,
        "its one allowed attempt"
    );
    // The command reads the token and re-queues the dead alert in the running daemon.
    let dead: serde_json::Value = serde_json::from_str(still_dead.stdout.trim()).unwrap();
    let id = dead["id"].as_str().unwrap();
    let retried = command(config, &["alerts", "retry", id]).await;
    assert_eq!(retried.code, Some(0), "{retried:?}");
    assert!(retried.stdout.contains("re-queued 1 alert"), "{retried:?}");
    let dead_now = command(config, &["alerts", "--state", "dead", "--json"]).await;
    assert_eq!(dead_now.code, Some(0), "{dead_now:?}");
    assert_eq!(dead_now.stdout, "", "the alert left the dead-letter list");
    let all = command(config, &["alerts", "--json"]).await;
    let row: serde_json::Value = serde_json::from_str(all.stdout.trim()).unwrap();
    assert_eq!(row["id"], id);
    assert!(
        row["state"] == "pending" || row["state"] == "sent",
        "back in the outbox, or already delivered from it: {row}"
    );
    let again = command(config, &["alerts", "retry", id]).await;
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(again.stderr.contains("no dead-lettered alert with id"));
    stop(setup.daemon).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_held_by_a_daemon_without_an_api_is_explained_once() {
    let feeds = FeedServer::start().await;
    feeds.set(
        "/wire.xml",
        Route::ok("application/rss+xml", rss(&[("k-1", "Markets", "")])),
    );
    let dir = TestDir::new();
    // The status listener is off: no API to ask.
    let config = dir.config(&format!(
        "[poll]\ninterval = \"1h\"\n[[feeds]]\nurl = \"{}\"\n",
        feeds.url("/wire.xml")
    ));
    let daemon = spawn_daemon(&config, false);
    assert!(
        eventually(Duration::from_secs(20), || !feeds
            .requests("/wire.xml")
            .is_empty())
        .await,
        "the daemon never polled"
    );
    let output = command(&config, &["feeds"]).await;
    assert_eq!(output.code, Some(2), "{output:?}");
    let store = dir.path().join("store");
    let said = format!(
        "the store at {} is in use by another process",
        store.display()
    );
    assert_eq!(output.stderr.matches(&said).count(), 1, "{}", output.stderr);
    assert!(
        output.stderr.contains("listen = \"off\""),
        "{}",
        output.stderr
    );
    assert!(
        !output.stderr.contains("Os {"),
        "no debug dump: {}",
        output.stderr
    );
    stop(daemon).await;
}

#[test]
fn each_token_is_new_readable_only_by_its_owner_and_the_only_one_accepted() {
    use parleyd::control::Token;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(parleyd::control::TOKEN_FILE);
    // A file left with loose permissions is replaced, not reused.
    std::fs::write(&file, "old").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let first = Token::issue(dir.path()).unwrap();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.len(), 64, "256 bits in hex");
    assert!(first.accepts(&text));
    assert!(Token::read(dir.path()).unwrap().accepts(&text));
    assert!(!first.accepts("old") && !first.accepts(""));
    assert!(
        !format!("{first:?}").contains(&text),
        "Debug never shows it"
    );

    // The next start's token replaces it; the old one no longer opens anything.
    let second = Token::issue(dir.path()).unwrap();
    assert!(!second.accepts(&text));
    assert!(
        Token::read(dir.path())
            .unwrap()
            .accepts(std::fs::read_to_string(&file).unwrap().as_str())
    );
}
