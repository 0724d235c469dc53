//! The runtime settings in force on this server: the environment's defaults with the overrides
//! stored in the database (`nishan_domain::settings`), read again every
//! `NISHAN_SETTINGS_REFRESH_MS`, so a change made on any replica is in force on every replica
//! within that time, without a restart (the replica that made it takes it up at once). Readers
//! (the rate limit, retention, the webhook senders) read the cached copy: no query per request.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use nishan_domain::service::settings::SystemSettings;
use nishan_domain::settings::RuntimeSettings;
use nishan_infrastructure::Store;

use crate::config::Settings;

/// This server's copy of the settings in force.
pub struct RuntimeCache {
    defaults: RuntimeSettings,
    current: RwLock<RuntimeSettings>,
}

impl RuntimeCache {
    /// The environment's defaults, until the first read of the database.
    pub fn new(settings: &Settings) -> Self {
        let defaults = RuntimeSettings {
            mutations_per_minute: settings.surface.mutations_per_minute,
            mutations_per_minute_per_ip: settings.surface.mutations_per_minute_per_ip,
            audit_retention_days: settings.surface.audit_retention_days,
            model_call_retention_days: settings.surface.model_call_retention_days,
            webhook_retry_base_ms: settings.outbound.webhook_retry_base_ms,
        };
        Self { defaults, current: RwLock::new(defaults) }
    }

    pub fn defaults(&self) -> RuntimeSettings {
        self.defaults
    }

    /// The settings in force.
    pub fn get(&self) -> RuntimeSettings {
        *self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the stored overrides again.
    pub async fn refresh(&self, store: &Store) -> nishan_domain::DomainResult<()> {
        let now = SystemSettings { store, defaults: self.defaults }.current().await?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = now;
        Ok(())
    }

    /// Refreshes every `every`, for as long as the process lives.
    pub fn spawn_refresh(self: &Arc<Self>, store: Store, every: Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = this.refresh(&store).await {
                    tracing::warn!(error = %e, "reading the runtime settings");
                }
            }
        });
    }
}
