//! Connections: the accept loop, the connection limit and the two
//! connection timeouts, over hyper's HTTP/1.1 server.
//!
//! A connection is in one of three phases. *Head*: the server waits for a
//! request head to be complete — from the moment the connection is accepted,
//! or from the first byte after an idle spell; the header-read timeout
//! bounds it, so a client that sends its head one byte at a time (slowloris)
//! or connects and sends nothing is closed. *Busy*: a request is being
//! answered (its body read, the model run, the answer written); no
//! connection timeout applies, the request timeout does. *Idle*: between
//! kept-alive requests; the idle timeout bounds it. hyper's own
//! `header_read_timeout` is not used: it starts as soon as the server waits
//! for a request, idle spells included, so it cannot tell the two apart.
//!
//! Beyond the connection limit a new connection is answered a fixed 503 at
//! once (best effort: whatever the socket takes without waiting) and closed;
//! it never waits for a slot, so a flood cannot hold clients in a queue.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use crate::metrics::Metrics;

/// The connection settings of [`crate::Limits`], copied per connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Busy,
    Idle,
}

/// Why a connection was closed by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    Header,
    Idle,
}

struct Clocked {
    phase: Phase,
    /// When the phase began.
    since: Instant,
    /// Requests being answered (more than one only when pipelined).
    busy: usize,
}

/// Where one connection is and since when. Every change wakes the
/// connection's watchdog, which then recomputes its deadline.
pub(crate) struct Clock {
    inner: Mutex<Clocked>,
    changed: Notify,
}

impl Clock {
    /// A connection just accepted: waiting for its first request head.
    pub(crate) fn new(now: Instant) -> Clock {
        Clock { inner: Mutex::new(Clocked { phase: Phase::Head, since: now, busy: 0 }), changed: Notify::new() }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Clocked) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Bytes arrived: after an idle spell, they begin a request head.
    pub(crate) fn read(&self, now: Instant) {
        let began = self.with(|c| {
            let idle = c.phase == Phase::Idle;
            if idle {
                c.phase = Phase::Head;
                c.since = now;
            }
            idle
        });
        if began {
            self.changed.notify_one();
        }
    }

    /// A request head is complete and the request is being answered.
    pub(crate) fn request_started(&self) {
        self.with(|c| {
            c.busy += 1;
            c.phase = Phase::Busy;
        });
        self.changed.notify_one();
    }

    /// A request's answer is done (or abandoned).
    pub(crate) fn request_ended(&self, now: Instant) {
        let idle = self.with(|c| {
            c.busy = c.busy.saturating_sub(1);
            let idle = c.busy == 0;
            if idle {
                c.phase = Phase::Idle;
                c.since = now;
            }
            idle
        });
        if idle {
            self.changed.notify_one();
        }
    }

    /// When the current phase runs out, and which timeout that is.
    pub(crate) fn deadline(&self, t: Timeouts) -> Option<(Instant, Expired)> {
        self.with(|c| match c.phase {
            Phase::Head => Some((c.since + t.header_read, Expired::Header)),
            Phase::Idle => Some((c.since + t.idle, Expired::Idle)),
            Phase::Busy => None,
        })
    }
}

/// A request in progress on a connection, from the complete head until its
/// answer's body is dropped (sent, or abandoned with the connection).
struct Busy(Arc<Clock>);

impl Busy {
    fn start(clock: &Arc<Clock>) -> Busy {
        clock.request_started();
        Busy(clock.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.request_ended(Instant::now());
    }
}

/// The TCP stream, telling the clock when bytes arrive.
struct Watched {
    inner: TcpStream,
    clock: Arc<Clock>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.read(Instant::now());
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The router as hyper's service, marking each request busy on the clock.
#[derive(Clone)]
struct App {
    app: TowerToHyperService<Router>,
    clock: Arc<Clock>,
}

impl hyper::service::Service<Request<Incoming>> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let busy = Busy::start(&self.clock);
        let answer = self.app.call(req);
        Box::pin(async move {
            let resp = answer.await?;
            // The body owns the guard: the request stays busy until hyper has
            // taken the whole answer, however long the client takes to read it.
            Ok(resp.map(move |body| {
                Body::new(body.map_frame(move |frame| {
                    let _ = &busy;
                    frame
                }))
            }))
        })
    }
}

/// What a connection over the limit is told before it is closed.
const REFUSED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
connection: close\r\ncontent-length: 95\r\n\r\n\
{\"error\":\"this server has as many connections open as --max-connections allows; retry shortly\"}";

/// Accepts connections until `shutdown` completes, then lets the open ones
/// finish their requests for at most `drain`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    metrics: Arc<Metrics>,
    limits: &crate::Limits,
    drain: Duration,
    shutdown: impl Future<Output = ()>,
) {
    make_room_for(limits.max_connections);
    let timeouts = Timeouts { header_read: limits.header_read_timeout, idle: limits.idle_timeout };
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The watchdog below does this job and tells idle from slow.
    builder.keep_alive(true).header_read_timeout(None);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.connections.refused.fetch_add(1, Ordering::Relaxed);
            refuse(stream);
            continue;
        };
        // Answers are small: send them at once rather than wait for an ACK.
        let _ = stream.set_nodelay(true);
        let watcher = graceful.watcher();
        let (app, metrics, builder) = (app.clone(), metrics.clone(), builder.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let _open = metrics.connections.opened();
            let clock = Arc::new(Clock::new(Instant::now()));
            let io = TokioIo::new(Watched { inner: stream, clock: clock.clone() });
            let service = App { app: TowerToHyperService::new(app), clock: clock.clone() };
            let conn = watcher.watch(builder.serve_connection(io, service));
            if let Some(why) = watch(conn, &clock, timeouts).await {
                metrics.connections.expired(why);
            }
        });
    }
    tracing::info!("shutting down: finishing the requests in flight");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(drain) => tracing::warn!("requests still in flight after {drain:?}; stopping anyway"),
    }
}

/// Drives a connection until it ends, or closes it (by dropping it) when
/// its phase outlives its timeout; says which timeout, if one did.
pub(crate) async fn watch<C: Future>(conn: C, clock: &Clock, t: Timeouts) -> Option<Expired> {
    tokio::pin!(conn);
    loop {
        let deadline = clock.deadline(t);
        let sleep = async {
            match deadline {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut conn => return None,
            _ = clock.changed.notified() => {}
            _ = sleep => {
                // The phase may have moved on at the same instant: look again.
                if let Some((at, why)) = clock.deadline(t)
                    && at <= Instant::now()
                {
                    tracing::debug!(timeout = ?why, "closing a connection that outlived its timeout");
                    return Some(why);
                }
            }
        }
    }
}

/// Tells a connection over the limit so, as far as the socket takes it
/// without waiting, and closes it.
fn refuse(stream: TcpStream) {
    let _ = stream.try_write(REFUSED);
    // Reading what already arrived lets the close be a clean FIN rather
    // than a reset that could discard the answer before the client reads it.
    let mut sink = [0u8; 4096];
    let _ = stream.try_read(&mut sink);
}

/// Connection errors concern one client; anything else (out of file
/// descriptors, say) is worth a pause before the next try.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::error!("cannot accept a connection: {e}; trying again in 1s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Each connection takes a file descriptor: raises the soft open-file limit
/// towards what `connections` need (as far as the hard limit allows), and
/// says so when the limit stays too low for them.
fn make_room_for(connections: usize) {
    #[cfg(unix)]
    {
        // Room for the store, the registry and the prediction log besides.
        let want = connections as u64 + 256;
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit only writes the struct it is given.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return;
        }
        // rlim_t is u64 on Linux but not everywhere.
        #[allow(clippy::unnecessary_cast)]
        let (soft, hard) = (lim.rlim_cur as u64, lim.rlim_max as u64);
        if soft >= want {
            return;
        }
        let raised = libc::rlimit { rlim_cur: want.min(hard) as libc::rlim_t, rlim_max: lim.rlim_max };
        // SAFETY: setrlimit only reads the struct it is given.
        let now = if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 { want.min(hard) } else { soft };
        if now < want {
            tracing::warn!(
                "the open-file limit is {now}: about {} connections can be open, not the {connections} of \
                 --max-connections; raise it (ulimit -n {want}) or lower --max-connections",
                now.saturating_sub(256)
            );
        }
    }
    #[cfg(not(unix))]
    let _ = connections;
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts { header_read: Duration::from_secs(10), idle: Duration::from_secs(60) };

    #[test]
    fn the_phase_picks_the_timeout() {
        let t0 = Instant::now();
        let c = Clock::new(t0);
        assert_eq!(c.deadline(T), Some((t0 + T.header_read, Expired::Header)), "a new connection owes a head");
        c.read(t0 + Duration::from_secs(3));
        assert_eq!(c.deadline(T), Some((t0 + T.header_read, Expired::Header)), "bytes do not extend a head");
        c.request_started();
        assert_eq!(c.deadline(T), None, "a request being answered has no connection timeout");
        let done = t0 + Duration::from_secs(20);
        c.request_ended(done);
        assert_eq!(c.deadline(T), Some((done + T.idle, Expired::Idle)));
        let next = done + Duration::from_secs(5);
        c.read(next);
        assert_eq!(c.deadline(T), Some((next + T.header_read, Expired::Header)), "the next head is timed anew");
    }

    #[test]
    fn pipelined_requests_keep_the_connection_busy_until_the_last_ends() {
        let t0 = Instant::now();
        let c = Clock::new(t0);
        c.request_started();
        c.request_started();
        c.request_ended(t0);
        assert_eq!(c.deadline(T), None);
        c.request_ended(t0);
        assert_eq!(c.deadline(T), Some((t0 + T.idle, Expired::Idle)));
    }

    #[tokio::test]
    async fn the_watchdog_closes_a_slow_head_and_an_idle_connection_but_not_a_busy_one() {
        let t = Timeouts { header_read: Duration::from_millis(50), idle: Duration::from_millis(100) };
        let clock = Clock::new(Instant::now());
        let started = Instant::now();
        assert_eq!(watch(std::future::pending::<()>(), &clock, t).await, Some(Expired::Header));
        assert!(started.elapsed() >= t.header_read, "never before its time");

        let clock = Arc::new(Clock::new(Instant::now()));
        clock.request_started();
        let c = clock.clone();
        let busy_for = Duration::from_millis(300);
        let started = Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(busy_for).await;
            c.request_ended(Instant::now());
        });
        assert_eq!(watch(std::future::pending::<()>(), &clock, t).await, Some(Expired::Idle));
        assert!(started.elapsed() >= busy_for + t.idle, "busy is never timed out; idle is, after it");

        let clock = Clock::new(Instant::now());
        assert_eq!(watch(async {}, &clock, t).await, None, "a connection that ends is not a timeout");
    }

    #[test]
    fn the_refusal_is_one_well_formed_answer() {
        let text = std::str::from_utf8(REFUSED).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        let length = head.lines().find_map(|l| l.strip_prefix("content-length: ")).unwrap();
        assert_eq!(length.parse::<usize>().unwrap(), body.len());
        assert!(serde_json::from_str::<serde_json::Value>(body).unwrap()["error"].is_string());
    }
}
