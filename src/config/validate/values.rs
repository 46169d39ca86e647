//! Typed values read from a table: strings, numbers, durations, sizes, lists, secrets.
//!
//! A value of the wrong type or shape is a problem naming its key.

use super::{Walker, join_key};
use crate::config::SinkSecrets;
use crate::config::secret::{Secret, interpolate, references};
use std::time::Duration;
use toml::{Table, Value};

impl Walker<'_> {
    pub(super) fn string(
        &mut self,
        table: Option<&Table>,
        prefix: &str,
        key: &str,
    ) -> Option<String> {
        match table?.get(key)? {
            Value::String(value) => Some(value.clone()),
            other => {
                self.problem(
                    join_key(prefix, key),
                    format!("must be a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    pub(super) fn boolean(
        &mut self,
        table: Option<&Table>,
        prefix: &str,
        key: &str,
    ) -> Option<bool> {
        match table?.get(key)? {
            Value::Boolean(value) => Some(*value),
            other => {
                self.problem(
                    join_key(prefix, key),
                    format!("must be true or false, found {}", other.type_str()),
                );
                None
            }
        }
    }

    pub(super) fn positive_int(
        &mut self,
        table: Option<&Table>,
        prefix: &str,
        key: &str,
    ) -> Option<u64> {
        match table?.get(key)? {
            Value::Integer(value) if *value > 0 => Some(*value as u64),
            Value::Integer(value) => {
                self.problem(
                    join_key(prefix, key),
                    format!("must be a positive number, found {value}"),
                );
                None
            }
            other => {
                self.problem(
                    join_key(prefix, key),
                    format!("must be a whole number, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// A duration string such as `"5m"` in the documented units only; bare numbers are refused because their
    /// unit would be a guess.
    pub(super) fn duration(
        &mut self,
        table: Option<&Table>,
        prefix: &str,
        key: &str,
    ) -> Option<Duration> {
        self.duration_from(table, prefix, key, false)
    }

    /// A duration that may be zero ("0s" turns something off).
    pub(super) fn duration_or_zero(
        &mut self,
        table: Option<&Table>,
        prefix: &str,
        key: &str,
    ) -> Option<Duration> {
        self.duration_from(table, prefix, key, true)
    }

    fn duration_from(
        &mut self,
        table: Option<&Table>,
        prefix: &str,
        key: &str,
        zero_allowed: bool,
    ) -> Option<Duration> {
        let full_key = join_key(prefix, key);
        match table?.get(key)? {
            Value::String(text) => match crate::duration::parse(text) {
                Ok(duration) if zero_allowed || !duration.is_zero() => Some(duration),
                Ok(_) => {
                    self.problem(full_key, "must be longer than zero");
                    None
                }
                Err(err) => {
                    self.problem(full_key, err.to_string());
                    None
                }
            },
            Value::Integer(number) => {
                self.problem(
                    full_key,
                    format!("`{number}` has no unit; write it as a string such as \"{number}s\" or \"{number}m\""),
                );
                None
            }
            other => {
                self.problem(
                    full_key,
                    format!(
                        "must be a duration string such as \"5m\", found {}",
                        other.type_str()
                    ),
                );
                None
            }
        }
    }

    /// A byte size: a whole number of bytes or a string such as `"8MiB"`.
    pub(super) fn byte_size(
        &mut self,
        table: Option<&Table>,
        prefix: &str,
        key: &str,
    ) -> Option<u64> {
        let full_key = join_key(prefix, key);
        match table?.get(key)? {
            Value::Integer(value) if *value > 0 => Some(*value as u64),
            Value::String(text) => match parse_byte_size(text) {
                Some(size) if size > 0 => Some(size),
                _ => {
                    self.problem(
                        full_key,
                        format!("`{text}` is not a size; use e.g. \"512KiB\", \"8MiB\" or a number of bytes"),
                    );
                    None
                }
            },
            other => {
                self.problem(
                    full_key,
                    format!(
                        "must be a size such as \"8MiB\", found {}",
                        other.type_str()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn string_list(&mut self, table: &Table, prefix: &str, key: &str) -> Vec<String> {
        match table.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    Value::String(s) => Some(s.clone()),
                    other => {
                        self.problem(
                            format!("{prefix}.{key}[{i}]"),
                            format!("must be a string, found {}", other.type_str()),
                        );
                        None
                    }
                })
                .collect(),
            Some(other) => {
                self.problem(
                    format!("{prefix}.{key}"),
                    format!("must be a list of strings, found {}", other.type_str()),
                );
                Vec::new()
            }
        }
    }

    /// A string that may hold `${VAR}` references, resolved into a [`Secret`]; with
    /// [`SinkSecrets::Leave`], references are checked and left unresolved.
    pub(super) fn secret(&mut self, table: &Table, prefix: &str, key: &str) -> Option<Secret> {
        let raw = self.string(Some(table), prefix, key)?;
        let secret = match self.secrets {
            SinkSecrets::Resolve => interpolate(&raw, self.lookup)
                .map(|(value, names)| Secret::new(value, origin(&names))),
            SinkSecrets::Leave => references(&raw).map(|names| match names.is_empty() {
                // An inline value needs no lookup: it is used as written.
                true => Secret::new(raw.clone(), origin(&names)),
                false => Secret::unresolved(origin(&names)),
            }),
        };
        secret
            .map_err(|why| self.problem(join_key(prefix, key), why))
            .ok()
    }
}

/// Where a secret came from, for messages: `$NAME`, `credential NAME` or an inline value.
fn origin(names: &[String]) -> String {
    if names.is_empty() {
        return crate::config::secret::INLINE_ORIGIN.to_string();
    }
    names
        .iter()
        .map(|name| match name.strip_prefix("credential:") {
            Some(credential) => format!("credential {credential}"),
            None => format!("${name}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `"8MiB"`, `"512 KiB"`, `"2MB"` or `"1024"` into bytes.
fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("8MiB"), Some(8 * 1024 * 1024));
        assert_eq!(parse_byte_size("512 KiB"), Some(512 * 1024));
        assert_eq!(parse_byte_size("12"), Some(12));
        assert_eq!(parse_byte_size("12 parsecs"), None);
    }
}
