//! The daemon's shutdown signals: SIGTERM and SIGINT (Ctrl-C), listened for from just
//! before the API listens to the daemon's end.
//!
//! The handlers are installed once, before the API listens, and stay installed: a
//! signal that arrives before the daemon first waits for one, or between two waits
//! (the replay finishing, one feed event and the next), is kept and seen by the next
//! wait. Before, each wait installed its own listener, so a SIGTERM sent as soon as the
//! API answered could find no handler and kill the process with the journal open, or
//! fall between two waits and be lost.

use crate::error::{Error, Result};

/// SIGTERM and SIGINT, each delivered to [`ShutdownSignals::recv`] once per arrival.
pub(crate) struct ShutdownSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Installs the handlers; call it inside the tokio runtime.
    ///
    /// # Errors
    /// [`Error::Config`] naming the signal when the handler cannot be installed.
    pub(crate) fn listen() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let install = |kind: SignalKind, name: &str| {
                signal(kind).map_err(|e| Error::Config { field: format!("{name} handler"), message: e.to_string() })
            };
            Ok(Self {
                terminate: install(SignalKind::terminate(), "SIGTERM")?,
                interrupt: install(SignalKind::interrupt(), "SIGINT")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for the next SIGTERM or SIGINT (on unix, returns at once for one that
    /// arrived since the last call; elsewhere only Ctrl-C, listened for while waiting).
    pub(crate) async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signal_sent_before_the_wait_is_kept() {
        let mut signals = ShutdownSignals::listen().unwrap();
        // SIGINT, not SIGTERM, to this test process: with the handler installed it ends
        // nothing, and the harness's other tests run on
        let pid = std::process::id().to_string();
        assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        tokio::time::timeout(std::time::Duration::from_secs(10), signals.recv())
            .await
            .expect("the signal sent before recv was kept");
    }
}
