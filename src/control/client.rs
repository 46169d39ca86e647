//! The commands' side of the control API: one HTTP client to the daemon's own listener,
//! carrying the token read from the store directory.

use super::api::{
    AlertsAnswer, ErrorAnswer, FeedsAnswer, Hello, ReplayRequest, RetryAnswer, StatsAnswer,
};
use super::report::{AlertRow, AlertState, FeedRow, ReplayReport, RetryRequest};
use super::{API_VERSION, ControlError, Token};
use crate::store::StoreStats;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A daemon on this machine answers at once or not at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A replay over a month of articles takes seconds; this only stops a hung daemon.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Where to reach a listener bound to `listen` from this machine: an unspecified address
/// (`0.0.0.0`, `[::]`) is reached on loopback, so the token never leaves the host.
pub fn api_address(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), listen.port())
        }
        _ => listen,
    }
}

/// A client of one daemon's control API.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: Token,
    http: reqwest::Client,
}

impl Client {
    /// A client for the daemon listening on `listen` that holds the store at `store_dir`
    /// (its token is read from there).
    ///
    /// # Errors
    /// [`ControlError::TokenRead`] when the token cannot be read.
    pub fn new(listen: SocketAddr, store_dir: &Path) -> Result<Client, ControlError> {
        let token = Token::read(store_dir)?;
        let base = format!("http://{}/api/v1", api_address(listen));
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // The token goes to this machine's own listener, never through a proxy.
            .no_proxy()
            .user_agent(crate::USER_AGENT)
            .build()
            .map_err(|source| ControlError::Unreachable {
                url: base.clone(),
                source,
            })?;
        Ok(Client { base, token, http })
    }

    /// The API's address, for messages.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Checks that a daemon answers, accepts the token and speaks this API version.
    ///
    /// # Errors
    /// [`ControlError::Unreachable`] when nothing answers, [`ControlError::Refused`] or
    /// [`ControlError::Answer`] otherwise.
    pub async fn hello(&self) -> Result<(), ControlError> {
        let hello: Hello = self.get("").await?;
        if hello.api != API_VERSION {
            return Err(ControlError::Answer {
                url: self.base.clone(),
                why: format!(
                    "it speaks API version {} (parleyd {}), this command version {API_VERSION}",
                    hello.api, hello.parleyd
                ),
            });
        }
        Ok(())
    }

    /// Every configured feed's health.
    ///
    /// # Errors
    /// As [`Client::hello`].
    pub async fn feeds(&self) -> Result<Vec<FeedRow>, ControlError> {
        Ok(self.get::<FeedsAnswer>("/feeds").await?.feeds)
    }

    /// The daemon's store directory and its counts.
    ///
    /// # Errors
    /// As [`Client::hello`].
    pub async fn stats(&self) -> Result<(PathBuf, StoreStats), ControlError> {
        let answer: StatsAnswer = self.get("/stats").await?;
        Ok((answer.store, answer.stats))
    }

    /// Alerts in one state, or all.
    ///
    /// # Errors
    /// As [`Client::hello`].
    pub async fn alerts(&self, only: Option<AlertState>) -> Result<Vec<AlertRow>, ControlError> {
        let path = match only {
            Some(state) => format!("/alerts?state={}", state.as_str()),
            None => "/alerts".to_string(),
        };
        Ok(self.get::<AlertsAnswer>(&path).await?.alerts)
    }

    /// Re-queues dead alerts; returns how many.
    ///
    /// # Errors
    /// As [`Client::hello`].
    pub async fn retry(&self, request: &RetryRequest) -> Result<usize, ControlError> {
        Ok(self
            .post::<_, RetryAnswer>("/alerts/retry", request)
            .await?
            .requeued)
    }

    /// Re-scores stored articles in the daemon.
    ///
    /// # Errors
    /// As [`Client::hello`].
    pub async fn replay(&self, request: &ReplayRequest) -> Result<ReplayReport, ControlError> {
        self.post("/replay", request).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ControlError> {
        let url = format!("{}{path}", self.base);
        let sent = self.http.get(&url).bearer_auth(self.token.expose()).send();
        self.answer(url, sent).await
    }

    async fn post<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ControlError> {
        let url = format!("{}{path}", self.base);
        let body = serde_json::to_vec(body).map_err(|err| ControlError::Answer {
            url: url.clone(),
            why: format!("cannot encode the request: {err}"),
        })?;
        let sent = self
            .http
            .post(&url)
            .bearer_auth(self.token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send();
        self.answer(url, sent).await
    }

    /// Reads an answer: the JSON it promises on 2xx, the `error` it gives otherwise.
    async fn answer<T: DeserializeOwned>(
        &self,
        url: String,
        sent: impl Future<Output = reqwest::Result<reqwest::Response>>,
    ) -> Result<T, ControlError> {
        // The message names the address already; reqwest's would repeat the URL.
        let response = sent.await.map_err(|source| ControlError::Unreachable {
            url: self.base.clone(),
            source: source.without_url(),
        })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|source| ControlError::Unreachable {
                url: self.base.clone(),
                source: source.without_url(),
            })?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorAnswer>(&body)
                .map(|answer| answer.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect());
            return Err(ControlError::Refused {
                url,
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|err| ControlError::Answer {
            url,
            why: err.to_string(),
        })
    }
}
