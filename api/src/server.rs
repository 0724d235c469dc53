//! The HTTP surface: `POST /graphql`, GraphiQL on `GET /graphql` for browsers,
//! `/graphql/ws` for subscriptions, `GET /health`; request logging and graceful shutdown.

use std::net::SocketAddr;
use std::time::Instant;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::FromRequest;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{self, Viewer};
use crate::graphql::{self, NishanSchema};
use crate::state::AppState;

#[derive(Clone)]
struct Server {
    state: AppState,
    schema: NishanSchema,
}

/// The application's router.
pub fn router(state: AppState) -> Router {
    let schema = graphql::build_schema(state.clone());
    let server = Server { state, schema };
    let trace = TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
        let request_id =
            req.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or("");
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id)
    });
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route("/health", get(health))
        .with_state(server)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(trace)
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

async fn execute(
    server: &Server,
    headers: &HeaderMap,
    peer: SocketAddr,
    request: async_graphql::Request,
) -> GraphQLResponse {
    let started = Instant::now();
    let operation = request.operation_name.clone().unwrap_or_default();
    let viewer = match Viewer::from_token(&server.state, auth::bearer(headers)).await {
        Ok(v) => v,
        Err(e) => {
            let err = crate::error::to_graphql(e).into_server_error(Default::default());
            return async_graphql::Response::from_errors(vec![err]).into();
        }
    };
    let meta = auth::request_meta(headers, Some(peer), &viewer);
    let mut request = request;
    let batches = graphql::batching::BatchQueue::default();
    request.data = graphql::request_data(&server.state, viewer, meta, Some(&batches));
    let response = batches.run(server.schema.execute(request)).await;
    let outcome = if response.errors.is_empty() { "ok" } else { "error" };
    tracing::info!(operation = %operation, outcome, elapsed_ms = started.elapsed().as_millis() as u64, "graphql");
    response.into()
}

async fn graphql_post(
    State(server): State<Server>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    execute(&server, &headers, peer, request.into_inner()).await
}

/// GraphiQL for a browser (it asks for HTML); a GraphQL query in the query string otherwise.
async fn graphql_get(
    State(server): State<Server>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    let headers = request.headers().clone();
    let wants_html =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        let page =
            GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql/ws").title("Nishan").finish();
        return Html(page).into_response();
    }
    match GraphQLRequest::<GraphQLRejection>::from_request(request, &()).await {
        Ok(request) => execute(&server, &headers, peer, request.into_inner()).await.into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

/// GraphQL over WebSocket (`graphql-transport-ws`, and legacy `graphql-ws`). The caller signs
/// in through the `connection_init` payload.
async fn graphql_ws(
    State(server): State<Server>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| async move {
        let state = server.state.clone();
        GraphQLWebSocket::new(socket, server.schema.clone(), protocol)
            .on_connection_init(move |payload| async move {
                let token = auth::token_from_init(&payload);
                let viewer = Viewer::from_token(&state, token.as_deref())
                    .await
                    .map_err(|e| async_graphql::Error::new(e.to_string()))?;
                if matches!(viewer, Viewer::InvalidToken) {
                    return Err(async_graphql::Error::new("invalid or expired token"));
                }
                let meta = auth::request_meta(&headers, Some(peer), &viewer);
                Ok(graphql::request_data(&state, viewer, meta, None))
            })
            .serve()
            .await
    })
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
