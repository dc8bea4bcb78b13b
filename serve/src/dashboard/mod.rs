//! `rltrade dashboard --runs DIR [--journal FILE]`: the dashboard without a daemon.
//! It serves the same page as `rltrade serve`, with:
//! - the training runs found under `DIR` ([`runs`]), with learning curves from their
//!   `metrics.jsonl`;
//! - the comparison and walk-forward reports found under `DIR` ([`reports`]), with every
//!   arm's equity curve;
//! - a finished journal's A/B, charts and activity, read as the live daemon reads them
//!   ([`crate::api::journal_routes`]).
//!
//! Folders are looked up again at each request, so runs that finish while the page is
//! open appear on a reload. It listens on loopback only: it has no tokens.
//!
//! | route | what |
//! |---|---|
//! | `GET /runs` | the runs table ([`runs::RunSummary`]) |
//! | `GET /run?name=` | a run's learning curves ([`runs::RunCurves`]) |
//! | `GET /reports` | the reports table ([`reports::ReportSummary`]) |
//! | `GET /report?name=` | a report's arms and equity curves ([`reports::ReportView`]) |

pub mod reports;
pub mod runs;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::api::journal_routes::{self, JournalReads};
use crate::api::page::{self, Mode};
use crate::api::server::{self, ServerLimits};
use crate::api::{AllowedHosts, error};
use crate::config::HttpConfig;
use crate::error::{Error, Result};
use crate::journal::Journal;
use reports::{ReportFolder, ReportKind};
use runs::RunFolder;

/// Folders deeper than this under the runs root are not looked at.
const MAX_DEPTH: usize = 6;

/// What `rltrade dashboard` serves.
#[derive(Clone, Debug)]
pub struct DashboardSetup {
    /// The runs root (`--runs`): training runs and reports below it.
    pub runs: Option<PathBuf>,
    /// A journal of `rltrade serve` (`--journal`), read only.
    pub journal: Option<PathBuf>,
    /// Where to listen (`--listen`, loopback only; port 0 picks a free one).
    pub listen: SocketAddr,
}

/// The folders found under a runs root.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    /// Training runs, by name.
    pub runs: Vec<RunFolder>,
    /// Reports, by name.
    pub reports: Vec<ReportFolder>,
}

/// Looks for runs and reports under `root`, at most [`MAX_DEPTH`] folders deep,
/// skipping hidden folders and the runs' own `tb/`, `checkpoints/` and `export/`.
///
/// # Errors
/// `root` cannot be read ([`Error::Io`]); unreadable folders below it are skipped.
pub fn discover(root: &Path) -> Result<Found> {
    std::fs::read_dir(root).map_err(|e| Error::io(root, e))?;
    let mut found = Found::default();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let name = relative_name(root, &dir);
        if dir.join(runs::METRICS_FILE).is_file() {
            found.runs.push(RunFolder { name: name.clone(), metrics: dir.join(runs::METRICS_FILE) });
        }
        if dir.join(reports::EQUITY_FILE).is_file() {
            for kind in [ReportKind::Compare, ReportKind::WalkForward] {
                if dir.join(kind.file()).is_file() {
                    found.reports.push(ReportFolder { name: name.clone(), dir: dir.clone(), kind });
                }
            }
        }
        if depth == MAX_DEPTH {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let skip =
                file_name.to_str().is_none_or(|n| n.starts_with('.') || ["tb", "checkpoints", "export"].contains(&n));
            if !skip && entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((entry.path(), depth + 1));
            }
        }
    }
    found.runs.sort_by(|a, b| a.name.cmp(&b.name));
    found.reports.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// `dir` relative to `root`, `/`-separated; `.` for the root itself.
fn relative_name(root: &Path, dir: &Path) -> String {
    let parts: Vec<String> = dir
        .strip_prefix(root)
        .unwrap_or(dir)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() { ".".to_string() } else { parts.join("/") }
}

/// The state of the runs routes.
#[derive(Clone, Debug)]
struct RunsRoot(Arc<PathBuf>);

/// The offline router: the page, the runs routes when `runs` is set, the journal's
/// routes when `journal` is set.
pub fn router(runs: Option<PathBuf>, journal: Option<PathBuf>, hosts: AllowedHosts) -> Router {
    let mode = Mode::Offline { journal: journal.is_some(), runs: runs.is_some() };
    let mut router: Router = Router::new().merge(page::routes(mode));
    if let Some(root) = runs {
        router = router.merge(
            Router::new()
                .route("/runs", get(list_runs))
                .route("/run", get(run_curves))
                .route("/reports", get(list_reports))
                .route("/report", get(report_view))
                .with_state(RunsRoot(Arc::new(root))),
        );
    }
    if let Some(path) = journal {
        router = router.merge(journal_routes::routes(Arc::new(JournalReads::new(path))));
    }
    let hosts = Arc::new(hosts);
    router.layer(axum::middleware::from_fn(page::security_headers)).layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let hosts = Arc::clone(&hosts);
            async move { check_host(&hosts, request, next).await }
        },
    ))
}

/// 421 for a `Host` other than loopback's names (DNS rebinding).
async fn check_host(hosts: &AllowedHosts, request: Request, next: Next) -> Response {
    match request.headers().get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) if hosts.allows(host) => next.run(request).await,
        _ => error(StatusCode::MISDIRECTED_REQUEST, "this Host is not served here (loopback names only)"),
    }
}

/// Runs `read` off the async workers and answers its value as JSON: 404 for an unknown
/// name, 500 naming the file for one that cannot be read.
async fn answer<T: serde::Serialize + Send + 'static>(
    read: impl FnOnce() -> std::result::Result<T, (StatusCode, String)> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(read).await {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err((status, message))) => error(status, message),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("reading the runs failed: {e}")),
    }
}

fn internal(e: Error) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// `?name=`.
#[derive(Debug, Deserialize)]
struct Name {
    name: String,
}

async fn list_runs(State(root): State<RunsRoot>) -> Response {
    answer(move || {
        let found = discover(&root.0).map_err(internal)?;
        found.runs.iter().map(|run| runs::summary(run).map_err(internal)).collect::<std::result::Result<Vec<_>, _>>()
    })
    .await
}

async fn run_curves(
    State(root): State<RunsRoot>,
    query: Result<Query<Name>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let name = match query {
        Ok(Query(q)) => q.name,
        Err(rejection) => return crate::api::bad_query(rejection),
    };
    answer(move || {
        let found = discover(&root.0).map_err(internal)?;
        // only a name the lookup found: never a path built from the request
        let run = found.runs.iter().find(|r| r.name == name).ok_or_else(|| {
            (StatusCode::NOT_FOUND, format!("no training run named `{}`", crate::log_text::untrusted(&name)))
        })?;
        runs::curves(run).map_err(internal)
    })
    .await
}

async fn list_reports(State(root): State<RunsRoot>) -> Response {
    answer(move || {
        let found = discover(&root.0).map_err(internal)?;
        found.reports.iter().map(|r| reports::summary(r).map_err(internal)).collect::<std::result::Result<Vec<_>, _>>()
    })
    .await
}

async fn report_view(
    State(root): State<RunsRoot>,
    query: Result<Query<Name>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let name = match query {
        Ok(Query(q)) => q.name,
        Err(rejection) => return crate::api::bad_query(rejection),
    };
    answer(move || {
        let found = discover(&root.0).map_err(internal)?;
        let report = found.reports.iter().find(|r| r.name == name).ok_or_else(|| {
            (StatusCode::NOT_FOUND, format!("no report named `{}`", crate::log_text::untrusted(&name)))
        })?;
        reports::view(report).map_err(internal)
    })
    .await
}

/// Checks `setup`, then serves the dashboard until SIGTERM or Ctrl-C, printing
/// `rltrade dashboard: listening on http://ADDRESS` to stderr once it listens.
///
/// # Errors
/// [`Error::Config`] naming `--listen` for an address beyond loopback or one that
/// cannot be bound, `--runs` for a folder that cannot be read, `--journal` for a file
/// that is not a journal; neither `--runs` nor `--journal`.
pub fn run(setup: DashboardSetup) -> Result<()> {
    if setup.runs.is_none() && setup.journal.is_none() {
        return Err(Error::Config {
            field: "--runs".into(),
            message: "give --runs DIR, --journal FILE or both".into(),
        });
    }
    if !setup.listen.ip().is_loopback() {
        return Err(Error::Config {
            field: "--listen".into(),
            message: format!("{}: the offline dashboard has no tokens, so it listens on loopback only", setup.listen),
        });
    }
    if let Some(root) = &setup.runs {
        discover(root).map_err(|e| Error::Config { field: "--runs".into(), message: e.to_string() })?;
    }
    if let Some(path) = &setup.journal {
        let journal = Journal::open_read_only(path)
            .map_err(|e| Error::Config { field: "--journal".into(), message: e.to_string() })?;
        if journal.meta()?.is_none() {
            return Err(Error::Config {
                field: "--journal".into(),
                message: format!("{}: an empty journal (no daemon ever ran on it)", path.display()),
            });
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    runtime.block_on(async move {
        let mut signals = crate::shutdown::ShutdownSignals::listen()?;
        let listener = tokio::net::TcpListener::bind(setup.listen)
            .await
            .map_err(|e| Error::Config { field: "--listen".into(), message: format!("{}: {e}", setup.listen) })?;
        let address = listener.local_addr().map_err(|e| Error::io("listen socket", e))?;
        let hosts = AllowedHosts::new(address, &[]);
        let limits = ServerLimits::new(&HttpConfig::default());
        eprintln!("rltrade dashboard: listening on http://{address}");
        let (stop, rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(server::serve(listener, router(setup.runs, setup.journal, hosts), limits, rx));
        signals.recv().await;
        let _ = stop.send(true);
        let _ = task.await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_finds_runs_and_reports_and_skips_the_runs_own_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for run in ["a/seed-1", "a/seed-2", "b"] {
            std::fs::create_dir_all(root.join(run).join("tb")).unwrap();
            std::fs::write(root.join(run).join("metrics.jsonl"), "{\"global_step\": 2048}\n").unwrap();
        }
        // a metrics file inside a run's tb/ folder is not a run
        std::fs::write(root.join("b/tb/metrics.jsonl"), "{}\n").unwrap();
        std::fs::write(root.join("a/equity.csv"), "timestamp,x\n0,1\n").unwrap();
        std::fs::write(root.join("a/compare.json"), "{\"arms\": []}").unwrap();
        let found = discover(root).unwrap();
        let names: Vec<&str> = found.runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a/seed-1", "a/seed-2", "b"]);
        assert_eq!(found.reports.len(), 1);
        assert_eq!((found.reports[0].name.as_str(), found.reports[0].kind), ("a", ReportKind::Compare));
    }

    #[test]
    fn a_bad_metrics_line_names_the_file_and_line_and_a_cut_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        std::fs::write(&path, "{\"global_step\": 1, \"charts/episodic_return\": 0.5}\n{\"global_step\": 2, \"cha")
            .unwrap();
        let run = RunFolder { name: "r".into(), metrics: path.clone() };
        let curves = runs::curves(&run).unwrap();
        assert_eq!(curves.curves[0].points, [(1, 0.5)]);
        std::fs::write(&path, "{\"global_step\": 1}\nnot json\n{\"global_step\": 3}\n").unwrap();
        let err = runs::summary(&run).unwrap_err().to_string();
        assert!(err.contains("metrics.jsonl") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_bad_equity_row_names_the_file_line_and_arm() {
        let dir = tempfile::tempdir().unwrap();
        // compare.json: each arm's metrics flattened into it
        std::fs::write(dir.path().join("compare.json"), "{\"arms\": [{\"name\": \"ppo\", \"sharpe\": 1.5}]}").unwrap();
        std::fs::write(dir.path().join("equity.csv"), "timestamp,ppo\n0,100\n3600000,abc\n").unwrap();
        let folder = ReportFolder { name: ".".into(), dir: dir.path().to_path_buf(), kind: ReportKind::Compare };
        let err = reports::view(&folder).unwrap_err().to_string();
        assert!(err.contains("equity.csv") && err.contains("line 3") && err.contains("ppo"), "{err}");
        std::fs::write(dir.path().join("equity.csv"), "timestamp,ppo,ppo/seed-1\n0,100,100\n3600000,101,101\n")
            .unwrap();
        let view = reports::view(&folder).unwrap();
        assert_eq!(view.arms.len(), 1, "one seed: its curve is the arm's, drawn once");
        assert_eq!(view.arms[0].equity, [(0, 100.0), (3_600_000, 101.0)]);
        assert_eq!(view.arms[0].sharpe, Some(1.5));
        // walkforward.json: the stitched comparison, metrics nested
        // walkforward.json: the stitched comparison, metrics nested; its `fold` column is
        // no arm
        std::fs::write(
            dir.path().join("walkforward.json"),
            "{\"stitched\": {\"arms\": [{\"name\": \"ppo\", \"metrics\": {\"sharpe\": 2.5}}]}}",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("equity.csv"),
            "timestamp,fold,ppo,ppo/seed-1,ppo/seed-2\n0,1,100,100,100\n3600000,1,101,100,102\n",
        )
        .unwrap();
        let walkforward = ReportFolder { kind: ReportKind::WalkForward, ..folder };
        let view = reports::view(&walkforward).unwrap();
        let names: Vec<&str> = view.arms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["ppo", "ppo/seed-1", "ppo/seed-2"]);
        assert_eq!(view.arms[0].sharpe, Some(2.5));
    }
}
