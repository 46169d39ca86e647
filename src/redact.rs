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
