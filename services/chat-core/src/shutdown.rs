//! How every binary learns it should stop: SIGINT (ctrl-c at a terminal) or SIGTERM
//! (what `infra/dev down`, systemd and Kubernetes send). Services stop in order on either
//! (finish the chunk or drain the sockets, flush, commit) instead of dying mid-write, so
//! both must be caught, and caught the same way in every binary.

use tokio_util::sync::CancellationToken;

/// Completes at the first SIGINT or SIGTERM.
pub async fn signalled() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for SIGINT; SIGTERM still stops this process");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = interrupt => {}
        _ = terminated() => {}
    }
}

/// A token cancelled at the first SIGINT or SIGTERM, for the tasks that stop on it.
/// Spawns its watcher: call it inside the runtime.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        signalled().await;
        cancel.cancel();
    });
    token
}

#[cfg(unix)]
async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            term.recv().await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; SIGINT still stops this process");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn terminated() {
    std::future::pending::<()>().await;
}
