//! The status server, read-only: `/healthz`, `/readyz`, `/metrics` (Prometheus text) and a
//! server-rendered status page with no external assets. Everything that came from a feed is
//! HTML-escaped, since titles are written by strangers.

use crate::config::Config;
use crate::store::{DayCount, Store, StoredArticle};
use crate::telemetry::metric;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use metrics_exporter_prometheus::PrometheusHandle;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A sink whose oldest waiting alert is older than this is stuck, and the daemon not ready.
const STUCK_AFTER: ChronoDuration = ChronoDuration::hours(1);
/// How many matches the status page lists.
const LATEST_MATCHES: usize = 25;
/// Days in the status page's chart.
const CHART_DAYS: i64 = 7;
/// How often the status page reloads itself, in seconds: a `<meta>` refresh, which the
/// page's Content-Security-Policy (no scripts) allows.
const REFRESH_SECONDS: u32 = 60;

/// What the status server may read of the running daemon: its store and its config, and
/// nothing it could run. The daemon hands over a new one on every reload.
#[derive(Debug, Clone)]
pub struct StatusView {
    store: Store,
    config: Arc<Config>,
}

impl StatusView {
    /// A view of `store` as run by `config`.
    pub fn new(store: Store, config: Arc<Config>) -> StatusView {
        StatusView { store, config }
    }

    /// The store, to read.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The running config.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// What the handlers read: the current view (replaced on reload) and the metrics.
#[derive(Clone)]
struct AppState {
    view: watch::Receiver<StatusView>,
    metrics: Option<PrometheusHandle>,
}

/// Serves until `shutdown`; a listener that cannot bind is logged, not fatal, since the
/// daemon's job is alerts, not its status page.
pub async fn serve(
    addr: std::net::SocketAddr,
    view: watch::Receiver<StatusView>,
    metrics: Option<PrometheusHandle>,
    shutdown: CancellationToken,
) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::warn!(%addr, error = %err, "Status server not started: cannot listen.");
            return;
        }
    };
    tracing::info!(%addr, "Status server listening.");
    let control = control_routes(&view);
    let upkeep = drain_metrics(metrics.clone(), shutdown.clone());
    let app = Router::new()
        .route("/", get(status_page))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AppState { view, metrics })
        .merge(control);
    let serving = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned());
    let (served, ()) = tokio::join!(serving.into_future(), upkeep);
    if let Err(err) = served {
        tracing::warn!(error = %err, "Status server stopped.");
    }
}

/// How often histogram samples are folded into their buckets when nobody scrapes. Each
/// upkeep visits every feed's histogram: every 5 s it cost 35 CPU s an hour at 20,000
/// feeds, a third of the steady state; a feed polled every few minutes gains at most a
/// sample or two a minute.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// Folds recorded histogram samples into their buckets every [`METRICS_UPKEEP`] until
/// `shutdown`. The exporter keeps every sample until then, and otherwise only a scrape of
/// `/metrics` does it: a daemon nobody scrapes kept every poll's duration of every feed
/// for good (a block per feed per 64 polls; BENCHMARKS.md, "The daemon's steady state").
async fn drain_metrics(metrics: Option<PrometheusHandle>, shutdown: CancellationToken) {
    let Some(handle) = metrics else {
        return;
    };
    let mut ticks = tokio::time::interval(METRICS_UPKEEP);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => handle.run_upkeep(),
        }
    }
}

/// The control API ([`crate::control`]) over the current view, or no routes, with a
/// warning, when its token cannot be written.
fn control_routes(view: &watch::Receiver<StatusView>) -> Router {
    let state_dir = view.borrow().config().storage.path.clone();
    let view = view.clone();
    let current = move || {
        let now = view.borrow().clone();
        (now.store, now.config)
    };
    crate::control::routes(current, &state_dir).unwrap_or_else(|err| {
        let error = crate::http::error_chain(&err);
        tracing::warn!(%error, "Control API off: the CLI cannot ask this daemon.");
        Router::new()
    })
}

/// The process answers.
async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "alive" }))
}

/// Ready when the store answers, a poll finished recently, and no sink is stuck.
async fn readyz(State(state): State<AppState>) -> Response {
    let view = state.view.borrow().clone();
    let mut problems = Vec::new();
    let store_check = view.store().check();
    let store_ok = store_check.is_ok();
    if let Err(err) = store_check {
        problems.push(if err.is_storage_full() {
            "storage full: the store takes no writes".to_string()
        } else {
            "the store does not answer or takes no writes".to_string()
        });
    }
    let shortest = view
        .config()
        .feeds
        .iter()
        .map(|f| f.interval)
        .min()
        .unwrap_or_default();
    let recent = ChronoDuration::from_std(shortest * 3)
        .unwrap_or(ChronoDuration::minutes(10))
        .max(ChronoDuration::minutes(10));
    let last_poll = view
        .config()
        .feeds
        .iter()
        .filter_map(|f| view.store().feed_state(f.url.as_str()).ok().flatten())
        .filter_map(|s| s.last_attempt)
        .max();
    match last_poll {
        Some(at) if Utc::now() - at <= recent => {}
        Some(at) => problems.push(format!("no poll since {}", at.to_rfc3339())),
        None => problems.push("no poll has finished yet".to_string()),
    }
    if let Ok(pending) = view.store().pending_alerts() {
        for sink in &view.config().sinks {
            let oldest = pending
                .iter()
                .filter(|a| a.sink == sink.name)
                .map(|a| a.created)
                .min();
            if let Some(oldest) = oldest
                && Utc::now() - oldest > STUCK_AFTER
            {
                problems.push(format!(
                    "sink `{}` has had an alert waiting since {}",
                    sink.name,
                    oldest.to_rfc3339()
                ));
            }
        }
    }
    let ready = problems.is_empty();
    let body = serde_json::json!({
        "ready": ready,
        "store": if store_ok { "ok" } else { "failing" },
        "last_poll": last_poll.map(|t| t.to_rfc3339()),
        "problems": problems,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let Some(handle) = &state.metrics else {
        return (StatusCode::NOT_FOUND, "metrics are off").into_response();
    };
    let view = state.view.borrow().clone();
    // Gauges are read from the store's counts record when scraped, so they are never
    // stale, and a scrape costs the same on a store of any size.
    if let Ok(counts) = view.store().counts() {
        for sink in &view.config().sinks {
            let depth = counts.outbox.get(&sink.name).copied().unwrap_or(0);
            metrics::gauge!(metric::OUTBOX_DEPTH, "sink" => sink.name.clone()).set(depth as f64);
        }
        metrics::gauge!(metric::STORIES).set(counts.stories as f64);
    }
    if let Ok(stats) = view.store().stats() {
        metrics::gauge!(metric::STORE_BYTES).set(stats.size_on_disk as f64);
    }
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

async fn status_page(State(state): State<AppState>) -> Response {
    let view = state.view.borrow().clone();
    match render_status(&view) {
        Ok(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'",
                ),
            ],
            html,
        )
            .into_response(),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the store: {err}"),
        )
            .into_response(),
    }
}

fn text(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

/// A time with its zone (the store keeps UTC), machine-readable in `datetime`.
fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "–".to_string(),
        |t| {
            format!(
                "<time datetime=\"{}\">{}</time>",
                t.to_rfc3339(),
                t.format("%Y-%m-%d %H:%M UTC")
            )
        },
    )
}

/// Where one alert stands with each sink that took it, by alert id: sent, pending or dead.
type SinkStates<'a> = HashMap<&'a str, Vec<(&'a str, &'static str)>>;

/// Each alert's state per sink, in the config's sink order.
fn sink_states<'a>(
    config: &'a Config,
    per_sink: &'a [(String, String, &'static str)],
) -> SinkStates<'a> {
    let mut states: SinkStates<'a> = HashMap::new();
    for (id, sink, state) in per_sink {
        states
            .entry(id.as_str())
            .or_default()
            .push((sink.as_str(), state));
    }
    let order = |sink: &str| config.sinks.iter().position(|s| s.name == sink);
    for per_sink in states.values_mut() {
        per_sink.sort_by_key(|(sink, _)| order(sink));
    }
    states
}

/// Why a relevant article raised no alert: published too long before it was first seen
/// (`poll.max_article_age`), or else it came with its feed's first poll (the backlog).
fn silent_reason(article: &crate::model::Article, config: &Config) -> String {
    let age = article.first_seen - article.effective_time();
    let too_old = age
        .to_std()
        .is_ok_and(|age| age > config.poll.max_article_age);
    if too_old {
        format!(
            "not alerted: too old (published {} before it was seen; max_article_age {})",
            crate::duration::human(age.to_std().unwrap_or_default()),
            crate::duration::human(config.poll.max_article_age)
        )
    } else {
        "not alerted: backlog (its feed's first poll)".to_string()
    }
}

/// One match's alert state: per sink, or why there is none.
fn alert_cell(stored: &StoredArticle, config: &Config, states: &SinkStates<'_>) -> String {
    match &stored.alert_id {
        None => silent_reason(&stored.article, config),
        Some(id) if !stored.opened_story() => {
            format!("joined story {}", text(&id[..8.min(id.len())]))
        }
        Some(id) => match states.get(id.as_str()) {
            None => "queued for no sink".to_string(),
            Some(per_sink) => {
                let items: String = per_sink
                    .iter()
                    .map(|(sink, state)| {
                        format!(
                            "<li>{}: <span class=\"{state}\">{state}</span></li>",
                            text(sink)
                        )
                    })
                    .collect();
                format!("<ul class=\"sinks\">{items}</ul>")
            }
        },
    }
}

fn render_status(view: &StatusView) -> Result<String, crate::store::StoreError> {
    let store = view.store();
    let config = view.config();
    let now = Utc::now();
    let mut html = String::with_capacity(16 * 1024);
    html.push_str(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>parleyd</title>\
         <style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
         table{border-collapse:collapse;margin-bottom:2em}td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\
         .failing,.dead{color:#b00}.ok,.sent{color:#070}.pending{color:#a60}.muted{color:#777}details{font-size:12px}\
         ul.sinks{margin:0;padding:0;list-style:none}</style>",
    );
    html.push_str(&format!(
        "<meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\"></head><body><h1>parleyd</h1>\
         <p class=\"muted\">As of {}; this page reloads every minute.</p>",
        time(Some(now))
    ));

    html.push_str("<h2>Feeds</h2><table id=\"feeds\"><tr><th>Feed</th><th>Health</th><th>Last success</th><th>Next poll</th><th>Failures</th><th>Items</th><th>Last error</th></tr>");
    for feed in &config.feeds {
        let state = store.feed_state(feed.url.as_str())?.unwrap_or_default();
        let health = state.health();
        let error = if state.consecutive_failures > 0 {
            text(state.last_error.as_deref().unwrap_or(""))
        } else {
            String::new()
        };
        html.push_str(&format!(
            "<tr><td>{}</td><td class=\"{health}\">{health}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{error}</td></tr>",
            text(&feed.name),
            time(state.last_success),
            time(state.next_poll),
            state.consecutive_failures,
            state.items_seen,
        ));
    }
    html.push_str("</table>");

    // The recent record and a few point reads: the page costs the same at any store size.
    let recent = store.recent()?;
    let week_start = now - ChronoDuration::days(CHART_DAYS);
    let mut matches: Vec<StoredArticle> = Vec::new();
    let mut per_sink = Vec::new();
    let newest = recent.matches.iter().rev();
    for recent_match in newest.filter(|m| m.first_seen >= week_start) {
        if matches.len() == LATEST_MATCHES {
            break;
        }
        // A match pruned since (retention shorter than a week) is left out.
        let Some(stored) = store.article(&recent_match.key)? else {
            continue;
        };
        if let (Some((sequence, sinks)), Some(id)) = (&recent_match.queued, &stored.alert_id) {
            for (sink, state) in store.alert_states(id, *sequence, sinks)? {
                per_sink.push((id.clone(), sink, state));
            }
        }
        matches.push(stored);
    }
    let states = sink_states(config, &per_sink);

    html.push_str("<h2>Latest matches</h2><table id=\"matches\"><tr><th>First seen</th><th>Feed</th><th>Event</th><th>Score</th><th>Headline</th><th>Alert, per sink</th></tr>");
    for stored in &matches {
        let article = &stored.article;
        let verdict = stored.verdict.as_ref();
        let alert_state = alert_cell(stored, config, &states);
        let headline = match article
            .link
            .as_deref()
            .filter(|l| l.starts_with("http://") || l.starts_with("https://"))
        {
            Some(link) => format!(
                "<a href=\"{}\" rel=\"noreferrer\">{}</a>",
                html_escape::encode_double_quoted_attribute(link),
                text(&article.title)
            ),
            None => text(&article.title),
        };
        let reasons: String = verdict
            .map(|v| {
                v.reasons
                    .iter()
                    .map(|r| format!("<li>{}</li>", text(r)))
                    .collect()
            })
            .unwrap_or_default();
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{headline}<details><summary>why</summary><ul>{reasons}</ul></details></td><td>{alert_state}</td></tr>",
            time(Some(article.first_seen)),
            text(&article.feed),
            verdict.and_then(|v| v.event).map_or("", |e| e.as_str()),
            verdict.map_or(0.0, |v| v.score),
        ));
    }
    if matches.is_empty() {
        html.push_str(
            "<tr><td colspan=\"6\" class=\"muted\">No matches in the last 7 days.</td></tr>",
        );
    }
    html.push_str("</table>");

    html.push_str(
        "<h2>Outbox</h2><table id=\"outbox\"><tr><th>Sink</th><th>Pending</th><th>Dead</th></tr>",
    );
    let counts = store.counts()?;
    for sink in &config.sinks {
        let count = |per_sink: &std::collections::BTreeMap<String, u64>| {
            per_sink.get(&sink.name).copied().unwrap_or(0)
        };
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(&sink.name),
            count(&counts.outbox),
            count(&counts.dead),
        ));
    }
    html.push_str("</table>");

    html.push_str(&chart(&recent.days, now));
    html.push_str("</body></html>");
    Ok(html)
}

/// Matches and alerts per day over the last week, as an inline SVG bar chart.
fn chart(counts: &BTreeMap<NaiveDate, DayCount>, now: DateTime<Utc>) -> String {
    let today = now.date_naive();
    let mut days = Vec::new();
    for back in (0..CHART_DAYS).rev() {
        let day = today - ChronoDuration::days(back);
        let count = counts.get(&day).copied().unwrap_or_default();
        days.push((day, count.matches as usize, count.alerts as usize));
    }
    let top = days.iter().map(|(_, m, _)| *m).max().unwrap_or(0).max(1) as f64;
    let mut svg = String::from(
        "<h2>Last 7 days</h2><svg id=\"chart\" width=\"560\" height=\"160\" role=\"img\" aria-label=\"matches and alerts per day\">",
    );
    for (i, (day, matches, alerts)) in days.iter().enumerate() {
        let x = 20 + i * 75;
        let h_matches = (*matches as f64 / top * 110.0).round();
        let h_alerts = (*alerts as f64 / top * 110.0).round();
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{}\" width=\"25\" height=\"{h_matches}\" fill=\"#9bc\"><title>{matches} matches</title></rect>\
             <rect x=\"{}\" y=\"{}\" width=\"25\" height=\"{h_alerts}\" fill=\"#246\"><title>{alerts} alerts</title></rect>\
             <text x=\"{x}\" y=\"150\" font-size=\"11\">{}</text>",
            130.0 - h_matches,
            x + 27,
            130.0 - h_alerts,
            day.format("%m-%d"),
        ));
    }
    svg.push_str(
        "</svg><p class=\"muted\">Light bars: matches; dark bars: alerts (new stories); days in UTC.</p>",
    );
    svg
}
