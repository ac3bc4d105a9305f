//! Binding, serving and graceful shutdown.

use crate::config::Config;
use crate::http::{self, State};
use crate::service::{App, StartError};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A server that is listening.
pub struct Running {
    pub addr: SocketAddr,
    pub issuer: String,
    pub app: App,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish, and waits for the end.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = self.task.await.unwrap_or(Ok(()));
        self.app.db.close().await;
        result
    }
}

/// Opens the database, binds the listener and starts serving in the background.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let app = App::open(config).await?;
    app.ensure_admin()
        .await
        .map_err(|e| StartError::Other(format!("cannot create the initial admin: {e}")))?;
    // Shared login counters (SPEC §6): a Redis that was named must answer.
    app.throttle
        .ping()
        .await
        .map_err(|e| StartError::Other(e.to_string()))?;
    let bind = app.config.bind.clone();
    let listener = TcpListener::bind(&bind)
        .await
        .map_err(|source| StartError::Bind {
            addr: bind.clone(),
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr: bind, source })?;
    let issuer = app
        .config
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    app.set_bound_issuer(issuer.clone());
    let state = Arc::new(State {
        app: app.clone(),
        issuer: issuer.clone(),
    });
    let router = http::router(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await
    });
    tokio::spawn(purge_expired(app.clone()));
    tokio::spawn(refresh_keys(app.clone()));
    tracing::info!("listening on http://{addr}");
    Ok(Running {
        addr,
        issuer,
        app,
        stop: Some(stop),
        task,
    })
}

/// Deletes expired codes, tokens, sessions and reset links every ten minutes, so
/// the tables do not grow without bound; the first time a minute after the start,
/// not while the server is starting (a purge at once raced with the first requests,
/// and with tests that purge themselves).
async fn purge_expired(app: App) {
    let start = tokio::time::Instant::now() + PURGE_FIRST;
    let mut tick = tokio::time::interval_at(start, PURGE_EVERY);
    loop {
        tick.tick().await;
        if app.db.pool().is_closed() {
            return;
        }
        match app.db.purge_expired(crate::time::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "purged expired rows"),
            Err(e) => tracing::warn!(error = %e, "purge of expired rows failed"),
        }
    }
}

/// Re-reads the signing keys once a minute when another instance (or `usercenter
/// keys rotate`) changed them, so every instance signs with the active key soon
/// after a rotation; retired keys stay valid and published meanwhile.
async fn refresh_keys(app: App) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + KEYS_EVERY, KEYS_EVERY);
    loop {
        tick.tick().await;
        if app.db.pool().is_closed() {
            return;
        }
        if let Err(e) = app.keys.refresh().await {
            tracing::warn!(error = %e, "could not re-read the signing keys");
        }
    }
}

/// How often the signing keys are checked for changes.
const KEYS_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// How long after the start expired rows are first purged.
const PURGE_FIRST: std::time::Duration = std::time::Duration::from_secs(60);
/// How often they are purged after that.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Serves until SIGTERM or SIGINT, then finishes the requests in flight.
pub async fn run(config: Config) -> Result<(), StartError> {
    // The handlers are installed before the address is logged: a supervisor that
    // sends SIGTERM as soon as it sees "listening on" must get a graceful stop.
    let stop = shutdown_signal()?;
    let running = start(config).await?;
    stop.await;
    tracing::info!("shutting down: finishing requests in flight");
    running
        .shutdown()
        .await
        .map_err(|e| StartError::Other(format!("server error: {e}")))
}

/// A future that resolves on SIGTERM or SIGINT; the handlers are in place when this
/// returns.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, StartError> {
    use tokio::signal::unix::{SignalKind, signal};
    let install =
        |kind| signal(kind).map_err(|e| StartError::Other(format!("cannot handle signals: {e}")));
    let mut term = install(SignalKind::terminate())?;
    let mut int = install(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    })
}
