//! A running `rltrade serve` and plain HTTP/1.1 requests to it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A daemon started by a test, its API address and its stderr so far.
pub struct Daemon {
    pub child: Child,
    pub address: String,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Daemon {
    /// Starts `rltrade args...` in `dir` with `env`, and waits until it listens.
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(dir, args, env, None)
    }

    /// [`Daemon::start`] with the daemon's soft file limit (`ulimit -n`) set to `limit`.
    pub fn start_with_fd_limit(dir: &Path, args: &[&str], env: &[(&str, &str)], limit: u32) -> Self {
        Self::spawn(dir, args, env, Some(limit))
    }

    fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)], fd_limit: Option<u32>) -> Self {
        use std::io::BufRead;
        let exe = env!("CARGO_BIN_EXE_rltrade");
        let mut command = match fd_limit {
            None => Command::new(exe),
            Some(limit) => {
                let mut sh = Command::new("sh");
                sh.arg("-c").arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\"")).arg(exe);
                sh
            }
        };
        if std::env::var_os("ORT_DYLIB_PATH").is_none() {
            command.env(
                "ORT_DYLIB_PATH",
                format!("{}/.ort/onnxruntime/capi/libonnxruntime.so.1.31.1", env!("CARGO_MANIFEST_DIR")),
            );
        }
        // the tests read the daemon's log: its level is the default unless `env` sets one
        command.env_remove("RUST_LOG");
        command.envs(env.iter().copied()).args(args).current_dir(dir).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn");
        let mut lines = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let address = loop {
            let mut line = String::new();
            let n = lines.read_line(&mut line).expect("read stderr");
            stderr.lock().unwrap().push_str(&line);
            assert!(n > 0, "rltrade {} exited before listening:\n{}", args.join(" "), stderr.lock().unwrap());
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.trim().to_string();
            }
        };
        let sink = std::sync::Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut line = String::new();
            while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Self { child, address, stderr }
    }

    /// `METHOD path` with an optional bearer token and body: the status and the body.
    pub fn http(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.address).expect("connect");
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
        (status, body)
    }

    /// `GET path` parsed as JSON (200 expected).
    pub fn get(&self, path: &str) -> Value {
        let (status, body) = self.http("GET", path, None, "");
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// SIGTERM, then waits: the exit status and the whole stderr.
    pub fn sigterm(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM").success());
        let status = self.child.wait().expect("wait");
        // the drain thread ends with the pipe
        std::thread::sleep(Duration::from_millis(100));
        let stderr = self.stderr.lock().unwrap().clone();
        (status, stderr)
    }
}
