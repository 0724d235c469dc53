//! `GET /artifacts/{id}`: the original of an uploaded file, to callers who may read a
//! document made from it (bearer token as for `/graphql`). Anyone else gets the same 404 as
//! for an id that does not exist, so the answer never tells that an artifact exists.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nishan_domain::DomainError;
use nishan_domain::ids::ArtifactId;
use serde_json::json;

use crate::auth::{self, Viewer};
use crate::server::Server;

pub(crate) async fn get(State(server): State<Server>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let not_found = || {
        (StatusCode::NOT_FOUND, axum::Json(json!({"error": "artifact not found", "code": "NOT_FOUND"}))).into_response()
    };
    let Ok(id) = uuid::Uuid::parse_str(&id) else { return not_found() };
    let viewer = match Viewer::from_token(&server.state, auth::bearer(&headers)).await {
        Ok(v) => v,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let actor = match viewer.optional() {
        Ok(actor) => actor,
        Err(_) => {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "the token is unknown or expired", "code": "UNAUTHENTICATED"})),
            )
                .into_response();
        }
    };
    match server.state.documents().artifact(actor.as_ref(), ArtifactId(id)).await {
        Ok((artifact, bytes)) => {
            let mut response = bytes.into_response();
            let h = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&artifact.mime_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", artifact.sha256)) {
                h.insert(header::ETAG, v);
            }
            let disposition = format!("attachment; filename*=UTF-8''{}", percent_encode(&artifact.file_name));
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            response
        }
        Err(DomainError::NotFound { .. }) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "serving an artifact failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// RFC 8187 value characters: letters, digits and `!#$&+-.^_`|~`; everything else as %XX.
fn percent_encode(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
