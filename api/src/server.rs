//! The HTTP surface: `POST /graphql` and `GET /graphql` (GraphQL over HTTP, GraphiQL for
//! browsers; `GET /` redirects there), `/graphql/ws` (GraphQL over WebSocket), `GET /metrics`,
//! `GET /health`; request
//! ids, request logging, CORS and graceful shutdown. The protocols live in `crate::http` and
//! `crate::ws`; this module puts them together.

use std::net::SocketAddr;

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

/// Serves until SIGINT or SIGTERM, then finishes the requests in flight.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
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
