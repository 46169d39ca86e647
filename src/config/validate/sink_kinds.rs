//! The keys of the Discord, Teams, ntfy and email sinks: mentions, priorities, tokens, the
//! SMTP server, its login and the addresses.
//!
//! As for every sink, a secret (URL, token, password) is never quoted in a message.

use super::Walker;
use crate::config::secret::Secret;
use crate::config::{DiscordMention, EmailSink, SinkKind, SmtpTls};
use lettre::message::Mailbox;
use toml::{Table, Value};

impl Walker<'_> {
    /// A Discord webhook sink: its URL and an optional mention.
    pub(super) fn discord(&mut self, table: &Table, prefix: &str) -> Option<SinkKind> {
        let url = self.sink_url(table, prefix);
        let mention = self.discord_mention(table, prefix);
        url.map(|url| SinkKind::Discord { url, mention })
    }

    /// `everyone`, `here`, `role:ID` or `user:ID` (Discord ids are numbers).
    fn discord_mention(&mut self, table: &Table, prefix: &str) -> Option<DiscordMention> {
        let raw = self.string(Some(table), prefix, "mention")?;
        let snowflake = |id: &str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
        let mention = match raw.trim_start_matches('@') {
            "everyone" => DiscordMention::Everyone,
            "here" => DiscordMention::Here,
            other => match other.split_once(':') {
                Some(("role", id)) if snowflake(id) => DiscordMention::Role(id.to_string()),
                Some(("user", id)) if snowflake(id) => DiscordMention::User(id.to_string()),
                _ => {
                    self.problem(
                        format!("{prefix}.mention"),
                        "use \"everyone\", \"here\", \"role:ID\" or \"user:ID\" (ids are numbers)",
                    );
                    return None;
                }
            },
        };
        Some(mention)
    }

    /// An ntfy sink: the topic URL, an optional access token and priority.
    pub(super) fn ntfy(&mut self, table: &Table, prefix: &str) -> Option<SinkKind> {
        let url = self.sink_url(table, prefix);
        if let Some(url) = url.as_ref().filter(|url| url.is_resolved()) {
            let has_topic = url::Url::parse(url.expose())
                .ok()
                .and_then(|u| u.path_segments()?.next_back().map(|s| !s.is_empty()))
                .unwrap_or(false);
            if !has_topic {
                self.problem(
                    format!("{prefix}.url"),
                    format!(
                        "the value from {} names no topic; write the topic's URL, https://ntfy.sh/TOPIC (value not shown)",
                        url.origin()
                    ),
                );
            }
        }
        let token = table
            .contains_key("token")
            .then(|| self.secret(table, prefix, "token"))
            .flatten();
        let priority = self.ntfy_priority(table, prefix);
        url.map(|url| SinkKind::Ntfy {
            url,
            token,
            priority,
        })
    }

    /// 1 to 5, or ntfy's names for them.
    fn ntfy_priority(&mut self, table: &Table, prefix: &str) -> Option<u8> {
        let priority = match table.get("priority")? {
            Value::Integer(n) if (1..=5).contains(n) => Some(*n as u8),
            Value::String(name) => match name.as_str() {
                "min" => Some(1),
                "low" => Some(2),
                "default" => Some(3),
                "high" => Some(4),
                "max" | "urgent" => Some(5),
                _ => None,
            },
            _ => None,
        };
        if priority.is_none() {
            self.problem(
                format!("{prefix}.priority"),
                "use 1 to 5, or \"min\", \"low\", \"default\", \"high\", \"max\" (\"urgent\")",
            );
        }
        priority
    }

    /// An email sink: server, TLS mode, login, sender, recipients and an optional CA.
    pub(super) fn email(&mut self, table: &Table, prefix: &str) -> Option<SinkKind> {
        let host = self.smtp_host(table, prefix);
        let tls = match self.string(Some(table), prefix, "tls").as_deref() {
            None | Some("starttls") => Some(SmtpTls::Starttls),
            Some("tls") => Some(SmtpTls::Tls),
            Some("none") => Some(SmtpTls::None),
            Some(other) => {
                self.problem(
                    format!("{prefix}.tls"),
                    format!("`{other}` is not a TLS mode; use \"starttls\" (the default), \"tls\" or \"none\""),
                );
                None
            }
        };
        let port = self.smtp_port(table, prefix);
        let credentials = self.smtp_login(table, prefix);
        if let (Some(host), Some(SmtpTls::None)) = (&host, tls)
            && !is_loopback(host)
        {
            self.problem(
                format!("{prefix}.tls"),
                "\"none\" sends alerts (and any password) unencrypted, so it is only for a relay on this machine (localhost, 127.0.0.1, ::1); use \"starttls\" or \"tls\"",
            );
        }
        let from = self.mailboxes(table, prefix, "from", false).pop();
        let to = self.mailboxes(table, prefix, "to", true);
        let ca_file = self.ca_file(table, prefix);
        let (host, tls, from) = (host?, tls?, from?);
        if to.is_empty() {
            return None;
        }
        Some(SinkKind::Email(Box::new(EmailSink {
            port: port.unwrap_or_else(|| tls.default_port()),
            host,
            tls,
            credentials,
            from,
            to,
            ca_file,
        })))
    }

    /// A host name or address, without scheme or port (those have their own keys).
    fn smtp_host(&mut self, table: &Table, prefix: &str) -> Option<String> {
        let key = format!("{prefix}.host");
        let Some(host) = self.string(Some(table), prefix, "host") else {
            if !table.contains_key("host") {
                self.problem(key, "is required: the SMTP server's host name");
            }
            return None;
        };
        let name = host.trim_start_matches('[').trim_end_matches(']');
        let is_ipv6 = name.parse::<std::net::Ipv6Addr>().is_ok();
        let valid = is_ipv6 || (!name.contains([':', '/']) && url::Host::parse(name).is_ok());
        if !valid {
            self.problem(
                key,
                format!("`{host}` is not a host name; write only the name (smtp.example.org), the port goes in `port`"),
            );
            return None;
        }
        Some(name.to_string())
    }

    fn smtp_port(&mut self, table: &Table, prefix: &str) -> Option<u16> {
        let port = self.positive_int(Some(table), prefix, "port")?;
        match u16::try_from(port) {
            Ok(port) => Some(port),
            Err(_) => {
                self.problem(
                    format!("{prefix}.port"),
                    format!("{port} is not a port (1 to 65535)"),
                );
                None
            }
        }
    }

    /// `username` and `password`, both or neither.
    fn smtp_login(&mut self, table: &Table, prefix: &str) -> Option<(Secret, Secret)> {
        let username = table
            .contains_key("username")
            .then(|| self.secret(table, prefix, "username"))
            .flatten();
        let password = table
            .contains_key("password")
            .then(|| self.secret(table, prefix, "password"))
            .flatten();
        match (table.contains_key("username"), table.contains_key("password")) {
            (true, false) => self.problem(
                format!("{prefix}.password"),
                "is required with `username`; write password = \"${credential:smtp}\" or \"${SMTP_PASSWORD}\"",
            ),
            (false, true) => self.problem(
                format!("{prefix}.username"),
                "is required with `password`",
            ),
            _ => {}
        }
        username.zip(password)
    }

    /// One address (`from`) or a string or list of them (`to`), each `Name <addr>` or `addr`.
    fn mailboxes(&mut self, table: &Table, prefix: &str, key: &str, list: bool) -> Vec<Mailbox> {
        let raw: Vec<(String, String)> = match table.get(key) {
            None => {
                let what = if list {
                    "the recipients' addresses"
                } else {
                    "the sender's address"
                };
                self.problem(format!("{prefix}.{key}"), format!("is required: {what}"));
                return Vec::new();
            }
            Some(Value::Array(_)) if list => self
                .string_list(table, prefix, key)
                .into_iter()
                .enumerate()
                .map(|(i, s)| (format!("{prefix}.{key}[{i}]"), s))
                .collect(),
            Some(_) => self
                .string(Some(table), prefix, key)
                .map(|s| vec![(format!("{prefix}.{key}"), s)])
                .unwrap_or_default(),
        };
        if list && raw.is_empty() && matches!(table.get(key), Some(Value::Array(_))) {
            self.problem(format!("{prefix}.{key}"), "names no recipient");
        }
        raw.into_iter()
            .filter_map(|(key, text)| match text.parse::<Mailbox>() {
                Ok(mailbox) => Some(mailbox),
                Err(err) => {
                    self.problem(
                        key,
                        format!("`{text}` is not an email address ({err}); write `Name <user@example.org>` or `user@example.org`"),
                    );
                    None
                }
            })
            .collect()
    }

    /// An extra CA certificate (PEM) to trust, resolved against the config's folder.
    fn ca_file(&mut self, table: &Table, prefix: &str) -> Option<std::path::PathBuf> {
        let raw = self.string(Some(table), prefix, "ca_file")?;
        let path = self.resolve_path(&raw);
        match std::fs::read_to_string(&path) {
            Ok(text) if text.contains("-----BEGIN CERTIFICATE-----") => Some(path),
            Ok(_) => {
                self.problem(
                    format!("{prefix}.ca_file"),
                    format!("{} holds no PEM certificate", path.display()),
                );
                None
            }
            Err(err) => {
                self.problem(
                    format!("{prefix}.ca_file"),
                    format!("cannot read {}: {err}", path.display()),
                );
                None
            }
        }
    }
}

/// Whether `host` is this machine, the only place an unencrypted SMTP relay belongs.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
