//! Config text → validated config: never a panic, and a secret from the environment never
//! appears in an error message, whatever the text around it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parleyd::Config;
use std::path::Path;

const SECRET: &str = "hooks-slack-T000-SECRET-42";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lookup = |_: &str| Some(SECRET.to_string());
    match Config::from_str_with_env(&text, Path::new("/etc/parleyd/fuzz.toml"), &lookup) {
        Ok(config) => {
            let debug = format!("{config:?}");
            assert!(!debug.contains(SECRET), "secret in Debug output");
        }
        Err(err) => {
            let message = err.to_string();
            assert!(!message.contains(SECRET), "secret in error: {message}");
        }
    }
});
