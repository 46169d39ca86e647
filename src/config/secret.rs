//! Secret values (webhook URLs, tokens, signing keys) and `${VAR}` resolution from the
//! environment.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::fmt;

/// The origin of a secret written in the config file itself.
pub(crate) const INLINE_ORIGIN: &str = "an inline value";

/// A value that must never reach a log line or an error message. `Debug` and `Display` show
/// only where it came from (`$PARLEYD_SLACK_WEBHOOK`, or "inline value").
#[derive(Clone)]
pub struct Secret {
    value: SecretString,
    origin: String,
    /// False for a secret a read-only load left alone ([`super::SinkSecrets::Leave`]).
    resolved: bool,
}

impl Secret {
    /// Wraps a resolved value together with a description of where it came from.
    pub fn new(value: String, origin: String) -> Secret {
        Secret {
            value: SecretString::from(value),
            origin,
            resolved: true,
        }
    }

    /// A secret named but not looked up: its value is empty, so nothing can be sent with it.
    pub fn unresolved(origin: String) -> Secret {
        Secret {
            value: SecretString::from(String::new()),
            origin,
            resolved: false,
        }
    }

    /// The value itself, for the one place that needs it: the HTTP call. Empty when the
    /// secret was left unresolved.
    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }

    /// Whether the value was looked up (see [`Secret::unresolved`]).
    pub fn is_resolved(&self) -> bool {
        self.resolved
    }

    /// Where the value came from, safe to print.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether the value is written in the config file itself.
    pub fn is_inline(&self) -> bool {
        self.origin == INLINE_ORIGIN
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(from {})", self.origin)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[secret from {}]", self.origin)
    }
}

/// A Standard Webhooks signing key, decoded from `whsec_` + base64 once, when the config
/// loads, and kept as an HMAC-SHA256 already keyed with it. `Debug` shows only where the
/// secret came from.
#[derive(Clone)]
pub struct SigningKey {
    mac: Hmac<Sha256>,
    origin: String,
}

impl SigningKey {
    /// Decodes a `whsec_` secret; `None` if it is not `whsec_` followed by non-empty base64.
    pub fn decode(secret: &Secret) -> Option<SigningKey> {
        use base64::Engine;
        let encoded = secret.expose().strip_prefix("whsec_")?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .filter(|key| !key.is_empty())?;
        Some(SigningKey {
            // HMAC accepts keys of any length, so this never fails for a decoded key.
            mac: Hmac::new_from_slice(&key).ok()?,
            origin: secret.origin().to_string(),
        })
    }

    /// A fresh HMAC-SHA256 keyed with the secret, ready for the message.
    pub fn mac(&self) -> Hmac<Sha256> {
        self.mac.clone()
    }

    /// Where the secret came from, safe to print.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether the secret is written in the config file itself.
    pub fn is_inline(&self) -> bool {
        self.origin == INLINE_ORIGIN
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(from {})", self.origin)
    }
}

/// Replaces every `${NAME}` and `${NAME:-default}` in `raw` with the variable's value, and
/// every `${credential:NAME}` with the contents of `$CREDENTIALS_DIRECTORY/NAME` (where
/// systemd's `LoadCredential=` puts secrets), trailing newline removed. Returns the resolved
/// text and the names it used, or a message naming what is missing. The message never
/// contains the raw text, because it may hold a secret.
pub(crate) fn interpolate(
    raw: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<String>), String> {
    let out = scan(raw, &mut |reference| match reference {
        Reference::Credential(name) => read_credential(name, lookup),
        Reference::Variable { name, default } => match (lookup(name), default) {
            (Some(value), _) if !value.is_empty() => Ok(value),
            (_, Some(default)) => Ok(default.to_string()),
            (Some(_), None) => Err(format!("environment variable {name} is empty")),
            (None, None) => Err(format!("environment variable {name} is not set")),
        },
    })?;
    if out.0.contains('\n') || out.0.contains('\r') {
        return Err("contains a line break after substitution".to_string());
    }
    Ok(out)
}

/// The names `raw` refers to, as [`interpolate`] returns them, checked for syntax but not
/// looked up: nothing is read from the environment or the credentials directory.
pub(crate) fn references(raw: &str) -> Result<Vec<String>, String> {
    scan(raw, &mut |_| Ok(String::new())).map(|(_, names)| names)
}

/// One `${…}` in a value.
enum Reference<'a> {
    /// `${NAME}` or `${NAME:-default}`.
    Variable {
        name: &'a str,
        default: Option<&'a str>,
    },
    /// `${credential:NAME}`.
    Credential(&'a str),
}

/// Walks `raw`, checks each `${…}` and replaces it with what `resolve` gives; returns the
/// text and the names used (`NAME` or `credential:NAME`).
fn scan(
    raw: &str,
    resolve: &mut dyn FnMut(Reference<'_>) -> Result<String, String>,
) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(raw.len());
    let mut names = Vec::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("has a `${` without a closing `}`".to_string());
        };
        let inner = &after[..end];
        rest = &after[end + 1..];
        if let Some(credential) = inner.strip_prefix("credential:") {
            if credential.is_empty() || credential.contains(['/', '\\']) || credential == ".." {
                return Err(format!(
                    "`credential:{credential}` is not a credential name"
                ));
            }
            out.push_str(&resolve(Reference::Credential(credential))?);
            names.push(format!("credential:{credential}"));
            continue;
        }
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`${{{name}}}` is not a valid variable name (letters, digits and _ only)"
            ));
        }
        out.push_str(&resolve(Reference::Variable { name, default })?);
        names.push(name.to_string());
    }
    out.push_str(rest);
    Ok((out, names))
}

/// The contents of a systemd credential, for `${credential:NAME}`.
fn read_credential(name: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let directory = lookup("CREDENTIALS_DIRECTORY").ok_or_else(|| {
        format!("credential {name} needs CREDENTIALS_DIRECTORY (set by systemd's LoadCredential=)")
    })?;
    let path = std::path::Path::new(&directory).join(name);
    let text = std::fs::read_to_string(&path).map_err(|err| {
        format!(
            "cannot read credential {name} from {}: {err}",
            path.display()
        )
    })?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOOK" => Some("https://hooks.example/T1/B2/secret".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn resolves_variables_and_defaults() {
        let (value, names) = interpolate("${HOOK}", &env).unwrap();
        assert_eq!(value, "https://hooks.example/T1/B2/secret");
        assert_eq!(names, vec!["HOOK"]);
        let (value, _) = interpolate("a-${NOPE:-b}-c", &env).unwrap();
        assert_eq!(value, "a-b-c");
    }

    #[test]
    fn missing_and_empty_variables_are_named() {
        assert_eq!(
            interpolate("${NOPE}", &env).unwrap_err(),
            "environment variable NOPE is not set"
        );
        assert_eq!(
            interpolate("${EMPTY}", &env).unwrap_err(),
            "environment variable EMPTY is empty"
        );
        assert!(interpolate("${HOOK", &env).is_err());
    }

    #[test]
    fn credentials_are_read_from_the_credentials_directory() {
        let dir = std::env::temp_dir().join(format!("parleyd-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("slack"), "https://hooks.example/T/B/c\n").unwrap();
        let directory = dir.display().to_string();
        let lookup = |name: &str| (name == "CREDENTIALS_DIRECTORY").then(|| directory.clone());
        let (value, names) = interpolate("${credential:slack}", &lookup).unwrap();
        assert_eq!(value, "https://hooks.example/T/B/c");
        assert_eq!(names, vec!["credential:slack"]);
        assert!(
            interpolate("${credential:missing}", &lookup)
                .unwrap_err()
                .contains("cannot read credential missing")
        );
        assert!(interpolate("${credential:../etc}", &lookup).is_err());
        assert!(
            interpolate("${credential:slack}", &env)
                .unwrap_err()
                .contains("CREDENTIALS_DIRECTORY")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn references_are_checked_but_never_looked_up() {
        assert_eq!(
            references("https://x/${HOOK}/${credential:slack}").unwrap(),
            vec!["HOOK", "credential:slack"]
        );
        assert!(references("${bad name}").is_err());
        assert!(references("${credential:../etc}").is_err());
        assert!(references("${HOOK").is_err());
    }

    #[test]
    fn malformed_signing_secrets_are_refused() {
        let decode = |value: &str| SigningKey::decode(&Secret::new(value.into(), "$S".into()));
        assert!(decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(decode("whsec_not base64!").is_none());
        assert!(decode("whsec_").is_none());
        let key = decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{key:?}"), "SigningKey(from $S)");
    }

    #[test]
    fn secret_never_prints_its_value() {
        let secret = Secret::new("https://hooks.example/s3cr3t".into(), "$HOOK".into());
        assert!(!format!("{secret:?} {secret}").contains("s3cr3t"));
        assert_eq!(secret.expose(), "https://hooks.example/s3cr3t");
    }
}
