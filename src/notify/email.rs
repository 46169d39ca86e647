//! The email sink: one message per alert (or per digest) with a plain-text and an HTML
//! part, sent through the configured SMTP server with lettre.
//!
//! Feed text in the HTML part is escaped (`<`, `>`, `&`, quotes), links are http(s) only,
//! and the subject is one line. The alert id is the Message-ID, so a mail system can drop a
//! repeat the same way a webhook receiver does.

use super::text::{cut, event, http_link, main_reason, one_line, published};
use crate::config::{EmailSink, SmtpTls};
use crate::model::Alert;
use lettre::message::{Mailbox, Message, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

/// A subject longer than this is cut: mail clients show about this much anyway.
const SUBJECT_MAX: usize = 200;

/// Why an email was not sent.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The message could not be built (an address lettre refuses).
    #[error("cannot build the message: {0}")]
    Build(String),
    /// The TLS settings could not be built (the CA file is unreadable or not PEM).
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// The SMTP exchange failed: connection, TLS, login or a refusal.
    #[error("{detail}")]
    Smtp {
        /// What the server or connection said; never the password.
        detail: String,
        /// A 5xx answer: the server will refuse the same message again.
        permanent: bool,
    },
}

/// The message for one alert.
///
/// # Errors
/// [`EmailError::Build`] if lettre refuses the message.
pub fn message(
    sink: &EmailSink,
    alert: &Alert,
    also_reported_by: &[String],
) -> Result<Message, EmailError> {
    let subject = format!("[parleyd] New {}: {}", event(alert), alert.article.title);
    let text = plain_text(alert, also_reported_by);
    let html = html(alert, also_reported_by);
    build(sink, &alert.id, &subject, text, html)
}

/// The message listing the alerts a flood guard held back.
///
/// # Errors
/// [`EmailError::Build`] if lettre refuses the message.
pub fn digest_message(
    sink: &EmailSink,
    digest_id: &str,
    alerts: &[Alert],
) -> Result<Message, EmailError> {
    let subject = format!(
        "[parleyd] {} more alerts (flood guard digest)",
        alerts.len()
    );
    let mut text = String::new();
    let mut html = String::from("<ul>\n");
    for alert in alerts {
        text.push_str(&format!(
            "* {} ({})\n",
            one_line(&alert.article.title),
            one_line(&alert.article.feed)
        ));
        if let Some(link) = http_link(alert.article.link.as_deref()) {
            text.push_str(&format!("  {link}\n"));
        }
        html.push_str(&format!(
            "<li>{} ({})</li>\n",
            html_headline(alert),
            escape(&alert.article.feed)
        ));
    }
    html.push_str("</ul>\n");
    build(sink, digest_id, &subject, text, page(&html))
}

fn build(
    sink: &EmailSink,
    id: &str,
    subject: &str,
    text: String,
    html: String,
) -> Result<Message, EmailError> {
    let mut builder = Message::builder()
        .from(sink.from.clone())
        .subject(cut(&one_line(subject), SUBJECT_MAX))
        .message_id(Some(format!("<{id}@{}>", sink.from.email.domain())))
        .date_now();
    for to in &sink.to {
        builder = builder.to(Mailbox::clone(to));
    }
    builder
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|err| EmailError::Build(err.to_string()))
}

/// The plain-text part: headline, link, reason and facts, one per line.
pub fn plain_text(alert: &Alert, also_reported_by: &[String]) -> String {
    let mut out = format!("{}\n", one_line(&alert.article.title));
    if let Some(link) = http_link(alert.article.link.as_deref()) {
        out.push_str(&format!("{link}\n"));
    }
    out.push('\n');
    if let Some(reason) = main_reason(alert) {
        out.push_str(&format!("{}\n\n", one_line(reason)));
    }
    out.push_str(&format!(
        "Feed: {}\nPublished: {}\nEvent: {}, score {:.2}\n",
        one_line(&alert.article.feed),
        published(alert),
        event(alert),
        alert.verdict.score
    ));
    if !also_reported_by.is_empty() {
        out.push_str(&format!(
            "Also reported by: {}\n",
            one_line(&also_reported_by.join(", "))
        ));
    }
    out.push_str(&format!("Alert id: {}\n", alert.id));
    out
}

/// The HTML part: the same facts, every piece of feed text escaped.
pub fn html(alert: &Alert, also_reported_by: &[String]) -> String {
    let mut body = format!("<h2>{}</h2>\n", html_headline(alert));
    if let Some(reason) = main_reason(alert) {
        body.push_str(&format!("<p>{}</p>\n", escape(reason)));
    }
    body.push_str(&format!(
        "<p>Feed: {}<br>\nPublished: {}<br>\nEvent: {}, score {:.2}",
        escape(&alert.article.feed),
        published(alert),
        event(alert),
        alert.verdict.score
    ));
    if !also_reported_by.is_empty() {
        body.push_str(&format!(
            "<br>\nAlso reported by: {}",
            escape(&also_reported_by.join(", "))
        ));
    }
    body.push_str(&format!("<br>\nAlert id: {}</p>\n", alert.id));
    page(&body)
}

/// The headline, linked to the article when its link is http(s).
fn html_headline(alert: &Alert) -> String {
    let title = escape(&alert.article.title);
    match http_link(alert.article.link.as_deref()) {
        Some(link) => format!(
            "<a href=\"{}\">{title}</a>",
            html_escape::encode_double_quoted_attribute(link.as_str())
        ),
        None => title,
    }
}

fn page(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n{body}</body></html>\n"
    )
}

/// Feed text for HTML: one line, with `<`, `>`, `&` and quotes as entities.
pub fn escape(text: &str) -> String {
    html_escape::encode_quoted_attribute(&one_line(text)).into_owned()
}

/// Sends one message through the sink's SMTP server, with the delivery timeout.
///
/// # Errors
/// [`EmailError`] saying why; `permanent` when the server answered 5xx.
pub async fn send(sink: &EmailSink, timeout: Duration, message: Message) -> Result<(), EmailError> {
    let transport = transport(sink, timeout)?;
    transport
        .send(message)
        .await
        .map_err(|err| EmailError::Smtp {
            permanent: err.is_permanent(),
            detail: crate::http::error_chain(&err),
        })?;
    Ok(())
}

fn transport(
    sink: &EmailSink,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, EmailError> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&sink.host)
        .port(sink.port)
        .timeout(Some(timeout));
    if sink.tls != SmtpTls::None {
        let mut params = TlsParameters::builder(sink.host.clone());
        if let Some(path) = &sink.ca_file {
            let pem = std::fs::read(path)
                .map_err(|err| EmailError::Tls(format!("cannot read {}: {err}", path.display())))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|err| EmailError::Tls(format!("{}: {err}", path.display())))?;
            params = params.add_root_certificate(cert);
        }
        let params = params
            .build_rustls()
            .map_err(|err| EmailError::Tls(crate::http::error_chain(&err)))?;
        // STARTTLS is required, never opportunistic: a server (or someone in between) that
        // does not offer it gets no alert and no password in clear.
        builder = builder.tls(match sink.tls {
            SmtpTls::Tls => Tls::Wrapper(params),
            _ => Tls::Required(params),
        });
    }
    if let Some((username, password)) = &sink.credentials {
        builder = builder.credentials(Credentials::new(
            username.expose().to_string(),
            password.expose().to_string(),
        ));
    }
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_in_feed_text_is_escaped() {
        assert_eq!(
            escape("<script>alert(\"x\")</script> & co\nnext"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co next"
        );
    }
}
