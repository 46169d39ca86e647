//! The Microsoft Teams payload: an Adaptive Card in the `message`/`attachments` envelope a
//! Teams workflow ("When a Teams webhook request is received") expects.
//!
//! Feed text goes only into `TextRun`s, which Adaptive Cards render as plain text (no
//! markdown, unlike a `TextBlock`), so a title cannot add links, bold or lists; `{{` is
//! broken so it cannot start a DATE()/TIME() function either.

use super::text::{cut, event, http_link, main_reason, one_line, published};
use crate::model::Alert;
use serde_json::{Value, json};

/// The Adaptive Card schema version; Teams renders up to 1.5.
const CARD_VERSION: &str = "1.4";
/// Lengths that keep a card well inside Teams' 28 KB message limit.
const TITLE_MAX: usize = 300;
const REASON_MAX: usize = 1000;
/// Headlines listed in one digest card; the rest are counted.
const DIGEST_MAX: usize = 50;

/// Feed text as a `TextRun`'s text: one line, cut, and `{{` broken with a zero-width space.
pub fn plain(text: &str, max: usize) -> String {
    cut(&one_line(text), max).replace("{{", "{\u{200b}{")
}

/// A `RichTextBlock` of one run of plain text.
fn run(text: String, style: Value) -> Value {
    let mut run = json!({ "type": "TextRun", "text": text });
    if let (Some(run), Some(style)) = (run.as_object_mut(), style.as_object()) {
        run.extend(style.clone());
    }
    json!({ "type": "RichTextBlock", "inlines": [run] })
}

/// The envelope around a card.
fn envelope(card: Value) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }]
    })
}

fn card(body: Vec<Value>, actions: Vec<Value>) -> Value {
    json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "actions": actions,
        "msteams": { "width": "Full" },
    })
}

/// The JSON body posted to a Teams workflow for one alert.
pub fn payload(alert: &Alert, also_reported_by: &[String]) -> Value {
    let event = event(alert);
    let mut body = vec![
        run(
            format!("New {event}"),
            json!({ "isSubtle": true, "size": "Small" }),
        ),
        run(
            plain(&alert.article.title, TITLE_MAX),
            json!({ "weight": "Bolder", "size": "Medium" }),
        ),
    ];
    if let Some(reason) = main_reason(alert) {
        body.push(run(plain(reason, REASON_MAX), json!({})));
    }
    let mut context = format!(
        "{} · {} · score {:.2}",
        plain(&alert.article.feed, 200),
        published(alert),
        alert.verdict.score
    );
    if !also_reported_by.is_empty() {
        context.push_str(&format!(
            " · also reported by {}",
            plain(&also_reported_by.join(", "), 500)
        ));
    }
    body.push(run(context, json!({ "isSubtle": true, "size": "Small" })));
    let actions = http_link(alert.article.link.as_deref())
        .map(|link| {
            vec![json!({ "type": "Action.OpenUrl", "title": "Open article", "url": link.as_str() })]
        })
        .unwrap_or_default();
    envelope(card(body, actions))
}

/// One card listing the alerts a flood guard held back; each headline opens its article.
pub fn digest_payload(alerts: &[Alert]) -> Value {
    let mut body = vec![run(
        format!("{} more alerts (flood guard digest)", alerts.len()),
        json!({ "weight": "Bolder", "size": "Medium" }),
    )];
    for alert in alerts.iter().take(DIGEST_MAX) {
        let mut text = json!({
            "type": "TextRun",
            "text": format!("{} ({})", plain(&alert.article.title, TITLE_MAX), plain(&alert.article.feed, 100)),
        });
        if let Some(link) = http_link(alert.article.link.as_deref()) {
            text["selectAction"] = json!({ "type": "Action.OpenUrl", "url": link.as_str() });
        }
        body.push(json!({ "type": "RichTextBlock", "inlines": [text] }));
    }
    if alerts.len() > DIGEST_MAX {
        body.push(run(
            format!("… and {} more", alerts.len() - DIGEST_MAX),
            json!({ "isSubtle": true }),
        ));
    }
    envelope(card(body, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_text_is_one_plain_line() {
        assert_eq!(plain("a\nb {{DATE(x)}}", 100), "a b {\u{200b}{DATE(x)}}");
        assert_eq!(
            plain(&"x".repeat(400), TITLE_MAX).chars().count(),
            TITLE_MAX
        );
    }
}
