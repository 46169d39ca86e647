//! The control API's bearer token: written by the daemon, read by the commands.
//!
//! The token file's mode (0600, owned by the user the daemon runs as) is the access rule:
//! whoever can read it is the service's user or root. A new token at every start means a
//! copy taken earlier stops working when the daemon restarts.

use super::ControlError;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// The token file's name, in the store directory (`storage.path`, the service's state
/// directory).
pub const TOKEN_FILE: &str = "control.token";

/// Random bytes in a token: 256 bits, beyond guessing.
const TOKEN_BYTES: usize = 32;

/// A bearer token for the control API. `Debug` never shows it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// A fresh random token, written to `dir/control.token` (mode 0600, replaced
    /// atomically so a command never reads half of one).
    ///
    /// # Errors
    /// [`ControlError::TokenWrite`] naming the file.
    pub fn issue(dir: &Path) -> Result<Token, ControlError> {
        let path = dir.join(TOKEN_FILE);
        let write_error = |source| ControlError::TokenWrite {
            path: path.clone(),
            source,
        };
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).map_err(|err| write_error(std::io::Error::other(err)))?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let partial = dir.join(format!("{TOKEN_FILE}.partial"));
        // A leftover from a crash may have other permissions; start from nothing.
        let _ = std::fs::remove_file(&partial);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .map_err(write_error)?;
        file.write_all(token.as_bytes()).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        std::fs::rename(&partial, &path).map_err(write_error)?;
        Ok(Token(token))
    }

    /// The token the daemon holding the store at `dir` wrote.
    ///
    /// # Errors
    /// [`ControlError::TokenRead`] naming the file (missing, or not readable by this user).
    pub fn read(dir: &Path) -> Result<Token, ControlError> {
        let path = token_path(dir);
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ControlError::TokenRead { path, source })?;
        Ok(Token(text.trim().to_string()))
    }

    /// Whether `offered` is this token, compared in constant time so an attacker learns
    /// nothing from how long a refusal takes.
    pub fn accepts(&self, offered: &str) -> bool {
        self.0.as_bytes().ct_eq(offered.as_bytes()).into()
    }

    /// The value, for the `Authorization` header.
    pub(super) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// Where the token of the store at `dir` is.
pub(super) fn token_path(dir: &Path) -> PathBuf {
    dir.join(TOKEN_FILE)
}
