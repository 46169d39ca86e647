//! The HTTP helpers poll and notify share: client settings, `Retry-After`, error chains.

use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::Duration;

/// The `User-Agent` sent with every request: sites can see who polls them and how to reach us.
pub const USER_AGENT: &str = concat!(
    "parleyd/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/parleyd/parleyd; news alert daemon)"
);

/// A client builder with what every parleyd client needs: our `User-Agent`, a limit on the
/// whole request and on connecting, and no redirects followed (a feed's redirect is
/// followed by hand so it can be reported; a webhook's would resend an alert somewhere the
/// user did not choose).
pub fn client_builder(timeout: Duration, connect_timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// An error and its causes on one line, e.g. "error sending request: connection refused".
/// Callers pass errors already stripped of URLs.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
