//! Real servers on 127.0.0.1 for the tests: a feed server, a webhook receiver and an SMTP
//! server, plus helpers to write configs and run the real `parleyd` binary.

#![allow(dead_code)]

mod smtp;
pub use smtp::SmtpServer;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the feed server answers one path.
#[derive(Clone, Debug)]
pub struct Route {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: String,
    pub etag: Option<String>,
    /// Send the body one byte per this interval.
    pub drip: Option<Duration>,
    /// Send an endless body.
    pub endless: bool,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    pub headers: Vec<(String, String)>,
}

impl Route {
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Route {
        Route {
            status: 200,
            body: body.into(),
            content_type: content_type.to_string(),
            etag: None,
            drip: None,
            endless: false,
            delay: None,
            headers: Vec::new(),
        }
    }

    pub fn status(status: u16) -> Route {
        Route {
            status,
            ..Route::ok("text/plain", format!("status {status}"))
        }
    }

    pub fn with_etag(mut self, etag: &str) -> Route {
        self.etag = Some(etag.to_string());
        self
    }
}

/// One request the feed server saw.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub path: String,
    pub headers: HeaderMap,
    pub at: std::time::Instant,
}

#[derive(Default)]
struct FeedServerState {
    routes: Mutex<HashMap<String, Route>>,
    seen: Mutex<Vec<SeenRequest>>,
    /// Requests being answered right now, and the most there ever were.
    in_flight: Mutex<(usize, usize)>,
}

/// A feed server on 127.0.0.1 with routes that tests change while it runs.
#[derive(Clone)]
pub struct FeedServer {
    pub addr: SocketAddr,
    state: Arc<FeedServerState>,
}

impl FeedServer {
    pub async fn start() -> FeedServer {
        let state = Arc::new(FeedServerState::default());
        let app = Router::new()
            .fallback(serve_feed)
            .with_state(Arc::clone(&state));
        let addr = serve(app).await;
        FeedServer { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.state
            .routes
            .lock()
            .unwrap()
            .insert(path.to_string(), route);
    }

    /// The most requests that were being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.state.in_flight.lock().unwrap().1
    }

    pub fn requests(&self, path: &str) -> Vec<SeenRequest> {
        self.state
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

async fn serve_feed(State(state): State<Arc<FeedServerState>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    state.seen.lock().unwrap().push(SeenRequest {
        path: path.clone(),
        headers: request.headers().clone(),
        at: std::time::Instant::now(),
    });
    let route = state.routes.lock().unwrap().get(&path).cloned();
    if let Some(delay) = route.as_ref().and_then(|r| r.delay) {
        {
            let mut in_flight = state.in_flight.lock().unwrap();
            in_flight.0 += 1;
            in_flight.1 = in_flight.1.max(in_flight.0);
        }
        tokio::time::sleep(delay).await;
        state.in_flight.lock().unwrap().0 -= 1;
    }
    let Some(route) = route else {
        return Response::builder()
            .status(404)
            .body(Body::from("not found"))
            .unwrap();
    };
    if let (Some(etag), Some(sent)) = (&route.etag, request.headers().get("if-none-match"))
        && sent.to_str().ok() == Some(etag.as_str())
    {
        return Response::builder().status(304).body(Body::empty()).unwrap();
    }
    let mut builder = Response::builder()
        .status(route.status)
        .header("content-type", &route.content_type);
    if let Some(etag) = &route.etag {
        builder = builder.header("etag", etag);
    }
    for (name, value) in &route.headers {
        builder = builder.header(name, value);
    }
    let body = if route.endless {
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        Body::from_stream(futures_util::stream::repeat_with(move || {
            Ok::<_, std::io::Error>(chunk.clone())
        }))
    } else if let Some(every) = route.drip {
        let bytes = route.body.clone();
        Body::from_stream(futures_util::stream::unfold(0usize, move |i| {
            let bytes = bytes.clone();
            async move {
                if i >= bytes.len() {
                    return None;
                }
                tokio::time::sleep(every).await;
                Some((Ok::<_, std::io::Error>(Bytes::from(vec![bytes[i]])), i + 1))
            }
        }))
    } else {
        Body::from(route.body.clone())
    };
    builder.body(body).unwrap()
}

/// One POST the webhook receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: std::time::Instant,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Mutex<Vec<Received>>,
    /// Statuses to answer with, in order; 200 once they run out. 0 means: never answer;
    /// 1 means: drop the connection without an answer; 429 comes with `Retry-After: 1`.
    script: Mutex<Vec<u16>>,
    /// Wait this long before answering each request.
    delay: Mutex<Duration>,
}

/// A webhook receiver on 127.0.0.1 that keeps everything it receives.
#[derive(Clone)]
pub struct WebhookReceiver {
    pub addr: SocketAddr,
    state: Arc<ReceiverState>,
}

impl WebhookReceiver {
    pub async fn start() -> WebhookReceiver {
        let state = Arc::new(ReceiverState::default());
        let app = Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&state));
        let addr = serve(app).await;
        WebhookReceiver { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Answer the next requests with these statuses (then 200); 0 hangs without answering,
    /// 1 drops the connection, 429 asks to retry after one second.
    pub fn script(&self, statuses: &[u16]) {
        *self.state.script.lock().unwrap() = statuses.to_vec();
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Answer every request only after this delay.
    pub fn delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }
}

async fn receive(State(state): State<Arc<ReceiverState>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), 16 * 1024 * 1024)
        .await
        .unwrap_or_default()
        .to_vec();
    state.received.lock().unwrap().push(Received {
        path,
        headers,
        body,
        at: std::time::Instant::now(),
    });
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let status = {
        let mut script = state.script.lock().unwrap();
        if script.is_empty() {
            200
        } else {
            script.remove(0)
        }
    };
    match status {
        0 => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Response::new(Body::empty())
        }
        // A body that fails at once makes the server drop the connection mid-answer.
        1 => Response::builder()
            .status(200)
            .header("content-length", "100")
            .body(Body::from_stream(futures_util::stream::once(async {
                Err::<Bytes, _>(std::io::Error::other("dropped on purpose"))
            })))
            .unwrap(),
        429 => Response::builder()
            .status(429)
            .header("retry-after", "1")
            .body(Body::from("slow down"))
            .unwrap(),
        _ => Response::builder()
            .status(StatusCode::from_u16(status).unwrap())
            .body(Body::from("ok"))
            .unwrap(),
    }
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

/// The output of one run of the binary.
#[derive(Debug)]
pub struct RunOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `parleyd ARGS` with a clean environment plus `env`, feeding `stdin`.
/// Sends SIGTERM to a running daemon.
pub fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("the daemon is running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM {pid} failed");
}

/// Runs `parleyd --config CONFIG check-config` with `env` set.
pub async fn check_config(config: &Path, env: &[(&str, &str)]) -> RunOutput {
    parleyd(
        &["--config", config.to_str().unwrap(), "check-config"],
        env,
        b"",
    )
    .await
}

pub async fn parleyd(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> RunOutput {
    use tokio::io::AsyncWriteExt;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_parleyd"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("the parleyd binary starts");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).await.unwrap();
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("parleyd finished within two minutes")
        .unwrap();
    RunOutput {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `parleyd --config CONFIG once` with `env`.
pub async fn once(config: &Path, env: &[(&str, &str)]) -> RunOutput {
    parleyd(&["--config", config.to_str().unwrap(), "once"], env, b"").await
}

/// Starts `parleyd --config CONFIG run` in the background; stderr is kept if `keep_stderr`.
pub fn spawn_daemon(config: &Path, keep_stderr: bool) -> tokio::process::Child {
    let stderr = if keep_stderr {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    };
    tokio::process::Command::new(env!("CARGO_BIN_EXE_parleyd"))
        .args(["--config", config.to_str().unwrap(), "run"])
        .env_clear()
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("the parleyd binary starts")
}

/// A temporary folder holding a config and its store.
pub struct TestDir {
    pub dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `parleyd.toml`: a `[storage]` section pointing into this folder, the status
    /// server off (tests run side by side), then `body`.
    pub fn config(&self, body: &str) -> PathBuf {
        self.config_with_server("off", body)
    }

    /// As [`TestDir::config`], with the status server listening on `listen`.
    pub fn config_with_server(&self, listen: &str, body: &str) -> PathBuf {
        let text = format!(
            "[storage]\npath = \"{}\"\n[server]\nlisten = \"{listen}\"\n\n{body}",
            self.path().join("store").display()
        );
        self.write("parleyd.toml", &text)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Reads this folder's store between runs of parleyd: sled lets one process in at a
    /// time, so the store is closed again before this returns.
    pub fn read_store<T>(&self, read: impl FnOnce(&parleyd::Store) -> T) -> T {
        let store = parleyd::Store::open(
            &self.path().join("store"),
            parleyd::config::DEFAULT_CACHE_CAPACITY,
        )
        .expect("the store opens while no parleyd runs");
        read(&store)
    }
}

/// Sleeps until the wall clock, which a `parleyd` child reads, is past `at`. A test that
/// waits for a back-off or a window waits this way, to the moment the store recorded,
/// instead of for a fixed time with a margin.
pub async fn sleep_past(at: chrono::DateTime<chrono::Utc>) {
    let wait = (at - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(1)).await;
}

/// An RSS 2.0 document with these (guid, title, description) items, all dated now.
/// A config: `settings` (TOML sections, each line ending in a newline), then one feed and
/// one webhook sink.
pub fn one_feed_to_webhook(settings: &str, feed_url: &str, hook_url: &str) -> String {
    format!(
        "{settings}[[feeds]]\nurl = \"{feed_url}\"\n[[sinks]]\nkind = \"webhook\"\nurl = \"{hook_url}\"\n"
    )
}

pub fn rss(items: &[(&str, &str, &str)]) -> String {
    let now = chrono::Utc::now().to_rfc2822();
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>Test RSS</title><link>https://rss.example/</link>\n",
    );
    for (guid, title, description) in items {
        out.push_str(&format!(
            "<item><guid>{guid}</guid><title>{}</title><link>https://rss.example/{guid}</link><pubDate>{now}</pubDate><description>{}</description></item>\n",
            xml_escape(title),
            xml_escape(description)
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// An Atom document with these (id, title, summary) entries, all dated now.
pub fn atom(entries: &[(&str, &str, &str)]) -> String {
    let now = chrono::Utc::now().to_rfc3339();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Test Atom</title><id>urn:test:atom</id><updated>{now}</updated>\n"
    );
    for (id, title, summary) in entries {
        out.push_str(&format!(
            "<entry><id>urn:test:{id}</id><title>{}</title><link href=\"https://atom.example/{id}\"/><updated>{now}</updated><published>{now}</published><summary>{}</summary></entry>\n",
            xml_escape(title),
            xml_escape(summary)
        ));
    }
    out.push_str("</feed>\n");
    out
}

/// A JSON Feed 1.1 document with these (id, title, summary) items, all dated now.
pub fn json_feed(items: &[(&str, &str, &str)]) -> String {
    let now = chrono::Utc::now().to_rfc3339();
    let items: Vec<serde_json::Value> = items
        .iter()
        .map(|(id, title, summary)| {
            serde_json::json!({
                "id": id,
                "url": format!("https://json.example/{id}"),
                "title": title,
                "summary": summary,
                "date_published": now,
            })
        })
        .collect();
    serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Test JSON",
        "items": items,
    })
    .to_string()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Waits until `check` holds, polling every 50 ms, for at most `limit`. Returns whether it
/// held. The limit is a deadline for a behaviour, not a performance claim.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

/// Says that a check was skipped and why, as a `SKIPPED: …` line in plain `cargo test`
/// output. The harness keeps what a passing test prints with `println!`/`eprintln!` to
/// itself (they are captured), so a skip said that way is silent; a write to the stderr
/// handle is not captured. An `#[ignore = "reason"]` test would not do: whether Chromium or
/// systemd-analyze is installed is only known when the tests run, not when they build.
pub fn skipped(check: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {check}: {why}");
}

/// A port nobody listens on right now, for a daemon's status listener.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
