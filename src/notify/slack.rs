//! The Slack incoming-webhook payload. Everything from a feed is escaped, so a title can
//! never ping `@channel` or smuggle in a link.

use crate::model::Alert;
use serde_json::{Value, json};

/// Escapes the three characters Slack's mrkdwn treats as control: `&`, `<` and `>`.
/// `<!channel>` becomes `&lt;!channel&gt;`, which Slack shows as text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            other => out.push(other),
        }
    }
    out
}

/// A link target safe inside `<url|text>`: only http(s), and `|`, `<`, `>` percent-encoded so
/// the URL cannot end the link early.
fn safe_link(link: &str) -> Option<String> {
    let url = url::Url::parse(link).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let text = url.as_str();
    Some(
        text.replace('&', "&amp;")
            .replace('|', "%7C")
            .replace('<', "%3C")
            .replace('>', "%3E"),
    )
}

/// The JSON body posted to a Slack incoming webhook. `mention` (already in Slack's
/// syntax, from the config, never from a feed) goes in front when configured.
pub fn payload(alert: &Alert, also_reported_by: &[String], mention: Option<&str>) -> Value {
    let title = escape(&alert.article.title);
    let headline = match alert.article.link.as_deref().and_then(safe_link) {
        Some(link) => format!("<{link}|{title}>"),
        None => title.clone(),
    };
    let event = alert.verdict.event.map_or("match", |e| e.as_str());
    let reason = alert
        .verdict
        .reasons
        .iter()
        .find(|r| r.starts_with("sentence:"))
        .or_else(|| alert.verdict.reasons.first())
        .map(|r| escape(r))
        .unwrap_or_default();
    let published = alert
        .article
        .published
        .map(|p| p.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "undated".to_string());
    let mut context = format!(
        "{} · {} · {} · score {:.2}",
        escape(&alert.article.feed),
        published,
        event,
        alert.verdict.score
    );
    if !also_reported_by.is_empty() {
        context.push_str(&format!(
            " · also reported by {}",
            escape(&also_reported_by.join(", "))
        ));
    }
    let prefix = mention.map(|m| format!("{m} ")).unwrap_or_default();
    json!({
        "text": format!("{prefix}New {event}: {headline}"),
        "unfurl_links": false,
        "unfurl_media": false,
        "blocks": [
            {
                "type": "section",
                "text": { "type": "mrkdwn", "text": format!("{prefix}*{headline}*\n{reason}") }
            },
            {
                "type": "context",
                "elements": [ { "type": "mrkdwn", "text": context } ]
            }
        ]
    })
}

/// One message listing the alerts a flood guard held back, each headline linked and escaped.
pub fn digest_payload(alerts: &[Alert], mention: Option<&str>) -> Value {
    let prefix = mention.map(|m| format!("{m} ")).unwrap_or_default();
    let lines: Vec<String> = alerts
        .iter()
        .map(|alert| {
            let title = escape(&alert.article.title);
            let headline = match alert.article.link.as_deref().and_then(safe_link) {
                Some(link) => format!("<{link}|{title}>"),
                None => title,
            };
            format!("• {headline} ({})", escape(&alert.article.feed))
        })
        .collect();
    let heading = format!("{prefix}{} more alerts (flood guard digest)", alerts.len());
    json!({
        "text": heading,
        "unfurl_links": false,
        "unfurl_media": false,
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": format!("*{heading}*") } },
            { "type": "section", "text": { "type": "mrkdwn", "text": lines.join("\n") } }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_are_escaped() {
        assert_eq!(
            escape("<!channel> & <https://evil|click>"),
            "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
        );
    }

    #[test]
    fn links_cannot_break_out() {
        assert_eq!(safe_link("javascript:alert(1)"), None);
        let link = safe_link("https://example.org/a?b=1&c=2").unwrap();
        assert_eq!(link, "https://example.org/a?b=1&amp;c=2");
        assert!(
            !safe_link("https://example.org/a|b>c")
                .unwrap()
                .contains(['|', '>'])
        );
    }
}
