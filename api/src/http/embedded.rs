//! Pages and files embedded in the binary (GraphiQL and the job dashboard), served with the
//! same headers: a page with its Content-Security-Policy, asked for again on each visit; an
//! asset by name, with its content type and a cache policy, or 404.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file: the name it is served under, its content type, its bytes.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

impl Asset {
    pub const fn script(name: &'static str, bytes: &'static [u8]) -> Self {
        Self { name, content_type: "text/javascript; charset=utf-8", bytes }
    }

    pub const fn stylesheet(name: &'static str, bytes: &'static [u8]) -> Self {
        Self { name, content_type: "text/css; charset=utf-8", bytes }
    }
}

/// An HTML page held to `csp`.
pub fn page(html: &'static str, csp: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The asset called `name` among `assets`, with `cache_control`; 404 for any other name.
pub fn asset(assets: &[Asset], name: &str, cache_control: &'static str) -> Response {
    let Some(asset) = assets.iter().find(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
