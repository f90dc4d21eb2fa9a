//! One server per process, shared by every test of a test binary: started on first use, its
//! start failure remembered so later callers fail fast with the same message, stopped by an
//! `atexit` hook (and by the server's watchdog when the process dies otherwise).

use std::sync::{Mutex, OnceLock};

/// The server in `cell`, starting it with `start` on first use. `stop_at_exit` is registered
/// with `atexit` once the server is up; `shared_error` turns a remembered failure into the
/// caller's error type.
pub(crate) fn start_once<T, E: std::fmt::Display>(
    cell: &'static OnceLock<T>,
    failure: &'static Mutex<Option<String>>,
    start: impl FnOnce() -> Result<T, E>,
    stop_at_exit: extern "C" fn(),
    shared_error: impl FnOnce(String) -> E,
) -> Result<&'static T, E> {
    if let Some(server) = cell.get() {
        return Ok(server);
    }
    let mut failure = failure.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(server) = cell.get() {
        return Ok(server);
    }
    if let Some(message) = failure.as_ref() {
        return Err(shared_error(message.clone()));
    }
    match start() {
        Ok(server) => {
            let server = cell.get_or_init(|| server);
            // SAFETY: registering a plain `extern "C" fn` with no captured state; the callers'
            // functions only touch their 'static OnceLock.
            unsafe {
                libc::atexit(stop_at_exit);
            }
            Ok(server)
        }
        Err(error) => {
            *failure = Some(error.to_string());
            Err(error)
        }
    }
}
