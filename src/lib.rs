//! parleyd watches news feeds and raises an alert when an article reports new talks, or a
//! new communication channel, between two parties (by default the US and Iran).
//!
//! # Layout
//!
//! Data flows one way, and each stage is one module that knows nothing of the stages after
//! it:
//!
//! ```text
//! config ──> poll ──> parse ──> classify ──> store ──> notify
//!  (TOML)   (HTTP,    (feed-rs   (profile     (sled: dedup,  (Slack, webhook,
//!            file,     → Article) from the     one commit     Discord, Teams, ntfy,
//!            ETag)                corpus)      per poll)      email, stdout sinks,
//!                                                             from the outbox)
//! ```
//!
//! [`daemon`] wires the stages together, schedules feeds and owns shutdown; [`server`]
//! serves health, metrics and a status page, and mounts [`control`], the token-guarded
//! JSON API through which the store commands ask a running daemon. [`model`] holds the
//! types that pass between stages; [`telemetry`] sets up logging and names the metrics.
//! Four small modules import nothing of ours, so any stage may use them: [`duration`]
//! (the strict parser for config and flags, and durations rounded for logs), [`profiles`]
//! (the built-in profiles, named by config and built by classify), [`http`] (the client
//! settings, `Retry-After` and error chains that poll and notify share) and [`redact`]
//! (what of a URL may be logged).
//! A private `sync` module holds the one policy for a poisoned lock.
//! `bench/check-imports.sh` fails on an import cycle between modules.
#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub mod classify;
pub mod config;
pub mod control;
pub mod daemon;
pub mod duration;
pub mod http;
pub mod model;
pub mod notify;
pub mod parse;
pub mod poll;
pub mod profiles;
pub mod redact;
pub mod server;
pub mod store;
mod sync;
pub mod telemetry;
pub mod xml;

pub use classify::{Classifier, Profile};
pub use config::Config;
pub use model::{Alert, Article, Event, Verdict};
pub use store::Store;

pub use http::USER_AGENT;
