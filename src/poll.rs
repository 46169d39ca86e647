//! Fetches feed bodies over HTTP(S) or from `file://`, with conditional GET, time and size limits.
//!
//! The poller knows nothing about feed formats: it returns bytes and the response metadata
//! the parser needs (content type) and the store keeps (validators). Every error names the
//! feed and never contains a URL query (which may carry a token).

use crate::config::{FeedConfig, PollConfig};
use crate::http::{client_builder, error_chain, retry_after};
use crate::redact::display_url;
use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Redirects followed per fetch; a longer chain is almost always a loop or a parked domain.
const MAX_REDIRECTS: usize = 5;

/// What the last successful fetch of a feed returned, sent back as a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` header, verbatim.
    pub etag: Option<String>,
    /// The `Last-Modified` header, verbatim.
    pub last_modified: Option<String>,
}

/// The outcome of one successful fetch.
#[derive(Debug)]
pub enum Fetched {
    /// The server answered 304: nothing changed since the validators were issued.
    NotModified,
    /// A new body (boxed: it is large, and a 304 is the common answer).
    Body(Box<Body>),
}

/// A fetched body with the metadata the later stages need.
#[derive(Debug)]
pub struct Body {
    /// The raw bytes, decompressed but not decoded (the parser decides the charset).
    pub bytes: Vec<u8>,
    /// The `Content-Type` header, for its charset and for spotting HTML error pages.
    pub content_type: Option<String>,
    /// Validators to send next time.
    pub validators: Validators,
    /// The HTTP status (200 for files).
    pub status: u16,
    /// `Cache-Control: max-age` (or `s-maxage`), the server's own refresh hint.
    pub max_age: Option<Duration>,
    /// Where the feed now lives, when every redirect on the way was permanent (301, 308).
    pub final_url: Option<url::Url>,
}

/// Why a fetch failed. Each variant names the feed.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// The server answered with a non-success status.
    #[error("feed `{feed}`: the server answered HTTP {status}")]
    Status {
        /// Feed name.
        feed: String,
        /// The status code.
        status: u16,
        /// How long the server asked us to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The request did not complete in time.
    #[error("feed `{feed}`: no complete answer within {}", crate::duration::human(*.after))]
    Timeout {
        /// Feed name.
        feed: String,
        /// The limit that was hit.
        after: Duration,
    },
    /// The body exceeded the configured cap.
    #[error("feed `{feed}`: the body is larger than the limit of {limit} bytes")]
    TooLarge {
        /// Feed name.
        feed: String,
        /// The cap.
        limit: u64,
    },
    /// Connection, TLS, redirect or protocol failure.
    #[error("feed `{feed}`: request failed: {reason}")]
    Request {
        /// Feed name.
        feed: String,
        /// The cause, without the URL.
        reason: String,
    },
    /// A `file://` feed could not be read.
    #[error("feed `{feed}`: cannot read {path}: {cause}")]
    File {
        /// Feed name.
        feed: String,
        /// The file.
        path: String,
        /// Why (in the message, so not also a `source()`, which would print it twice).
        cause: std::io::Error,
    },
    /// A URL scheme the poller cannot fetch.
    #[error("feed `{feed}`: unsupported URL scheme `{scheme}`")]
    Scheme {
        /// Feed name.
        feed: String,
        /// The scheme.
        scheme: String,
    },
}

impl PollError {
    /// A short, stable name for the kind of failure (for metrics and feed health).
    pub fn kind(&self) -> &'static str {
        match self {
            PollError::Status { .. } => "status",
            PollError::Timeout { .. } => "timeout",
            PollError::TooLarge { .. } => "too_large",
            PollError::Request { .. } => "request",
            PollError::File { .. } => "file",
            PollError::Scheme { .. } => "scheme",
        }
    }
}

/// Fetches feeds. Cheap to clone: the HTTP client is shared.
#[derive(Debug, Clone)]
pub struct Poller {
    client: reqwest::Client,
    max_body_bytes: u64,
    timeout: Duration,
}

impl Poller {
    /// Builds the HTTP client from the `[poll]` settings.
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new(config: &PollConfig) -> Result<Poller, PollError> {
        let client = client_builder(config.timeout, config.connect_timeout)
            // A server that sends one byte now and then never trips the total timeout on
            // its own quickly enough to free the slot; this catches the drip.
            .read_timeout(config.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|err| PollError::Request {
                feed: "(client)".into(),
                reason: error_chain(&err.without_url()),
            })?;
        Ok(Poller {
            client,
            max_body_bytes: config.max_body_bytes,
            timeout: config.timeout,
        })
    }

    /// Fetches one feed, sending `validators` as a conditional GET.
    ///
    /// # Errors
    /// A [`PollError`] naming the feed.
    pub async fn fetch(
        &self,
        feed: &FeedConfig,
        validators: &Validators,
    ) -> Result<Fetched, PollError> {
        match feed.url.scheme() {
            "http" | "https" => self.fetch_http(feed, validators).await,
            "file" => self.fetch_file(feed).await,
            scheme => Err(PollError::Scheme {
                feed: feed.name.clone(),
                scheme: scheme.to_string(),
            }),
        }
    }

    async fn fetch_http(
        &self,
        feed: &FeedConfig,
        validators: &Validators,
    ) -> Result<Fetched, PollError> {
        // Redirects are followed here rather than by reqwest, to tell a permanent move
        // (every hop 301 or 308: worth telling the user) from a temporary one, and to name
        // a loop as such.
        let mut url = feed.url.clone();
        let mut visited = vec![url.clone()];
        let mut permanent = true;
        let mut response = loop {
            let mut request = self.client.get(url.clone());
            if let Some(etag) = &validators.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(last_modified) = &validators.last_modified {
                request = request.header(IF_MODIFIED_SINCE, last_modified);
            }
            let response = request
                .send()
                .await
                .map_err(|err| self.request_error(feed, err))?;
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                break response;
            }
            let redirect_error = |reason: String| PollError::Request {
                feed: feed.name.clone(),
                reason,
            };
            let next = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .ok_or_else(|| {
                    redirect_error(format!(
                        "HTTP {} without a usable Location",
                        status.as_u16()
                    ))
                })?;
            if visited.contains(&next) {
                return Err(redirect_error(format!(
                    "redirect loop back to {}",
                    display_url(&next)
                )));
            }
            if visited.len() > MAX_REDIRECTS {
                return Err(redirect_error(format!(
                    "more than {MAX_REDIRECTS} redirects"
                )));
            }
            permanent &= matches!(status.as_u16(), 301 | 308);
            visited.push(next.clone());
            url = next;
        };
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(PollError::Status {
                feed: feed.name.clone(),
                status: status.as_u16(),
                retry_after: retry_after(response.headers()),
            });
        }
        let too_large = || PollError::TooLarge {
            feed: feed.name.clone(),
            limit: self.max_body_bytes,
        };
        // Content-Length is absent for compressed bodies, so this only rejects early;
        // the streaming count below is what enforces the cap.
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body_bytes)
        {
            return Err(too_large());
        }
        let headers = response.headers().clone();
        let final_url = (permanent && url != feed.url).then_some(url);
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| self.request_error(feed, err))?
        {
            if (bytes.len() + chunk.len()) as u64 > self.max_body_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body(Box::new(Body {
            bytes,
            content_type: header_string(&headers, CONTENT_TYPE),
            validators: Validators {
                etag: header_string(&headers, ETAG),
                last_modified: header_string(&headers, LAST_MODIFIED),
            },
            status: status.as_u16(),
            max_age: cache_max_age(&headers),
            final_url,
        })))
    }

    async fn fetch_file(&self, feed: &FeedConfig) -> Result<Fetched, PollError> {
        let path = feed.url.to_file_path().map_err(|()| PollError::File {
            feed: feed.name.clone(),
            path: feed.url.path().to_string(),
            cause: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a local path"),
        })?;
        let file_error = |cause| PollError::File {
            feed: feed.name.clone(),
            path: path.display().to_string(),
            cause,
        };
        let file = tokio::fs::File::open(&path).await.map_err(file_error)?;
        let mut bytes = Vec::new();
        // Read one byte past the cap so an over-long file is detected without reading it all.
        file.take(self.max_body_bytes + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(file_error)?;
        if bytes.len() as u64 > self.max_body_bytes {
            return Err(PollError::TooLarge {
                feed: feed.name.clone(),
                limit: self.max_body_bytes,
            });
        }
        Ok(Fetched::Body(Box::new(Body {
            bytes,
            content_type: None,
            validators: Validators::default(),
            status: 200,
            max_age: None,
            final_url: None,
        })))
    }

    fn request_error(&self, feed: &FeedConfig, err: reqwest::Error) -> PollError {
        if err.is_timeout() {
            return PollError::Timeout {
                feed: feed.name.clone(),
                after: self.timeout,
            };
        }
        PollError::Request {
            feed: feed.name.clone(),
            reason: error_chain(&err.without_url()),
        }
    }
}

fn header_string(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

/// `Cache-Control: max-age=N` or `s-maxage=N`, ignoring `no-cache`-style directives.
pub fn cache_max_age(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::CACHE_CONTROL)?.to_str().ok()?;
    value
        .split(',')
        .filter_map(|directive| directive.trim().split_once('='))
        .filter(|(name, _)| {
            name.eq_ignore_ascii_case("max-age") || name.eq_ignore_ascii_case("s-maxage")
        })
        .filter_map(|(_, seconds)| seconds.trim().trim_matches('"').parse::<u64>().ok())
        .max()
        .map(Duration::from_secs)
}
