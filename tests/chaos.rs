//! The daemon killed with SIGKILL at random moments, over and over, while a feed gains
//! relevant stories and a slow receiver takes alerts.
//!
//! Guaranteed: every relevant story is delivered at least once; no story is alerted under
//! two alert ids; a story delivered more than once carries the same id every time (an
//! at-least-once retry a receiver can drop).

use crate::support::*;
use std::collections::HashMap;
use std::time::Duration;

const ROUNDS: usize = 30;
const STORIES: usize = 38;

/// Words that make each story's headline its own: three per story, none shared.
const TOPICS: &[&str] = &[
    "prisoners",
    "tankers",
    "drones",
    "uranium",
    "shipping",
    "sanctions",
    "airspace",
    "embassies",
    "detainees",
    "frozen",
    "assets",
    "missiles",
    "inspectors",
    "centrifuges",
    "pipelines",
    "fisheries",
    "hostages",
    "visas",
    "airlines",
    "refineries",
    "electricity",
    "medicine",
    "wheat",
    "currency",
    "banks",
    "ports",
    "satellites",
    "cables",
    "pilgrims",
    "students",
    "journalists",
    "athletes",
    "archives",
    "borders",
    "rivers",
    "dams",
    "deserts",
    "islands",
    "reefs",
    "lighthouses",
    "railways",
    "highways",
    "bridges",
    "tunnels",
    "mines",
    "forests",
    "glaciers",
    "volcanoes",
    "orchards",
    "vineyards",
    "bakeries",
    "libraries",
    "museums",
    "theatres",
    "stadiums",
    "hospitals",
    "clinics",
    "schools",
    "factories",
    "warehouses",
    "markets",
    "harbours",
    "canals",
    "lagoons",
    "meadows",
    "valleys",
    "plateaus",
    "canyons",
    "caves",
    "springs",
    "wells",
    "reservoirs",
    "aqueducts",
    "windmills",
    "turbines",
    "reactors",
    "laboratories",
    "observatories",
    "telescopes",
    "antennas",
    "radars",
    "sonars",
    "lasers",
    "magnets",
    "batteries",
    "engines",
    "gearboxes",
    "axles",
    "wheels",
    "rudders",
    "anchors",
    "sails",
    "masts",
    "hulls",
    "decks",
    "cabins",
    "galleys",
    "cargoes",
    "manifests",
    "invoices",
    "ledgers",
    "receipts",
    "tariffs",
    "quotas",
    "licences",
    "permits",
    "charters",
    "treaties",
    "protocols",
    "annexes",
    "clauses",
    "appendices",
    "footnotes",
    "glossaries",
    "indexes",
];

fn title(story: usize) -> String {
    assert!(TOPICS.len() >= STORIES * 3, "three topic words per story");
    let words = &TOPICS[story * 3..story * 3 + 3];
    // Every story is published at the same moment, so a round number tells them apart (the
    // story rule joins reports close in time unless a marker differs).
    format!(
        "US and Iran hold round {} of talks on {}, {} and {}",
        story + 1,
        words[0],
        words[1],
        words[2]
    )
}

fn feed_with(stories: usize) -> String {
    let items: Vec<(String, String)> = (0..stories)
        .map(|i| (format!("story-{i}"), title(i)))
        .collect();
    let mut items: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(id, title)| (id.as_str(), title.as_str(), ""))
        .collect();
    items.push(("noise", "Markets edge higher in Asia", ""));
    rss(&items)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_and_duplicates_no_alert() {
    let server = FeedServer::start().await;
    let receiver = WebhookReceiver::start().await;
    receiver.delay(Duration::from_millis(40));
    let dir = TestDir::new();
    let config = dir.config(&one_feed_to_webhook(
        "[poll]\ninterval = \"1s\"\nalert_on_first_poll = true\n\
         [delivery]\ntimeout = \"2s\"\nretry_base = \"100ms\"\nretry_max = \"200ms\"\n",
        &server.url("/live.xml"),
        &receiver.url("/hook"),
    ));
    let mut published = 0;
    for round in 0..ROUNDS {
        // A few new stories appear before each round.
        published = (published + 1 + round % 3).min(STORIES);
        server.set(
            "/live.xml",
            Route::ok("application/rss+xml", feed_with(published)),
        );
        let mut child = spawn_daemon(&config, false);
        tokio::time::sleep(Duration::from_millis(fastrand::u64(50..1500))).await;
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }
    server.set(
        "/live.xml",
        Route::ok("application/rss+xml", feed_with(STORIES)),
    );
    for _ in 0..2 {
        let run = once(&config, &[]).await;
        assert_eq!(run.code, Some(0), "{}", run.stderr);
    }

    let mut ids_by_title: HashMap<String, Vec<String>> = HashMap::new();
    for post in receiver.received() {
        let body = post.json();
        ids_by_title
            .entry(body["article"]["title"].as_str().unwrap().to_string())
            .or_default()
            .push(body["id"].as_str().unwrap().to_string());
    }
    let deliveries: usize = ids_by_title.values().map(Vec::len).sum();
    let repeated = ids_by_title.values().filter(|ids| ids.len() > 1).count();
    println!(
        "chaos: {ROUNDS} SIGKILLs, {STORIES} relevant stories, {deliveries} deliveries, \
         {} stories delivered, {repeated} delivered more than once (same id)",
        ids_by_title.len()
    );
    assert_eq!(
        ids_by_title.len(),
        STORIES,
        "every relevant story was delivered"
    );
    assert!(
        !ids_by_title.keys().any(|t| t.contains("Markets")),
        "noise alerted"
    );
    for (title, ids) in &ids_by_title {
        assert!(
            ids.iter().all(|id| id == &ids[0]),
            "{title} was alerted under several ids: {ids:?}"
        );
    }
}
