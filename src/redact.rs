//! What of a URL may be logged or shown: scheme, host, port and path, never credentials.

use url::Url;

/// A URL as safe to log: scheme, host, port and path; never user info or the query (a
/// query or user info may hold a token).
pub fn display_url(url: &Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    match url.host_str() {
        Some(host) => format!("{}://{host}{port}{}", url.scheme(), url.path()),
        None => format!("{}://{}", url.scheme(), url.path()),
    }
}

/// Text that was meant as a URL but does not parse, as safe to quote: the same parts as
/// [`display_url`] keeps, cut by hand: no user info, no query, no fragment.
pub fn display_unparsed_url(raw: &str) -> String {
    let before_query = raw.find(['?', '#']).map_or(raw, |at| &raw[..at]);
    match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => before_query.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unparsed_urls_lose_user_info_query_and_fragment() {
        assert_eq!(
            display_unparsed_url("https://u:pw@exa mple.org/a b?token=s3#x"),
            "https://exa mple.org/a b"
        );
        assert_eq!(
            display_unparsed_url("http://[::1/feed#t"),
            "http://[::1/feed"
        );
        assert_eq!(display_unparsed_url("not a url?key=1"), "not a url");
    }
}
