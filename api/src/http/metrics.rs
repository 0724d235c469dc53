//! `GET /metrics`: the Prometheus scrape endpoint, open or behind a bearer token
//! (`NISHAN_METRICS_TOKEN`). Values that are read rather than counted (the database pool)
//! are taken at scrape time.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::server::Server;

pub(crate) async fn scrape(State(server): State<Server>, headers: HeaderMap) -> Response {
    if let Some(expected) = &server.state.settings.surface.metrics_token {
        // Digests compared, so the comparison takes the same time wherever the tokens differ.
        let given = crate::auth::bearer(&headers).unwrap_or_default();
        if Sha256::digest(given.as_bytes()) != Sha256::digest(expected.as_bytes()) {
            let mut response = StatusCode::UNAUTHORIZED.into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    let db = server.state.store.connection();
    let max = i64::from(server.state.settings.db_max_connections);
    let pool = if nishan_infrastructure::db::is_sqlite(db) {
        let pool = db.get_sqlite_connection_pool();
        (pool.size(), pool.num_idle())
    } else {
        let pool = db.get_postgres_connection_pool();
        (pool.size(), pool.num_idle())
    };
    let (size, idle) = (i64::from(pool.0), pool.1 as i64);
    crate::metrics::set_db_pool(size - idle, idle, max);
    // Every replica reports the shared queue as the database holds it.
    match nishan_domain::ports::JobRepository::job_counts(&server.state.store).await {
        Ok(counts) => {
            for status in nishan_domain::job::JobStatus::ALL {
                let n = counts.get(&status).copied().unwrap_or(0);
                crate::metrics::set_job_queue_depth(status.as_str(), n as i64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not count jobs for the metrics"),
    }
    let mut response = crate::metrics::render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
