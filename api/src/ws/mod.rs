//! GraphQL over WebSocket at `/graphql/ws`: the protocols (`protocol`, `message`, `close`)
//! and Nishan's way of signing a connection in. The `connection_init` payload carries the
//! token (`{"Authorization": "Bearer <token>"}` or `{"token": "<token>"}`); a bad token is
//! refused (4403), no token is an anonymous connection. Each operation looks the token up
//! again, so a session ended by `logout` stops working on open connections too; a running
//! subscription checks the connection's access for each event (`ConnectionAccess`, one per
//! connection).
//!
//! Each socket reads into a small buffer (tungstenite's default is 128 KiB a socket, most of
//! an idle subscriber's memory) and writes each message as it goes, holding at most
//! [`max_write_buffer`] unsent bytes; a client that stops reading is disconnected once a send
//! has waited `NISHAN_WS_SEND_TIMEOUT_MS`.

pub mod close;
pub mod message;
pub mod protocol;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use nishan_domain::audit::RequestMeta;
use serde_json::Value;

use self::message::Protocol;
use self::protocol::{ConnectionHandler, Limits};
use crate::auth::{self, Viewer};
use crate::graphql::NishanSchema;
use crate::graphql::subscription::access::ConnectionAccess;
use crate::graphql::subscription::hub::{Operation, ShareWith};
use crate::server::{ConnectionSlot, Server};
use crate::state::AppState;

/// Most operations one connection may run at once (a dashboard needs a handful).
pub const MAX_OPERATIONS: usize = 100;

/// What a socket reads into; a larger message grows it for as long as it takes. Client
/// messages are small (a `subscribe` is a query and its variables).
pub const READ_BUFFER_BYTES: usize = 1024;

/// Most bytes a socket holds unsent: the largest message the server may send (a document's
/// content, twice over for JSON escapes, and room). A write beyond it ends the connection.
pub fn max_write_buffer(settings: &crate::config::Settings) -> usize {
    settings.max_document_bytes.saturating_mul(2).saturating_add(1 << 20)
}

/// `GET /graphql/ws`: the upgrade.
pub(crate) async fn upgrade(
    State(server): State<Server>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    slot: Option<Extension<ConnectionSlot>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let settings = &server.state.settings;
    let limits = Limits {
        init_timeout: Duration::from_millis(settings.surface.ws_init_timeout_ms),
        operation_timeout: Duration::from_millis(settings.surface.request_timeout_ms),
        keep_alive: Duration::from_secs(12),
        max_operations: MAX_OPERATIONS,
        send_timeout: Duration::from_millis(settings.surface.ws_send_timeout_ms),
    };
    let max_message = settings.max_body_bytes();
    let upgrade = upgrade
        .protocols(Protocol::NAMES)
        .max_message_size(max_message)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(max_write_buffer(settings));
    let protocol = upgrade.selected_protocol().and_then(|p| p.to_str().ok()).and_then(Protocol::from_name);
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    // What the audit trail records of the connection (address, user agent), read once: the
    // connection keeps that, not the upgrade request's headers.
    let proxies = server.state.settings.connections.proxies();
    let meta = auth::request_meta(&headers, Some(peer), &Viewer::Anonymous, proxies);
    drop(headers);
    let handler = Signin { state: server.state.clone(), meta, schema: server.schema.clone() };
    upgrade.on_upgrade(move |socket| async move {
        // The socket holds its connection's place under the caps until it closes.
        let _slot = slot;
        protocol::serve(socket, protocol, server.schema, handler, limits, request_id).await;
    })
}

/// Signs connections in with the token of their `connection_init`.
struct Signin {
    state: AppState,
    /// The connection's address and user agent; each operation adds its viewer's session.
    meta: RequestMeta,
    /// The schema that renders what subscribers share (`documentActivity`).
    schema: NishanSchema,
}

/// A signed-in connection: its token (looked up again for each operation), and what its
/// caller may read, shared by its subscriptions.
struct Session {
    token: Option<String>,
    access: Arc<ConnectionAccess>,
}

impl ConnectionHandler for Signin {
    type Session = Session;

    async fn init(&self, payload: Value) -> Result<Session, String> {
        let token = auth::token_from_init(&payload);
        match Viewer::from_token(&self.state, token.as_deref()).await {
            Ok(Viewer::InvalidToken) => Err("invalid or expired token".into()),
            Ok(viewer) => {
                let access = Arc::new(ConnectionAccess::new(self.state.clone(), token.clone()));
                access.seed(&viewer);
                Ok(Session { token, access })
            }
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
        let meta = RequestMeta { session_id: viewer.session(), ..self.meta.clone() };
        request.data = if crate::graphql::gate::is_subscription(&request) {
            let mut data = crate::graphql::subscription_data(viewer, meta);
            if let Some(operation) = Operation::of(&request) {
                data.insert(ShareWith { hub: self.state.activity.clone(), schema: self.schema.clone(), operation });
            }
            data
        } else {
            crate::graphql::request_data(&self.state, viewer, meta, None)
        };
        request.data.insert(Arc::clone(&session.access));
        request
    }
}
