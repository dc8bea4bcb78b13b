//! The API's HTTP/1.1 server: hyper connections, each a task, under the limits of
//! `[serve.http]`.
//!
//! - **Connections** are capped below the process's file limit
//!   ([`HttpConfig::connection_cap`]). A new connection past the cap closes the one idle
//!   longest (no request in flight); only when every connection has a request in flight
//!   is the new one refused. The listener is always drained, so `/health` and
//!   `POST /kill` answer however many connections a client opens.
//! - **Timeouts**: hyper's header-read timeout (from the accept or the end of the last
//!   response to the end of the next request's headers); the idle timeout here (no byte
//!   read or written, an event stream exempt); the request timeout is the router's
//!   ([`super::router`]).
//! - **Shutdown** is graceful and bounded: requests in flight get
//!   `serve.http.shutdown_grace_ms`, then their connections are closed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::access::ClientAddr;
use crate::config::HttpConfig;

/// The server's limits, resolved from `[serve.http]` and the file limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Most open connections.
    pub max_connections: usize,
    /// Header-read timeout.
    pub header_timeout: Duration,
    /// Idle timeout (no byte moved; event streams exempt).
    pub idle_timeout: Duration,
    /// How long requests in flight get at shutdown.
    pub shutdown_grace: Duration,
}

impl ServerLimits {
    /// The limits of `config` under the process's soft file limit ([`fd_limit`]).
    pub fn new(config: &HttpConfig) -> Self {
        Self {
            max_connections: config.connection_cap(fd_limit()),
            header_timeout: Duration::from_millis(config.header_timeout_ms),
            idle_timeout: Duration::from_millis(config.idle_timeout_ms),
            shutdown_grace: Duration::from_millis(config.shutdown_grace_ms),
        }
    }
}

/// The process's soft `RLIMIT_NOFILE`; `None` when unlimited or not a Unix.
pub fn fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// One connection's state, shared by its task, its requests and the accept loop.
#[derive(Debug, Default)]
struct Connection {
    /// Requests whose response has not been sent whole.
    in_flight: AtomicUsize,
    /// Event-stream responses in progress (exempt from the idle timeout).
    streams: AtomicUsize,
    /// When a byte was last read or written, ms since the server's start.
    last_io_ms: AtomicU64,
    /// Closes the connection (evicted).
    close: Notify,
}

/// The open connections.
#[derive(Debug)]
struct Registry {
    start: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connection idle longest among those with no request in flight.
    fn idlest(open: &HashMap<u64, Arc<Connection>>) -> Option<u64> {
        open.iter()
            .filter(|(_, c)| c.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, c)| c.last_io_ms.load(Ordering::Relaxed))
            .map(|(&id, _)| id)
    }

    /// Closes connection `id` (its task sees the notification and drops it).
    fn close(open: &mut HashMap<u64, Arc<Connection>>, id: u64) {
        if let Some(evicted) = open.remove(&id) {
            evicted.close.notify_one();
        }
    }

    /// Registers a connection.
    fn admit(&self) -> (u64, Arc<Connection>) {
        let mut open = self.open();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection::default());
        connection.last_io_ms.store(self.now_ms(), Ordering::Relaxed);
        open.insert(id, Arc::clone(&connection));
        (id, connection)
    }

    /// Closes the connection idle longest (no request in flight); whether there was one.
    fn evict_idlest(&self) -> bool {
        let mut open = self.open();
        let Some(id) = Self::idlest(&open) else { return false };
        Self::close(&mut open, id);
        true
    }

    fn remove(&self, id: u64) {
        self.open().remove(&id);
    }
}

/// Serves `router` on `listener` until `shutdown` turns true, then waits at most the
/// shutdown grace for requests in flight.
///
/// # Errors
/// None today: accept errors (out of file descriptors, say) are logged and survived.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let registry =
        Arc::new(Registry { start: Instant::now(), next_id: AtomicU64::new(0), open: Mutex::new(HashMap::new()) });
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut tasks = JoinSet::new();
    let mut refused = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and the like: free a descriptor and try again shortly
                tracing::warn!("API accept failed: {e}; closing the connection idle longest");
                let _ = registry.evict_idlest();
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        // a slot under the cap: free, or freed by closing the idlest connection (its
        // socket is closed before the slot is released, so descriptors stay under the cap)
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) if registry.evict_idlest() => {
                tokio::time::timeout(EVICTION_WAIT, Arc::clone(&slots).acquire_owned()).await.ok().and_then(Result::ok)
            }
            Err(_) => None,
        };
        let Some(slot) = slot else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    "API connection cap ({}) reached with a request in flight on each: {refused} connections refused so far",
                    limits.max_connections
                );
            }
            drop(stream);
            continue;
        };
        let (id, connection) = registry.admit();
        let _ = stream.set_nodelay(true);
        let task = Task {
            _slot: slot,
            registry: Arc::clone(&registry),
            id,
            connection,
            router: router.clone(),
            limits,
            shutdown: shutdown.clone(),
        };
        tasks.spawn(task.run(stream, peer));
    }
    drop(listener);
    let drained = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, drained).await.is_err() {
        tracing::warn!(
            "{} API connections still busy after the {} ms shutdown grace: closed",
            tasks.len(),
            limits.shutdown_grace.as_millis()
        );
        tasks.shutdown().await;
    }
    Ok(())
}

/// How long a new connection waits for the slot of the connection closed for it.
const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// One connection's task.
struct Task {
    /// Its place under the cap, released after the socket is closed (a parameter of
    /// [`Task::run`] drops after its locals).
    _slot: OwnedSemaphorePermit,
    registry: Arc<Registry>,
    id: u64,
    connection: Arc<Connection>,
    router: Router,
    limits: ServerLimits,
    shutdown: watch::Receiver<bool>,
}

impl Task {
    async fn run(self, stream: TcpStream, peer: SocketAddr) {
        let io = TokioIo::new(Metered {
            inner: stream,
            connection: Arc::clone(&self.connection),
            registry: Arc::clone(&self.registry),
        });
        let (router, connection) = (self.router.clone(), Arc::clone(&self.connection));
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ClientAddr(peer));
            let guard = InFlight::enter(&connection);
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await.unwrap_or_else(|never| match never {});
                Ok::<_, Infallible>(guard.hold_until_sent(response))
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(self.limits.header_timeout).keep_alive(true);
        let http = builder.serve_connection(io, service);
        tokio::pin!(http);
        let mut draining = false;
        let mut shutdown = self.shutdown.clone();
        loop {
            let idle_deadline = self.idle_deadline();
            tokio::select! {
                result = http.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(client = %peer, "API connection ended: {e}");
                    }
                    break;
                }
                () = self.connection.close.notified() => {
                    tracing::debug!(client = %peer, "API connection closed for a new one (cap reached)");
                    break;
                }
                _ = shutdown.wait_for(|stop| *stop), if !draining => {
                    http.as_mut().graceful_shutdown();
                    draining = true;
                }
                () = tokio::time::sleep_until(idle_deadline) => {
                    if self.is_idle() {
                        tracing::debug!(client = %peer, "API connection idle for {} ms: closed", self.limits.idle_timeout.as_millis());
                        break;
                    }
                }
            }
        }
        self.registry.remove(self.id);
    }

    /// When the connection turns idle if nothing moves.
    fn idle_deadline(&self) -> tokio::time::Instant {
        let last = Duration::from_millis(self.connection.last_io_ms.load(Ordering::Relaxed));
        let deadline = tokio::time::Instant::from_std(self.registry.start + last + self.limits.idle_timeout);
        let now = tokio::time::Instant::now();
        // past due but not idle (an event stream): checked again one timeout later
        if deadline <= now { now + self.limits.idle_timeout } else { deadline }
    }

    fn is_idle(&self) -> bool {
        let last = self.connection.last_io_ms.load(Ordering::Relaxed);
        let idle_ms = u64::try_from(self.limits.idle_timeout.as_millis()).unwrap_or(u64::MAX);
        self.connection.streams.load(Ordering::Acquire) == 0 && self.registry.now_ms().saturating_sub(last) >= idle_ms
    }
}

/// A request in flight on a connection, until its response is sent whole (or dropped).
struct InFlight {
    connection: Arc<Connection>,
    stream: bool,
}

impl InFlight {
    fn enter(connection: &Arc<Connection>) -> Self {
        connection.in_flight.fetch_add(1, Ordering::AcqRel);
        Self { connection: Arc::clone(connection), stream: false }
    }

    /// The response, its body holding this guard; an event stream is counted as such.
    fn hold_until_sent(mut self, response: Response<Body>) -> Response<Body> {
        let is_stream = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_stream {
            self.connection.streams.fetch_add(1, Ordering::AcqRel);
            self.stream = true;
        }
        response.map(move |body| {
            Body::new(body.map_frame(move |frame| {
                let _held = &self;
                frame
            }))
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.connection.in_flight.fetch_sub(1, Ordering::AcqRel);
        if self.stream {
            self.connection.streams.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The socket, recording when bytes move.
struct Metered {
    inner: TcpStream,
    connection: Arc<Connection>,
    registry: Arc<Registry>,
}

impl Metered {
    fn moved(&self) {
        self.connection.last_io_ms.store(self.registry.now_ms(), Ordering::Relaxed);
    }
}

impl AsyncRead for Metered {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.moved();
        }
        poll
    }
}

impl AsyncWrite for Metered {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            this.moved();
        }
        poll
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            this.moved();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream as StdStream;

    use axum::routing::get;

    use super::*;

    fn limits(max_connections: usize, idle_timeout: Duration) -> ServerLimits {
        ServerLimits {
            max_connections,
            header_timeout: Duration::from_secs(10),
            idle_timeout,
            shutdown_grace: Duration::from_millis(300),
        }
    }

    /// `/ok`, an event stream that sends one event and then nothing, and a handler that
    /// never answers.
    fn routes() -> Router {
        Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route(
                "/events",
                get(|| async {
                    let events = futures_util::stream::iter([Ok::<_, Infallible>("data: hello\n\n")])
                        .chain(futures_util::stream::pending());
                    ([(header::CONTENT_TYPE, "text/event-stream")], Body::from_stream(events))
                }),
            )
            .route("/stuck", get(std::future::pending::<&'static str>))
    }

    async fn start(limits: ServerLimits) -> (SocketAddr, watch::Sender<bool>, tokio::task::JoinHandle<io::Result<()>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, routes(), limits, rx));
        (address, stop, task)
    }

    fn request(stream: &mut StdStream, path: &str) {
        write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    }

    /// Reads what is there within `wait`: `None` at EOF or reset, else the bytes.
    fn read_some(stream: &mut StdStream, wait: Duration) -> Option<String> {
        stream.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Some(String::new()),
            Err(_) => None,
        }
    }

    use futures_util::StreamExt;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_connections_close_and_event_streams_stay_open() {
        let (address, stop, task) = start(limits(16, Duration::from_millis(300))).await;
        tokio::task::spawn_blocking(move || {
            let mut idle = StdStream::connect(address).unwrap();
            request(&mut idle, "/ok");
            assert!(read_some(&mut idle, Duration::from_secs(2)).unwrap().contains("200 OK"));
            let mut events = StdStream::connect(address).unwrap();
            request(&mut events, "/events");
            assert!(read_some(&mut events, Duration::from_secs(2)).unwrap().contains("data: hello"));
            std::thread::sleep(Duration::from_millis(900));
            assert_eq!(
                read_some(&mut idle, Duration::from_millis(100)),
                None,
                "an idle keep-alive connection is closed"
            );
            assert_eq!(
                read_some(&mut events, Duration::from_millis(100)),
                Some(String::new()),
                "a quiet event stream stays open"
            );
        })
        .await
        .unwrap();
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_cap_the_idlest_connection_makes_room_and_busy_ones_are_kept() {
        let (address, stop, task) = start(limits(3, Duration::from_secs(30))).await;
        let _busy = tokio::task::spawn_blocking(move || {
            let mut busy = StdStream::connect(address).unwrap();
            request(&mut busy, "/stuck");
            std::thread::sleep(Duration::from_millis(50));
            let mut oldest = StdStream::connect(address).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            let _newer = StdStream::connect(address).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            // the cap is reached: this one closes `oldest`, the idle one first in line
            let mut fresh = StdStream::connect(address).unwrap();
            request(&mut fresh, "/ok");
            assert!(read_some(&mut fresh, Duration::from_secs(2)).unwrap().contains("200 OK"));
            assert_eq!(read_some(&mut oldest, Duration::from_secs(1)), None, "the idlest was closed");
            assert_eq!(read_some(&mut busy, Duration::from_millis(100)), Some(String::new()), "in flight: kept");
            busy
        })
        .await
        .unwrap();
        // a request that never ends holds shutdown for the grace only
        let started = Instant::now();
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap().unwrap();
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(3), "shutdown took {took:?}");
    }
}
