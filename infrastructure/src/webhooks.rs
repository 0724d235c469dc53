//! Webhook deliveries: signing per the Standard Webhooks specification and the sender that
//! works through the outbox (`webhook_deliveries`, see the store's `webhooks` module).
//!
//! Each attempt is a `POST` of the stored body with `content-type: application/json`,
//! `webhook-id` (the delivery's message id, the same on every attempt), `webhook-timestamp`
//! (Unix seconds of the attempt) and `webhook-signature`: `v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">` under each valid secret (the current one and, for a day after a
//! rotation, the previous one), space-separated. A 2xx answer delivers it; anything else, a
//! timeout or a refused address is a failure, retried after the retry base, then twice as
//! long each time (`nishan_domain::webhook::after_failure`). Requests go through the address
//! guard (`net::guard`): no loopback or private address unless configured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use nishan_domain::webhook::{AttemptOutcome, after_failure};
use nishan_domain::{DomainError, DomainResult};
use rand::TryRng as _;
use sha2::Sha256;

use crate::Store;
use crate::crypto::SecretBox;
use crate::net::guard::{AddressGuard, GuardedClient};
use crate::repo::{AttemptRecord, ClaimedDelivery};

/// The prefix of a webhook secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rngs::SysRng.try_fill_bytes(&mut key).expect("the OS random number generator is available");
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The `v1,<base64>` signature of one message under one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> DomainResult<String> {
    let key = STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .map_err(|_| DomainError::internal("a webhook secret is not base64"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(DomainError::internal)?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// How the sender works.
#[derive(Clone)]
pub struct SenderConfig {
    /// Concurrent senders in this process.
    pub senders: usize,
    /// How often an idle sender looks for due deliveries.
    pub poll: Duration,
    /// How long a claim lasts (longer than `timeout`).
    pub lease: Duration,
    /// The longest one attempt may take.
    pub timeout: Duration,
    /// The wait before the first retry, read at each failure (runtime settings may change it).
    pub retry_base: Arc<dyn Fn() -> chrono::Duration + Send + Sync>,
    pub guard: AddressGuard,
    /// This process's name in leases.
    pub instance: String,
}

/// Sends due deliveries, in `senders` tasks, for as long as the process lives.
pub struct WebhookSender {
    store: Store,
    cipher: SecretBox,
    client: GuardedClient,
    config: SenderConfig,
}

impl WebhookSender {
    pub fn new(store: Store, cipher: SecretBox, config: SenderConfig) -> reqwest::Result<Self> {
        let builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(concat!("nishan-webhooks/", env!("CARGO_PKG_VERSION")));
        let client = config.guard.client(builder)?;
        Ok(Self { store, cipher, client, config })
    }

    /// Starts the senders.
    pub fn spawn(self) {
        let this = Arc::new(self);
        for n in 0..this.config.senders.max(1) {
            let this = this.clone();
            let worker = format!("{}-w{n}", this.config.instance);
            tokio::spawn(async move {
                loop {
                    match this.send_next(&worker).await {
                        Ok(true) => continue,
                        Ok(false) => tokio::time::sleep(this.config.poll).await,
                        Err(e) => {
                            tracing::warn!(error = %e, "webhook sender");
                            tokio::time::sleep(this.config.poll).await;
                        }
                    }
                }
            });
        }
    }

    /// Claims and attempts one due delivery; `false` when none was due.
    pub async fn send_next(&self, worker: &str) -> DomainResult<bool> {
        let now = Utc::now();
        let lease = chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::seconds(60));
        let Some(claimed) = self.store.claim_delivery(worker, now, now + lease).await? else {
            return Ok(false);
        };
        if !claimed.is_active {
            self.store.drop_delivery(&claimed, worker).await?;
            return Ok(true);
        }
        let record = self.attempt(&claimed).await?;
        tracing::info!(
            delivery = %claimed.id,
            attempt = claimed.attempt,
            status = record.status_code,
            latency_ms = record.latency_ms,
            error = record.error.as_deref(),
            "webhook attempt"
        );
        self.store.record_attempt(&claimed, worker, &record).await?;
        Ok(true)
    }

    async fn attempt(&self, claimed: &ClaimedDelivery) -> DomainResult<AttemptRecord> {
        let timestamp = Utc::now().timestamp();
        let mut signatures = Vec::with_capacity(claimed.sealed_secrets.len());
        for sealed in &claimed.sealed_secrets {
            signatures.push(sign(&self.cipher.decrypt(sealed)?, &claimed.id, timestamp, &claimed.payload)?);
        }
        let started = Instant::now();
        let result = match reqwest::Url::parse(&claimed.url) {
            Err(e) => Err(format!("bad URL: {e}")),
            Ok(url) => match self.client.request(reqwest::Method::POST, url) {
                Err(refusal) => Err(refusal.to_string()),
                Ok(request) => request
                    .header("content-type", "application/json")
                    .header("webhook-id", &claimed.id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signatures.join(" "))
                    .body(claimed.payload.clone())
                    .send()
                    .await
                    .map_err(|e| match crate::net::guard::refusal_of(&e) {
                        Some(refusal) => refusal.to_string(),
                        None if e.is_timeout() => "timed out".to_owned(),
                        None => format!("could not connect: {e}"),
                    }),
            },
        };
        let latency_ms = started.elapsed().as_millis().min(u32::MAX as u128) as u32;
        let at = Utc::now();
        let base = (self.config.retry_base)();
        Ok(match result {
            Ok(response) if response.status().is_success() => AttemptRecord {
                status_code: Some(response.status().as_u16()),
                latency_ms,
                error: None,
                outcome: AttemptOutcome::Delivered,
                at,
            },
            Ok(response) => AttemptRecord {
                status_code: Some(response.status().as_u16()),
                latency_ms,
                error: Some(format!("answered {}", response.status())),
                outcome: after_failure(claimed.attempt, at, base),
                at,
            },
            Err(error) => AttemptRecord {
                status_code: None,
                latency_ms,
                error: Some(error),
                outcome: after_failure(claimed.attempt, at, base),
                at,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signs_as_the_specification_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_prefixed_random_keys() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with(SECRET_PREFIX) && a != b);
        assert_eq!(STANDARD.decode(&a[SECRET_PREFIX.len()..]).unwrap().len(), 32);
    }
}
