//! Retention: deleting sessions that can no longer be used, audit rows and model-call records
//! past their retention periods, rate-limit counters of past windows and sign-in attempt counters
//! that no longer matter.

use chrono::{DateTime, Utc};
use nishan_domain::DomainResult;
use nishan_domain::ports::RetentionRepository;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{Store, internal};
use crate::entity::{audit_log, model_call, user_session};

impl RetentionRepository for Store {
    async fn delete_sessions_ended_before(&self, before: DateTime<Utc>) -> DomainResult<u64> {
        let result = user_session::Entity::delete_many()
            .filter(user_session::Column::ExpiresAt.lt(before).or(user_session::Column::RevokedAt.lt(before)))
            .exec(self.connection())
            .await
            .map_err(internal)?;
        Ok(result.rows_affected)
    }

    async fn delete_audit_before(&self, before: DateTime<Utc>) -> DomainResult<u64> {
        let result = audit_log::Entity::delete_many()
            .filter(audit_log::Column::Timestamp.lt(before))
            .exec(self.connection())
            .await
            .map_err(internal)?;
        Ok(result.rows_affected)
    }

    async fn delete_model_calls_before(&self, before: DateTime<Utc>) -> DomainResult<u64> {
        let result = model_call::Entity::delete_many()
            .filter(model_call::Column::CreatedAt.lt(before))
            .exec(self.connection())
            .await
            .map_err(internal)?;
        Ok(result.rows_affected)
    }

    async fn delete_rate_limits_before(&self, window_start: i64) -> DomainResult<u64> {
        let delete = Query::delete()
            .from_table(Alias::new("rate_limits"))
            .and_where(Expr::col(Alias::new("window_start")).lt(window_start))
            .to_owned();
        let result = self.connection().execute(&delete).await.map_err(internal)?;
        Ok(result.rows_affected())
    }

    async fn delete_login_throttles_before(&self, before: DateTime<Utc>) -> DomainResult<u64> {
        let delete = super::login_throttles::delete_stale(before);
        let result = self.connection().execute(&delete).await.map_err(internal)?;
        Ok(result.rows_affected())
    }
}
