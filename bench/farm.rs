//! The load-benchmark feed farm: N news feeds of M items on loopback, with ground truth,
//! conditional GET, gzip, new items on demand, fault modes, and a webhook receiver.
//!
//! `cargo run --release -p parleyd-bench --bin farm -- serve --feeds 1000 --items 50 --dir target/farm`
//! writes `urls.txt` and `feeds.toml` into the directory and serves until killed.
//! `farm floor --urls target/farm/urls.txt` measures the single-core floor: fetch, gunzip
//! and XML-scan every body, nothing else. See BENCHMARKS.md for how `bench/run.sh` uses both.
//!
//! Relevant items are the positive items of the labelled set (corpus/us-iran/labelled),
//! hard negatives its negative items; everything else is generated filler news. Each
//! relevant story is syndicated into several feeds, as wire stories are.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use clap::{Parser, Subcommand};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the farm and the webhook receiver until killed.
    Serve(ServeArgs),
    /// Fetch, gunzip and XML-scan every URL on one core; print JSON figures.
    Floor {
        #[arg(long)]
        urls: PathBuf,
        /// Requests in flight (all on one thread).
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    #[arg(long, default_value_t = 1000)]
    feeds: usize,
    #[arg(long, default_value_t = 50)]
    items: usize,
    /// Loopback hosts the feeds are spread over (127.0.1.1, 127.0.1.2, ...).
    #[arg(long, default_value_t = 50)]
    hosts: usize,
    #[arg(long, default_value_t = 18080)]
    port: u16,
    /// Share of item slots holding a relevant story (the same share again holds hard
    /// negatives from the labelled set).
    #[arg(long, default_value_t = 0.02)]
    relevant: f64,
    /// Share of feeds with a fault (slow, 500, truncated, wrong content type), each acting
    /// on every other request so that every item gets through in the end.
    #[arg(long, default_value_t = 0.0)]
    faults: f64,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// The labelled set to draw relevant stories and hard negatives from.
    #[arg(long, default_value = "corpus/us-iran/labelled/team.jsonl")]
    labelled: PathBuf,
    /// Where urls.txt and feeds.toml are written.
    #[arg(long)]
    dir: PathBuf,
}

#[derive(Deserialize, Clone)]
struct Labelled {
    id: String,
    title: String,
    summary: String,
    label: bool,
}

/// What one item is, for the ground truth.
#[derive(Serialize, Clone)]
struct TruthItem {
    link: String,
    story: String,
    relevant: bool,
    /// Milliseconds since the epoch when the item first appeared in a feed.
    appeared_ms: i64,
    /// When a whole body carrying the item was first sent: the poll that brought it (the
    /// latency of `run` counts from here, not from `appeared_ms`, which can be a whole
    /// poll interval earlier). None until then.
    served_ms: Option<i64>,
    feed: usize,
}

#[derive(Clone)]
struct Item {
    id: u64,
    title: String,
    summary: String,
    link: String,
    published: DateTime<Utc>,
    author: String,
    category: &'static str,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    None,
    Slow,
    ServerError,
    Truncated,
    WrongType,
}

struct Feed {
    index: usize,
    host: String,
    atom: bool,
    fault: Fault,
    /// Newest first, at most `items` long.
    items: Vec<Item>,
    version: u64,
    etag: String,
    last_modified: String,
    body: Bytes,
    gzip: Bytes,
    requests: u64,
    /// Truth indices of items no whole body has carried yet.
    unserved: Vec<usize>,
}

struct Farm {
    args: ServeArgs,
    feeds: Vec<Feed>,
    truth: Vec<TruthItem>,
    positives_initial: Vec<Labelled>,
    positives_later: Vec<Labelled>,
    later_next: usize,
    negatives: Vec<Labelled>,
    rng: fastrand::Rng,
    next_item: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    not_modified: AtomicU64,
    bytes: AtomicU64,
    faults: AtomicU64,
    items_served: AtomicU64,
}

#[derive(Serialize, Clone)]
struct Received {
    tool: String,
    arrived_ms: i64,
    kind: String,
    link: String,
    title: String,
}

struct App {
    farm: RwLock<Farm>,
    counters: Counters,
    received: RwLock<Vec<Received>>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Floor { urls, concurrency } => floor(urls, concurrency),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let farm = Farm::build(args.clone())?;
    std::fs::create_dir_all(&args.dir)?;
    write_lists(&farm, &args)?;
    let app = Arc::new(App {
        farm: RwLock::new(farm),
        counters: Counters::default(),
        received: RwLock::new(Vec::new()),
    });
    let router = Router::new()
        .route("/feed/{index}", get(feed_handler))
        .route("/hook/{tool}", post(hook_handler))
        .route("/control/advance", post(advance_handler))
        .route("/control/stats", get(stats_handler))
        .route("/control/reset", post(reset_handler))
        .route("/control/truth", get(truth_handler))
        .route("/control/received", get(received_handler))
        .with_state(app);
    // One worker thread: the farm shares the machine with what it measures.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut addresses = vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.port)];
        addresses.extend((1..=args.hosts).map(|h| host_address(h, args.port)));
        let mut tasks = Vec::new();
        for address in addresses {
            let listener = tokio::net::TcpListener::bind(address).await?;
            let router = router.clone();
            tasks.push(tokio::spawn(
                async move { axum::serve(listener, router).await },
            ));
        }
        eprintln!("farm: serving on port {}", args.port);
        for task in tasks {
            task.await??;
        }
        anyhow::Ok(())
    })
}

fn host_address(host: usize, port: u16) -> SocketAddr {
    let host = u8::try_from(host).expect("at most 254 hosts");
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 1, host)), port)
}

/// urls.txt for the peers and feeds.toml (parleyd `[[feeds]]` tables) for parleyd.
fn write_lists(farm: &Farm, args: &ServeArgs) -> anyhow::Result<()> {
    let mut urls = String::new();
    let mut toml = String::new();
    for feed in &farm.feeds {
        let url = format!("http://{}/feed/{}", feed.host, feed.index);
        urls.push_str(&url);
        urls.push('\n');
        toml.push_str(&format!(
            "[[feeds]]\nname = \"Farm {}\"\nurl = \"{url}\"\n\n",
            feed.index
        ));
    }
    std::fs::write(args.dir.join("urls.txt"), urls)?;
    std::fs::write(args.dir.join("feeds.toml"), toml)?;
    Ok(())
}

impl Farm {
    fn build(args: ServeArgs) -> anyhow::Result<Farm> {
        let text = std::fs::read_to_string(&args.labelled)
            .map_err(|e| anyhow::anyhow!("{}: {e}", args.labelled.display()))?;
        let labelled: Vec<Labelled> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        let mut rng = fastrand::Rng::with_seed(args.seed);
        let mut positives: Vec<Labelled> = labelled.iter().filter(|l| l.label).cloned().collect();
        let negatives: Vec<Labelled> = labelled.iter().filter(|l| !l.label).cloned().collect();
        rng.shuffle(&mut positives);
        // A third of the stories are held back to break during the run.
        let later = positives.split_off(positives.len() * 2 / 3);
        let now = Utc::now();
        let mut farm = Farm {
            feeds: Vec::with_capacity(args.feeds),
            truth: Vec::new(),
            positives_initial: positives,
            positives_later: later,
            later_next: 0,
            negatives,
            rng,
            next_item: 0,
            args,
        };
        for index in 0..farm.args.feeds {
            let host = format!("127.0.1.{}:{}", 1 + index % farm.args.hosts, farm.args.port);
            let fault = farm.pick_fault();
            farm.feeds.push(Feed {
                index,
                host,
                atom: index % 2 == 1,
                fault,
                items: Vec::new(),
                version: 0,
                etag: String::new(),
                last_modified: String::new(),
                body: Bytes::new(),
                gzip: Bytes::new(),
                requests: 0,
                unserved: Vec::new(),
            });
        }
        farm.fill_initial(now);
        for index in 0..farm.feeds.len() {
            farm.render(index, now);
        }
        Ok(farm)
    }

    fn pick_fault(&mut self) -> Fault {
        if self.rng.f64() >= self.args.faults {
            return Fault::None;
        }
        match self.rng.usize(0..4) {
            0 => Fault::Slow,
            1 => Fault::ServerError,
            2 => Fault::Truncated,
            _ => Fault::WrongType,
        }
    }

    /// Fills every feed with `items` items over the last 20 hours: relevant stories
    /// syndicated across feeds, hard negatives, and filler.
    fn fill_initial(&mut self, now: DateTime<Utc>) {
        let slots = self.args.feeds * self.args.items;
        let relevant_slots = (slots as f64 * self.args.relevant).round() as usize;
        let negative_slots = relevant_slots.min(slots - relevant_slots);
        let mut kinds = vec![0u8; slots];
        kinds[..relevant_slots].fill(1);
        kinds[relevant_slots..relevant_slots + negative_slots].fill(2);
        self.rng.shuffle(&mut kinds);
        let mut positive_next = 0;
        let mut negative_next = 0;
        for (slot, kind) in kinds.into_iter().enumerate() {
            let feed = slot / self.args.items;
            let age = ChronoDuration::seconds(self.rng.i64(60..20 * 3600));
            let published = now - age;
            let (story, relevant, title, summary) = match kind {
                1 => {
                    let story =
                        &self.positives_initial[positive_next % self.positives_initial.len()];
                    positive_next += 1;
                    (
                        story.id.clone(),
                        true,
                        story.title.clone(),
                        story.summary.clone(),
                    )
                }
                2 => {
                    let story = &self.negatives[negative_next % self.negatives.len()];
                    negative_next += 1;
                    (
                        story.id.clone(),
                        false,
                        story.title.clone(),
                        story.summary.clone(),
                    )
                }
                _ => {
                    let (title, summary) = filler(&mut self.rng);
                    (format!("filler-{slot}"), false, title, summary)
                }
            };
            // The first appearance is when the farm started: the backlog.
            self.add_item(feed, story, relevant, title, summary, published, now);
        }
        for feed in &mut self.feeds {
            feed.items
                .sort_by_key(|item| std::cmp::Reverse(item.published));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_item(
        &mut self,
        feed: usize,
        story: String,
        relevant: bool,
        title: String,
        summary: String,
        published: DateTime<Utc>,
        appeared: DateTime<Utc>,
    ) {
        let id = self.next_item;
        self.next_item += 1;
        let host = self.feeds[feed].host.clone();
        let link = format!("http://{host}/a/{id}");
        let outlet = OUTLETS[feed % OUTLETS.len()];
        // Syndicated copies differ the way aggregator titles do.
        let title = match self.rng.usize(0..3) {
            0 => format!("{title} - {outlet}"),
            _ => title,
        };
        let summary = if summary.is_empty() {
            summary
        } else {
            format!("{summary} {}", byline(&mut self.rng))
        };
        self.feeds[feed].unserved.push(self.truth.len());
        self.truth.push(TruthItem {
            link: link.clone(),
            story,
            relevant,
            appeared_ms: appeared.timestamp_millis(),
            served_ms: None,
            feed,
        });
        let category = SECTIONS[self.rng.usize(0..SECTIONS.len())];
        let author = format!(
            "{} {}",
            FIRST_NAMES[self.rng.usize(0..FIRST_NAMES.len())],
            LAST_NAMES[self.rng.usize(0..LAST_NAMES.len())]
        );
        self.feeds[feed].items.push(Item {
            id,
            title,
            summary,
            link,
            published,
            author,
            category,
        });
    }

    /// A share of the feeds gain `count` new items each; some of them new relevant stories
    /// (`stories` of them, or the farm's relevant share of the items), each carried by up to
    /// three of the changed feeds. Returns what changed.
    fn advance(&mut self, share: f64, count: usize, stories: Option<usize>) -> serde_json::Value {
        let now = Utc::now();
        let mut chosen: Vec<usize> = (0..self.feeds.len()).collect();
        self.rng.shuffle(&mut chosen);
        chosen.truncate(((self.feeds.len() as f64) * share).round().max(1.0) as usize);
        let new_items = chosen.len() * count;
        let relevant_items = match stories {
            Some(stories) => (stories * 3).min(new_items),
            None => ((new_items as f64) * self.args.relevant).round().max(1.0) as usize,
        };
        let stories = stories.unwrap_or(relevant_items.div_ceil(3).max(1));
        let stories: Vec<Labelled> = (0..stories).map(|_| self.next_later_story()).collect();
        let mut kinds = vec![false; new_items];
        kinds[..relevant_items.min(new_items)].fill(true);
        self.rng.shuffle(&mut kinds);
        let mut relevant_added = 0;
        for (n, relevant) in kinds.into_iter().enumerate() {
            let feed = chosen[n / count];
            let before = self.feeds[feed].items.len();
            if relevant {
                let story = stories[relevant_added % stories.len()].clone();
                relevant_added += 1;
                self.add_item(feed, story.id, true, story.title, story.summary, now, now);
            } else {
                let (title, summary) = filler(&mut self.rng);
                let story = format!("filler-new-{}", self.next_item);
                self.add_item(feed, story, false, title, summary, now, now);
            }
            // Newest first; the feed keeps its length, as real feeds do.
            let item = self.feeds[feed].items.remove(before);
            self.feeds[feed].items.insert(0, item);
            let limit = self.args.items;
            self.feeds[feed].items.truncate(limit);
        }
        for &feed in &chosen {
            self.render(feed, now);
        }
        serde_json::json!({
            "feeds_changed": chosen.len(),
            "items_added": new_items,
            "relevant_items_added": relevant_added,
            "new_stories": stories.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        })
    }

    fn next_later_story(&mut self) -> Labelled {
        let story = self.positives_later[self.later_next % self.positives_later.len()].clone();
        self.later_next += 1;
        story
    }

    /// Renders a feed's body, gzip copy, ETag and Last-Modified.
    fn render(&mut self, index: usize, now: DateTime<Utc>) {
        let feed = &mut self.feeds[index];
        feed.version += 1;
        let body = if feed.atom {
            render_atom(feed, now)
        } else {
            render_rss(feed, now)
        };
        let mut gzip = GzEncoder::new(Vec::new(), Compression::new(6));
        gzip.write_all(body.as_bytes()).expect("gzip into memory");
        feed.gzip = Bytes::from(gzip.finish().expect("gzip into memory"));
        feed.body = Bytes::from(body);
        feed.etag = format!("\"f{}-v{}\"", feed.index, feed.version);
        feed.last_modified = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn render_rss(feed: &Feed, now: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n<channel>\n");
    out.push_str(&format!(
        "<title>Farm {} News</title>\n<link>http://{}/</link>\n<description>World news from farm outlet {}</description>\n<language>en</language>\n<lastBuildDate>{}</lastBuildDate>\n",
        feed.index,
        feed.host,
        feed.index,
        now.to_rfc2822()
    ));
    for item in &feed.items {
        out.push_str(&format!(
            "<item>\n<title>{}</title>\n<link>{}</link>\n<guid isPermaLink=\"true\">{}</guid>\n<pubDate>{}</pubDate>\n<dc:creator>{}</dc:creator>\n<category>{}</category>\n<description>{}</description>\n</item>\n",
            xml_escape(&item.title),
            item.link,
            item.link,
            item.published.to_rfc2822(),
            item.author,
            item.category,
            xml_escape(&format!("<p>{}</p>", xml_escape(&item.summary))),
        ));
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

fn render_atom(feed: &Feed, now: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    out.push_str(&format!(
        "<title>Farm {} Wire</title>\n<id>urn:farm:feed:{}</id>\n<link href=\"http://{}/\"/>\n<updated>{}</updated>\n",
        feed.index,
        feed.index,
        feed.host,
        now.to_rfc3339()
    ));
    for item in &feed.items {
        out.push_str(&format!(
            "<entry>\n<title type=\"html\">{}</title>\n<id>urn:farm:item:{}</id>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n<published>{}</published>\n<updated>{}</updated>\n<author><name>{}</name></author>\n<category term=\"{}\"/>\n<summary type=\"html\">{}</summary>\n</entry>\n",
            xml_escape(&xml_escape(&item.title)),
            item.id,
            item.link,
            item.published.to_rfc3339(),
            item.published.to_rfc3339(),
            item.author,
            item.category,
            xml_escape(&format!("<p>{}</p>", xml_escape(&item.summary))),
        ));
    }
    out.push_str("</feed>\n");
    out
}

async fn feed_handler(
    State(app): State<Arc<App>>,
    Path(index): Path<String>,
    headers: HeaderMap,
) -> Response {
    app.counters.requests.fetch_add(1, Ordering::Relaxed);
    let Ok(index) = index.parse::<usize>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (fault, etag, last_modified, body, gzip, items) = {
        let mut farm = app.farm.write().expect("farm lock");
        let Some(feed) = farm.feeds.get_mut(index) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        feed.requests += 1;
        // Faults act on every other request, so every item gets through in the end.
        let fault = if feed.requests % 2 == 1 {
            feed.fault
        } else {
            Fault::None
        };
        (
            fault,
            feed.etag.clone(),
            feed.last_modified.clone(),
            feed.body.clone(),
            feed.gzip.clone(),
            feed.items.len() as u64,
        )
    };
    if fault != Fault::None {
        app.counters.faults.fetch_add(1, Ordering::Relaxed);
    }
    match fault {
        Fault::ServerError => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "upstream error").into_response();
        }
        Fault::Slow => tokio::time::sleep(Duration::from_secs(3)).await,
        _ => {}
    }
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let if_modified_since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok());
    let fresh = match (if_none_match, if_modified_since) {
        (Some(tag), _) => tag.split(',').any(|t| t.trim() == etag),
        (None, Some(since)) => since == last_modified,
        (None, None) => false,
    };
    let content_type = match (fault, index % 2 == 1) {
        (Fault::WrongType, _) => "text/html; charset=utf-8",
        (_, true) => "application/atom+xml; charset=utf-8",
        (_, false) => "application/rss+xml; charset=utf-8",
    };
    let mut response = if fresh {
        app.counters.not_modified.fetch_add(1, Ordering::Relaxed);
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let accepts_gzip = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("gzip"));
        let (bytes, gzipped) = match (fault, accepts_gzip) {
            (Fault::Truncated, _) => (body.slice(..body.len() / 2), false),
            (_, true) => (gzip, true),
            (_, false) => (body, false),
        };
        // A cut body or a wrong content type may not get the items to the reader; the
        // next request (faults act on every other one) does.
        if matches!(fault, Fault::None | Fault::Slow) {
            mark_served(&app, index);
        }
        app.counters
            .bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        app.counters
            .items_served
            .fetch_add(items, Ordering::Relaxed);
        let mut response = (StatusCode::OK, bytes).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if gzipped {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&last_modified) {
        headers.insert(header::LAST_MODIFIED, value);
    }
    response
}

/// Stamps the feed's items that no whole body has carried yet with the time now.
fn mark_served(app: &App, index: usize) {
    let now = Utc::now().timestamp_millis();
    let mut farm = app.farm.write().expect("farm lock");
    let Farm { feeds, truth, .. } = &mut *farm;
    for item in feeds[index].unserved.drain(..) {
        truth[item].served_ms.get_or_insert(now);
    }
}

async fn hook_handler(
    State(app): State<Arc<App>>,
    Path(tool): Path<String>,
    body: Bytes,
) -> StatusCode {
    let arrived_ms = Utc::now().timestamp_millis();
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut received = app.received.write().expect("received lock");
    // A parleyd digest carries several alerts; each counts.
    let alerts = match value.get("alerts").and_then(|a| a.as_array()) {
        Some(alerts) => alerts.clone(),
        None => vec![value.clone()],
    };
    for alert in alerts {
        let article = alert.get("article").unwrap_or(&alert);
        let field = |name: &str| {
            article
                .get(name)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        received.push(Received {
            tool: tool.clone(),
            arrived_ms,
            kind: alert
                .get("type")
                .and_then(|v| v.as_str())
                .unwrap_or("alert")
                .to_string(),
            link: field("link"),
            title: field("title"),
        });
    }
    StatusCode::OK
}

#[derive(Deserialize)]
struct AdvanceQuery {
    share: Option<f64>,
    items: Option<usize>,
    /// New relevant stories this round (each in three items); the farm's relevant share
    /// of the new items when absent.
    stories: Option<usize>,
}

async fn advance_handler(
    State(app): State<Arc<App>>,
    Query(query): Query<AdvanceQuery>,
) -> axum::Json<serde_json::Value> {
    let mut farm = app.farm.write().expect("farm lock");
    let changed = farm.advance(
        query.share.unwrap_or(0.25),
        query.items.unwrap_or(5),
        query.stories,
    );
    axum::Json(changed)
}

async fn stats_handler(State(app): State<Arc<App>>) -> axum::Json<serde_json::Value> {
    let counters = &app.counters;
    axum::Json(serde_json::json!({
        "requests": counters.requests.load(Ordering::Relaxed),
        "not_modified": counters.not_modified.load(Ordering::Relaxed),
        "bytes_sent": counters.bytes.load(Ordering::Relaxed),
        "faults": counters.faults.load(Ordering::Relaxed),
        "items_served": counters.items_served.load(Ordering::Relaxed),
        "alerts_received": app.received.read().expect("received lock").len(),
    }))
}

async fn reset_handler(State(app): State<Arc<App>>) -> StatusCode {
    let counters = &app.counters;
    counters.requests.store(0, Ordering::Relaxed);
    counters.not_modified.store(0, Ordering::Relaxed);
    counters.bytes.store(0, Ordering::Relaxed);
    counters.faults.store(0, Ordering::Relaxed);
    counters.items_served.store(0, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

async fn truth_handler(State(app): State<Arc<App>>) -> axum::Json<Vec<TruthItem>> {
    axum::Json(app.farm.read().expect("farm lock").truth.clone())
}

async fn received_handler(State(app): State<Arc<App>>) -> axum::Json<Vec<Received>> {
    axum::Json(app.received.read().expect("received lock").clone())
}

/// The single-core floor: every body fetched (gzip), decoded and scanned as XML, on one
/// thread, with nothing stored or classified.
fn floor(urls: PathBuf, concurrency: usize) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let urls: Vec<String> = std::fs::read_to_string(&urls)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let (bytes, elements) = runtime.block_on(async {
        let client = reqwest::Client::builder().build()?;
        let results: Vec<anyhow::Result<(usize, usize)>> = futures_util::stream::iter(urls)
            .map(|url| {
                let client = client.clone();
                async move {
                    let body = client.get(&url).send().await?.bytes().await?;
                    Ok((body.len(), scan_xml(&body)))
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut totals = (0usize, 0usize);
        for result in results {
            let (bytes, elements) = result?;
            totals.0 += bytes;
            totals.1 += elements;
        }
        anyhow::Ok(totals)
    })?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"seconds": seconds, "bytes": bytes, "elements": elements})
    );
    Ok(())
}

/// Tokenizes the whole body with quick-xml (the tokenizer under feed-rs) and counts start
/// tags: what any feed reader must at least do to a body, with nothing built from it.
fn scan_xml(body: &[u8]) -> usize {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buffer = Vec::new();
    let mut count = 0;
    loop {
        match reader.read_event_into(&mut buffer) {
            Ok(Event::Start(_) | Event::Empty(_)) => count += 1,
            Ok(Event::Eof) | Err(_) => return count,
            Ok(_) => {}
        }
        buffer.clear();
    }
}

fn byline(rng: &mut fastrand::Rng) -> String {
    format!(
        "Reporting by {} {}; editing by {} {}.",
        FIRST_NAMES[rng.usize(0..FIRST_NAMES.len())],
        LAST_NAMES[rng.usize(0..LAST_NAMES.len())],
        FIRST_NAMES[rng.usize(0..FIRST_NAMES.len())],
        LAST_NAMES[rng.usize(0..LAST_NAMES.len())]
    )
}

fn pick<'a>(rng: &mut fastrand::Rng, words: &[&'a str]) -> &'a str {
    words[rng.usize(0..words.len())]
}

/// A made-up news item from another beat: a headline and a three-sentence lead.
fn filler(rng: &mut fastrand::Rng) -> (String, String) {
    let place = pick(rng, PLACES);
    let country = pick(rng, COUNTRIES);
    let other = pick(rng, COUNTRIES);
    let company = pick(rng, COMPANIES);
    let team = pick(rng, TEAMS);
    let rival = pick(rng, TEAMS);
    let n = rng.u32(2..95);
    let title = match rng.usize(0..14) {
        0 => format!(
            "{team} beat {rival} {}-{} to reach the {}",
            n % 5 + 1,
            n % 3,
            pick(rng, ROUNDS)
        ),
        1 => format!(
            "{company} shares {} {n}% after {} results",
            pick(rng, MOVES),
            pick(rng, QUARTERS)
        ),
        2 => format!(
            "{place} braces for {} as forecasters warn of {n} cm of rain",
            pick(rng, WEATHER)
        ),
        3 => format!(
            "{country} parliament passes {} bill after {n}-hour debate",
            pick(rng, TOPICS)
        ),
        4 => format!(
            "Police arrest {n} after {} in {place}",
            pick(rng, INCIDENTS)
        ),
        5 => format!(
            "{company} unveils {} to rival {}",
            pick(rng, PRODUCTS),
            pick(rng, COMPANIES)
        ),
        6 => format!("Union and {company} resume wage talks as strike enters day {n}"),
        7 => format!("{country} and {other} sign {} agreement", pick(rng, TOPICS)),
        8 => format!(
            "Central bank of {country} holds rates at {}.{}%",
            n % 9,
            n % 10
        ),
        9 => format!("Scientists find {} near {place}", pick(rng, DISCOVERIES)),
        10 => format!(
            "{country} president to visit {other} next week for {} summit",
            pick(rng, TOPICS)
        ),
        11 => format!(
            "Oil prices {} as {}",
            pick(rng, MOVES),
            pick(rng, OIL_REASONS)
        ),
        12 => format!(
            "US {} report shows {n},000 {} in {}",
            pick(rng, US_DATA),
            pick(rng, US_UNITS),
            pick(rng, MONTHS)
        ),
        _ => format!(
            "Iran {} as {}",
            pick(rng, IRAN_DOMESTIC),
            pick(rng, IRAN_REASONS)
        ),
    };
    let summary = format!(
        "{} {} {}",
        filler_sentence(rng, place, country, company),
        filler_sentence(rng, place, country, company),
        filler_sentence(rng, place, country, company)
    );
    (title, summary)
}

fn filler_sentence(rng: &mut fastrand::Rng, place: &str, country: &str, company: &str) -> String {
    let n = rng.u32(2..400);
    match rng.usize(0..10) {
        0 => format!(
            "Officials in {place} said the figures would be reviewed again next month, after {n} complaints were filed."
        ),
        1 => format!(
            "Analysts at {company} expect the trend to continue into the {} quarter.",
            pick(rng, QUARTERS)
        ),
        2 => format!("The ministry in {country} declined to comment on the report."),
        3 => format!("Residents told local media they had seen nothing like it in {n} years."),
        4 => format!(
            "The decision follows weeks of pressure from {} groups in {place}.",
            pick(rng, GROUPS)
        ),
        5 => format!(
            "Shares in {company} closed {} at {n}.{} in early trading.",
            pick(rng, MOVES),
            n % 100
        ),
        6 => format!(
            "A spokesperson for {company} said the company was \"looking closely\" at the matter."
        ),
        7 => format!("The event drew about {n},000 people, according to organisers in {place}."),
        8 => format!(
            "Critics in {country} said the plan did not go far enough and would cost {n} million."
        ),
        _ => format!(
            "More details are expected on {}, when the full report is published.",
            pick(rng, DAYS)
        ),
    }
}

const OUTLETS: &[&str] = &[
    "Daily Ledger",
    "World Wire",
    "The Courier",
    "Metro Post",
    "Global Times Online",
    "Evening Herald",
    "News Desk",
    "The Observer Review",
];
const SECTIONS: &[&str] = &["World", "Business", "Sport", "Politics", "Science", "Local"];
const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Carla", "David", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jon", "Kemal",
    "Lena", "Maya", "Nadia", "Omar", "Paul",
];
const LAST_NAMES: &[&str] = &[
    "Adams", "Berg", "Costa", "Dubois", "Erdem", "Fischer", "Garcia", "Haddad", "Ivanova",
    "Jensen", "Khan", "Lopez", "Moreau", "Novak", "Okafor", "Park",
];
const PLACES: &[&str] = &[
    "Lisbon",
    "Nairobi",
    "Osaka",
    "Lyon",
    "Porto Alegre",
    "Gdansk",
    "Cebu",
    "Leeds",
    "Halifax",
    "Adelaide",
    "Tampere",
    "Valencia",
];
const COUNTRIES: &[&str] = &[
    "Brazil",
    "Kenya",
    "Japan",
    "France",
    "Poland",
    "Canada",
    "Australia",
    "Finland",
    "Spain",
    "Mexico",
    "Indonesia",
    "Norway",
];
const COMPANIES: &[&str] = &[
    "Northwind",
    "Acme Motors",
    "Globex",
    "Initech",
    "Umbrella Foods",
    "Stark Grid",
    "Vandelay Imports",
    "Hooli",
    "Cyberdyne",
    "Tyrell Bio",
];
const TEAMS: &[&str] = &[
    "Rovers",
    "United",
    "City",
    "Athletic",
    "Wanderers",
    "Rangers",
    "Albion",
    "Dynamo",
];
const ROUNDS: &[&str] = &["quarter-finals", "semi-finals", "final", "last 16"];
const MOVES: &[&str] = &["rise", "fall", "jump", "slide", "climb"];
const QUARTERS: &[&str] = &["first", "second", "third", "fourth"];
const WEATHER: &[&str] = &["storm", "heatwave", "flooding", "cold snap"];
const TOPICS: &[&str] = &[
    "climate",
    "pension",
    "housing",
    "digital",
    "trade",
    "fisheries",
    "energy",
    "education",
];
const INCIDENTS: &[&str] = &[
    "stadium clashes",
    "a jewellery heist",
    "a protest",
    "a warehouse fire",
];
const PRODUCTS: &[&str] = &[
    "a folding phone",
    "an electric van",
    "a budget laptop",
    "a smart speaker",
];
const DISCOVERIES: &[&str] = &[
    "a Roman villa",
    "a new species of frog",
    "dinosaur footprints",
    "a medieval shipwreck",
];
const OIL_REASONS: &[&str] = &[
    "demand outlook dims",
    "inventories fall",
    "OPEC+ weighs output",
    "the dollar strengthens",
];
const US_DATA: &[&str] = &["jobs", "housing starts", "retail sales", "jobless claims"];
const US_UNITS: &[&str] = &["jobs added", "new homes", "claims", "openings"];
const MONTHS: &[&str] = &["January", "March", "May", "July", "September", "November"];
const IRAN_DOMESTIC: &[&str] = &[
    "rial hits record low",
    "inflation tops forecasts",
    "film wins festival prize",
    "earthquake shakes southern province",
];
const IRAN_REASONS: &[&str] = &[
    "traders brace for new year",
    "officials blame drought",
    "crowds gather in Tehran",
    "aid teams arrive",
];
const GROUPS: &[&str] = &["residents'", "business", "environmental", "parents'"];
const DAYS: &[&str] = &["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"];
