//! `parleyd generate-assets DIR` (hidden): the shell completions and man pages a package
//! ships, generated from the very clap definitions this binary parses with, so they cannot
//! drift from the commands. packaging/build-deb.sh runs it before `cargo deb`.

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;
use std::path::Path;
use std::process::ExitCode;

/// The shells whose completions ship, and the file each one's loader looks for.
const COMPLETIONS: [(Shell, &str); 3] = [
    (Shell::Bash, "parleyd.bash"),
    (Shell::Zsh, "_parleyd"),
    (Shell::Fish, "parleyd.fish"),
];

/// Writes `DIR/completions/{parleyd.bash,_parleyd,parleyd.fish}` and `DIR/man/*.1` (one
/// page for parleyd and one per visible subcommand, e.g. `parleyd-alerts-retry.1`).
pub(super) fn generate_assets(dir: &Path) -> Result<ExitCode> {
    let completions = dir.join("completions");
    let man = dir.join("man");
    for folder in [&completions, &man] {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    for (shell, name) in COMPLETIONS {
        // Into memory first: clap_complete panics on a failed write, fs::write reports it.
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut visible_command(), "parleyd", &mut script);
        let path = completions.join(name);
        std::fs::write(&path, script)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    clap_mangen::generate_to(super::Cli::command(), &man)
        .with_context(|| format!("cannot write the man pages into {}", man.display()))?;
    append_sections(&man.join("parleyd.1"))?;
    Ok(ExitCode::SUCCESS)
}

/// The command tree as users see it. clap_complete, unlike clap_mangen, offers hidden
/// subcommands too (this one among them), so they are left out here.
fn visible_command() -> clap::Command {
    let full = super::Cli::command();
    let subcommands: Vec<clap::Command> = full
        .get_subcommands()
        .filter(|command| !command.is_hide_set())
        .cloned()
        .collect();
    clap::Command::new("parleyd")
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommands(subcommands)
}

/// What clap does not know: exit codes, the files a service uses, where the full
/// documentation is. Fixed roff text, appended to the top page.
const MAN_SECTIONS: &str = r#".SH "EXIT STATUS"
0 success; 1 the command ran but something failed (a feed could not be polled, an alert
could not be delivered yet, an input line was bad); 2 it could not run (invalid config,
unreadable file).
.SH ENVIRONMENT
.TP
.B PARLEYD_CONFIG
The config file when \fB\-\-config\fR is not given.
.TP
.B RUST_LOG
A log filter; it wins over the config's \fBlog.level\fR.
.SH FILES
.TP
.I /etc/parleyd/parleyd.toml
The config (the default path).
.TP
.I /etc/parleyd/parleyd.env
Secrets for the systemd service, such as \fBPARLEYD_SLACK_WEBHOOK\fR (mode 0600).
.TP
.I /var/lib/parleyd
The store (the config's \fBstorage.path\fR); an older store is migrated when it is opened.
.SH "SEE ALSO"
.BR systemctl (1),
.BR journalctl (1);
the full documentation: \fI/usr/share/doc/parleyd/README.md\fR.
"#;

fn append_sections(page: &Path) -> Result<()> {
    let mut text =
        std::fs::read_to_string(page).with_context(|| format!("cannot read {}", page.display()))?;
    text.push_str(MAN_SECTIONS);
    std::fs::write(page, text).with_context(|| format!("cannot write {}", page.display()))
}
