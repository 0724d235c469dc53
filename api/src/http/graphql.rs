//! `POST /graphql` and `GET /graphql`: GraphQL over HTTP as its specification sets it out.
//! The response type is negotiated (406 when neither is acceptable), request bodies are
//! JSON or a multipart upload (415 otherwise) within a size limit (413) and a read deadline
//! (408), batches are capped,
//! each operation runs under the execution timeout, and with
//! `application/graphql-response+json` a request that never ran gets a 4xx and no `data`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::http::MultipartOptions;
use async_graphql::{BatchRequest, ParseRequestError, ServerError};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nishan_domain::audit::RequestMeta;
use serde_json::json;
use tracing::Instrument as _;

use super::negotiate::{ResponseType, negotiate};
use crate::auth::{self, Viewer};
use crate::error::code;
use crate::graphql::batching::BatchQueue;
use crate::graphql::gate::{RequestTrace, Transport};
use crate::metrics::{self, Outcome};
use crate::server::Server;

/// `POST /graphql`.
pub(crate) async fn post(
    State(server): State<Server>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let Some(response_type) = negotiate(header_str(&headers, header::ACCEPT)) else {
        return not_acceptable();
    };
    let settings = &server.state.settings;
    let content_type = header_str(&headers, header::CONTENT_TYPE).unwrap_or_default().to_owned();
    let mime: Option<mime::Mime> = content_type.parse().ok();
    let body = request.into_body();
    let body_deadline = Duration::from_millis(settings.connections.body_read_timeout_ms.max(1));
    let batch = match mime.as_ref().map(|m| (m.type_(), m.subtype(), m.get_param(mime::CHARSET))) {
        Some((mime::APPLICATION, mime::JSON, charset)) if charset.is_none_or(|c| c == mime::UTF_8) => {
            let bytes = match read_body(body, settings.max_body_bytes(), body_deadline).await {
                Ok(bytes) => bytes,
                Err(refusal) => return refusal,
            };
            match serde_json::from_slice::<BatchRequest>(&bytes) {
                Ok(batch) => batch,
                Err(e) => return bad_request(&format!("the body is not a GraphQL request: {e}")),
            }
        }
        Some((mime::MULTIPART, mime::FORM_DATA, _)) => {
            let per_file = settings.max_document_bytes + 1024 * 1024;
            let limit =
                per_file.saturating_mul(settings.surface.max_upload_files).saturating_add(settings.max_body_bytes());
            let bytes = match read_body(body, limit, body_deadline).await {
                Ok(bytes) => bytes,
                Err(refusal) => return refusal,
            };
            // The resolver refuses a document over the limit with a clear BAD_USER_INPUT; the
            // margin lets a file slightly over it get there.
            let options =
                MultipartOptions::default().max_file_size(per_file).max_num_files(settings.surface.max_upload_files);
            match async_graphql::http::receive_batch_body(Some(&content_type), bytes.as_ref(), options).await {
                Ok(batch) => batch,
                Err(ParseRequestError::PayloadTooLarge) => return too_large(limit),
                Err(e) => return bad_request(&format!("the upload is not a GraphQL multipart request: {e}")),
            }
        }
        _ => return unsupported_media_type(),
    };
    let request = match batch {
        BatchRequest::Single(request) => request,
        BatchRequest::Batch(requests) => {
            let max = settings.surface.max_batch;
            if max == 0 {
                return bad_request("batched requests are not accepted");
            }
            if requests.is_empty() || requests.len() > max {
                return bad_request(&format!("a batch holds 1 to {max} operations; this one has {}", requests.len()));
            }
            return answer_batch(&server, &headers, peer, requests, response_type).await;
        }
    };
    answer_single(&server, &headers, peer, request, Transport::HttpPost, response_type).await
}

/// `GET /graphql`: GraphiQL for a browser that asks for HTML (unless in production); a
/// query (never a mutation) from the query string otherwise.
pub(crate) async fn get(
    State(server): State<Server>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let accept = header_str(&headers, header::ACCEPT);
    if !server.state.settings.surface.production && accept.is_some_and(|a| a.contains("text/html")) {
        return super::graphiql::page();
    }
    let Some(response_type) = negotiate(accept) else {
        return not_acceptable();
    };
    let request = match from_query_string(request.uri()) {
        Ok(request) => request,
        Err(e) => return bad_request(&format!("the query string is not a GraphQL request: {e}")),
    };
    answer_single(&server, &headers, peer, request, Transport::HttpGet, response_type).await
}

/// The parameters of a GET request, named as the specification names them (async-graphql's
/// own parser expects `operation_name`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    #[serde(default)]
    query: String,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

fn from_query_string(uri: &axum::http::Uri) -> Result<async_graphql::Request, String> {
    let axum::extract::Query(params) =
        axum::extract::Query::<GetParams>::try_from_uri(uri).map_err(|e| e.body_text())?;
    let mut request = async_graphql::Request::new(params.query);
    request.operation_name = params.operation_name.filter(|n| !n.is_empty());
    if let Some(variables) = params.variables.filter(|v| !v.is_empty()) {
        let variables = serde_json::from_str(&variables).map_err(|e| format!("`variables` is not JSON: {e}"))?;
        request.variables = async_graphql::Variables::from_json(variables);
    }
    if let Some(extensions) = params.extensions.filter(|v| !v.is_empty()) {
        request.extensions = serde_json::from_str(&extensions).map_err(|e| format!("`extensions` is not JSON: {e}"))?;
    }
    Ok(request)
}

/// One operation's answer, before it becomes HTTP.
struct Answer {
    /// The JSON body, serialized (an answer of 10,000 entities goes straight from the
    /// response to text, without a `serde_json::Value` tree in between).
    body: String,
    /// The code that refused it (it never ran), or `TIMEOUT`.
    refusal: Option<String>,
    retry_after: Option<u64>,
}

async fn answer_single(
    server: &Server,
    headers: &HeaderMap,
    peer: SocketAddr,
    request: async_graphql::Request,
    transport: Transport,
    response_type: ResponseType,
) -> Response {
    let (viewer, meta) = match caller(server, headers, peer).await {
        Ok(caller) => caller,
        Err(answer) => return respond(response_type, answer),
    };
    let answer = run(server, headers, &viewer, &meta, request, transport).await;
    respond(response_type, answer)
}

async fn answer_batch(
    server: &Server,
    headers: &HeaderMap,
    peer: SocketAddr,
    requests: Vec<async_graphql::Request>,
    response_type: ResponseType,
) -> Response {
    let (viewer, meta) = match caller(server, headers, peer).await {
        Ok(caller) => caller,
        Err(answer) => return respond(response_type, answer),
    };
    // One after another: a batch must not take more of the server than its operations sent
    // one by one would.
    let mut bodies = Vec::with_capacity(requests.len());
    for request in requests {
        bodies.push(run(server, headers, &viewer, &meta, request, Transport::HttpPost).await.body);
    }
    json_response(StatusCode::OK, response_type, format!("[{}]", bodies.join(",")))
}

/// The caller of a request, from its bearer token.
async fn caller(server: &Server, headers: &HeaderMap, peer: SocketAddr) -> Result<(Viewer, RequestMeta), Answer> {
    match Viewer::from_token(&server.state, auth::bearer(headers)).await {
        Ok(viewer) => {
            let meta = auth::request_meta(headers, Some(peer), &viewer, server.state.settings.connections.proxies());
            Ok((viewer, meta))
        }
        Err(e) => {
            let e = crate::error::to_graphql(e);
            let error = ServerError {
                message: e.message,
                source: None,
                locations: vec![],
                path: vec![],
                extensions: e.extensions,
            };
            let body = json!({ "errors": [error] }).to_string();
            Err(Answer { body, refusal: Some(code::INTERNAL.into()), retry_after: None })
        }
    }
}

/// Runs one operation under the timeout; logs and counts it.
async fn run(
    server: &Server,
    headers: &HeaderMap,
    viewer: &Viewer,
    meta: &RequestMeta,
    mut request: async_graphql::Request,
    transport: Transport,
) -> Answer {
    let started = Instant::now();
    let trace = RequestTrace::new(transport);
    let batches = BatchQueue::default();
    request.data = crate::graphql::request_data(&server.state, viewer.clone(), meta.clone(), Some(&batches));
    request.data.insert(Arc::clone(&trace));
    let given_name = request.operation_name.clone();
    // The request id again, so that a JSON log line of the operation has both at the top.
    let request_id = header_str(headers, HeaderName::from_static("x-request-id")).unwrap_or_default();
    let span = tracing::info_span!("graphql", request_id, operation = tracing::field::Empty);
    if let Some(name) = &given_name {
        span.record("operation", name.as_str());
    }
    let limit = Duration::from_millis(server.state.settings.surface.request_timeout_ms);
    let result =
        tokio::time::timeout(limit, batches.run(server.schema.execute(request))).instrument(span.clone()).await;
    // A name the client did not send comes from the document, known only now.
    let named_late = given_name.is_none();
    let name = given_name.or_else(|| trace.name());
    match result {
        Ok(mut response) => {
            let refusal = trace.refusal(&mut response);
            let outcome = match (&refusal, response.errors.is_empty()) {
                (Some(_), _) => Outcome::Rejected,
                (None, true) => Outcome::Ok,
                (None, false) => Outcome::Error,
            };
            let retry_after = response
                .errors
                .iter()
                .find_map(|e| e.extensions.as_ref()?.get("retryAfter").and_then(|v| v.to_string().parse().ok()));
            let body = if refusal.is_some() {
                let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
                if let Some(object) = body.as_object_mut() {
                    // A request that never ran has no `data`, not even null.
                    object.remove("data");
                }
                body.to_string()
            } else {
                serde_json::to_string(&response).unwrap_or_else(|_| "{}".to_owned())
            };
            finish(&span, name.as_deref(), named_late, outcome, started);
            Answer { body, refusal, retry_after }
        }
        Err(_) => {
            finish(&span, name.as_deref(), named_late, Outcome::Timeout, started);
            let message = format!("the operation did not finish within {} ms and was stopped", limit.as_millis());
            Answer {
                body: json!({ "errors": [{ "message": message, "extensions": { "code": code::TIMEOUT } }] })
                    .to_string(),
                refusal: Some(code::TIMEOUT.into()),
                retry_after: None,
            }
        }
    }
}

fn finish(span: &tracing::Span, name: Option<&str>, named_late: bool, outcome: Outcome, started: Instant) {
    let elapsed = started.elapsed();
    if let (Some(name), true) = (name, named_late) {
        span.record("operation", name);
    }
    metrics::record_operation(name, outcome, elapsed);
    let _entered = span.enter();
    tracing::info!(outcome = outcome.label(), elapsed_ms = elapsed.as_millis() as u64, "graphql operation");
}

/// The HTTP answer to one operation. With `application/json` every well-formed request gets
/// 200 (older clients read errors from the body); with `application/graphql-response+json`
/// the status says why a request never ran.
fn respond(response_type: ResponseType, answer: Answer) -> Response {
    let status = match (&answer.refusal, response_type) {
        (Some(refusal), _) if refusal == code::METHOD_NOT_ALLOWED => StatusCode::METHOD_NOT_ALLOWED,
        (Some(refusal), ResponseType::GraphqlResponseJson) => status_of(refusal),
        _ => StatusCode::OK,
    };
    let mut response = json_response(status, response_type, answer.body);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    if let Some(secs) = answer.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The status of a request refused with `refusal`.
fn status_of(refusal: &str) -> StatusCode {
    match refusal {
        code::METHOD_NOT_ALLOWED => StatusCode::METHOD_NOT_ALLOWED,
        code::RATE_LIMITED => StatusCode::TOO_MANY_REQUESTS,
        code::TIMEOUT => StatusCode::GATEWAY_TIMEOUT,
        code::INTERNAL => StatusCode::INTERNAL_SERVER_ERROR,
        code::UNAUTHENTICATED => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn json_response(status: StatusCode, response_type: ResponseType, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(response_type.content_type()));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A refusal before any GraphQL happens (the body or the headers are wrong).
fn refusal(status: StatusCode, message: &str, tag: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": tag } }] });
    let mut response = (status, Body::from(body.to_string())).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ResponseType::Json.content_type()));
    response
}

/// The whole body, read within `deadline` (a client that sends it slowly, byte by byte,
/// still has only this long): 408 past it, 413 over `limit`.
async fn read_body(body: Body, limit: usize, deadline: Duration) -> Result<axum::body::Bytes, Response> {
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(too_large(limit)),
        Err(_) => {
            let mut response = refusal(
                StatusCode::REQUEST_TIMEOUT,
                &format!("the request body did not arrive within {} ms", deadline.as_millis()),
                code::BAD_REQUEST,
            );
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(response)
        }
    }
}

fn bad_request(message: &str) -> Response {
    refusal(StatusCode::BAD_REQUEST, message, code::BAD_REQUEST)
}

fn too_large(limit: usize) -> Response {
    refusal(StatusCode::PAYLOAD_TOO_LARGE, &format!("the request body is larger than {limit} bytes"), code::BAD_REQUEST)
}

fn unsupported_media_type() -> Response {
    refusal(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "send `Content-Type: application/json` (or `multipart/form-data` for an upload)",
        code::BAD_REQUEST,
    )
}

fn not_acceptable() -> Response {
    refusal(
        StatusCode::NOT_ACCEPTABLE,
        "accept `application/graphql-response+json` or `application/json`",
        code::BAD_REQUEST,
    )
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
