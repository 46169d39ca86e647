//! The Discord, Teams, ntfy and email sinks against real local receivers: each gets its own
//! format with feed text escaped for it, honours routes, the flood guard and the 4xx (or
//! SMTP 5xx) dead-letter rule, and sends its credentials only where they belong.

use crate::support::*;

/// A title built to misbehave in every format: markdown, a mass mention, an HTML-ish `<3`,
/// an ampersand, quotes and an Adaptive Card date function.
const HOSTILE: &str = "US & Iran hold indirect talks in Oman @everyone **now** <3 \"quoted\" [x](https://evil.example) {{DATE(2017-02-14T06:00:00Z)}}";

fn two_alerts(feeds: &FeedServer) -> String {
    feeds.set(
        "/rss.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[
                ("t-1", HOSTILE, ""),
                ("c-1", "Washington and Tehran agree to open a hotline", ""),
            ]),
        ),
    );
    feeds.url("/rss.xml")
}

/// The stored title of the talks alert: what the sinks were given to escape.
fn stored_title(dir: &TestDir) -> String {
    dir.read_store(|store| {
        let sent = store.sent_alerts().unwrap();
        let pending = store.pending_alerts().unwrap();
        let dead = store.dead_alerts().unwrap();
        sent.into_iter()
            .map(|s| s.alert)
            .chain(pending)
            .chain(dead)
            .map(|a| a.article.title)
            .find(|t| t.contains("Oman"))
            .expect("the talks alert is stored")
    })
}

/// Every TextRun text in a Teams card, and the types of the body's elements.
fn teams_card(post: &Received) -> (Vec<String>, Vec<String>, serde_json::Value) {
    let json = post.json();
    assert_eq!(json["type"], "message");
    let attachment = &json["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = attachment["content"].clone();
    assert_eq!(card["type"], "AdaptiveCard");
    let body = card["body"].as_array().unwrap();
    let types = body
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    let runs = body
        .iter()
        .flat_map(|e| e["inlines"].as_array().cloned().unwrap_or_default())
        .map(|run| {
            assert_eq!(run["type"], "TextRun");
            run["text"].as_str().unwrap().to_string()
        })
        .collect();
    (runs, types, card)
}

/// Discord, Teams and ntfy each get their own body; feed text cannot ping, link or format
/// in any of them; ntfy's route (channel events only) and bearer token are honoured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_teams_and_ntfy_get_their_formats_with_feed_text_made_inert() {
    let feeds = FeedServer::start().await;
    let discord = WebhookReceiver::start().await;
    let teams = WebhookReceiver::start().await;
    let ntfy = WebhookReceiver::start().await;
    let feed = two_alerts(&feeds);
    let dir = TestDir::new();
    let config = dir.config(&format!(
        r#"
[poll]
alert_on_first_poll = true

[[feeds]]
url = "{feed}"

[[sinks]]
kind = "discord"
url = "{discord}"
mention = "role:42"

[[sinks]]
kind = "teams"
url = "{teams}"

[[sinks]]
kind = "ntfy"
url = "{ntfy}"
token = "${{NTFY_TOKEN}}"
priority = "high"
events = ["channel"]
"#,
        discord = discord.url("/api/webhooks/1/abc"),
        teams = teams.url("/workflows/x/triggers/manual/paths/invoke?sig=s"),
        ntfy = ntfy.url("/parleyd-alerts"),
    ));
    let run = once(&config, &[("NTFY_TOKEN", "tk_t0psecret")]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        !run.stderr.contains("t0psecret"),
        "the token reached the log"
    );
    let title = stored_title(&dir);
    assert!(
        title.contains("@everyone") && title.contains("**now**") && title.contains("{{DATE"),
        "the test title survived parsing: {title}"
    );

    // Discord: the configured role pings, and only it; the title's `@everyone` is text.
    let posts = discord.received();
    assert_eq!(posts.len(), 2);
    let talks = posts
        .iter()
        .map(Received::json)
        .find(|j| j["content"].as_str().unwrap().contains("Oman"))
        .unwrap();
    assert_eq!(
        talks["allowed_mentions"],
        serde_json::json!({ "parse": [], "roles": ["42"] })
    );
    let content = talks["content"].as_str().unwrap();
    assert!(content.starts_with("<@&42> New talks: "), "{content}");
    let embed = &talks["embeds"][0];
    let embed_title = embed["title"].as_str().unwrap();
    assert!(!embed_title.contains("@everyone"), "{embed_title}");
    assert!(embed_title.contains("@\u{200b}everyone"), "{embed_title}");
    for special in ['*', '[', ']', '(', ')', '<'] {
        for (i, _) in embed_title.match_indices(special) {
            assert_eq!(
                &embed_title[i - 1..i],
                "\\",
                "unescaped {special} in {embed_title}"
            );
        }
    }
    assert_eq!(embed["url"], "https://rss.example/t-1");
    assert!(embed_title.chars().count() <= 256);
    assert!(content.chars().count() <= 2000);

    // Teams: the feed text only in TextRuns, which render no markdown; `{{` broken.
    let posts = teams.received();
    assert_eq!(posts.len(), 2);
    let (runs, types, card) = posts
        .iter()
        .map(teams_card)
        .find(|(runs, _, _)| runs.iter().any(|r| r.contains("Oman")))
        .unwrap();
    assert!(
        types.iter().all(|t| t == "RichTextBlock"),
        "no markdown TextBlock: {types:?}"
    );
    assert!(
        runs.contains(&title.replace("{{", "{\u{200b}{")),
        "{runs:?}"
    );
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(card["actions"][0]["url"], "https://rss.example/t-1");

    // ntfy: only the channel alert (route), as JSON to the server's root, with the token.
    let posts = ntfy.received();
    assert_eq!(posts.len(), 1, "the route keeps the talks alert away");
    assert_eq!(posts[0].path, "/");
    assert_eq!(posts[0].headers["authorization"], "Bearer tk_t0psecret");
    let body = posts[0].json();
    assert_eq!(body["topic"], "parleyd-alerts");
    assert_eq!(body["priority"], 4);
    assert_eq!(body["click"], "https://rss.example/c-1");
    assert!(
        body["title"]
            .as_str()
            .unwrap()
            .starts_with("New channel: Washington"),
        "{body}"
    );
}

/// A chat sink answering 404 dead-letters the alert at once; a flood guard holds what is
/// over its limit and sends it later as one digest in the sink's own format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_sinks_dead_letter_a_refusal_and_send_a_held_flood_as_a_digest() {
    let feeds = FeedServer::start().await;
    let discord = WebhookReceiver::start().await;
    discord.script(&[404]);
    let teams = WebhookReceiver::start().await;
    let feed = two_alerts(&feeds);
    let dir = TestDir::new();
    let config = dir.config(&format!(
        "[poll]\nalert_on_first_poll = true\n[[feeds]]\nurl = \"{feed}\"\n\
         [[sinks]]\nkind = \"discord\"\nurl = \"{}\"\n\
         [[sinks]]\nkind = \"teams\"\nurl = \"{}\"\nflood_limit = 1\nflood_window = \"2s\"\n",
        discord.url("/api/webhooks/1/abc"),
        teams.url("/invoke"),
    ));
    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let dead = dir.read_store(|store| store.dead_alerts().unwrap());
    assert_eq!(dead.len(), 1, "the 404 dead-letters the first alert");
    assert_eq!(dead[0].sink, "discord");
    let reason = dead[0].last_error.clone().unwrap();
    assert!(
        reason.contains("HTTP 404") && reason.contains("not retried"),
        "{reason}"
    );
    assert_eq!(dead[0].attempts, 1);
    // The sink is then left alone for this round: the other alert waits, still pending.
    assert_eq!(discord.received().len(), 1);
    let pending = dir.read_store(|store| store.pending_alerts().unwrap());
    assert!(pending.iter().any(|a| a.sink == "discord"), "{pending:?}");

    assert_eq!(
        teams.received().len(),
        1,
        "the limit goes out, the rest is held"
    );
    assert!(run.stderr.contains("Flood guard"), "{}", run.stderr);
    let last = dir.read_store(|store| {
        let sent = store.sent_alerts().unwrap();
        sent.iter().map(|s| s.sent_at).max().unwrap()
    });
    sleep_past(last + chrono::Duration::seconds(2)).await;
    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let posts = teams.received();
    assert_eq!(posts.len(), 2, "then one digest");
    let (runs, _, _) = teams_card(&posts[1]);
    assert_eq!(runs[0], "1 more alerts (flood guard digest)");
    assert_eq!(runs.len(), 2, "{runs:?}");
}

/// The email sink: STARTTLS to a server whose certificate only the configured CA vouches
/// for, AUTH with the password from the environment, one message per alert to every
/// recipient, a plain-text and an HTML part, feed text escaped in the HTML, the alert id
/// as the Message-ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_goes_over_starttls_with_a_login_and_has_a_text_and_an_escaped_html_part() {
    let feeds = FeedServer::start().await;
    let smtp = SmtpServer::start().await;
    let feed = two_alerts(&feeds);
    let dir = TestDir::new();
    dir.write("ca.pem", &smtp.ca_pem);
    let config = dir.config(&format!(
        r#"
[poll]
alert_on_first_poll = true

[[feeds]]
url = "{feed}"

[[sinks]]
kind = "email"
host = "127.0.0.1"
port = {port}
username = "parleyd"
password = "${{SMTP_PASSWORD}}"
from = "parleyd <alerts@example.org>"
to = ["ops@example.org", "Night Desk <night@example.org>"]
ca_file = "ca.pem"
"#,
        port = smtp.port(),
    ));
    let run = once(&config, &[("SMTP_PASSWORD", "pw-s3cr3t")]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        !run.stderr.contains("s3cr3t"),
        "the password reached the log"
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2, "one message per alert");
    for mail in &mails {
        assert!(mail.tls, "sent only after STARTTLS");
        assert_eq!(
            mail.login,
            Some(("parleyd".to_string(), "pw-s3cr3t".to_string()))
        );
        assert_eq!(mail.from, "alerts@example.org");
        assert_eq!(mail.to, vec!["ops@example.org", "night@example.org"]);
    }
    let title = stored_title(&dir);
    let ids: Vec<String> = dir.read_store(|store| {
        store
            .sent_alerts()
            .unwrap()
            .into_iter()
            .map(|s| s.alert.id)
            .collect()
    });
    let talks = mails
        .iter()
        .map(|m| mailparse::parse_mail(&m.data).unwrap())
        .find(|m| {
            m.headers
                .iter()
                .any(|h| h.get_key() == "Subject" && h.get_value().contains("Oman"))
        })
        .expect("the talks alert's email");
    assert_eq!(talks.ctype.mimetype, "multipart/alternative");
    let types: Vec<&str> = talks
        .subparts
        .iter()
        .map(|p| p.ctype.mimetype.as_str())
        .collect();
    assert_eq!(types, vec!["text/plain", "text/html"]);
    let text = talks.subparts[0].get_body().unwrap();
    let html = talks.subparts[1].get_body().unwrap();
    assert!(text.contains(&title), "{text}");
    assert!(text.contains("https://rss.example/t-1"), "{text}");
    assert!(
        html.contains("US &amp; Iran") && html.contains("&lt;3 &quot;quoted&quot;"),
        "{html}"
    );
    assert!(!html.contains("<3"), "{html}");
    assert!(
        html.contains("<a href=\"https://rss.example/t-1\">"),
        "{html}"
    );
    let message_id = talks
        .headers
        .iter()
        .find(|h| h.get_key() == "Message-ID")
        .unwrap()
        .get_value();
    assert!(
        ids.iter()
            .any(|id| message_id == format!("<{id}@example.org>")),
        "{message_id} {ids:?}"
    );
}

/// A mail server's permanent refusal (550) dead-letters the alert at once; a transient one
/// (451) leaves it queued for a retry. Plain SMTP (tls = "none") to a relay on loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_refusals_dead_letter_when_permanent_and_retry_when_transient() {
    for (code, dead) in [(550, true), (451, false)] {
        let feeds = FeedServer::start().await;
        feeds.set(
            "/rss.xml",
            Route::ok(
                "application/rss+xml",
                rss(&[("t-1", "US and Iran hold indirect talks in Oman", "")]),
            ),
        );
        let smtp = SmtpServer::start().await;
        smtp.script_rcpt(&[code]);
        let dir = TestDir::new();
        let config = dir.config(&format!(
            "[poll]\nalert_on_first_poll = true\n[[feeds]]\nurl = \"{}\"\n\
             [[sinks]]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             from = \"alerts@example.org\"\nto = \"ops@example.org\"\n",
            feeds.url("/rss.xml"),
            smtp.port(),
        ));
        let run = once(&config, &[]).await;
        assert_eq!(run.code, Some(1), "{code}: {}", run.stderr);
        assert!(smtp.mails().is_empty(), "{code}: nothing was accepted");
        let (pending, dead_letters) = dir.read_store(|store| {
            (
                store.pending_alerts().unwrap(),
                store.dead_alerts().unwrap(),
            )
        });
        let alert = if dead {
            assert!(pending.is_empty(), "{code}");
            &dead_letters[0]
        } else {
            assert!(dead_letters.is_empty(), "{code}");
            &pending[0]
        };
        let reason = alert.last_error.clone().unwrap();
        assert!(reason.contains(&code.to_string()), "{code}: {reason}");
        assert_eq!(reason.contains("not retried"), dead, "{code}: {reason}");
        assert_eq!(alert.attempts, 1);
    }
    // With no refusal scripted, the same plain session delivers.
    let feeds = FeedServer::start().await;
    feeds.set(
        "/rss.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[("t-1", "US and Iran hold indirect talks in Oman", "")]),
        ),
    );
    let smtp = SmtpServer::start().await;
    let dir = TestDir::new();
    let config = dir.config(&format!(
        "[poll]\nalert_on_first_poll = true\n[[feeds]]\nurl = \"{}\"\n\
         [[sinks]]\nkind = \"email\"\nhost = \"localhost\"\nport = {}\ntls = \"none\"\n\
         from = \"alerts@example.org\"\nto = \"ops@example.org\"\n",
        feeds.url("/rss.xml"),
        smtp.port(),
    ));
    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert!(!mails[0].tls && mails[0].login.is_none());
}

/// check-config names every wrong key of the new sinks, and describes good ones without
/// their secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_names_each_bad_key_of_the_new_sinks_and_lists_good_ones() {
    let dir = TestDir::new();
    let bad = dir.config(
        r#"
[[feeds]]
url = "https://feeds.test/a.xml"

[[sinks]]
kind = "discord"
url = "https://discord.test/api/webhooks/1/abc"
mention = "someone"

[[sinks]]
kind = "ntfy"
url = "https://ntfy.test/"
priority = 9

[[sinks]]
kind = "email"
host = "smtp.mail.test"
port = 70000
tls = "none"
username = "parleyd"
from = "not an address"
to = []

[[sinks]]
kind = "teams"
url = "https://teams.test/invoke"
token = "x"

[[sinks]]
kind = "email"
host = "smtp.mail.test:587"
from = "a@mail.test"
"#,
    );
    let run = check_config(&bad, &[]).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    for key in [
        "sinks[0].mention",
        "sinks[1].url",
        "sinks[1].priority",
        "sinks[2].port",
        "sinks[2].tls",
        "sinks[2].password",
        "sinks[2].from",
        "sinks[2].to",
        "sinks[3].token",
        "sinks[4].host",
        "sinks[4].to",
    ] {
        assert!(
            run.stderr.contains(&format!(": {key}: ")),
            "{key}: {}",
            run.stderr
        );
    }

    let good = dir.config(
        r#"
[[feeds]]
url = "https://feeds.test/a.xml"

[[sinks]]
kind = "ntfy"
url = "https://ntfy.test/alerts"
token = "${NTFY_TOKEN}"

[[sinks]]
kind = "email"
host = "smtp.mail.test"
username = "parleyd"
password = "${SMTP_PASSWORD}"
from = "alerts@mail.test"
to = "ops@mail.test"
"#,
    );
    let run = check_config(
        &good,
        &[("NTFY_TOKEN", "tk_hidden"), ("SMTP_PASSWORD", "pw-hidden")],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout
            .contains("ntfy, topic URL from an inline value, token from $NTFY_TOKEN"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "email via smtp.mail.test:587 (STARTTLS, password from $SMTP_PASSWORD) to 1 recipient"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("hidden") && !run.stderr.contains("hidden"));
}

/// Without the CA that signed the server's certificate, STARTTLS fails and nothing is
/// sent, not even the login: the certificate is checked, never waved through. The failure
/// is not the receiver's verdict on the alert, so the alert stays queued for a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_is_not_sent_to_a_server_whose_certificate_is_not_trusted() {
    let feeds = FeedServer::start().await;
    feeds.set(
        "/rss.xml",
        Route::ok(
            "application/rss+xml",
            rss(&[("t-1", "US and Iran hold indirect talks in Oman", "")]),
        ),
    );
    let smtp = SmtpServer::start().await;
    let dir = TestDir::new();
    let config = dir.config(&format!(
        "[poll]\nalert_on_first_poll = true\n[[feeds]]\nurl = \"{}\"\n\
         [[sinks]]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {}\n\
         username = \"parleyd\"\npassword = \"pw-s3cr3t\"\n\
         from = \"alerts@example.org\"\nto = \"ops@example.org\"\n",
        feeds.url("/rss.xml"),
        smtp.port(),
    ));
    let run = once(&config, &[]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(smtp.mails().is_empty());
    let pending = dir.read_store(|store| store.pending_alerts().unwrap());
    assert_eq!(pending.len(), 1, "queued for a retry, not dead");
    let reason = pending[0].last_error.clone().unwrap();
    assert!(reason.to_lowercase().contains("certificate"), "{reason}");
    assert!(!run.stderr.contains("s3cr3t"));
}
