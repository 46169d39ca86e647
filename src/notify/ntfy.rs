//! The ntfy message: published as JSON to the server's root with the topic inside, so titles
//! in any script need no header encoding. ntfy shows the message as plain text (markdown
//! only when asked for), so feed text is only made one line and cut to ntfy's limits.

use super::text::{cut, cut_bytes, event, http_link, main_reason, one_line, published};
use crate::model::Alert;
use serde_json::{Value, json};

/// ntfy turns a message longer than this (bytes, its default `message-size-limit`) into an
/// attachment, which phones do not show inline.
const MESSAGE_MAX_BYTES: usize = 4096;
const TITLE_MAX: usize = 250;

/// Where to post and which topic: `https://ntfy.sh/alerts` is posted to `https://ntfy.sh/`
/// with topic `alerts`. `None` if the URL names no topic.
pub fn endpoint(topic_url: &str) -> Option<(String, String)> {
    let mut url = url::Url::parse(topic_url).ok()?;
    let topic = url.path_segments()?.next_back()?.to_string();
    if topic.is_empty() {
        return None;
    }
    url.path_segments_mut().ok()?.pop().push("");
    url.set_query(None);
    Some((url.to_string(), topic))
}

/// The JSON body for one alert.
pub fn payload(
    topic: &str,
    alert: &Alert,
    also_reported_by: &[String],
    priority: Option<u8>,
) -> Value {
    let mut message = one_line(main_reason(alert).unwrap_or_default());
    message.push_str(&format!(
        "\n{} · {} · score {:.2}",
        one_line(&alert.article.feed),
        published(alert),
        alert.verdict.score
    ));
    if !also_reported_by.is_empty() {
        message.push_str(&format!(
            "\nalso reported by {}",
            one_line(&also_reported_by.join(", "))
        ));
    }
    let mut body = json!({
        "topic": topic,
        "title": cut(&one_line(&format!("New {}: {}", event(alert), alert.article.title)), TITLE_MAX),
        "message": cut_bytes(&message, MESSAGE_MAX_BYTES),
        "tags": [event(alert)],
    });
    extend(
        &mut body,
        http_link(alert.article.link.as_deref()),
        priority,
    );
    body
}

/// One message listing the alerts a flood guard held back.
pub fn digest_payload(topic: &str, alerts: &[Alert], priority: Option<u8>) -> Value {
    let lines: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "• {} ({})",
                one_line(&a.article.title),
                one_line(&a.article.feed)
            )
        })
        .collect();
    let mut body = json!({
        "topic": topic,
        "title": format!("{} more alerts (flood guard digest)", alerts.len()),
        "message": cut_bytes(&lines.join("\n"), MESSAGE_MAX_BYTES),
        "tags": ["digest"],
    });
    extend(&mut body, None, priority);
    body
}

fn extend(body: &mut Value, click: Option<url::Url>, priority: Option<u8>) {
    if let Some(click) = click {
        body["click"] = json!(click.as_str());
    }
    if let Some(priority) = priority {
        body["priority"] = json!(priority);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_topic_url_splits_into_root_and_topic() {
        assert_eq!(
            endpoint("https://ntfy.sh/parleyd-alerts"),
            Some(("https://ntfy.sh/".into(), "parleyd-alerts".into()))
        );
        assert_eq!(
            endpoint("http://127.0.0.1:8080/ntfy/alerts?x=1"),
            Some(("http://127.0.0.1:8080/ntfy/".into(), "alerts".into()))
        );
        assert_eq!(endpoint("https://ntfy.sh/"), None);
    }
}
