//! The HTTP surface: `POST /graphql` and `GET /graphql` (GraphQL over HTTP, GraphiQL for
//! browsers; `GET /` redirects there), `/graphql/ws` (GraphQL over WebSocket), `GET /metrics`,
//! `GET /health`; request ids, request logging, CORS and graceful shutdown; and the connections
//! under them: HTTP/1.1 served by hyper with a header read timeout, caps on open connections
//! (in all and per address), and the open-files limit raised at start. The protocols live in
//! `crate::http` and
//! `crate::ws`; this module puts them together.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::graphql::{self, NishanSchema};
use crate::state::AppState;

/// What every handler shares: the application state and the schema.
#[derive(Clone)]
pub(crate) struct Server {
    pub(crate) state: AppState,
    pub(crate) schema: NishanSchema,
}

/// The application's router.
///
/// Panics when `NISHAN_CORS_ORIGINS` holds an invalid origin (`nishan serve` checks it
/// first, with a readable error).
pub fn router(state: AppState) -> Router {
    let schema = graphql::build_schema(state.clone());
    let cors = crate::http::cors::layer(&state.settings.surface.cors_origins).expect("valid CORS origins");
    let production = state.settings.surface.production;
    let server = Server { state, schema };
    let trace = TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
        let request_id =
            req.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or("");
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id)
    });
    let mut router = Router::new()
        .route("/graphql", get(crate::http::graphql::get).post(crate::http::graphql::post))
        .route("/graphql/ws", get(crate::ws::upgrade))
        .route("/metrics", get(crate::http::metrics::scrape))
        .route("/artifacts/{id}", get(crate::http::artifacts::get))
        .route("/dashboard", get(crate::http::dashboard::page))
        .route("/dashboard/assets/{name}", get(crate::http::dashboard::asset))
        .route("/health", get(health));
    if !production {
        router = router
            .route("/graphiql/assets/{name}", get(crate::http::graphiql::asset))
            // A browser pointed at the server's address finds GraphiQL.
            .route("/", get(|| async { axum::response::Redirect::temporary("/graphql") }));
    }
    let mut router = router.with_state(server);
    if let Some(cors) = cors {
        router = router.layer(cors);
    }
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(trace)
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// 200 when the database answers, 503 otherwise.
async fn health(State(server): State<Server>) -> Response {
    let ok = nishan_infrastructure::db::ping(server.state.store.connection()).await;
    let (status, body) = if ok {
        (StatusCode::OK, json!({"status": "ok", "database": "ok"}))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "unavailable", "database": "unreachable"}))
    };
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What the server allows each connection, from the settings.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// How long a client has to send a request's headers (an idle connection waits as long).
    pub header_read_timeout: Duration,
    /// Most connections at once.
    pub max_connections: usize,
    /// Most connections at once from one address (trusted proxies excepted).
    pub max_connections_per_ip: usize,
    /// Addresses exempt from the per-address cap (the trusted proxies).
    pub exempt: Vec<ipnet::IpNet>,
}

impl ConnectionLimits {
    /// The limits the settings ask for, the connection cap kept under the open-files limit
    /// (with room for the database pool, the log and the data files).
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        let c = &settings.connections;
        let files = open_files_limit().unwrap_or(1024);
        let room = usize::try_from(files.saturating_sub(64)).unwrap_or(usize::MAX).max(16);
        Self {
            header_read_timeout: Duration::from_millis(c.header_read_timeout_ms.max(1)),
            max_connections: c.max_connections.clamp(1, room),
            max_connections_per_ip: c.max_connections_per_ip.max(1),
            exempt: c.trusted_proxies.clone(),
        }
    }
}

/// Raises the open-files soft limit to the hard limit (each connection holds a file), and
/// returns the soft limit now in force. Called once at start.
pub fn raise_open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        // An unlimited hard limit (macOS) cannot be the soft one: take a large number.
        let target = limit.maximum.unwrap_or(1 << 20);
        if limit.current.is_some_and(|c| c < target) {
            let raised = Rlimit { current: Some(target), maximum: limit.maximum };
            if setrlimit(Resource::Nofile, raised).is_err() {
                let _ = setrlimit(Resource::Nofile, Rlimit { current: Some(10_240.min(target)), ..raised });
            }
        }
    }
    open_files_limit()
}

/// The open-files soft limit in force (`None`: unlimited or unknown).
pub fn open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Open connections, in all and per address; a connection leaves when its guard drops.
#[derive(Default)]
struct Admissions {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

struct Admitted {
    admissions: Arc<Mutex<Admissions>>,
    ip: IpAddr,
}

/// A connection's place under the caps, in each of its requests' extensions. hyper's
/// connection future ends when a request upgrades, so the WebSocket handler keeps a clone for
/// as long as the socket is open: an open WebSocket counts toward the caps like any
/// connection, and its place is given back only when both the HTTP connection and the socket
/// have ended.
#[derive(Clone)]
pub struct ConnectionSlot(#[allow(dead_code)] Arc<Admitted>);

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut a = self.admissions.lock().expect("admissions lock");
        a.total -= 1;
        if let Some(n) = a.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                a.per_ip.remove(&self.ip);
            }
        }
    }
}

fn admit(admissions: &Arc<Mutex<Admissions>>, limits: &ConnectionLimits, ip: IpAddr) -> Option<Admitted> {
    let ip = ip.to_canonical();
    let mut a = admissions.lock().expect("admissions lock");
    if a.total >= limits.max_connections {
        return None;
    }
    let exempt = limits.exempt.iter().any(|net| net.contains(&ip));
    let mine = a.per_ip.get(&ip).copied().unwrap_or(0);
    if !exempt && mine >= limits.max_connections_per_ip {
        return None;
    }
    a.total += 1;
    *a.per_ip.entry(ip).or_insert(0) += 1;
    Some(Admitted { admissions: Arc::clone(admissions), ip })
}

/// The answer to a connection over a cap: written if the socket takes it at once, then the
/// connection is closed (its file is free again straight away).
const OVER_CAPACITY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n";

/// Serves until SIGINT or SIGTERM, then finishes the requests in flight.
pub async fn serve(listener: tokio::net::TcpListener, app: Router, limits: ConnectionLimits) -> std::io::Result<()> {
    serve_until(listener, app, limits, shutdown_signal()).await
}

/// Serves HTTP/1.1 (with upgrades, for WebSockets) until `shutdown` completes, then lets the
/// connections finish their requests. Each connection must send its request headers within
/// the header read timeout (hyper closes it otherwise; an idle keep-alive connection too),
/// and connections over the caps are answered 503 and closed at once.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let admissions = Arc::new(Mutex::new(Admissions::default()));
    // Closed when the server stops; each connection then finishes gracefully.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of files (or another passing fault): wait a moment rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Some(admitted) = admit(&admissions, &limits, peer.ip()) else {
            crate::metrics::record_rate_limited("connection");
            // Take what the client sent already (closing over unread bytes would reset the
            // connection before the answer is read), answer, close.
            let _ = stream.try_read(&mut [0u8; 2048]);
            let _ = stream.try_write(OVER_CAPACITY);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let slot = ConnectionSlot(Arc::new(admitted));
        let service = tower::service_fn(move |mut request: axum::http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            request.extensions_mut().insert(slot.clone());
            let mut app = app.clone();
            async move { tower::Service::call(&mut app, request.map(axum::body::Body::new)).await }
        });
        let mut stop = stop_rx.clone();
        let header_read_timeout = limits.header_read_timeout;
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout).keep_alive(true);
            let connection =
                builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)).with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stop.changed() => {}
            }
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        });
    }
    drop(stop_tx);
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_limit() {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let before = getrlimit(Resource::Nofile);
        let Some(hard) = before.maximum else { return };
        // Start from a low soft limit, as many systems do (1024).
        let low = hard.min(256);
        setrlimit(Resource::Nofile, Rlimit { current: Some(low), maximum: Some(hard) }).unwrap();
        assert_eq!(open_files_limit(), Some(low));
        assert_eq!(raise_open_files_limit(), Some(hard));
        assert_eq!(getrlimit(Resource::Nofile).current, Some(hard));
    }

    #[test]
    fn connections_are_capped_in_all_and_per_address() {
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(1),
            max_connections: 3,
            max_connections_per_ip: 2,
            exempt: vec!["10.0.0.1/32".parse().unwrap()],
        };
        let admissions = Arc::new(Mutex::new(Admissions::default()));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let first = admit(&admissions, &limits, a).unwrap();
        let _second = admit(&admissions, &limits, a).unwrap();
        assert!(admit(&admissions, &limits, a).is_none(), "two per address");
        let _third = admit(&admissions, &limits, proxy).unwrap();
        assert!(admit(&admissions, &limits, proxy).is_none(), "three in all");
        drop(first);
        let again = admit(&admissions, &limits, a);
        assert!(again.is_some(), "a closed connection frees its place");
        drop(_third);
        // An IPv4 peer seen as an IPv4-mapped IPv6 address is the same address.
        assert!(admit(&admissions, &limits, "::ffff:192.0.2.1".parse().unwrap()).is_none());
    }
}
