//! [`DaemonProcess`]: one `rltrade serve` process of a soak, its stderr appended to the
//! lane's log, and its resident memory read from `/proc`.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running daemon.
#[derive(Debug)]
pub struct DaemonProcess {
    child: Child,
    /// Its process id.
    pub pid: u32,
    /// When it was spawned.
    pub started: Instant,
}

impl DaemonProcess {
    /// Spawns `exe args…` in `dir` with `env` added, stdout discarded and stderr
    /// appended to `log`.
    ///
    /// # Errors
    /// Opening the log or spawning.
    pub fn spawn(exe: &Path, dir: &Path, args: &[String], env: &[(&str, String)], log: &Path) -> std::io::Result<Self> {
        let stderr = File::options().create(true).append(true).open(log)?;
        let child = Command::new(exe)
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()?;
        Ok(Self { pid: child.id(), child, started: Instant::now() })
    }

    /// Its exit status once it has exited (without waiting).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `kill -9` (SIGKILL: no handler runs, nothing is flushed), then reaps it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits up to `grace` for the exit (then SIGKILL): its status, and
    /// whether it exited by itself.
    pub fn terminate(mut self, grace: Duration) -> (Option<ExitStatus>, bool) {
        if let Some(status) = self.exited() {
            return (Some(status), true);
        }
        let _ = Command::new("kill").args(["-TERM", &self.pid.to_string()]).stderr(Stdio::null()).status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return (Some(status), true);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        (self.child.wait().ok(), false)
    }

    /// Resident memory now, KiB (`VmRSS` of `/proc/<pid>/status`); `None` once it is gone
    /// or off Linux.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}
