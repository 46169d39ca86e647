//! The `parleyd` command line: parses arguments, runs a command, maps the outcome to an exit
//! code. Exit codes: 0 success; 1 the command ran but something failed (a feed, a delivery,
//! a bad input line); 2 it could not run (bad config, unreadable file, store locked).

mod cli;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = <cli::Cli as clap::Parser>::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                // `parleyd classify | head` closing early is not an error.
                return ExitCode::SUCCESS;
            }
            // Not `eprintln!`, which panics when stderr is unwritable: exit 2 either way.
            let _ = writeln!(std::io::stderr(), "parleyd: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
