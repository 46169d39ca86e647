//! The routes under `/api/v1` that the status server mounts, their JSON shapes, and the
//! bearer-token check in front of all of them.

use super::report::{self, AlertRow, AlertState, FeedRow, ReplayReport, RetryRequest};
use super::{ControlError, Token};
use crate::classify::{Classifier, Profile};
use crate::config::Config;
use crate::store::{Store, StoreStats};
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The API's version: the `v1` in its paths. Within a version fields are only added.
pub const API_VERSION: u32 = 1;

/// `GET /api/v1`: which API and which parleyd answer.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Hello {
    pub(super) api: u32,
    pub(super) parleyd: String,
}

/// `GET /api/v1/feeds`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct FeedsAnswer {
    pub(super) feeds: Vec<FeedRow>,
}

/// `GET /api/v1/stats`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StatsAnswer {
    pub(super) store: PathBuf,
    pub(super) stats: StoreStats,
}

/// `GET /api/v1/alerts?state=…`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct AlertsAnswer {
    pub(super) alerts: Vec<AlertRow>,
}

/// `POST /api/v1/alerts/retry`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct RetryAnswer {
    pub(super) requeued: usize,
}

/// `POST /api/v1/replay`: how far back, and a profile to score with (the running one when
/// absent). The profile travels as text because the daemon may not see the caller's files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplayRequest {
    /// Articles first seen this many seconds ago or later.
    pub since_seconds: u64,
    /// A profile file's name (for messages) and its TOML.
    #[serde(default)]
    pub profile: Option<ProfileText>,
}

/// A profile file as the caller read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileText {
    /// Its path on the caller's side, to name it in errors.
    pub name: String,
    /// Its contents.
    pub toml: String,
}

/// `{"error": "…"}` with a status.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ErrorAnswer {
    pub(super) error: String,
}

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorAnswer { error: self.1 })).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> ApiError {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, err.to_string())
    }
}

/// What the handlers read: the running daemon's store and config, asked afresh on every
/// request because a reload replaces the config.
type Current = Arc<dyn Fn() -> (Store, Arc<Config>) + Send + Sync>;

#[derive(Clone)]
struct ApiState {
    current: Current,
    token: Token,
}

/// The `/api/v1` routes over the daemon's store and config as `current` returns them.
/// Issues a fresh token to `control.token` in `state_dir` first.
///
/// # Errors
/// [`ControlError::TokenWrite`] when the token cannot be written; the API is then off.
pub fn routes(
    current: impl Fn() -> (Store, Arc<Config>) + Send + Sync + 'static,
    state_dir: &Path,
) -> Result<Router, ControlError> {
    let state = ApiState {
        current: Arc::new(current),
        token: Token::issue(state_dir)?,
    };
    Ok(Router::new()
        .route("/api/v1", get(hello))
        .route("/api/v1/feeds", get(feeds))
        .route("/api/v1/stats", get(stats))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/alerts/retry", post(retry))
        .route("/api/v1/replay", post(replay))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state))
}

/// Lets a request through only with `Authorization: Bearer <the token>`.
async fn authorize(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let offered = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match offered {
        Some(offered) if state.token.accepts(offered.trim()) => next.run(request).await,
        _ => {
            tracing::warn!(
                path = %request.uri().path(),
                "Control API request refused: no valid token."
            );
            let mut refused = ApiError(
                StatusCode::UNAUTHORIZED,
                format!(
                    "this route needs the bearer token from {} in the daemon's store directory",
                    super::TOKEN_FILE
                ),
            )
            .into_response();
            refused.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            refused
        }
    }
}

/// Runs a store read off the async threads: scans and classification take a while.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|err| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the request's task failed: {err}"),
        )
    })?
}

async fn hello() -> Json<Hello> {
    Json(Hello {
        api: API_VERSION,
        parleyd: env!("CARGO_PKG_VERSION").to_string(),
    })
}

async fn feeds(State(state): State<ApiState>) -> Result<Json<FeedsAnswer>, ApiError> {
    let (store, config) = (state.current)();
    let feeds = blocking(move || Ok(report::feeds(&store, &config)?)).await?;
    Ok(Json(FeedsAnswer { feeds }))
}

async fn stats(State(state): State<ApiState>) -> Result<Json<StatsAnswer>, ApiError> {
    let (store, _) = (state.current)();
    let answer = blocking(move || {
        Ok(StatsAnswer {
            stats: store.stats()?,
            store: store.path().to_path_buf(),
        })
    })
    .await?;
    Ok(Json(answer))
}

#[derive(Debug, Deserialize)]
struct AlertsQuery {
    state: Option<String>,
}

async fn alerts(
    State(state): State<ApiState>,
    Query(query): Query<AlertsQuery>,
) -> Result<Json<AlertsAnswer>, ApiError> {
    let only = match query.state.as_deref() {
        None => None,
        Some("pending") => Some(AlertState::Pending),
        Some("sent") => Some(AlertState::Sent),
        Some("dead") => Some(AlertState::Dead),
        Some(other) => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("state `{other}` is not pending, sent or dead"),
            ));
        }
    };
    let (store, _) = (state.current)();
    let alerts = blocking(move || Ok(report::alerts(&store, only)?)).await?;
    Ok(Json(AlertsAnswer { alerts }))
}

async fn retry(
    State(state): State<ApiState>,
    Json(request): Json<RetryRequest>,
) -> Result<Json<RetryAnswer>, ApiError> {
    if request.all_dead == request.id.is_some() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "give either an `id` or `\"all_dead\": true`".to_string(),
        ));
    }
    let (store, _) = (state.current)();
    let requeued = {
        let store = store.clone();
        blocking(move || Ok(report::retry(&store, &request)?)).await?
    };
    store.flush().await?;
    tracing::info!(
        requeued,
        "Dead alerts re-queued through the control API; each sink sends them at its next check."
    );
    Ok(Json(RetryAnswer { requeued }))
}

async fn replay(
    State(state): State<ApiState>,
    Json(request): Json<ReplayRequest>,
) -> Result<Json<ReplayReport>, ApiError> {
    let (store, config) = (state.current)();
    let classifier = match &request.profile {
        Some(profile) => Profile::from_toml(&profile.toml, Path::new(&profile.name))
            .map(|profile| Classifier::new(profile, None))
            .map_err(|err| ApiError(StatusCode::BAD_REQUEST, err.to_string()))?,
        None => Classifier::from_source(&config.classifier.profile, config.classifier.threshold)
            .map_err(|err| ApiError(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))?,
    };
    // A century is "everything"; the cap keeps the subtraction in chrono's range.
    let since = chrono::Duration::seconds(request.since_seconds.min(100 * 365 * 86_400) as i64);
    let cutoff = chrono::Utc::now() - since;
    let found = blocking(move || Ok(report::replay(&store, &classifier, cutoff)?)).await?;
    Ok(Json(found))
}
