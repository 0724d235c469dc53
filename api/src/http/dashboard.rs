//! The job dashboard at `GET /dashboard`: one page, its script and its stylesheet, embedded
//! in the binary (plain HTML and JavaScript, no build step), so a browser on a closed network
//! gets a working dashboard and loads nothing from any other host. The page signs in with a
//! session token (or calls `login`), lists the jobs the user may see with `processingJobs`
//! every few seconds, and follows each unfinished job over `graphql-transport-ws`
//! (`jobProgress`); cancel, pause and resume call the mutations, and the server decides who
//! may. A Content-Security-Policy holds the page to this origin: no inline script or style.

use axum::extract::Path;
use axum::response::Response;

use super::embedded::{self, Asset};

const PAGE: &str = include_str!("../../assets/dashboard/index.html");

/// The page's policy: scripts, styles and connections (the WebSocket included) to this origin
/// only; no inline script or style, no frames, no forms posted anywhere.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The embedded files, by the name they are served under (`/dashboard/assets/{name}`).
const ASSETS: &[Asset] = &[
    Asset::script("dashboard.js", include_bytes!("../../assets/dashboard/dashboard.js")),
    Asset::stylesheet("dashboard.css", include_bytes!("../../assets/dashboard/dashboard.css")),
];

/// `GET /dashboard`.
pub async fn page() -> Response {
    embedded::page(PAGE, CSP)
}

/// `GET /dashboard/assets/{name}`. The files change with the binary: the browser asks again
/// each time (they are small).
pub async fn asset(Path(name): Path<String>) -> Response {
    embedded::asset(ASSETS, &name, "no-cache")
}
