//! Language models, processing configurations and the record of model calls.

use chrono::{DateTime, Utc};
use nishan_domain::audit::AuditEntry;
use nishan_domain::ids::EntityTypeId;
use nishan_domain::llm::Provider;
use nishan_domain::llm::model::{
    CallWindow, LlmModel, ModelFields, ModelId, PostProcessing, ProcessingConfig, Reservation, ValidationStatus,
    key_hint,
};
use nishan_domain::ports::{ConfigRepository, ModelCall, ModelRepository};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use super::{Store, audit, convert, internal};
use crate::entity::{llm_model, model_call, model_call_slot, processing_config, processing_job};

const MODEL_TAKEN: &str = "a model of that name exists";
const CONFIG_TAKEN: &str = "a processing configuration of that name exists";

fn model(m: llm_model::Model) -> DomainResult<LlmModel> {
    Ok(LlmModel {
        id: m.id,
        name: m.name,
        provider: Provider::parse(&m.provider)?,
        model_name: m.model_name,
        api_base_url: m.api_base_url,
        api_version: m.api_version,
        has_api_key: m.api_key_encrypted.is_some(),
        api_key_hint: m.api_key_hint,
        is_active: m.is_active,
        is_default: m.is_default,
        priority: m.priority,
        max_tokens: m.max_tokens as u32,
        temperature: m.temperature,
        timeout_secs: m.timeout_secs as u32,
        rate_limit_per_minute: m.rate_limit_per_minute.map(|v| v as u32),
        rate_limit_per_hour: m.rate_limit_per_hour.map(|v| v as u32),
        cost_per_1k_prompt_tokens: m.cost_per1k_prompt_tokens,
        cost_per_1k_completion_tokens: m.cost_per1k_completion_tokens,
        total_requests: m.total_requests,
        successful_requests: m.successful_requests,
        failed_requests: m.failed_requests,
        average_response_ms: m.average_response_ms,
        validation_status: ValidationStatus::parse(&m.validation_status)?,
        validation_error: m.validation_error,
        validated_at: m.validated_at,
        created_by: m.created_by.map(Into::into),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

pub(crate) fn config(m: processing_config::Model) -> ProcessingConfig {
    ProcessingConfig {
        id: m.id,
        name: m.name,
        description: m.description,
        chunk_size: m.chunk_size as u32,
        chunk_overlap: m.chunk_overlap as u32,
        max_tokens: m.max_tokens as u32,
        confidence_threshold: m.confidence_threshold,
        entity_type_ids: convert::strings(m.entity_type_ids)
            .iter()
            .filter_map(|s| s.parse::<Uuid>().ok())
            .map(EntityTypeId)
            .collect(),
        system_prompt: m.system_prompt,
        user_prompt_template: m.user_prompt_template,
        examples: m.examples,
        post_processing: PostProcessing::from_stored(&m.post_processing),
        is_default: m.is_default,
        created_by: m.created_by.map(Into::into),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// Clears `is_default` on the other models of a provider: one default per provider.
async fn clear_defaults(conn: &impl ConnectionTrait, provider: Provider, except: ModelId) -> DomainResult<()> {
    llm_model::Entity::update_many()
        .col_expr(llm_model::Column::IsDefault, Expr::value(false))
        .filter(llm_model::Column::Provider.eq(provider.as_str()))
        .filter(llm_model::Column::Id.ne(except))
        .exec(conn)
        .await
        .map_err(internal)?;
    Ok(())
}

async fn name_taken(conn: &impl ConnectionTrait, name: &str, except: Option<ModelId>) -> DomainResult<bool> {
    let mut q = llm_model::Entity::find().filter(llm_model::Column::Name.eq(name));
    if let Some(id) = except {
        q = q.filter(llm_model::Column::Id.ne(id));
    }
    Ok(q.count(conn).await.map_err(internal)? > 0)
}

impl ModelRepository for Store {
    async fn models(&self) -> DomainResult<Vec<LlmModel>> {
        llm_model::Entity::find()
            .order_by_desc(llm_model::Column::Priority)
            .order_by_asc(llm_model::Column::Name)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(model)
            .collect()
    }

    async fn model_by_id(&self, id: ModelId) -> DomainResult<Option<LlmModel>> {
        llm_model::Entity::find_by_id(id).one(self.connection()).await.map_err(internal)?.map(model).transpose()
    }

    async fn default_model(&self) -> DomainResult<Option<LlmModel>> {
        llm_model::Entity::find()
            .filter(llm_model::Column::IsDefault.eq(true))
            .filter(llm_model::Column::IsActive.eq(true))
            .order_by_desc(llm_model::Column::Priority)
            .order_by_asc(llm_model::Column::CreatedAt)
            .one(self.connection())
            .await
            .map_err(internal)?
            .map(model)
            .transpose()
    }

    async fn create_model(
        &self,
        m: LlmModel,
        encrypted_key: Option<String>,
        audit_entry: AuditEntry,
    ) -> DomainResult<LlmModel> {
        let txn = self.write().await?;
        if name_taken(&txn, &m.name, None).await? {
            return Err(DomainError::conflict(MODEL_TAKEN));
        }
        if m.is_default {
            clear_defaults(&txn, m.provider, m.id).await?;
        }
        let row = llm_model::ActiveModel {
            id: Set(m.id),
            name: Set(m.name.clone()),
            provider: Set(m.provider.as_str().to_owned()),
            model_name: Set(m.model_name.clone()),
            api_base_url: Set(m.api_base_url.clone()),
            api_key_encrypted: Set(encrypted_key),
            api_key_hint: Set(m.api_key_hint.clone()),
            api_version: Set(m.api_version.clone()),
            is_active: Set(m.is_active),
            is_default: Set(m.is_default),
            priority: Set(m.priority),
            max_tokens: Set(m.max_tokens as i32),
            temperature: Set(m.temperature),
            timeout_secs: Set(m.timeout_secs as i32),
            rate_limit_per_minute: Set(m.rate_limit_per_minute.map(|v| v as i32)),
            rate_limit_per_hour: Set(m.rate_limit_per_hour.map(|v| v as i32)),
            cost_per1k_prompt_tokens: Set(m.cost_per_1k_prompt_tokens),
            cost_per1k_completion_tokens: Set(m.cost_per_1k_completion_tokens),
            total_requests: Set(0),
            successful_requests: Set(0),
            failed_requests: Set(0),
            average_response_ms: Set(0.0),
            validation_status: Set(m.validation_status.as_str().to_owned()),
            validation_error: Set(None),
            validated_at: Set(None),
            created_by: Set(m.created_by.map(|u| u.0)),
            created_at: Set(m.created_at),
            updated_at: Set(m.updated_at),
        }
        .insert(&txn)
        .await
        .map_err(|e| super::conflict_or_internal(e, MODEL_TAKEN))?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        model(row)
    }

    async fn update_model(
        &self,
        id: ModelId,
        f: ModelFields,
        encrypted_key: Option<Option<String>>,
        audit_entry: AuditEntry,
    ) -> DomainResult<LlmModel> {
        let txn = self.write().await?;
        let row = llm_model::Entity::find_by_id(id)
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or(DomainError::NotFound { resource: "model" })?;
        if let Some(name) = &f.name
            && name_taken(&txn, name, Some(id)).await?
        {
            return Err(DomainError::conflict(MODEL_TAKEN));
        }
        let provider = f.provider.map_or_else(|| Provider::parse(&row.provider), Ok)?;
        let mut m = row.into_active_model();
        macro_rules! apply {
            ($($field:ident),*) => {$( if let Some(v) = f.$field { m.$field = Set(v); } )*};
        }
        apply!(name, model_name, api_base_url, api_version, is_active, is_default, priority, temperature);
        if let Some(p) = f.provider {
            m.provider = Set(p.as_str().to_owned());
        }
        if let Some(v) = f.max_tokens {
            m.max_tokens = Set(v as i32);
        }
        if let Some(v) = f.timeout_secs {
            m.timeout_secs = Set(v as i32);
        }
        if let Some(v) = f.rate_limit_per_minute {
            m.rate_limit_per_minute = Set(v.map(|x| x as i32));
        }
        if let Some(v) = f.rate_limit_per_hour {
            m.rate_limit_per_hour = Set(v.map(|x| x as i32));
        }
        if let Some(v) = f.cost_per_1k_prompt_tokens {
            m.cost_per1k_prompt_tokens = Set(v);
        }
        if let Some(v) = f.cost_per_1k_completion_tokens {
            m.cost_per1k_completion_tokens = Set(v);
        }
        if let Some(key) = encrypted_key {
            m.api_key_hint = Set(f.api_key.clone().flatten().map(|k| key_hint(&k)));
            m.api_key_encrypted = Set(key);
            // A new key (or endpoint) has not been tested yet.
            m.validation_status = Set(ValidationStatus::Pending.as_str().to_owned());
        }
        m.updated_at = Set(Utc::now());
        let row = m.update(&txn).await.map_err(|e| super::conflict_or_internal(e, MODEL_TAKEN))?;
        if row.is_default {
            clear_defaults(&txn, provider, id).await?;
        }
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        model(row)
    }

    async fn delete_model(&self, id: ModelId, audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        let running = processing_job::Entity::find()
            .filter(processing_job::Column::LlmModelId.eq(id))
            .filter(processing_job::Column::Status.is_in(["QUEUED", "PROCESSING", "PAUSED"]))
            .count(&txn)
            .await
            .map_err(internal)?;
        if running > 0 {
            return Err(DomainError::conflict(format!(
                "{running} unfinished job(s) use this model; cancel them first"
            )));
        }
        let deleted = llm_model::Entity::delete_by_id(id).exec(&txn).await.map_err(internal)?;
        if deleted.rows_affected == 0 {
            return Err(DomainError::NotFound { resource: "model" });
        }
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }

    async fn encrypted_key(&self, id: ModelId) -> DomainResult<Option<String>> {
        Ok(llm_model::Entity::find_by_id(id)
            .one(self.connection())
            .await
            .map_err(internal)?
            .and_then(|m| m.api_key_encrypted))
    }

    async fn record_call(&self, call: ModelCall) -> DomainResult<()> {
        let txn = self.write().await?;
        let cost = call.cost;
        model_call::ActiveModel {
            id: Set(Uuid::now_v7()),
            job_id: Set(call.job_id),
            llm_model_id: Set(Some(call.llm_model_id)),
            project_id: Set(call.project_id.map(|p| p.0)),
            user_id: Set(call.user_id.map(|u| u.0)),
            chunk_index: Set(call.chunk_index.map(|c| c as i32)),
            attempt: Set(call.attempt as i32),
            prompt_tokens: Set(call.prompt_tokens as i32),
            completion_tokens: Set(call.completion_tokens as i32),
            cost: Set(cost),
            latency_ms: Set(call.latency_ms as i32),
            status: Set(if call.error.is_some() { "ERROR" } else { "SUCCESS" }.to_owned()),
            error: Set(call.error.clone()),
            created_at: Set(call.at),
        }
        .insert(&txn)
        .await
        .map_err(internal)?;
        // One UPDATE reads the old values on its right-hand side: the mean stays exact even
        // when two calls finish at once.
        let (ok, failed) = if call.error.is_some() { (0, 1) } else { (1, 0) };
        let latency = f64::from(call.latency_ms);
        llm_model::Entity::update_many()
            .col_expr(
                llm_model::Column::AverageResponseMs,
                Expr::cust(format!("average_response_ms + ({latency} - average_response_ms) / (total_requests + 1)")),
            )
            .col_expr(llm_model::Column::TotalRequests, Expr::cust("total_requests + 1"))
            .col_expr(llm_model::Column::SuccessfulRequests, Expr::cust(format!("successful_requests + {ok}")))
            .col_expr(llm_model::Column::FailedRequests, Expr::cust(format!("failed_requests + {failed}")))
            .filter(llm_model::Column::Id.eq(call.llm_model_id))
            .exec(&txn)
            .await
            .map_err(internal)?;
        if let Some(job) = call.job_id {
            let tokens = i64::from(call.prompt_tokens) + i64::from(call.completion_tokens);
            processing_job::Entity::update_many()
                .col_expr(processing_job::Column::TokensUsed, Expr::cust(format!("tokens_used + {tokens}")))
                .col_expr(processing_job::Column::Cost, Expr::cust(format!("cost + {cost}")))
                .filter(processing_job::Column::Id.eq(job))
                .exec(&txn)
                .await
                .map_err(internal)?;
        }
        txn.commit().await.map_err(internal)
    }

    async fn reserve_call(&self, id: ModelId, windows: &[CallWindow], now: DateTime<Utc>) -> DomainResult<Reservation> {
        let txn = self.write().await?;
        if self.is_postgres() {
            // One reservation of a model at a time, across replicas (SQLite's write lock
            // serialises them already).
            llm_model::Entity::find_by_id(id).lock_exclusive().one(&txn).await.map_err(internal)?;
        }
        if let Some(longest) = windows.iter().map(|w| w.window).max() {
            model_call_slot::Entity::delete_many()
                .filter(model_call_slot::Column::LlmModelId.eq(id))
                .filter(model_call_slot::Column::ReservedAt.lte(now - longest))
                .exec(&txn)
                .await
                .map_err(internal)?;
        }
        let mut wait: Option<DateTime<Utc>> = None;
        for w in windows {
            let in_window = model_call_slot::Entity::find()
                .filter(model_call_slot::Column::LlmModelId.eq(id))
                .filter(model_call_slot::Column::ReservedAt.gt(now - w.window));
            let count = in_window.clone().count(&txn).await.map_err(internal)?;
            if count >= u64::from(w.limit) {
                // The window has room again when its (count - limit + 1)-th oldest slot leaves it.
                let leaving: Option<DateTime<Utc>> = in_window
                    .select_only()
                    .column(model_call_slot::Column::ReservedAt)
                    .order_by_asc(model_call_slot::Column::ReservedAt)
                    .offset(count - u64::from(w.limit))
                    .into_tuple()
                    .one(&txn)
                    .await
                    .map_err(internal)?;
                let until = leaving.map_or(now, |t| t + w.window);
                wait = Some(wait.map_or(until, |u| u.max(until)));
            }
        }
        let answer = match wait {
            Some(until) => Reservation::WaitUntil(until),
            None => {
                model_call_slot::ActiveModel { id: Set(Uuid::now_v7()), llm_model_id: Set(id), reserved_at: Set(now) }
                    .insert(&txn)
                    .await
                    .map_err(internal)?;
                Reservation::Granted
            }
        };
        txn.commit().await.map_err(internal)?;
        Ok(answer)
    }

    async fn set_validation(
        &self,
        id: ModelId,
        status: ValidationStatus,
        error: Option<String>,
        audit_entry: Option<AuditEntry>,
    ) -> DomainResult<LlmModel> {
        let txn = self.write().await?;
        let row = llm_model::Entity::find_by_id(id)
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or(DomainError::NotFound { resource: "model" })?;
        let mut m = row.into_active_model();
        m.validation_status = Set(status.as_str().to_owned());
        m.validation_error = Set(error);
        m.validated_at = Set(Some(Utc::now()));
        let row = m.update(&txn).await.map_err(internal)?;
        if let Some(entry) = audit_entry {
            audit::insert(&txn, entry).await?;
        }
        txn.commit().await.map_err(internal)?;
        model(row)
    }
}

impl ConfigRepository for Store {
    async fn configs(&self) -> DomainResult<Vec<ProcessingConfig>> {
        Ok(processing_config::Entity::find()
            .order_by_desc(processing_config::Column::IsDefault)
            .order_by_asc(processing_config::Column::Name)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(config)
            .collect())
    }

    async fn config_by_id(&self, id: Uuid) -> DomainResult<Option<ProcessingConfig>> {
        Ok(processing_config::Entity::find_by_id(id).one(self.connection()).await.map_err(internal)?.map(config))
    }

    async fn default_config(&self) -> DomainResult<Option<ProcessingConfig>> {
        Ok(processing_config::Entity::find()
            .filter(processing_config::Column::IsDefault.eq(true))
            .order_by_asc(processing_config::Column::CreatedAt)
            .one(self.connection())
            .await
            .map_err(internal)?
            .map(config))
    }

    async fn create_config(&self, c: ProcessingConfig, audit_entry: AuditEntry) -> DomainResult<ProcessingConfig> {
        let txn = self.write().await?;
        let taken = processing_config::Entity::find()
            .filter(processing_config::Column::Name.eq(&c.name))
            .count(&txn)
            .await
            .map_err(internal)?;
        if taken > 0 {
            return Err(DomainError::conflict(CONFIG_TAKEN));
        }
        if c.is_default {
            processing_config::Entity::update_many()
                .col_expr(processing_config::Column::IsDefault, Expr::value(false))
                .exec(&txn)
                .await
                .map_err(internal)?;
        }
        let row = processing_config::ActiveModel {
            id: Set(c.id),
            name: Set(c.name.clone()),
            description: Set(c.description.clone()),
            chunk_size: Set(c.chunk_size as i32),
            chunk_overlap: Set(c.chunk_overlap as i32),
            max_tokens: Set(c.max_tokens as i32),
            confidence_threshold: Set(c.confidence_threshold),
            entity_type_ids: Set(json!(c.entity_type_ids.iter().map(|t| t.to_string()).collect::<Vec<_>>())),
            system_prompt: Set(c.system_prompt.clone()),
            user_prompt_template: Set(c.user_prompt_template.clone()),
            examples: Set(c.examples.clone()),
            post_processing: Set(c.post_processing.to_json()),
            is_default: Set(c.is_default),
            created_by: Set(c.created_by.map(|u| u.0)),
            created_at: Set(c.created_at),
            updated_at: Set(c.updated_at),
        }
        .insert(&txn)
        .await
        .map_err(|e| super::conflict_or_internal(e, CONFIG_TAKEN))?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(config(row))
    }
}

impl nishan_domain::ports::UsageRepository for Store {
    async fn calls_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        project: Option<nishan_domain::ids::ProjectId>,
        user: Option<nishan_domain::ids::UserId>,
    ) -> DomainResult<Vec<nishan_domain::usage::CallRecord>> {
        let mut q = model_call::Entity::find()
            .filter(model_call::Column::CreatedAt.gte(from))
            .filter(model_call::Column::CreatedAt.lt(to));
        if let Some(p) = project {
            q = q.filter(model_call::Column::ProjectId.eq(p.0));
        }
        if let Some(u) = user {
            q = q.filter(model_call::Column::UserId.eq(u.0));
        }
        Ok(q.order_by_asc(model_call::Column::CreatedAt)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(|c| nishan_domain::usage::CallRecord {
                user: c.user_id.map(Into::into),
                model: c.llm_model_id,
                project: c.project_id.map(Into::into),
                at: c.created_at,
                prompt_tokens: c.prompt_tokens.max(0) as u64,
                completion_tokens: c.completion_tokens.max(0) as u64,
                cost: c.cost,
                failed: c.status != "SUCCESS",
            })
            .collect())
    }
}
