//! A connection's socket, counting the bytes it moves so that an idle connection can
//! be told from a busy one without a clock read per read or write.
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub struct Counted {
    stream: TcpStream,
    moved: Arc<AtomicU64>,
}

impl Counted {
    pub fn new(stream: TcpStream) -> (Self, Idle) {
        let moved = Arc::new(AtomicU64::new(0));
        (Self { stream, moved: moved.clone() }, Idle { moved, answering: Arc::default(), last: 0, quiet: 0 })
    }

    fn count(&self, n: usize) {
        if n > 0 {
            self.moved.fetch_add(n as u64, Relaxed);
        }
    }
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        self.count(buf.filled().len() - before);
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.count(n);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            self.count(n);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Checks a few times per `server.idle_timeout`; a connection is idle once no byte
/// moved for that long (give or take a quarter of it).
pub struct Idle {
    moved: Arc<AtomicU64>,
    /// Requests being answered: a connection waiting for its answer (a long import,
    /// a slow upstream) moves no byte, yet it is not idle.
    answering: Arc<AtomicU64>,
    last: u64,
    quiet: u32,
}

const CHECKS: u32 = 4;

impl Idle {
    /// Held while a request of this connection is answered.
    pub fn answering(&self) -> Answering {
        self.answering.fetch_add(1, Relaxed);
        Answering(self.answering.clone())
    }

    /// A handle that [`Idle::answering`] can be called on from the connection's service.
    pub fn watch(&self) -> Self {
        Self { moved: self.moved.clone(), answering: self.answering.clone(), last: 0, quiet: 0 }
    }

    /// Completes when the connection has been idle for `timeout`.
    pub async fn expired(&mut self, timeout: Duration) {
        loop {
            tokio::time::sleep(timeout / CHECKS).await;
            let moved = self.moved.load(Relaxed);
            if moved != self.last || self.answering.load(Relaxed) > 0 {
                (self.last, self.quiet) = (moved, 0);
            } else {
                self.quiet += 1;
                if self.quiet >= CHECKS {
                    return;
                }
            }
        }
    }
}

/// One request being answered; dropped with its answer (or when the client went away).
pub struct Answering(Arc<AtomicU64>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}
