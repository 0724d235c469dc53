//! The runtime settings' storage: one row per overridden key; the default model is the
//! models' `is_default` flag, set for one model (and cleared for the others) in the same
//! transaction as the other changes and the audit row.

use chrono::Utc;
use nishan_domain::audit::AuditEntry;
use nishan_domain::ports::SettingsRepository;
use nishan_domain::settings::SettingsPatch;
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::{Store, audit, internal};
use crate::entity::{llm_model, system_setting};

impl SettingsRepository for Store {
    async fn setting_overrides(&self) -> DomainResult<Vec<(String, Value)>> {
        Ok(system_setting::Entity::find()
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect())
    }

    async fn save_settings(&self, patch: &SettingsPatch, audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        let now = Utc::now();
        for (key, value) in &patch.overrides {
            match value {
                Some(v) => {
                    let row = system_setting::ActiveModel {
                        key: Set(key.clone()),
                        value: Set(json!(v)),
                        updated_at: Set(now),
                    };
                    system_setting::Entity::insert(row)
                        .on_conflict(
                            OnConflict::column(system_setting::Column::Key)
                                .update_columns([system_setting::Column::Value, system_setting::Column::UpdatedAt])
                                .to_owned(),
                        )
                        .exec_without_returning(&txn)
                        .await
                        .map_err(internal)?;
                }
                None => {
                    system_setting::Entity::delete_by_id(key.clone()).exec(&txn).await.map_err(internal)?;
                }
            }
        }
        if let Some(model) = patch.default_model {
            let found = llm_model::Entity::find_by_id(model)
                .filter(llm_model::Column::IsActive.eq(true))
                .one(&txn)
                .await
                .map_err(internal)?;
            if found.is_none() {
                return Err(DomainError::NotFound { resource: "model" });
            }
            llm_model::Entity::update_many()
                .col_expr(llm_model::Column::IsDefault, ExprTrait::eq(Expr::col(llm_model::Column::Id), model))
                .exec(&txn)
                .await
                .map_err(internal)?;
        }
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }
}
