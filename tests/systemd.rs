//! The shipped systemd unit, checked with systemd's own tools where they are installed:
//! `systemd-analyze security` must rate it 2.0 or lower ("OK"), and `systemd-analyze
//! verify` must find nothing wrong. Where systemd-analyze is missing (containers without
//! systemd), the test says so (a `SKIPPED:` line in the test output) and checks nothing.

use std::path::Path;
use std::process::Command;

fn systemd_analyze() -> Option<()> {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| ())
}

#[test]
fn the_unit_is_hardened_and_valid() {
    if systemd_analyze().is_none() {
        crate::support::skipped(
            "systemd unit check",
            "systemd-analyze is not installed, so the unit was not checked",
        );
        return;
    }
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/parleyd.service");
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", unit.to_str().unwrap()])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let level: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for parleyd.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    println!("systemd-analyze security: exposure {level}");
    assert!(level <= 2.0, "exposure {level} is above 2.0:\n{report}");

    // verify needs the binary the unit names to exist: point it at the one just built.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&unit)
        .unwrap()
        .replace("/usr/bin/parleyd", env!("CARGO_BIN_EXE_parleyd"));
    let copy = dir.path().join("parleyd.service");
    std::fs::write(&copy, text).unwrap();
    let verify = Command::new("systemd-analyze")
        .args(["verify", copy.to_str().unwrap()])
        .output()
        .unwrap();
    let complaints = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        verify.status.success() && complaints.trim().is_empty(),
        "{complaints}"
    );
}
