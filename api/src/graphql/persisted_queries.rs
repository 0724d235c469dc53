//! Automatic persisted queries (Apollo APQ): a client sends a document's SHA-256 instead of
//! the document; a hash not yet known is answered `PersistedQueryNotFound`, and the client
//! sends the document with its hash, which is kept (the last [`PERSISTED_QUERIES`] documents).
//! The same steps as async-graphql's `ApolloPersistedQueries` extension, run inside the
//! operation's one extension ([`crate::graphql::operation`]) so that the gate can name its
//! refusals, without an extension layer of its own around every field.

use async_graphql::extensions::apollo_persisted_queries::{CacheStorage, LruCacheStorage};
use async_graphql::{Request, ServerError, ServerResult};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Documents kept; a client whose hash was evicted sends the document again.
pub const PERSISTED_QUERIES: usize = 1000;

/// The `persistedQuery` request extension.
#[derive(Deserialize)]
struct PersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

/// The documents the server knows by hash, shared by every request.
#[derive(Clone)]
pub struct PersistedQueries(LruCacheStorage);

impl Default for PersistedQueries {
    fn default() -> Self {
        Self(LruCacheStorage::new(PERSISTED_QUERIES))
    }
}

impl PersistedQueries {
    /// The request with its document: the one it names by hash, or the one it sends (kept
    /// under its hash when the request names one).
    pub async fn resolve(&self, mut request: Request) -> ServerResult<Request> {
        let Some(value) = request.extensions.remove("persistedQuery") else {
            return Ok(request);
        };
        let persisted: PersistedQuery = async_graphql::from_value(value)
            .map_err(|_| ServerError::new("Invalid \"PersistedQuery\" extension configuration.", None))?;
        if persisted.version != 1 {
            return Err(ServerError::new(
                format!(
                    "Only the \"PersistedQuery\" extension of version \"1\" is supported, and the current version is \"{}\".",
                    persisted.version
                ),
                None,
            ));
        }
        if request.query.is_empty() {
            let document = self
                .0
                .get(persisted.sha256_hash)
                .await
                .ok_or_else(|| ServerError::new("PersistedQueryNotFound", None))?;
            request.set_parsed_query(document);
            return Ok(request);
        }
        let hash: String = Sha256::digest(request.query.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        if persisted.sha256_hash != hash {
            return Err(ServerError::new("provided sha does not match query", None));
        }
        let document = async_graphql::parser::parse_query(&request.query)?;
        self.0.set(hash, document.clone()).await;
        request.query = String::new();
        request.set_parsed_query(document);
        Ok(request)
    }
}
