//! The integration tests: one binary, so one link step.

// Feed server, webhook receiver and a runner for the real binary.
mod support;

// Feed server → parleyd once → webhook receiver, end to end.
mod pipeline;

// The parser on the feedparser suite's real-world feeds.
mod parse_fixtures;

// check-config on good and broken configs.
mod config;

// classify and profile build/show.
mod classify;

// The poller's limits and conditional GET.
mod poll;

// `parleyd run` as a daemon: polling, alerting, SIGTERM.
mod daemon;

// The sled store: dedup, stories, outbox, schema and locking.
mod store;

// Errors print their cause once; hints where a user needs one.
mod errors;

// Damaged stores: a clear error, never a hang, a panic or an empty start.
mod store_damage;

// Signatures, routing, mentions, dead-lettering by age.
mod delivery;

// Discord, Teams, ntfy and email against real local receivers and an SMTP server.
mod sinks;

// SIGKILL at random moments: no alert lost, none doubled under another id.
mod chaos;

// A store that stops taking writes (a full disk): the daemon says so, stops, loses nothing.
mod storage;

// The systemd unit, checked by systemd-analyze where it is installed.
mod systemd;

// Properties over generated input, and every input the fuzzers ever crashed on.
mod properties;

// The status server: health, readiness, metrics, status page (and in Chromium).
mod server;

// The control API: store commands against a running daemon, tokens, no sink secrets.
mod control;
