//! Tells systemd what the daemon is doing (`Type=notify`): ready, reloading, stopping, a
//! one-line status, and watchdog pings. Every call is a no-op when not run by systemd
//! (`NOTIFY_SOCKET` unset), so tests and terminals need nothing.

use sd_notify::NotifyState;
use std::time::Duration;

/// The store is open and every feed has its schedule.
pub(super) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload has begun; systemd wants the monotonic time with it.
pub(super) fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// Shutdown has begun.
pub(super) fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// The main loop is alive and the store answers; `status` is shown by `systemctl status`.
pub(super) fn alive(status: &str) {
    send(&[NotifyState::Watchdog, NotifyState::Status(status)]);
}

/// Something is wrong: `status` is shown by `systemctl status`, and the watchdog is not
/// fed, so systemd restarts a daemon that stays this way.
pub(super) fn failing(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// How often to ping: half the unit's `WatchdogSec`, or a status refresh every 30 s.
pub(super) fn ping_interval() -> Duration {
    sd_notify::watchdog_enabled()
        .map(|limit| limit / 2)
        .unwrap_or(Duration::from_secs(30))
        .max(Duration::from_millis(500))
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(err) = sd_notify::notify(states) {
        tracing::warn!(error = %err, "Could not notify systemd.");
    }
}
