//! The stdout sink: a readable block per alert, or one JSON line (the webhook body).

use crate::model::{Alert, StorySummary};
use std::io::Write;

/// Writes one alert to standard output.
///
/// # Errors
/// When standard output is closed.
pub fn write(alert: &Alert, story: &StorySummary, json: bool) -> std::io::Result<()> {
    let text = if json {
        let mut line = super::webhook::payload(alert, story).to_string();
        line.push('\n');
        line
    } else {
        render(alert, &story.also_reported_by)
    };
    emit(&text)
}

/// The human-readable block. Control characters from the feed are dropped so a title
/// cannot move the cursor or recolour a terminal.
pub fn render(alert: &Alert, also_reported_by: &[String]) -> String {
    let event = alert.verdict.event.map_or("match", |e| e.as_str());
    let mut out = format!(
        "ALERT [{event}] score {:.2}  {}\n",
        alert.verdict.score,
        printable(&alert.article.title)
    );
    let published = alert
        .article
        .published
        .map(|p| p.to_rfc3339())
        .unwrap_or_else(|| "undated".to_string());
    out.push_str(&format!(
        "  feed: {} · published {published}\n",
        printable(&alert.article.feed)
    ));
    if let Some(link) = &alert.article.link {
        out.push_str(&format!("  link: {}\n", printable(link)));
    }
    if !also_reported_by.is_empty() {
        out.push_str(&format!(
            "  also: {}\n",
            printable(&also_reported_by.join(", "))
        ));
    }
    for reason in &alert.verdict.reasons {
        out.push_str(&format!("  why:  {}\n", printable(reason)));
    }
    out.push_str(&format!("  id:   {}\n\n", alert.id));
    out
}

/// Writes a flood-guard digest: a heading, then each held alert.
///
/// # Errors
/// When standard output is closed.
pub fn write_digest(digest_id: &str, alerts: &[Alert], json: bool) -> std::io::Result<()> {
    let text = if json {
        let mut line = super::webhook::digest_payload(digest_id, alerts).to_string();
        line.push('\n');
        line
    } else {
        let mut out = format!(
            "DIGEST {} alerts held by the flood guard ({digest_id})\n",
            alerts.len()
        );
        for alert in alerts {
            out.push_str(&render(alert, &[]));
        }
        out
    };
    emit(&text)
}

/// Writes one whole message to standard output, so concurrent sinks never interleave.
fn emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}
