//! Serving connections the way nginx's workers serve them: one single-threaded runtime
//! per core, each accepting on its own handle of the listening socket and keeping a
//! connection from its first byte to its last, with its own upstream pool. A worker
//! that accepts more than its share hands the connection to the least busy one before
//! reading it (`balance`). No request
//! hops between threads, which on a busy 2-core machine cut the proxy's p99 tail from
//! about 1.3 ms to 0.3 ms (README, Proxy). Everything that touches the database runs
//! on the runtime that called [`serve`], where the pools, the audit writer and the
//! ended-session feed live: only Bearer proxy requests stay on the connection's thread.
mod balance;
mod connection;
mod io;
mod limits;
pub(crate) mod timers;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::app::AppState;
use balance::{Balance, Handoff};
use connection::Requests;
use limits::ConnectionLimits;

/// Serves until `shutdown` completes; then stops accepting, lets open requests finish
/// for at most `server.shutdown_grace`, closes what remains and writes out the queued
/// audit events. Tests pass a listener bound to port 0.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let server = &state.auth.config.server;
    raise_fd_limit(server.max_connections);
    let limits =
        ConnectionLimits::new(server.max_connections, server.max_connections_per_ip, &state.metrics.connections);
    let listener = listener.into_std()?;
    let (stop, stopped) = watch::channel(false);
    let main = tokio::runtime::Handle::current();
    let workers = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 64);
    let mut threads = Vec::with_capacity(workers);
    let (balance, inboxes) = Balance::new(workers);
    for (index, inbox) in inboxes.into_iter().enumerate() {
        let worker = Worker {
            index,
            balance: balance.clone(),
            inbox,
            listener: listener.try_clone()?,
            state: state.clone(),
            main: main.clone(),
            limits: limits.clone(),
            grace: server.shutdown_grace,
        };
        let stopped = stopped.clone();
        let thread =
            std::thread::Builder::new().name(format!("doorman-http-{index}")).spawn(move || worker.run(stopped))?;
        threads.push(thread);
    }
    drop(listener);
    shutdown.await;
    tracing::info!(grace = ?server.shutdown_grace, "shutting down: no new connections; open requests may finish");
    let _ = stop.send(true);
    let served = tokio::task::spawn_blocking(move || {
        threads
            .into_iter()
            .try_for_each(|t| t.join().unwrap_or_else(|_| Err(std::io::Error::other("a worker panicked"))))
    })
    .await
    .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    state.flush_audit().await;
    tracing::info!("stopped: every connection closed and the audit trail written");
    served
}

struct Worker {
    index: usize,
    balance: Arc<Balance>,
    inbox: tokio::sync::mpsc::UnboundedReceiver<Handoff>,
    listener: std::net::TcpListener,
    state: Arc<AppState>,
    main: tokio::runtime::Handle,
    limits: Arc<ConnectionLimits>,
    grace: Duration,
}

impl Worker {
    fn run(self, stopped: watch::Receiver<bool>) -> std::io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        // Dropping the runtime drops the connections that outlived the grace period.
        runtime.block_on(self.accept(stopped))
    }

    async fn accept(mut self, mut stopped: watch::Receiver<bool>) -> std::io::Result<()> {
        let listener = TcpListener::from_std(self.listener)?;
        let config = &self.state.auth.config.server;
        let requests = Arc::new(Requests {
            router: crate::http::router(self.state.clone()),
            state: self.state.clone(),
            main: self.main,
            header_timeout: config.request_header_timeout,
            body_timeout: config.request_body_timeout,
            idle_timeout: config.idle_timeout,
        });
        let mut connections = JoinSet::new();
        let stopping = stopped.clone();
        loop {
            tokio::select! {
                biased;
                _ = stopped.wait_for(|stop| *stop) => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                Some(handed) = self.inbox.recv() => {
                    let Ok(stream) = tokio::net::TcpStream::from_std(handed.stream) else { continue };
                    let (requests, stopping) = (requests.clone(), stopping.clone());
                    connections.spawn(async move {
                        let _slot = handed.slot;
                        connection::serve(stream, handed.peer, handed.permit, requests, stopping).await;
                    });
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        // Over a cap: dropped here, closed before a byte is read.
                        let Some(permit) = self.limits.admit(peer.ip()) else { continue };
                        let _ = stream.set_nodelay(true);
                        let (worker, slot) = self.balance.place(self.index);
                        if worker != self.index {
                            if let Ok(stream) = stream.into_std() {
                                self.balance.hand_off(worker, Handoff { stream, peer, permit, slot });
                            }
                            continue;
                        }
                        let (requests, stopping) = (requests.clone(), stopping.clone());
                        connections.spawn(async move {
                            let _slot = slot;
                            connection::serve(stream, peer, permit, requests, stopping).await;
                        });
                    }
                    Err(e) => pause_after(e).await,
                },
            }
        }
        drop(listener);
        let drained = tokio::time::timeout(self.grace, async { while connections.join_next().await.is_some() {} });
        if drained.await.is_err() {
            tracing::warn!(open = connections.len(), "closing the connections still open after server.shutdown_grace");
        }
        Ok(())
    }
}

/// A failed accept: a client that left already is nothing; out of file descriptors,
/// waiting a moment lets connections close instead of spinning.
async fn pause_after(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::warn!(%error, "cannot accept connections");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Each connection holds a file descriptor: the soft limit goes up to the hard one, and
/// a cap the limit cannot hold is said at start-up.
fn raise_fd_limit(max_connections: usize) {
    let Ok((_, hard)) = rlimit::Resource::NOFILE.get() else { return };
    let limit = rlimit::increase_nofile_limit(hard).unwrap_or(0);
    // Room for the database pools, upstream connections and files.
    let needed = max_connections as u64 + 256;
    if limit > 0 && limit < needed {
        tracing::warn!(
            limit,
            max_connections,
            "the open-file limit is below server.max_connections + 256: raise `ulimit -n` or lower the cap"
        );
    }
}
