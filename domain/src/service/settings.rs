//! Runtime settings, for global admins only: read them as they are in force, change them
//! (checked whole, audited). Servers take a change up from the database (see the api's
//! settings cache), so no restart is needed.

use serde_json::{Value, json};

use crate::audit::{AuditEntry, RequestMeta};
use crate::error::{DomainError, DomainResult};
use crate::policy::Actor;
use crate::ports::{ModelRepository, SettingsRepository};
use crate::settings::RuntimeSettings;

pub struct SystemSettings<'a, S> {
    pub store: &'a S,
    /// What the environment gives.
    pub defaults: RuntimeSettings,
}

fn require_admin(actor: &Actor) -> DomainResult<()> {
    if actor.is_admin { Ok(()) } else { Err(DomainError::forbidden("only global admins manage system settings")) }
}

impl<S: SettingsRepository + ModelRepository> SystemSettings<'_, S> {
    /// The settings in force: the defaults with the stored overrides.
    pub async fn current(&self) -> DomainResult<RuntimeSettings> {
        Ok(self.defaults.with_overrides(&self.store.setting_overrides().await?))
    }

    pub async fn get(&self, actor: &Actor) -> DomainResult<Value> {
        require_admin(actor)?;
        let default_model = self.store.default_model().await?.map(|m| m.id);
        Ok(self.current().await?.to_json(default_model))
    }

    /// Applies `input` (an object of settings; `null` returns a key to its default) and
    /// returns the settings in force after it.
    pub async fn update(&self, meta: &RequestMeta, actor: &Actor, input: &Value) -> DomainResult<Value> {
        require_admin(actor)?;
        let patch = RuntimeSettings::patched(input)?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "system_settings.update", "system_settings")
            .resource("system", "system settings")
            .changes(json!({"settings": input}));
        self.store.save_settings(&patch, audit).await?;
        self.get(actor).await
    }
}
