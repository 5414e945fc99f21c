//! Accepted connections: the setup every accepted socket gets (`TCP_NODELAY`, §12/§16), and a
//! [`ResetSwitch`] per connection that a handler trips to end its connection with a TCP RST
//! instead of a FIN (the "connection reset mid-stream" fault).
//!
//! Invariant: a connection whose switch was never tripped behaves exactly like the bare socket.
//! A tripped one skips the FIN of a graceful shutdown and sets `SO_LINGER 0` before its socket
//! is closed, so the kernel sends RST and the peer reads `ECONNRESET` after the bytes it
//! already received.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Trips a connection's reset: once tripped, the connection ends with RST when it is dropped.
/// The edge middleware reads it from `ConnectInfo<ResetSwitch>` and hands it over with a
/// scripted stream fault ([`StreamFault`](super::chat::StreamFault)).
#[derive(Debug, Clone, Default)]
pub struct ResetSwitch(Arc<AtomicBool>);

impl ResetSwitch {
    /// Marks the connection for reset; the server then drops it (e.g. on a body error).
    pub fn trip(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`trip`](Self::trip) was called.
    pub fn tripped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// An accepted, configured connection with its reset switch.
#[derive(Debug)]
pub struct Connection {
    tcp: TcpStream,
    reset: ResetSwitch,
}

impl Connection {
    /// Sets `TCP_NODELAY` on `tcp` and gives it a fresh switch.
    pub fn new(tcp: TcpStream) -> Self {
        // Nagle plus delayed ACK costs ~40 ms per small answer (§12); failure only costs latency.
        let _ = tcp.set_nodelay(true);
        Connection {
            tcp,
            reset: ResetSwitch::default(),
        }
    }

    /// This connection's switch.
    pub fn reset_switch(&self) -> ResetSwitch {
        self.reset.clone()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.reset.tripped() {
            // Linger 0 turns the close below into an RST; failing leaves a normal close.
            let _ = self.tcp.set_zero_linger();
        }
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
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

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.reset.tripped() {
            // No FIN: the drop that follows sends the RST.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// A TCP listener whose accepted sockets are [`Connection`]s.
#[derive(Debug)]
pub struct ConnListener(TcpListener);

impl ConnListener {
    /// Wraps a bound listener.
    pub fn new(listener: TcpListener) -> Self {
        ConnListener(listener)
    }
}

impl Listener for ConnListener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        // axum's accept retries (with a pause) on errors such as running out of descriptors.
        let (tcp, addr) = Listener::accept(&mut self.0).await;
        (Connection::new(tcp), addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, ConnListener>> for ResetSwitch {
    fn connect_info(stream: IncomingStream<'_, ConnListener>) -> Self {
        stream.io().reset_switch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    async fn accepted() -> io::Result<(Connection, TcpStream)> {
        let mut listener = ConnListener::new(TcpListener::bind("127.0.0.1:0").await?);
        let peer = TcpStream::connect(listener.local_addr()?).await?;
        let (conn, _) = listener.accept().await;
        Ok((conn, peer))
    }

    #[tokio::test]
    async fn accepted_sockets_have_nodelay() -> io::Result<()> {
        let (conn, _peer) = accepted().await?;
        assert!(conn.tcp.nodelay()?, "TCP_NODELAY on the accepted socket");
        Ok(())
    }

    #[tokio::test]
    async fn an_untripped_connection_closes_with_fin() -> io::Result<()> {
        let (mut conn, mut peer) = accepted().await?;
        conn.write_all(b"hello").await?;
        conn.shutdown().await?;
        drop(conn);
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await?;
        assert_eq!(got, b"hello");
        Ok(())
    }

    #[tokio::test]
    async fn a_tripped_connection_is_reset_after_its_bytes() -> io::Result<()> {
        let (mut conn, mut peer) = accepted().await?;
        conn.write_all(b"hello").await?;
        let switch = conn.reset_switch();
        switch.trip();
        assert!(conn.reset_switch().tripped());
        conn.shutdown().await?; // skipped: no FIN
        drop(conn);
        let mut got = [0u8; 5];
        peer.read_exact(&mut got).await?;
        assert_eq!(&got, b"hello", "bytes sent before the reset still arrive");
        let mut rest = Vec::new();
        let err = peer.read_to_end(&mut rest).await.err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::ConnectionReset));
        Ok(())
    }
}
