//! The Discord webhook payload: one embed per alert. Feed text is escaped for Discord's
//! markdown and can never ping anyone: `@` is defused and `allowed_mentions` names only the
//! configured mention.

use super::text::{cut, escape_within, event, http_link, main_reason, one_line, published};
use crate::config::DiscordMention;
use crate::model::Alert;
use serde_json::{Value, json};

/// Discord's limits for a webhook message (API reference, "Embed limits"): message content,
/// embed title, description, field value and footer, in characters.
const CONTENT_MAX: usize = 2000;
const TITLE_MAX: usize = 256;
/// Well under the 4096 Discord allows, so that title, description, fields and footer stay
/// under the 6000 characters an embed may hold in total.
const DESCRIPTION_MAX: usize = 2048;
const FIELD_MAX: usize = 1024;
/// The embed's side colour per event kind.
const TALKS_COLOUR: u32 = 0x002b_6cb0;
const CHANNEL_COLOUR: u32 = 0x002f_855a;

/// Escapes one character of feed text: markdown's control characters get a backslash, `@`
/// is followed by a zero-width space so `@everyone` and `@here` are text, and control
/// characters become spaces.
fn escape_char(c: char, out: &mut String) {
    match c {
        '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '#' | '-' | '[' | ']' | '(' | ')'
        | ':' => {
            out.push('\\');
            out.push(c);
        }
        '@' => out.push_str("@\u{200b}"),
        c if c.is_control() => out.push(' '),
        c => out.push(c),
    }
}

/// Feed text escaped for Discord, at most `max` characters.
pub fn escape(text: &str, max: usize) -> String {
    escape_within(text, max, escape_char)
}

/// The mention's text and the `allowed_mentions` object that lets it, and only it, ping.
fn mention_parts(mention: Option<&DiscordMention>) -> (String, Value) {
    match mention {
        None => (String::new(), json!({ "parse": [] })),
        Some(DiscordMention::Everyone) => ("@everyone ".into(), json!({ "parse": ["everyone"] })),
        Some(DiscordMention::Here) => ("@here ".into(), json!({ "parse": ["everyone"] })),
        Some(DiscordMention::Role(id)) => {
            (format!("<@&{id}> "), json!({ "parse": [], "roles": [id] }))
        }
        Some(DiscordMention::User(id)) => {
            (format!("<@{id}> "), json!({ "parse": [], "users": [id] }))
        }
    }
}

/// The JSON body posted to a Discord webhook for one alert.
pub fn payload(
    alert: &Alert,
    also_reported_by: &[String],
    mention: Option<&DiscordMention>,
) -> Value {
    let (prefix, allowed_mentions) = mention_parts(mention);
    let event = event(alert);
    let mut fields = vec![
        json!({ "name": "Feed", "value": escape(&alert.article.feed, FIELD_MAX), "inline": true }),
        json!({ "name": "Event", "value": event, "inline": true }),
        json!({ "name": "Score", "value": format!("{:.2}", alert.verdict.score), "inline": true }),
    ];
    if !also_reported_by.is_empty() {
        fields.push(json!({
            "name": "Also reported by",
            "value": escape(&also_reported_by.join(", "), FIELD_MAX),
        }));
    }
    let mut embed = json!({
        "title": escape(&alert.article.title, TITLE_MAX),
        "description": escape(main_reason(alert).unwrap_or_default(), DESCRIPTION_MAX),
        "color": if event == "channel" { CHANNEL_COLOUR } else { TALKS_COLOUR },
        "fields": fields,
        "footer": { "text": format!("parleyd · published {} · alert {}", published(alert), alert.id) },
    });
    if let Some(link) = http_link(alert.article.link.as_deref()) {
        embed["url"] = json!(link.as_str());
    }
    if let Some(published) = alert.article.published {
        embed["timestamp"] = json!(published.to_rfc3339());
    }
    let content = format!(
        "{prefix}New {event}: {}",
        escape(&alert.article.title, CONTENT_MAX - prefix.len() - 16)
    );
    json!({
        "content": content,
        "embeds": [embed],
        "allowed_mentions": allowed_mentions,
    })
}

/// One message listing the alerts a flood guard held back, each headline a masked link.
pub fn digest_payload(alerts: &[Alert], mention: Option<&DiscordMention>) -> Value {
    let (prefix, allowed_mentions) = mention_parts(mention);
    let heading = format!("{} more alerts (flood guard digest)", alerts.len());
    let mut description = String::new();
    for (index, alert) in alerts.iter().enumerate() {
        let title = escape(&alert.article.title, 200);
        let headline = match http_link(alert.article.link.as_deref()) {
            // Parentheses would end the masked link early.
            Some(link) => format!(
                "[{title}]({})",
                link.as_str().replace('(', "%28").replace(')', "%29")
            ),
            None => title,
        };
        let line = format!("• {headline} ({})\n", escape(&alert.article.feed, 100));
        let rest = alerts.len() - index;
        if description.chars().count() + line.chars().count() + 32 > 4096 {
            description.push_str(&format!("… and {rest} more"));
            break;
        }
        description.push_str(&line);
    }
    json!({
        "content": cut(&one_line(&format!("{prefix}{heading}")), CONTENT_MAX),
        "embeds": [{ "title": heading, "description": description }],
        "allowed_mentions": allowed_mentions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_mentions_in_feed_text_are_inert() {
        let out = escape("@everyone **bold** [x](https://evil) <@123> # h", 100);
        assert_eq!(
            out,
            "@\u{200b}everyone \\*\\*bold\\*\\* \\[x\\]\\(https\\://evil\\) \\<@\u{200b}123\\> \\# h"
        );
        assert!(escape(&"*".repeat(300), TITLE_MAX).chars().count() <= TITLE_MAX);
    }
}
