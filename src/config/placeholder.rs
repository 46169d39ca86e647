//! Spots sink URLs that are still an example's placeholder, which pass every check of form
//! and fail only at the first alert.

use super::{Config, Problem};

/// A warning for each sink whose URL looks like a placeholder: Slack's documented example
/// (`T00000000/B00000000/XXXXXXXX…`), a run of `XXXX`, or a host under the reserved
/// `example.com`/`.org`/`.net` names. The message names the key and where the URL came
/// from, never the URL.
pub(super) fn placeholder_warnings(config: &Config) -> Vec<Problem> {
    config
        .sinks
        .iter()
        .enumerate()
        .filter_map(|(index, sink)| {
            let url = sink.kind.url()?;
            let why = placeholder_reason(url.expose())?;
            Some(Problem {
                key: format!("sinks[{index}].url"),
                why: format!(
                    "the URL (from {}) looks like a placeholder: {why}; alerts to `{}` will fail",
                    url.origin(),
                    sink.name
                ),
            })
        })
        .collect()
}

/// Why `url` looks like a placeholder, if it does.
fn placeholder_reason(url: &str) -> Option<&'static str> {
    let parsed = url::Url::parse(url).ok()?;
    let path = parsed.path();
    // Slack ids are a letter and eight or more characters; the example's are all zeros.
    let zero_id = |segment: &str| {
        segment.len() >= 9
            && segment.as_bytes()[0].is_ascii_uppercase()
            && segment[1..].bytes().all(|b| b == b'0')
    };
    if path.split('/').any(zero_id) {
        return Some("an id of zeros, as in Slack's example (T00000000/B00000000)");
    }
    if url.contains("XXXX") {
        return Some("a run of XXXX where the token belongs");
    }
    let host = parsed.host_str().unwrap_or_default();
    let reserved = ["example.com", "example.org", "example.net"];
    if reserved
        .iter()
        .any(|name| host == *name || host.ends_with(&format!(".{name}")))
    {
        return Some("its host is a reserved example name");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::placeholder_reason;

    #[test]
    fn examples_are_placeholders_and_real_looking_urls_are_not() {
        for url in [
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://hooks.slack.com/services/TABCDEFGH/BABCDEFGH/XXXXXXXXXXXX",
            "https://hooks.example.com/parleyd",
            "https://example.org/hook",
        ] {
            assert!(placeholder_reason(url).is_some(), "{url}");
        }
        for url in [
            "https://hooks.slack.com/services/T024BE7LD/B01ABCDEF/n3Q8aZkP2wXy7LmR4tVb9cDe",
            "http://127.0.0.1:8080/hook",
            "https://alerts.internal.net/parleyd/0",
            "https://example.co.uk/hook",
            "https://relay.internal/api/v0/T0/hook",
        ] {
            assert!(placeholder_reason(url).is_none(), "{url}");
        }
    }
}
