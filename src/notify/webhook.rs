//! The generic webhook body: one JSON object per alert, versioned, documented in the README.

use crate::model::Alert;
use serde_json::{Value, json};

/// The version of the body's shape; bumped only on incompatible changes.
pub const PAYLOAD_VERSION: u32 = 1;

/// The JSON body posted to a generic webhook.
pub fn payload(alert: &Alert) -> Value {
    let feed_url = url::Url::parse(&alert.article.feed_url)
        .map(|url| crate::config::display_url(&url))
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
    })
}
