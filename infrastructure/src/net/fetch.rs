//! The page fetcher of INGESTION jobs: one GET per call, through the address guard's client
//! (every address checked, no redirect followed, no proxy), with a whole-request timeout, and
//! at most the asked number of body bytes read (a longer body is cut there and flagged, so a
//! huge page costs no more than the cap). The domain follows redirects itself, hop by hop, so
//! each hop goes through the guard again.

use std::time::Duration;

use nishan_domain::ports::{FetchError, FetchResponse, PageFetcher};
use nishan_domain::source::USER_AGENT;

use super::guard::{AddressGuard, GuardedClient, refusal_of};

/// Fetches pages behind the address guard.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: GuardedClient,
}

impl HttpFetcher {
    /// A fetcher whose requests each end after `timeout`.
    pub fn new(guard: AddressGuard, timeout: Duration) -> reqwest::Result<Self> {
        let builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(format!("{USER_AGENT}/{}", env!("CARGO_PKG_VERSION")));
        Ok(Self { client: guard.client(builder)? })
    }
}

fn error_of(e: reqwest::Error) -> FetchError {
    if let Some(refusal) = refusal_of(&e) {
        FetchError::Refused(refusal.to_string())
    } else if e.is_timeout() {
        FetchError::Timeout
    } else {
        FetchError::Network(e.to_string())
    }
}

impl PageFetcher for HttpFetcher {
    async fn get(&self, url: &url::Url, max_bytes: usize) -> Result<FetchResponse, FetchError> {
        let request =
            self.client.request(reqwest::Method::GET, url.clone()).map_err(|r| FetchError::Refused(r.to_string()))?;
        let mut response = request.send().await.map_err(error_of)?;
        let header = |name: reqwest::header::HeaderName| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
        };
        let status = response.status().as_u16();
        let location = header(reqwest::header::LOCATION);
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let mut body = Vec::new();
        let mut too_large = response.content_length().is_some_and(|n| n > max_bytes as u64);
        if !too_large && !(300..400).contains(&status) {
            while let Some(chunk) = response.chunk().await.map_err(error_of)? {
                if body.len() + chunk.len() > max_bytes {
                    too_large = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
        }
        Ok(FetchResponse { status, location, content_type, body, too_large })
    }
}
