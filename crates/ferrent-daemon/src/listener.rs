//! [`BoundedListener`]: at most N HTTP connections at once. `axum::serve` accepts without limit;
//! this listener takes a slot before each accept and the connection gives it back when it
//! closes, so beyond the limit new clients wait in the kernel's accept queue (backpressure)
//! instead of each costing the daemon a task and buffers. A connection with no traffic either
//! way for the idle timeout ([`crate::HTTP_IDLE_TIMEOUT`] by default) is closed, so idle
//! clients cannot keep every slot.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// A TCP listener for `axum::serve` that keeps at most `max` connections open.
pub struct BoundedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    idle: Duration,
}

impl BoundedListener {
    /// Wraps `inner`, allowing `max` connections at once (at least 1), each closed after
    /// [`crate::HTTP_IDLE_TIMEOUT`] without traffic.
    pub fn new(inner: TcpListener, max: usize) -> Self {
        BoundedListener {
            inner,
            slots: Arc::new(Semaphore::new(max.max(1))),
            idle: crate::HTTP_IDLE_TIMEOUT,
        }
    }

    /// The same with another idle timeout (tests use a short one).
    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }
}

/// An accepted connection holding its slot until dropped; reading or writing fails with
/// `TimedOut` once it has been idle too long, which makes the server close it.
pub struct BoundedStream {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    idle: Duration,
    /// When the connection counts as idle; moved on by every byte read or written.
    deadline: Pin<Box<Sleep>>,
}

impl BoundedStream {
    /// Moves the deadline on after traffic.
    fn touch(&mut self) {
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    /// What a read or write of the socket returned, seen by the idle deadline: a result moves
    /// the deadline on; `Pending` becomes an error once the deadline has passed (the timer
    /// wakes the task when it does).
    fn watch<T>(&mut self, cx: &mut Context<'_>, io: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if io.is_ready() {
            self.touch();
            return io;
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "HTTP connection idle for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl axum::serve::Listener for BoundedListener {
    type Io = BoundedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed, so acquiring only waits.
        let Ok(slot) = self.slots.clone().acquire_owned().await else {
            return std::future::pending().await;
        };
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        (
            BoundedStream {
                stream,
                _slot: slot,
                idle: self.idle,
                deadline: Box::pin(tokio::time::sleep(self.idle)),
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl AsyncRead for BoundedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let io = Pin::new(&mut this.stream).poll_read(cx, buf);
        this.watch(cx, io)
    }
}

impl AsyncWrite for BoundedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let io = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.watch(cx, io)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let io = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.watch(cx, io)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
