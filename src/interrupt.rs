//! SIGTERM and Ctrl-C (SIGINT) for `rltrade train`: the first signal asks the run to
//! stop after the update under way, whose `last` checkpoint is saved as after every
//! update; the run's best checkpoint is then exported and the process exits 0 (a sweep
//! scheduler stopping a trial early, or an operator stopping a run, loses nothing and
//! can `--resume` it). A second signal ends the process at once, exiting with status
//! 128 + the signal's number (143 for SIGTERM, 130 for Ctrl-C). Through signal-hook's
//! async-signal-safe flags.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};

static REQUESTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the handlers (once per process).
///
/// # Errors
/// The OS refused a handler.
pub fn install() -> std::io::Result<()> {
    if REQUESTED.get().is_some() {
        return Ok(());
    }
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [SIGTERM, SIGINT] {
        // registered first, so it sees the flag before this signal sets it: only a
        // second signal ends the process
        signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, Arc::clone(&flag))?;
        signal_hook::flag::register(signal, Arc::clone(&flag))?;
    }
    let _ = REQUESTED.set(flag);
    Ok(())
}

/// Whether a stop was asked for (always false before [`install`]).
pub fn requested() -> bool {
    REQUESTED.get().is_some_and(|flag| flag.load(Ordering::SeqCst))
}
