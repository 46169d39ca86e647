//! The local control API: versioned JSON under `/api/v1` on the status listener, through
//! which the operator commands (`feeds`, `stats`, `alerts`, `alerts retry`, `replay`) ask a
//! running daemon what they would otherwise read from the store it holds.
//!
//! One file per job: `report` (what those commands show, built from a store, the same rows
//! whether the command reads the store itself or asks the daemon), `api` (the routes the
//! status server mounts), `token` (the bearer token that limits the API to the service's
//! user and root) and `client` (the command's side of the HTTP exchange).
//!
//! Access: every route needs `Authorization: Bearer <token>`. The daemon writes a fresh
//! random token at each start to `control.token` in its store directory, mode 0600, so
//! only the user it runs as (and root) can read it; a listener on a public address serves
//! the API to no one else.

mod api;
mod client;
pub mod report;
mod token;

pub use api::{API_VERSION, ProfileText, ReplayRequest, routes};
pub use client::{Client, api_address};
pub use report::{AlertRow, AlertState, FeedRow, ReplayLine, ReplayReport, RetryRequest};
pub use token::{TOKEN_FILE, Token};

use std::path::PathBuf;

/// What can go wrong between a command and the daemon's API. Each names the file or the
/// address involved.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The token file could not be written (daemon side).
    #[error("cannot write the control token {path}")]
    TokenWrite {
        /// The token file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token file could not be read (command side).
    #[error(
        "cannot read the control token {path}, which a running daemon writes for the user it runs as (run this as that user, or root)"
    )]
    TokenRead {
        /// The token file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The daemon did not answer.
    #[error("no parleyd answers at {url}")]
    Unreachable {
        /// The API's address.
        url: String,
        /// Why (connection refused, timeout…).
        #[source]
        source: reqwest::Error,
    },
    /// The daemon answered with an error.
    #[error("the parleyd at {url} refused the request ({status}): {message}")]
    Refused {
        /// The route.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The `error` field of its answer.
        message: String,
    },
    /// The daemon's answer was not what this version expects.
    #[error("the parleyd at {url} gave an answer this version cannot read: {why}")]
    Answer {
        /// The route.
        url: String,
        /// What was wrong with it.
        why: String,
    },
}
