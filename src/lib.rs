//! parleyd watches news feeds and raises an alert when an article reports new talks, or a
//! new communication channel, between two parties (by default the US and Iran).
//!
//! # Layout
//!
//! Data flows one way, and each stage is one module that knows nothing of the stages after
//! it:
//!
//! ```text
//! config ──> poll ──> parse ──> store ──> classify ──> notify
//!  (TOML)   (HTTP,    (feed-rs   (sled:    (profile    (outbox in sled,
//!            file,     → Article) dedup,    from the    Slack / webhook /
//!            ETag)                outbox)   corpus)     stdout sinks)
//! ```
//!
//! [`daemon`] wires the stages together, schedules feeds and owns shutdown; [`server`]
//! serves health, metrics and a status page. [`model`] holds the types that pass between
//! stages; [`telemetry`] sets up logging and names the metrics.
#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod classify;
pub mod config;
pub mod daemon;
pub mod model;
pub mod notify;
pub mod parse;
pub mod poll;
pub mod server;
pub mod store;
mod sync;
pub mod telemetry;
pub mod xml;

pub use classify::{Classifier, Profile};
pub use config::Config;
pub use model::{Alert, Article, Event, Verdict};
pub use store::Store;

/// The `User-Agent` sent with every request: sites can see who polls them and how to reach us.
pub const USER_AGENT: &str = concat!(
    "parleyd/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/parleyd/parleyd; news alert daemon)"
);
