//! A cause prints once: an error either says its cause in its own message or hands it on as
//! `source()`, never both, because anyhow's `{:#}` (how the binary prints errors) writes the
//! message and then every source after it.

use crate::support::*;
use parleyd::config::{Config, FeedConfig, PollConfig};
use parleyd::daemon::{FeedError, StartError};
use parleyd::poll::{Poller, Validators};
use parleyd::store::StoreError;
use parleyd::{Profile, Store};
use std::error::Error;

/// Fails if any cause in the chain of `err` appears more than once in how the binary would
/// print it, and returns that text.
fn printed_once<E: Error + Send + Sync + 'static>(err: E) -> String {
    let mut causes = Vec::new();
    let mut next = err.source();
    while let Some(cause) = next {
        causes.push(cause.to_string());
        next = cause.source();
    }
    let printed = format!("{:#}", anyhow::Error::from(err));
    for cause in causes {
        assert_eq!(
            printed.matches(cause.as_str()).count(),
            1,
            "`{cause}` printed more than once: {printed}"
        );
    }
    printed
}

#[tokio::test]
async fn every_error_with_a_cause_prints_it_once() {
    let dir = TestDir::new();
    let missing = dir.path().join("missing");
    let os_error = std::fs::read(&missing).unwrap_err().to_string();
    let count = |text: &str| text.matches(os_error.as_str()).count();

    let config = Config::load(&missing).unwrap_err();
    assert_eq!(count(&printed_once(config)), 1);

    let profile = || Profile::load(&missing).unwrap_err();
    assert_eq!(count(&printed_once(profile())), 1);
    assert_eq!(count(&printed_once(StartError::from(profile()))), 1);

    let feed = FeedConfig {
        name: "gone".into(),
        url: url::Url::from_file_path(&missing).unwrap(),
        interval: std::time::Duration::from_secs(60),
        alert_on_first_poll: false,
    };
    let poller = Poller::new(&PollConfig::default()).unwrap();
    let poll = poller
        .fetch(&feed, &Validators::default())
        .await
        .unwrap_err();
    assert_eq!(count(&printed_once(poll)), 1);

    // A store whose folder is a plain file cannot be opened.
    let not_a_folder = dir.write("store", "not a folder");
    let open = || match Store::open(&not_a_folder, 1 << 20) {
        Ok(_) => panic!("a store opened in a plain file"),
        Err(err) => err,
    };
    let printed = printed_once(open());
    assert!(printed.contains("cannot open the store"), "{printed}");
    printed_once(FeedError::Store {
        feed: "gone".into(),
        cause: open(),
    });
    printed_once(StoreError::Io {
        operation: "flush",
        cause: sled::Error::Io(std::io::Error::other("disk on fire")),
    });
}

#[tokio::test]
async fn a_missing_default_config_names_the_flag_and_its_cause_once() {
    let default = std::path::Path::new(parleyd::config::DEFAULT_CONFIG_PATH);
    if default.exists() {
        skipped(
            "missing default config",
            &format!("{} exists on this machine", default.display()),
        );
        return;
    }
    let run = parleyd(&["once"], &[], b"").await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("--config PATH"), "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("(os error 2)").count(),
        1,
        "{}",
        run.stderr
    );

    // A path someone gave is theirs to fix; the hint is for the default only.
    let dir = TestDir::new();
    let run = once(&dir.path().join("nope.toml"), &[]).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(!run.stderr.contains("--config PATH"), "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("(os error 2)").count(),
        1,
        "{}",
        run.stderr
    );
}
