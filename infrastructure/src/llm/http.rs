//! What every provider client shares: posting a JSON body and reading a JSON answer, and
//! turning what went wrong (status, `Retry-After`, the provider's error JSON, timeouts,
//! refused connections) into an [`LlmError`]. No error message ever holds the API key: the
//! URL is stripped from transport errors, and the key (whole, masked or encoded, as providers
//! echo it) is redacted from provider messages (`super::redact`).

use std::time::{Duration, SystemTime};

use nishan_domain::llm::{LlmError, ModelEndpoint};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::redact::redact;

/// The longest provider message or body excerpt kept in an error.
const MESSAGE_CHARS: usize = 500;

/// Posts `body` as JSON to `url` within the endpoint's timeout and reads the answer as `R`.
pub(super) async fn post_json<B: Serialize, R: DeserializeOwned>(
    http: &reqwest::Client,
    endpoint: &ModelEndpoint,
    url: Url,
    headers: HeaderMap,
    body: &B,
) -> Result<R, LlmError> {
    let key = endpoint.api_key.as_deref();
    let response = http
        .post(url)
        .headers(headers)
        .json(body)
        .timeout(endpoint.timeout)
        .send()
        .await
        .map_err(|e| transport_error(e, key))?;
    let status = response.status();
    let response_headers = response.headers().clone();
    let bytes = response.bytes().await.map_err(|e| transport_error(e, key))?;
    if !status.is_success() {
        return Err(status_error(status, &response_headers, &bytes, key, SystemTime::now()));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        LlmError::Protocol(format!(
            "undecodable response body ({e}): {}",
            excerpt(&String::from_utf8_lossy(&bytes), key)
        ))
    })
}

/// Posts `body` as JSON to `url` within the endpoint's timeout and gives each line of a
/// successful answer to `on_line` as it arrives (server-sent events, NDJSON), without its line
/// break. An error status reads the whole body as [`post_json`] does.
pub(super) async fn post_lines<B: Serialize>(
    http: &reqwest::Client,
    endpoint: &ModelEndpoint,
    url: Url,
    headers: HeaderMap,
    body: &B,
    mut on_line: impl FnMut(&str) -> Result<(), LlmError> + Send,
) -> Result<(), LlmError> {
    let key = endpoint.api_key.as_deref();
    let mut response = http
        .post(url)
        .headers(headers)
        .json(body)
        .timeout(endpoint.timeout)
        .send()
        .await
        .map_err(|e| transport_error(e, key))?;
    let status = response.status();
    if !status.is_success() {
        let response_headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| transport_error(e, key))?;
        return Err(status_error(status, &response_headers, &bytes, key, SystemTime::now()));
    }
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(e, key))? {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]);
            on_line(line.trim_end_matches('\r'))?;
        }
    }
    if !pending.is_empty() {
        on_line(String::from_utf8_lossy(&pending).trim_end_matches('\r'))?;
    }
    Ok(())
}

/// A header value holding a secret: marked sensitive so that it is never printed by `Debug`.
pub(super) fn secret_header(name: &'static str, value: &str) -> Result<(HeaderName, HeaderValue), LlmError> {
    let mut value =
        HeaderValue::from_str(value).map_err(|_| refused("the API key holds characters a header cannot"))?;
    value.set_sensitive(true);
    Ok((HeaderName::from_static(name), value))
}

/// `base` with the path `segments` appended (each percent-encoded: a deployment or model
/// name cannot change the path) and query parameters.
pub(super) fn url(base: &str, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, LlmError> {
    let invalid = |why: &dyn std::fmt::Display| refused(format!("invalid API base URL {base:?}: {why}"));
    let mut url = Url::parse(base.trim()).map_err(|e| invalid(&e))?;
    url.path_segments_mut().map_err(|()| invalid(&"not a base"))?.pop_if_empty().extend(segments);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Ok(url)
}

/// The endpoint's base URL, or the provider's default.
pub(super) fn base_url(endpoint: &ModelEndpoint) -> Result<&str, LlmError> {
    endpoint
        .api_base_url
        .as_deref()
        .filter(|b| !b.trim().is_empty())
        .or(endpoint.provider.default_base_url())
        .ok_or_else(|| refused(format!("a {} model needs an API base URL", endpoint.provider.as_str())))
}

/// The endpoint's API key, required by the provider.
pub(super) fn api_key(endpoint: &ModelEndpoint) -> Result<&str, LlmError> {
    endpoint
        .api_key
        .as_deref()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| refused(format!("a {} model needs an API key", endpoint.provider.as_str())))
}

/// A call refused before anything was sent (a configuration the provider cannot take): a
/// client error with status 0, so it is not retried.
pub(super) fn refused(message: impl Into<String>) -> LlmError {
    LlmError::Client { status: 0, message: message.into() }
}

/// A failure to send the request or to read the answer.
fn transport_error(error: reqwest::Error, key: Option<&str>) -> LlmError {
    // The URL may carry a query the provider defines; it is never part of a message.
    let error = error.without_url();
    let message = redact(&error_chain(&error), key);
    if error.is_timeout() {
        LlmError::Timeout
    } else if error.is_decode() {
        LlmError::Protocol(message)
    } else {
        LlmError::Network(message)
    }
}

/// An error and its sources, `: `-separated (reqwest's own message says little alone).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    message
}

/// The error for a non-success status: 429 → rate limited, 408, 409 and 5xx → server (worth
/// retrying), any other → client.
fn status_error(status: StatusCode, headers: &HeaderMap, body: &[u8], key: Option<&str>, now: SystemTime) -> LlmError {
    let code = status.as_u16();
    if code == 429 {
        return LlmError::RateLimited { retry_after: retry_after(headers, now) };
    }
    let message = provider_message(body, key).unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned());
    if code == 408 || code == 409 || status.is_server_error() {
        LlmError::Server { status: code, message }
    } else {
        LlmError::Client { status: code, message }
    }
}

/// The message of a provider's error body: `error.message` (OpenAI, Azure, Anthropic, Gemini),
/// `error` as a string (Ollama), `message`; else the body's first characters.
fn provider_message(body: &[u8], key: Option<&str>) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let from_json = json
        .as_ref()
        .and_then(|j| j["error"]["message"].as_str().or_else(|| j["error"].as_str()).or_else(|| j["message"].as_str()));
    let message = from_json.unwrap_or(&text).trim();
    (!message.is_empty()).then(|| excerpt(message, key))
}

/// At most [`MESSAGE_CHARS`] characters of `text`, redacted.
fn excerpt(text: &str, key: Option<&str>) -> String {
    let mut cut: String = text.chars().take(MESSAGE_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    redact(&cut, key)
}

/// The wait a 429 asks for, as the OpenAI client reads it: `retry-after-ms` (milliseconds),
/// else `retry-after` in seconds or as an HTTP date. Unreadable or negative: none.
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let seconds = |s: &str| s.parse::<f64>().ok().and_then(|n| Duration::try_from_secs_f64(n).ok());
    if let Some(ms) = header("retry-after-ms").and_then(|v| seconds(v).map(|d| d / 1000)) {
        return Some(ms);
    }
    let value = header("retry-after")?;
    seconds(value).or_else(|| {
        let at = httpdate::parse_http_date(value).ok()?;
        Some(at.duration_since(now).unwrap_or(Duration::ZERO))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_str(v).unwrap())).collect()
    }

    #[test]
    fn reads_retry_after_in_milliseconds_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        for (pairs, expected) in [
            (vec![("retry-after-ms", "1500")], Some(Duration::from_millis(1500))),
            (vec![("retry-after-ms", "250.5"), ("retry-after", "9")], Some(Duration::from_micros(250_500))),
            (vec![("retry-after", "2")], Some(Duration::from_secs(2))),
            (vec![("retry-after", "0.5")], Some(Duration::from_millis(500))),
            (vec![("retry-after", date.as_str())], Some(Duration::from_secs(30))),
            (vec![("retry-after", past.as_str())], Some(Duration::ZERO)),
            (vec![("retry-after-ms", "soon"), ("retry-after", "3")], Some(Duration::from_secs(3))),
            (vec![("retry-after", "-1")], None),
            (vec![("retry-after", "tomorrow")], None),
            (vec![], None),
        ] {
            assert_eq!(retry_after(&headers(&pairs), now), expected, "{pairs:?}");
        }
    }

    #[test]
    fn maps_statuses() {
        let now = SystemTime::now();
        let at = |code: u16, body: &str| {
            status_error(StatusCode::from_u16(code).unwrap(), &HeaderMap::new(), body.as_bytes(), None, now)
        };
        assert_eq!(at(429, ""), LlmError::RateLimited { retry_after: None });
        for code in [408, 409, 500, 502, 503, 529] {
            assert!(matches!(at(code, ""), LlmError::Server { status, .. } if status == code), "{code}");
        }
        for code in [400, 401, 403, 404, 422, 307] {
            assert!(matches!(at(code, ""), LlmError::Client { status, .. } if status == code), "{code}");
        }
        assert_eq!(at(404, ""), LlmError::Client { status: 404, message: "Not Found".into() });
    }

    #[test]
    fn extracts_each_providers_error_message() {
        for body in [
            r#"{"error": {"message": "model not found", "type": "invalid_request_error"}}"#,
            r#"{"type": "error", "error": {"type": "not_found_error", "message": "model not found"}}"#,
            r#"{"error": {"code": 404, "message": "model not found", "status": "NOT_FOUND"}}"#,
            r#"{"error": "model not found"}"#,
            r#"{"message": "model not found"}"#,
            "model not found\n",
        ] {
            assert_eq!(provider_message(body.as_bytes(), None).as_deref(), Some("model not found"), "{body}");
        }
        assert_eq!(provider_message(b"  ", None), None);
        let long = "x".repeat(2000);
        assert_eq!(provider_message(long.as_bytes(), None).unwrap().chars().count(), MESSAGE_CHARS + 1);
    }

    #[test]
    fn never_repeats_the_key() {
        let key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123";
        let body = format!(
            r#"{{"error": {{"message": "Incorrect API key provided: sk-proj-********************0123. Key {key} ('{key}') is revoked."}}}}"#
        );
        let message = provider_message(body.as_bytes(), Some(key)).unwrap();
        assert!(!message.contains(key) && !message.contains("sk-proj") && !message.contains("0123"), "{message}");
        assert!(message.starts_with("Incorrect API key provided: <redacted> Key <redacted>"), "{message}");
        // Short keys are redacted whole only: a 2-character prefix would redact most words.
        assert_eq!(redact("the key ab12 was wrong, abacus", Some("ab12")), "the key <redacted> was wrong, abacus");
        assert_eq!(redact("no key here", None), "no key here");
    }

    #[test]
    fn builds_urls_from_bases_with_or_without_slashes() {
        for base in ["http://h:1/v1", "http://h:1/v1/"] {
            assert_eq!(url(base, &["chat", "completions"], &[]).unwrap().as_str(), "http://h:1/v1/chat/completions");
        }
        let u = url("https://r.openai.azure.com", &["openai", "deployments", "d 1/x", "chat"], &[("api-version", "v")]);
        assert_eq!(u.unwrap().as_str(), "https://r.openai.azure.com/openai/deployments/d%201%2Fx/chat?api-version=v");
        let u = url("http://h/v1beta", &["models", "gemini-2.0-flash:generateContent"], &[]).unwrap();
        assert_eq!(u.as_str(), "http://h/v1beta/models/gemini-2.0-flash:generateContent");
        assert!(matches!(url("not a url", &["x"], &[]), Err(LlmError::Client { status: 0, .. })));
        assert!(matches!(url("mailto:a@b", &["x"], &[]), Err(LlmError::Client { status: 0, .. })));
    }
}
