//! GraphiQL, served from the binary: the page and its scripts and styles are embedded
//! (vendored by `scripts/vendor-graphiql.sh`), so a browser on a closed network gets a
//! working GraphiQL and loads nothing from any other host. A Content-Security-Policy holds
//! the page to this origin.

use axum::extract::Path;
use axum::response::Response;

use super::embedded::{self, Asset};

const PAGE: &str = include_str!("../../assets/graphiql/index.html");

/// The page's policy: everything from this origin; inline styles because React sets them.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The embedded files, by the name they are served under.
const ASSETS: &[Asset] = &[
    Asset::script("graphiql.min.js", include_bytes!("../../assets/graphiql/graphiql.min.js")),
    Asset::stylesheet("graphiql.min.css", include_bytes!("../../assets/graphiql/graphiql.min.css")),
    Asset::script("react.production.min.js", include_bytes!("../../assets/graphiql/react.production.min.js")),
    Asset::script("react-dom.production.min.js", include_bytes!("../../assets/graphiql/react-dom.production.min.js")),
    Asset::script("init.js", include_bytes!("../../assets/graphiql/init.js")),
];

/// The GraphiQL page.
pub fn page() -> Response {
    embedded::page(PAGE, CSP)
}

/// `GET /graphiql/assets/{name}`. The files change only with the binary: a day in the
/// browser's cache is safe.
pub async fn asset(Path(name): Path<String>) -> Response {
    embedded::asset(ASSETS, &name, "public, max-age=86400")
}
