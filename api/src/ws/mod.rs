//! GraphQL over WebSocket at `/graphql/ws`: the protocols (`protocol`, `message`, `close`)
//! and Nishan's way of signing a connection in. The `connection_init` payload carries the
//! token (`{"Authorization": "Bearer <token>"}` or `{"token": "<token>"}`); a bad token is
//! refused (4403), no token is an anonymous connection. Each operation looks the token up
//! again, so a session ended by `logout` stops working on open connections too.

pub mod close;
pub mod message;
pub mod protocol;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use nishan_domain::audit::RequestMeta;
use serde_json::Value;

use self::message::Protocol;
use self::protocol::{ConnectionHandler, Limits};
use crate::auth::{self, Viewer};
use crate::server::Server;
use crate::state::AppState;

/// Most operations one connection may run at once (a dashboard needs a handful).
pub const MAX_OPERATIONS: usize = 100;

/// `GET /graphql/ws`: the upgrade.
pub(crate) async fn upgrade(
    State(server): State<Server>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let settings = &server.state.settings;
    let limits = Limits {
        init_timeout: Duration::from_millis(settings.surface.ws_init_timeout_ms),
        operation_timeout: Duration::from_millis(settings.surface.request_timeout_ms),
        keep_alive: Duration::from_secs(12),
        max_operations: MAX_OPERATIONS,
    };
    let max_message = settings.max_body_bytes();
    let upgrade = upgrade.protocols(Protocol::NAMES).max_message_size(max_message);
    let protocol = upgrade.selected_protocol().and_then(|p| p.to_str().ok()).and_then(Protocol::from_name);
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let handler = Signin { state: server.state.clone(), headers, peer };
    upgrade.on_upgrade(move |socket| protocol::serve(socket, protocol, server.schema, handler, limits, request_id))
}

/// Signs connections in with the token of their `connection_init`.
struct Signin {
    state: AppState,
    headers: HeaderMap,
    peer: SocketAddr,
}

/// A signed-in connection: its token (looked up again for each operation).
struct Session {
    token: Option<String>,
}

impl ConnectionHandler for Signin {
    type Session = Session;

    async fn init(&self, payload: Value) -> Result<Session, String> {
        let token = auth::token_from_init(&payload);
        match Viewer::from_token(&self.state, token.as_deref()).await {
            Ok(Viewer::InvalidToken) => Err("invalid or expired token".into()),
            Ok(_) => Ok(Session { token }),
            Err(e) => {
                // Logged with a correlation id; the client only learns it was refused.
                let _ = crate::error::to_graphql(e);
                Err("the server could not check the token".into())
            }
        }
    }

    async fn prepare(&self, session: &Session, mut request: async_graphql::Request) -> async_graphql::Request {
        let viewer = match Viewer::from_token(&self.state, session.token.as_deref()).await {
            Ok(viewer) => viewer,
            Err(e) => {
                let _ = crate::error::to_graphql(e);
                Viewer::InvalidToken
            }
        };
        let proxies = self.state.settings.connections.proxies();
        let meta: RequestMeta = auth::request_meta(&self.headers, Some(self.peer), &viewer, proxies);
        request.data = crate::graphql::request_data(&self.state, viewer, meta, None);
        request
    }
}
