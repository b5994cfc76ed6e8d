//! Accepting connections: what `axum::serve` does, plus the two bounds it has no
//! setting for.
//!
//! - **A header-read timeout** (`gateway.header_read_timeout_ms`): a client that opens a
//!   connection and sends its request headers slowly, or never finishes them, is
//!   disconnected when the time is up, so idle half-requests (slowloris) cannot hold
//!   the gateway's connections.
//! - **A connection cap** (`gateway.max_connections`): a connection accepted beyond it
//!   is closed at once, and counted in `gateway_connections_refused_total`. The count
//!   is held by the TCP stream itself ([`Counted`]), so an upgraded WebSocket keeps
//!   counting until it closes, not only while its HTTP request is served.
//!
//! With TLS (`crate::tls`), the handshake runs inside the same accounting: it holds a
//! slot and must finish within the header-read timeout, so clients that open
//! connections and never finish the handshake are bounded the same way.
//!
//! HTTP/1.1 only, with upgrades (the WebSocket); the peer's address is put in each
//! request as `ConnectInfo`, as `axum::serve` does, for throttling by address.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long connections still serving a request get after shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

/// Serve `app` on `listener` until `stop`, then give requests in flight [`DRAIN`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, or a connection reset before accept: keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics::counter!("gateway_connections_refused_total").increment(1);
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let counted = Counted { tcp, _slot: slot };
        let app = app.clone();
        let stop = stop.clone();
        let tls = tls.clone();
        let header_read_timeout = limits.header_read_timeout;
        connections.spawn(async move {
            match tls {
                None => serve_connection(counted, peer, app, header_read_timeout, stop).await,
                Some(acceptor) => {
                    // The handshake holds the connection's slot and is bounded by the
                    // header-read timeout: a client that never finishes it is dropped.
                    let handshake = tokio::time::timeout(header_read_timeout, acceptor.accept(counted));
                    let tls_stream = tokio::select! {
                        done = handshake => match done {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                metrics::counter!("gateway_tls_handshakes_failed_total").increment(1);
                                tracing::debug!(error = %e, %peer, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                metrics::counter!("gateway_tls_handshakes_failed_total").increment(1);
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        },
                        _ = stop.cancelled() => return,
                    };
                    serve_connection(tls_stream, peer, app, header_read_timeout, stop).await
                }
            }
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::warn!("requests still in flight after the drain period");
    }
    Ok(())
}

/// HTTP/1.1 with upgrades on one accepted (and, with TLS, handshaken) connection.
async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    header_read_timeout: Duration,
    stop: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        _ = stop.cancelled() => {
            // Finish the request in flight, take no more on this connection.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(error = %e, %peer, "connection ended with an error");
    }
}

/// A TCP stream that holds one of the connection slots for as long as it lives.
struct Counted {
    tcp: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}
