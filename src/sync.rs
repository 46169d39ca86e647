//! The crate's one policy for poisoned locks: recover the guard and go on.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, taking the guard back if a thread panicked while holding it.
///
/// Every mutex in parleyd guards a cache or a small map that each holder changes with a
/// single assignment or insert, so a panic elsewhere cannot leave it half-written. Going on
/// with its contents is therefore safe, and stopping every feed over one task's panic would
/// turn one bug into an outage.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
