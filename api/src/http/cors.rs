//! CORS for browser clients on other origins (`NISHAN_CORS_ORIGINS`): the listed origins may
//! call the API with credentials and the headers Apollo Client sends; `*` lets any origin in,
//! without credentials (browsers refuse the two together). No origins configured: no CORS
//! headers, so only same-origin pages (GraphiQL) can read answers.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Headers a browser client may send: ours, and those of Apollo Client and its links.
const ALLOWED_HEADERS: [HeaderName; 8] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::ACCEPT,
    HeaderName::from_static("apollo-require-preflight"),
    HeaderName::from_static("x-apollo-operation-name"),
    HeaderName::from_static("apollographql-client-name"),
    HeaderName::from_static("apollographql-client-version"),
    HeaderName::from_static("x-request-id"),
];

/// The CORS layer for the configured origins; `None` when there are none.
pub fn layer(origins: &[String]) -> anyhow::Result<Option<CorsLayer>> {
    let origins: Vec<&str> = origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()).collect();
    if origins.is_empty() {
        return Ok(None);
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(ALLOWED_HEADERS)
        .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
        .max_age(Duration::from_secs(600));
    if origins.contains(&"*") {
        return Ok(Some(layer.allow_origin(AllowOrigin::any())));
    }
    let list = origins
        .iter()
        .map(|o| {
            // An origin is scheme://host[:port], with no path: a trailing slash would never match.
            let o = o.trim_end_matches('/');
            HeaderValue::from_str(o).map_err(|_| anyhow::anyhow!("NISHAN_CORS_ORIGINS: `{o}` is not a valid origin"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(layer.allow_origin(AllowOrigin::list(list)).allow_credentials(true)))
}
