//! Delivers alerts from the outbox to the configured sinks: Slack, generic webhooks,
//! Discord, Teams, ntfy, email and stdout.
//!
//! Each sink is worked on its own: an entry leaves the outbox only after its sink accepted
//! it (a 2xx), a failure pushes the entry back with exponential back-off and jitter (or the
//! server's `Retry-After`, if longer), and after `delivery.max_attempts` it moves to the
//! dead-letter list, never silently dropped. Every attempt carries the same alert id
//! (`webhook-id` header, `id` field) so receivers can drop repeats.

pub mod discord;
pub mod email;
pub mod ntfy;
pub mod slack;
pub mod stdout;
pub mod teams;
pub mod text;
pub mod webhook;

use crate::config::{DeliveryConfig, SigningKey, SinkConfig, SinkKind};
use crate::http::{client_builder, error_chain, retry_after};
use crate::model::{Alert, StorySummary};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The longest `Retry-After` honoured; a receiver asking for more is retried after this.
const RETRY_AFTER_CEILING: Duration = Duration::from_secs(3600);

/// The gap between two Slack messages: Slack allows about one a second per webhook.
const SLACK_MESSAGE_GAP: Duration = Duration::from_secs(1);

/// Entries read from the outbox per round; bounds memory when a sink has a long backlog.
const BATCH: usize = 100;

/// Why one delivery attempt failed. The message never contains the sink's URL.
#[derive(Debug, thiserror::Error)]
#[error("sink `{sink}`: {reason}")]
pub struct DeliveryError {
    /// Sink name.
    pub sink: String,
    /// What went wrong.
    pub reason: DeliveryFailure,
    /// How long the receiver asked us to wait.
    pub retry_after: Option<Duration>,
}

/// The causes of a failed delivery attempt. Each prints its cause once, without a URL.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryFailure {
    /// The request did not complete (connection, TLS, timeout, body); the error is already
    /// stripped of its URL.
    #[error("{}", error_chain(.0))]
    Request(reqwest::Error),
    /// The receiver answered with a status other than 2xx.
    #[error("the receiver answered HTTP {0}")]
    Status(u16),
    /// Writing to standard output failed.
    #[error("cannot write to standard output: {0}")]
    Stdout(std::io::Error),
    /// An ntfy URL without a topic (validation refuses one; this guards the send itself).
    #[error("the ntfy URL names no topic")]
    NoTopic,
    /// The email was not sent; the error says what the SMTP server or connection said.
    #[error("email: {0}")]
    Email(email::EmailError),
}

impl DeliveryFailure {
    /// Whether trying again cannot help: a 4xx other than 408 (timeout) and 429 (too many
    /// requests) says the request itself is wrong (a deleted webhook answers 404 or 410, a
    /// revoked token 403), and retrying it for a day only hides that from the operator.
    /// A mail server's 5xx answer (unknown recipient, refused login) is the same verdict.
    pub fn is_permanent(&self) -> bool {
        match self {
            DeliveryFailure::Status(code) => {
                (400..500).contains(code) && *code != 408 && *code != 429
            }
            DeliveryFailure::Email(email::EmailError::Smtp { permanent, .. }) => *permanent,
            DeliveryFailure::NoTopic => true,
            _ => false,
        }
    }

    /// Why a permanent failure is not retried, for the dead-letter reason.
    fn not_retried(&self) -> &'static str {
        match self {
            DeliveryFailure::Email(_) => "a permanent (5xx) SMTP answer is not retried",
            DeliveryFailure::NoTopic => "fix the sink's url",
            _ => "a 4xx other than 408 and 429 is not retried",
        }
    }
}

/// What one delivery round did for one sink.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Alerts accepted by the sink.
    pub sent: usize,
    /// Attempts that failed (the entries stay queued).
    pub failed: usize,
    /// Alerts moved to the dead-letter list.
    pub dead: usize,
    /// After a failure: when the sink should be tried again. The entries behind the failed
    /// one wait with it, so a down sink is not hammered.
    pub blocked_until: Option<DateTime<Utc>>,
}

/// Sends alerts. Cheap to clone: the HTTP client is shared.
#[derive(Debug, Clone)]
pub struct Notifier {
    client: reqwest::Client,
    config: DeliveryConfig,
}

/// Errors building the notifier.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the delivery HTTP client: {reason}")]
pub struct NotifierError {
    reason: String,
}

impl Notifier {
    /// Builds the delivery client.
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new(config: &DeliveryConfig) -> Result<Notifier, NotifierError> {
        // A redirect from a webhook endpoint means a misconfiguration; following it would
        // resend the alert somewhere the user did not choose (the builder follows none).
        let client = client_builder(config.timeout, config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|err| NotifierError {
                reason: error_chain(&err.without_url()),
            })?;
        Ok(Notifier {
            client,
            config: config.clone(),
        })
    }

    /// Sends one alert to one sink, once.
    ///
    /// # Errors
    /// A [`DeliveryError`] naming the sink.
    /// `story` says which story the alert opened and how far it has spread so far.
    pub async fn send(
        &self,
        sink: &SinkConfig,
        alert: &Alert,
        story: &StorySummary,
    ) -> Result<(), DeliveryError> {
        let also = &story.also_reported_by;
        match &sink.kind {
            SinkKind::Stdout { json } => {
                stdout::write(alert, story, *json).map_err(|e| stdout_error(sink, e))
            }
            SinkKind::Slack { url, mention } => {
                let body = slack::payload(alert, also, mention.as_deref());
                self.post(sink, url.expose(), &body, &alert.id, Auth::None)
                    .await
            }
            SinkKind::Webhook { url, signing_key } => {
                let body = webhook::payload(alert, story);
                let auth = signing_key.as_ref().map_or(Auth::None, Auth::Signed);
                self.post(sink, url.expose(), &body, &alert.id, auth).await
            }
            SinkKind::Discord { url, mention } => {
                let body = discord::payload(alert, also, mention.as_ref());
                self.post(sink, url.expose(), &body, &alert.id, Auth::None)
                    .await
            }
            SinkKind::Teams { url } => {
                let body = teams::payload(alert, also);
                self.post(sink, url.expose(), &body, &alert.id, Auth::None)
                    .await
            }
            SinkKind::Ntfy {
                url,
                token,
                priority,
            } => {
                let (root, topic) = ntfy_endpoint(sink, url)?;
                let body = ntfy::payload(&topic, alert, also, *priority);
                let auth = token.as_ref().map_or(Auth::None, Auth::Bearer);
                self.post(sink, &root, &body, &alert.id, auth).await
            }
            SinkKind::Email(email_sink) => {
                let message =
                    email::message(email_sink, alert, also).map_err(|e| email_error(sink, e))?;
                email::send(email_sink, self.config.timeout, message)
                    .await
                    .map_err(|e| email_error(sink, e))
            }
        }
    }

    async fn post(
        &self,
        sink: &SinkConfig,
        url: &str,
        body: &serde_json::Value,
        id: &str,
        auth: Auth<'_>,
    ) -> Result<(), DeliveryError> {
        let failure = |reason: DeliveryFailure, retry_after: Option<Duration>| DeliveryError {
            sink: sink.name.clone(),
            reason,
            retry_after,
        };
        let body = body.to_string();
        // Each attempt gets a fresh timestamp (and signature) but the same id.
        let timestamp = Utc::now().timestamp();
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string());
        match auth {
            Auth::None => {}
            Auth::Signed(key) => {
                let signature = webhook::signature(key, id, timestamp, body.as_bytes());
                request = request.header("webhook-signature", signature);
            }
            Auth::Bearer(token) => request = request.bearer_auth(token.expose()),
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|err| failure(DeliveryFailure::Request(err.without_url()), None))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let wait = retry_after(response.headers());
        Err(failure(DeliveryFailure::Status(status.as_u16()), wait))
    }

    /// Delivers every due outbox entry of one sink, oldest first. Stops at the first
    /// failure: the sink is likely down, and the rest would only fail slower. With a flood
    /// guard, alerts beyond the window's limit are held and later go out as one digest.
    ///
    /// # Errors
    /// [`StoreError`] if the outbox cannot be read or updated.
    pub async fn deliver_due(
        &self,
        store: &Store,
        sink: &SinkConfig,
    ) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        loop {
            let due = store.due_alerts(&sink.name, Utc::now(), BATCH)?;
            if due.is_empty() {
                return Ok(report);
            }
            let mut capacity = self.flood_capacity(store, sink)?;
            let (held, fresh): (Vec<_>, Vec<_>) = due.into_iter().partition(|(_, a)| a.held);
            let mut progressed = false;
            if !held.is_empty() && capacity.room() {
                if !self.send_digest(store, sink, held, &mut report).await? {
                    return Ok(report);
                }
                capacity.used();
                progressed = true;
            }
            for (key, mut alert) in fresh {
                if self.expire_if_too_old(store, sink, &key, &mut alert, &mut report)? {
                    progressed = true;
                    continue;
                }
                if !capacity.room() {
                    // Over the limit: wait for the window, then go out in a digest.
                    alert.held = true;
                    alert.next_attempt = capacity.window_end;
                    store.update_alert(&key, &alert)?;
                    report.blocked_until = Some(capacity.window_end);
                    tracing::info!(sink = %sink.name, alert = %alert.id, until = %capacity.window_end, "Flood guard: alert held for the next digest.");
                    continue;
                }
                if !self.send_one(store, sink, key, alert, &mut report).await? {
                    return Ok(report);
                }
                capacity.used();
                progressed = true;
            }
            if !progressed {
                return Ok(report);
            }
        }
    }

    /// Sends one alert; `false` when it failed (the sink is then left alone for now).
    async fn send_one(
        &self,
        store: &Store,
        sink: &SinkConfig,
        key: Vec<u8>,
        mut alert: Alert,
        report: &mut DeliveryReport,
    ) -> Result<bool, StoreError> {
        let story = store.story_summary(&alert)?;
        match self.send(sink, &alert, &story).await {
            Ok(()) => {
                store.mark_sent(&key, &alert, Utc::now(), None)?;
                report.sent += 1;
                metrics::counter!(crate::telemetry::metric::ALERTS_SENT, "sink" => sink.name.clone())
                    .increment(1);
                tracing::info!(sink = %sink.name, alert = %alert.id, feed = %alert.article.feed, "Alert delivered.");
                self.pace(sink).await;
                Ok(true)
            }
            Err(err) => {
                self.record_failure(store, sink, &key, &mut alert, &err, report)?;
                Ok(false)
            }
        }
    }

    /// Sends held alerts as one digest; `false` when it failed.
    async fn send_digest(
        &self,
        store: &Store,
        sink: &SinkConfig,
        held: Vec<(Vec<u8>, Alert)>,
        report: &mut DeliveryReport,
    ) -> Result<bool, StoreError> {
        let alerts: Vec<Alert> = held.iter().map(|(_, a)| a.clone()).collect();
        let digest_id = digest_id(&alerts);
        match self.send_digest_message(sink, &digest_id, &alerts).await {
            Ok(()) => {
                let now = Utc::now();
                for (key, alert) in &held {
                    store.mark_sent(key, alert, now, Some(&digest_id))?;
                }
                report.sent += held.len();
                metrics::counter!(crate::telemetry::metric::ALERTS_SENT, "sink" => sink.name.clone())
                    .increment(held.len() as u64);
                tracing::info!(sink = %sink.name, digest = %digest_id, alerts = held.len(), "Digest delivered.");
                self.pace(sink).await;
                Ok(true)
            }
            Err(err) => {
                // Every held alert carries the failure, so none is retried sooner than the rest.
                for (key, mut alert) in held {
                    self.record_failure(store, sink, &key, &mut alert, &err, report)?;
                }
                Ok(false)
            }
        }
    }

    async fn send_digest_message(
        &self,
        sink: &SinkConfig,
        digest_id: &str,
        alerts: &[Alert],
    ) -> Result<(), DeliveryError> {
        match &sink.kind {
            SinkKind::Stdout { json } => {
                stdout::write_digest(digest_id, alerts, *json).map_err(|e| stdout_error(sink, e))
            }
            SinkKind::Slack { url, mention } => {
                let body = slack::digest_payload(alerts, mention.as_deref());
                self.post(sink, url.expose(), &body, digest_id, Auth::None)
                    .await
            }
            SinkKind::Webhook { url, signing_key } => {
                let body = webhook::digest_payload(digest_id, alerts);
                let auth = signing_key.as_ref().map_or(Auth::None, Auth::Signed);
                self.post(sink, url.expose(), &body, digest_id, auth).await
            }
            SinkKind::Discord { url, mention } => {
                let body = discord::digest_payload(alerts, mention.as_ref());
                self.post(sink, url.expose(), &body, digest_id, Auth::None)
                    .await
            }
            SinkKind::Teams { url } => {
                let body = teams::digest_payload(alerts);
                self.post(sink, url.expose(), &body, digest_id, Auth::None)
                    .await
            }
            SinkKind::Ntfy {
                url,
                token,
                priority,
            } => {
                let (root, topic) = ntfy_endpoint(sink, url)?;
                let body = ntfy::digest_payload(&topic, alerts, *priority);
                let auth = token.as_ref().map_or(Auth::None, Auth::Bearer);
                self.post(sink, &root, &body, digest_id, auth).await
            }
            SinkKind::Email(email_sink) => {
                let message = email::digest_message(email_sink, digest_id, alerts)
                    .map_err(|e| email_error(sink, e))?;
                email::send(email_sink, self.config.timeout, message)
                    .await
                    .map_err(|e| email_error(sink, e))
            }
        }
    }

    /// Dead-letters an alert queued longer ago than `delivery.max_age`.
    fn expire_if_too_old(
        &self,
        store: &Store,
        sink: &SinkConfig,
        key: &[u8],
        alert: &mut Alert,
        report: &mut DeliveryReport,
    ) -> Result<bool, StoreError> {
        let age = Utc::now() - alert.created;
        if !age.to_std().is_ok_and(|age| age > self.config.max_age) {
            return Ok(false);
        }
        alert.last_error = Some(format!(
            "not delivered within {} of being queued",
            crate::duration::human(self.config.max_age)
        ));
        store.move_to_dead(key, alert)?;
        report.dead += 1;
        metrics::counter!(crate::telemetry::metric::ALERTS_DEAD, "sink" => sink.name.clone())
            .increment(1);
        tracing::error!(sink = %sink.name, alert = %alert.id, "Alert moved to the dead-letter list: too old to send.");
        Ok(true)
    }

    fn record_failure(
        &self,
        store: &Store,
        sink: &SinkConfig,
        key: &[u8],
        alert: &mut Alert,
        err: &DeliveryError,
        report: &mut DeliveryReport,
    ) -> Result<(), StoreError> {
        alert.attempts += 1;
        alert.last_error = Some(err.reason.to_string());
        if err.reason.is_permanent() {
            alert.last_error = Some(format!("{}; {}", err.reason, err.reason.not_retried()));
            store.move_to_dead(key, alert)?;
            report.dead += 1;
            metrics::counter!(crate::telemetry::metric::ALERTS_DEAD, "sink" => sink.name.clone())
                .increment(1);
            tracing::error!(sink = %sink.name, alert = %alert.id, attempts = alert.attempts, error = %err, "Alert moved to the dead-letter list: the receiver refused it.");
        } else if alert.attempts >= self.config.max_attempts {
            store.move_to_dead(key, alert)?;
            report.dead += 1;
            metrics::counter!(crate::telemetry::metric::ALERTS_DEAD, "sink" => sink.name.clone())
                .increment(1);
            tracing::error!(sink = %sink.name, alert = %alert.id, attempts = alert.attempts, error = %err, "Alert moved to the dead-letter list after its last attempt.");
        } else {
            let wait = self.retry_delay(alert.attempts, err.retry_after);
            alert.next_attempt =
                Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
            store.update_alert(key, alert)?;
            report.failed += 1;
            report.blocked_until = Some(alert.next_attempt);
            metrics::counter!(crate::telemetry::metric::ALERTS_RETRIED, "sink" => sink.name.clone())
                .increment(1);
            tracing::warn!(sink = %sink.name, alert = %alert.id, attempts = alert.attempts, retry_in = %crate::duration::human(wait), error = %err, "Alert delivery failed; will retry.");
        }
        Ok(())
    }

    /// How many more messages the sink's flood guard allows now, and when its window ends.
    fn flood_capacity(&self, store: &Store, sink: &SinkConfig) -> Result<Capacity, StoreError> {
        let Some(flood) = sink.flood else {
            return Ok(Capacity::unlimited());
        };
        let now = Utc::now();
        let window = chrono::Duration::from_std(flood.window).unwrap_or(chrono::Duration::hours(1));
        let (sent, oldest) = store.messages_sent_since(&sink.name, now - window)?;
        Ok(Capacity {
            left: Some(flood.limit.saturating_sub(sent)),
            window_end: oldest.map_or(now, |oldest| oldest + window),
        })
    }

    /// Slack accepts about one message a second per webhook; keep under it. Discord and
    /// Teams channels are chat too, with limits of the same order; a 429 from any of them
    /// carries `Retry-After`, which the retry honours.
    async fn pace(&self, sink: &SinkConfig) {
        if matches!(
            sink.kind,
            SinkKind::Slack { .. } | SinkKind::Discord { .. } | SinkKind::Teams { .. }
        ) {
            tokio::time::sleep(SLACK_MESSAGE_GAP).await;
        }
    }

    /// The wait before attempt `attempts + 1`: base · 2^(attempts−1), capped at
    /// `retry_max`, with jitter between half and all of it so many daemons do not retry in
    /// step; never shorter than what the receiver asked for (up to an hour).
    pub fn retry_delay(&self, attempts: u32, asked: Option<Duration>) -> Duration {
        backoff_delay(
            self.config.retry_base,
            self.config.retry_max,
            attempts,
            asked,
        )
    }
}

/// What a flood guard still allows in the current window.
struct Capacity {
    /// Messages left; `None` when the sink has no guard.
    left: Option<u32>,
    /// When the oldest message in the window leaves it.
    window_end: DateTime<Utc>,
}

impl Capacity {
    fn unlimited() -> Capacity {
        Capacity {
            left: None,
            window_end: Utc::now(),
        }
    }

    fn room(&self) -> bool {
        self.left.is_none_or(|left| left > 0)
    }

    fn used(&mut self) {
        if let Some(left) = &mut self.left {
            *left = left.saturating_sub(1);
        }
    }
}

/// A digest's id, stable for the same set of alerts (a retry of the digest repeats it).
fn digest_id(alerts: &[Alert]) -> String {
    let mut ids: Vec<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
    ids.sort_unstable();
    format!(
        "digest-{:016x}",
        xxhash_rust::xxh3::xxh3_64(ids.join(",").as_bytes())
    )
}

/// How a request proves itself to the receiver.
#[derive(Clone, Copy)]
enum Auth<'a> {
    /// Nothing: the URL is the credential (Slack, Discord, Teams).
    None,
    /// A Standard Webhooks signature.
    Signed(&'a SigningKey),
    /// `Authorization: Bearer` (an ntfy access token).
    Bearer(&'a crate::config::Secret),
}

/// The root and topic an ntfy topic URL posts to. Validation checked the URL names a topic;
/// one that does not cannot be sent to, now or later.
fn ntfy_endpoint(
    sink: &SinkConfig,
    url: &crate::config::Secret,
) -> Result<(String, String), DeliveryError> {
    ntfy::endpoint(url.expose()).ok_or_else(|| DeliveryError {
        sink: sink.name.clone(),
        reason: DeliveryFailure::NoTopic,
        retry_after: None,
    })
}

/// An email that was not sent, as a delivery error.
fn email_error(sink: &SinkConfig, err: email::EmailError) -> DeliveryError {
    DeliveryError {
        sink: sink.name.clone(),
        reason: DeliveryFailure::Email(err),
        retry_after: None,
    }
}

/// A failure to write to standard output, as a delivery error.
fn stdout_error(sink: &SinkConfig, err: std::io::Error) -> DeliveryError {
    DeliveryError {
        sink: sink.name.clone(),
        reason: DeliveryFailure::Stdout(err),
        retry_after: None,
    }
}

/// Exponential back-off with jitter; see [`Notifier::retry_delay`].
pub fn backoff_delay(
    base: Duration,
    max: Duration,
    attempts: u32,
    asked: Option<Duration>,
) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exponent).min(max);
    let jittered = full.mul_f64(0.5 + fastrand::f64() * 0.5);
    // The receiver's own wait wins over our schedule, even past `retry_max`; the ceiling
    // only guards against a broken header asking for days.
    match asked {
        Some(asked) => jittered.max(asked.min(RETRY_AFTER_CEILING)),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_honours_retry_after() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(60);
        for attempts in 1..10 {
            let delay = backoff_delay(base, max, attempts, None);
            let full = (base * 2u32.pow(attempts - 1)).min(max);
            assert!(delay >= full / 2 && delay <= full, "{attempts}: {delay:?}");
        }
        let delay = backoff_delay(base, max, 1, Some(Duration::from_secs(30)));
        assert!(delay >= Duration::from_secs(30));
        let delay = backoff_delay(base, max, 1, Some(Duration::from_secs(300)));
        assert_eq!(
            delay,
            Duration::from_secs(300),
            "Retry-After wins over retry_max"
        );
        let delay = backoff_delay(base, max, 1, Some(Duration::from_secs(86_400)));
        assert_eq!(delay, RETRY_AFTER_CEILING);
    }
}
