//! The profiles compiled into the binary: their names, the default one, and their text.
//!
//! A registry that imports nothing, so that config (which checks a `builtin:` name) and
//! classify (which builds a profile from the text) both use it without using each other.

/// The profile used when the config names none.
pub const DEFAULT_PROFILE: &str = "us-iran";
/// Profiles compiled into the binary.
pub const BUILTIN_PROFILES: &[&str] = &["us-iran"];

/// The text of a built-in profile, generated from `corpus/us-iran` by
/// `parleyd profile build corpus/us-iran -o profiles/us-iran.toml`.
pub fn builtin_profile_text(name: &str) -> Option<&'static str> {
    match name {
        "us-iran" => Some(include_str!("../profiles/us-iran.toml")),
        _ => None,
    }
}
