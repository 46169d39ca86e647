//! The `parleyd` command line: parses arguments, runs a command, maps the outcome to an exit
//! code. Exit codes: 0 success; 1 the command ran but something failed (a feed, a delivery,
//! a bad input line); 2 it could not run (bad config, unreadable file, store locked).

mod cli;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    tune_malloc();
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

/// Two glibc malloc arenas and a fixed 128 KiB mmap threshold, instead of glibc's
/// defaults (an arena per allocating thread, up to 8 per core, and a threshold that grows
/// to 32 MiB as large blocks are freed).
///
/// Memory freed into one arena cannot serve another thread's, so each arena kept its own
/// high-water mark; and once the threshold had grown, transient large buffers (response
/// bodies, sled's segment buffers) came from the arenas and fragmented them instead of
/// going back to the kernel. At 5000 feeds a cold `once` peaked at 73-79 MB with glibc's
/// defaults and 53-68 MB with these, for 10-25% more CPU on that one cold start
/// (BENCHMARKS.md, "Memory at 5000 feeds"). Two arenas: one per tokio worker, which do
/// the allocating. Runs before any thread starts; `MALLOC_ARENA_MAX` or
/// `MALLOC_MMAP_THRESHOLD_` set in the environment is left to glibc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    for (variable, parameter, value) in [
        ("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, 2),
        ("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, 128 * 1024),
    ] {
        if std::env::var_os(variable).is_none() {
            // SAFETY: mallopt sets a glibc tunable and touches no Rust-managed memory; no
            // other thread exists yet. A refusal (return 0) leaves glibc's default in place.
            unsafe {
                libc::mallopt(parameter, value);
            }
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
