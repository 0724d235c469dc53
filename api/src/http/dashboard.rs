//! The job dashboard at `GET /dashboard`: one page, its script and its stylesheet, embedded
//! in the binary (plain HTML and JavaScript, no build step), so a browser on a closed network
//! gets a working dashboard and loads nothing from any other host. The page signs in with a
//! session token (or calls `login`), lists the jobs the user may see with `processingJobs`
//! every few seconds, and follows each unfinished job over `graphql-transport-ws`
//! (`jobProgress`); cancel, pause and resume call the mutations, and the server decides who
//! may. A Content-Security-Policy holds the page to this origin: no inline script or style.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("../../assets/dashboard/index.html");

/// The page's policy: scripts, styles and connections (the WebSocket included) to this origin
/// only; no inline script or style, no frames, no forms posted anywhere.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The embedded files, by the name they are served under (`/dashboard/assets/{name}`).
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("dashboard.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/dashboard/dashboard.js")),
    ("dashboard.css", "text/css; charset=utf-8", include_bytes!("../../assets/dashboard/dashboard.css")),
];

/// `GET /dashboard`.
pub async fn page() -> Response {
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `GET /dashboard/assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, content_type, bytes)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = ([(header::CONTENT_TYPE, *content_type)], *bytes).into_response();
    let headers = response.headers_mut();
    // The files change with the binary: the browser asks again each time (they are small).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
