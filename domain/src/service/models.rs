//! Language models and processing configurations: global admins manage them; everyone
//! signed in lists them. `test` makes a minimal real call and records the outcome.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::error::{DomainError, DomainResult};
use crate::ids::EntityTypeId;
use crate::llm::model::{
    LlmModel, ModelFields, ModelId, ProcessingConfig, Reservation, ValidationStatus, check_provider_settings, key_hint,
};
use crate::llm::{CompletionRequest, LlmClient, ModelEndpoint, Provider};
use crate::policy::Actor;
use crate::ports::{ConfigRepository, EntityTypeRepository, ModelCall, ModelRepository, SecretCipher};

fn require_admin(actor: &Actor) -> DomainResult<()> {
    if actor.is_admin { Ok(()) } else { Err(DomainError::forbidden("only global admins manage language models")) }
}

pub struct Models<'a, S, C> {
    pub store: &'a S,
    pub cipher: &'a C,
}

impl<S: ModelRepository + ConfigRepository + EntityTypeRepository, C: SecretCipher> Models<'_, S, C> {
    pub async fn create(&self, meta: &RequestMeta, actor: &Actor, fields: ModelFields) -> DomainResult<LlmModel> {
        require_admin(actor)?;
        let f = fields.validated()?;
        let name = f.name.clone().ok_or_else(|| DomainError::invalid("name", "is required"))?;
        let provider = f.provider.ok_or_else(|| DomainError::invalid("provider", "is required"))?;
        let model_name = f.model_name.clone().ok_or_else(|| DomainError::invalid("modelName", "is required"))?;
        let key = f.api_key.clone().flatten();
        let base_url = f.api_base_url.clone().flatten();
        let api_version = f.api_version.clone().flatten();
        check_provider_settings(provider, base_url.as_deref(), key.is_some(), api_version.as_deref())?;
        let encrypted = key.as_deref().map(|k| self.cipher.encrypt(k)).transpose()?;
        let now = Utc::now();
        let model = LlmModel {
            id: uuid::Uuid::now_v7(),
            name,
            provider,
            model_name,
            api_base_url: base_url,
            api_version,
            has_api_key: key.is_some(),
            api_key_hint: key.as_deref().map(key_hint),
            is_active: f.is_active.unwrap_or(true),
            is_default: f.is_default.unwrap_or(false),
            priority: f.priority.unwrap_or(0),
            max_tokens: f.max_tokens.unwrap_or(2048),
            temperature: f.temperature.unwrap_or(0.0),
            timeout_secs: f.timeout_secs.unwrap_or(60),
            rate_limit_per_minute: f.rate_limit_per_minute.flatten(),
            rate_limit_per_hour: f.rate_limit_per_hour.flatten(),
            cost_per_1k_prompt_tokens: f.cost_per_1k_prompt_tokens.unwrap_or(0.0),
            cost_per_1k_completion_tokens: f.cost_per_1k_completion_tokens.unwrap_or(0.0),
            total_requests: 0,
            successful_requests: 0,
            failed_requests: 0,
            average_response_ms: 0.0,
            validation_status: if provider == Provider::Builtin {
                ValidationStatus::Connected
            } else {
                ValidationStatus::Pending
            },
            validation_error: None,
            validated_at: None,
            created_by: Some(actor.user_id),
            created_at: now,
            updated_at: now,
        };
        let audit = AuditEntry::new(meta, Some(actor.user_id), "llm_model.create", "llm_model")
            .resource(model.id, &model.name)
            .changes(json!({"provider": provider.as_str(), "modelName": model.model_name, "hasApiKey": key.is_some()}));
        self.store.create_model(model, encrypted, audit).await
    }

    pub async fn update(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: ModelId,
        fields: ModelFields,
    ) -> DomainResult<LlmModel> {
        require_admin(actor)?;
        let f = fields.validated()?;
        let current = self.store.model_by_id(id).await?.ok_or(DomainError::NotFound { resource: "model" })?;
        let provider = f.provider.unwrap_or(current.provider);
        let base_url = f.api_base_url.clone().unwrap_or(current.api_base_url.clone());
        let version = f.api_version.clone().unwrap_or(current.api_version.clone());
        let has_key = f.api_key.as_ref().map_or(current.has_api_key, Option::is_some);
        check_provider_settings(provider, base_url.as_deref(), has_key, version.as_deref())?;
        let encrypted = match &f.api_key {
            None => None,
            Some(None) => Some(None),
            Some(Some(k)) => Some(Some(self.cipher.encrypt(k)?)),
        };
        let changed: Vec<&str> = [
            ("name", f.name.is_some()),
            ("provider", f.provider.is_some()),
            ("modelName", f.model_name.is_some()),
            ("apiKey", f.api_key.is_some()),
            ("apiBaseUrl", f.api_base_url.is_some()),
            ("isActive", f.is_active.is_some()),
            ("isDefault", f.is_default.is_some()),
            ("priority", f.priority.is_some()),
            ("rateLimits", f.rate_limit_per_minute.is_some() || f.rate_limit_per_hour.is_some()),
            ("costs", f.cost_per_1k_prompt_tokens.is_some() || f.cost_per_1k_completion_tokens.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        let audit = AuditEntry::new(meta, Some(actor.user_id), "llm_model.update", "llm_model")
            .resource(id, &current.name)
            .changes(json!({"fields": changed}));
        self.store.update_model(id, f, encrypted, audit).await
    }

    pub async fn delete(&self, meta: &RequestMeta, actor: &Actor, id: ModelId) -> DomainResult<()> {
        require_admin(actor)?;
        let current = self.store.model_by_id(id).await?.ok_or(DomainError::NotFound { resource: "model" })?;
        if current.provider == Provider::Builtin && current.is_default {
            return Err(DomainError::conflict(
                "the built-in default model cannot be deleted; make another model the default first",
            ));
        }
        let audit =
            AuditEntry::new(meta, Some(actor.user_id), "llm_model.delete", "llm_model").resource(id, &current.name);
        self.store.delete_model(id, audit).await
    }

    /// The endpoint to call a model, with its key decrypted in memory.
    pub async fn endpoint(&self, model: &LlmModel) -> DomainResult<ModelEndpoint> {
        let key = match self.store.encrypted_key(model.id).await? {
            Some(sealed) => Some(self.cipher.decrypt(&sealed)?),
            None => None,
        };
        Ok(model_endpoint(model, key))
    }

    /// Makes a minimal real call and records VALIDATING, then CONNECTED or ERROR. The call
    /// counts against the model's rate limits like a job's: when a limit is reached, the test
    /// is refused with `RateLimited` before anything changes. The caller must let this run
    /// to its end even when the client goes away (the API spawns it), or the model would stay
    /// VALIDATING.
    pub async fn test(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: ModelId,
        client: &impl LlmClient,
    ) -> DomainResult<LlmModel> {
        require_admin(actor)?;
        let model = self.store.model_by_id(id).await?.ok_or(DomainError::NotFound { resource: "model" })?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "llm_model.test", "llm_model").resource(id, &model.name);
        if model.provider == Provider::Builtin {
            return self.store.set_validation(id, ValidationStatus::Connected, None, Some(audit)).await;
        }
        let windows = model.call_windows();
        if !windows.is_empty() {
            let now = Utc::now();
            if let Reservation::WaitUntil(until) = self.store.reserve_call(id, &windows, now).await? {
                return Err(crate::llm::model::rate_limited(until, Utc::now()));
            }
        }
        let endpoint = self.endpoint(&model).await?;
        self.store.set_validation(id, ValidationStatus::Validating, None, None).await?;
        let request = CompletionRequest {
            system: "You check that a connection works.".into(),
            user: "Answer with the JSON {\"entities\": []} and nothing else.".into(),
            max_tokens: 32,
            temperature: 0.0,
            json_schema: None,
        };
        let started = Instant::now();
        let outcome = client.complete(&endpoint, &request).await;
        let (prompt, completion) = outcome.as_ref().map_or((0, 0), |c| (c.prompt_tokens, c.completion_tokens));
        self.store
            .record_call(ModelCall {
                job_id: None,
                llm_model_id: id,
                project_id: None,
                user_id: Some(actor.user_id),
                chunk_index: None,
                attempt: 1,
                prompt_tokens: prompt,
                completion_tokens: completion,
                cost: model.cost(prompt, completion),
                latency_ms: started.elapsed().as_millis() as u32,
                error: outcome.as_ref().err().map(ToString::to_string),
                at: Utc::now(),
            })
            .await?;
        let (status, error) = match outcome {
            Ok(_) => (ValidationStatus::Connected, None),
            Err(e) => (ValidationStatus::Error, Some(e.to_string())),
        };
        self.store.set_validation(id, status, error, Some(audit)).await
    }

    pub async fn create_config(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        mut config: ProcessingConfig,
    ) -> DomainResult<ProcessingConfig> {
        require_admin(actor)?;
        config.name = config.name.trim().to_owned();
        config.validate()?;
        // Every entity type it names must exist (a configuration extracting nothing it names
        // would silently extract nothing).
        let mut wanted = config.entity_type_ids.clone();
        wanted.sort_by_key(|t| t.0);
        wanted.dedup();
        let found = self.store.entity_types_by_ids(&wanted).await?;
        if let Some(missing) = wanted.iter().find(|id| !found.iter().any(|t| t.id == **id)) {
            return Err(DomainError::invalid("entityTypeIds", format!("no entity type has the id {}", missing.0)));
        }
        config.id = uuid::Uuid::now_v7();
        config.created_by = Some(actor.user_id);
        config.created_at = Utc::now();
        config.updated_at = config.created_at;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "processing_config.create", "llm_processing_config")
            .resource(config.id, &config.name)
            .changes(json!({"chunkSize": config.chunk_size, "confidenceThreshold": config.confidence_threshold}));
        self.store.create_config(config, audit).await
    }
}

/// The endpoint to call `model` with its decrypted `key`.
pub fn model_endpoint(model: &LlmModel, key: Option<String>) -> ModelEndpoint {
    ModelEndpoint {
        provider: model.provider,
        model_name: model.model_name.clone(),
        api_base_url: model.api_base_url.clone(),
        api_key: key,
        api_version: model.api_version.clone(),
        timeout: Duration::from_secs(u64::from(model.timeout_secs)),
    }
}

/// The entity type ids a configuration extracts: its list, or every active type.
pub fn types_to_extract(config: &ProcessingConfig, active: &[(EntityTypeId, String)]) -> Vec<(EntityTypeId, String)> {
    if config.entity_type_ids.is_empty() {
        active.to_vec()
    } else {
        active.iter().filter(|(id, _)| config.entity_type_ids.contains(id)).cloned().collect()
    }
}
