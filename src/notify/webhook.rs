//! The generic webhook body: one JSON object per alert, versioned, documented in the README.

use crate::config::SigningKey;
use crate::model::{Alert, StorySummary};
use serde_json::{Value, json};

/// The version of the body's shape; bumped only on incompatible changes.
pub const PAYLOAD_VERSION: u32 = 1;

/// The JSON body posted to a generic webhook.
pub fn payload(alert: &Alert, story: &StorySummary) -> Value {
    let feed_url = url::Url::parse(&alert.article.feed_url)
        .map(|url| crate::redact::display_url(&url))
        .unwrap_or_default();
    json!({
        "version": PAYLOAD_VERSION,
        "type": "parleyd.alert",
        "id": alert.id,
        "created_at": alert.created.to_rfc3339(),
        "event": alert.verdict.event,
        "score": alert.verdict.score,
        "reasons": alert.verdict.reasons,
        "article": {
            "key": alert.article.key,
            "title": alert.article.title,
            "link": alert.article.link,
            "summary": alert.article.summary,
            "published": alert.article.published.map(|p| p.to_rfc3339()),
            "first_seen": alert.article.first_seen.to_rfc3339(),
        },
        "feed": {
            "name": alert.article.feed,
            "url": feed_url,
        },
        "also_reported_by": story.also_reported_by,
        "story": {
            "id": story.id,
            "reports": story.reports,
        },
    })
}

/// The body of a digest: the alerts a flood guard held back, each as its own alert body.
pub fn digest_payload(digest_id: &str, alerts: &[Alert]) -> Value {
    let bodies: Vec<Value> = alerts
        .iter()
        .map(|a| payload(a, &StorySummary::alone(a)))
        .collect();
    json!({
        "version": PAYLOAD_VERSION,
        "type": "parleyd.digest",
        "id": digest_id,
        "count": alerts.len(),
        "alerts": bodies,
    })
}

/// The `webhook-signature` header value: `v1,` + base64(HMAC-SHA256(key, "id.timestamp.body")).
pub fn signature(key: &SigningKey, id: &str, timestamp: i64, body: &[u8]) -> String {
    use base64::Engine;
    use hmac::Mac;
    let mut mac = key.mac();
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn key(secret: &str) -> SigningKey {
        SigningKey::decode(&Secret::new(secret.into(), "a test".into())).unwrap()
    }

    /// The test vector published with the Standard Webhooks specification and reproduced
    /// by its reference libraries.
    #[test]
    fn the_specification_test_vector_reproduces() {
        assert_eq!(
            signature(
                &key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#,
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
