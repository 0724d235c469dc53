//! Sessions: created at login, looked up by token digest, revoked at logout.

use chrono::{DateTime, Duration, Utc};
use nishan_domain::audit::AuditEntry;
use nishan_domain::ids::SessionId;
use nishan_domain::ports::SessionRepository;
use nishan_domain::session::Session;
use nishan_domain::user::User;
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, JoinType, QueryFilter, QuerySelect};

use super::{Store, audit, convert, internal};
use crate::entity::{user, user_session};

/// How stale `last_used_at` may get before a request refreshes it: one write per minute per
/// session rather than one per request.
const TOUCH_EVERY: Duration = Duration::seconds(60);

impl SessionRepository for Store {
    async fn create_session(&self, session: &Session, token_hash: &str, audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        user_session::ActiveModel {
            id: Set(session.id.0),
            user_id: Set(session.user_id.0),
            token_hash: Set(token_hash.to_owned()),
            expires_at: Set(session.expires_at),
            created_at: Set(session.created_at),
            last_used_at: Set(session.last_used_at),
            revoked_at: Set(None),
            ip_address: Set(session.ip.clone()),
            user_agent: Set(session.user_agent.clone()),
        }
        .insert(&txn)
        .await
        .map_err(internal)?;
        user::Entity::update_many()
            .col_expr(user::Column::LastLogin, Expr::value(session.created_at))
            .col_expr(user::Column::LastActivity, Expr::value(session.created_at))
            .filter(user::Column::Id.eq(session.user_id.0))
            .exec(&txn)
            .await
            .map_err(internal)?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }

    async fn authenticate(&self, token_hash: &str, now: DateTime<Utc>) -> DomainResult<Option<(Session, User)>> {
        let db = self.connection();
        // The session and its user in one statement: every signed-in request starts here.
        let its_user = user_session::Entity::belongs_to(user::Entity)
            .from(user_session::Column::UserId)
            .to(user::Column::Id)
            .into();
        let Some((row, Some(user_row))) = user_session::Entity::find()
            .filter(user_session::Column::TokenHash.eq(token_hash))
            .join(JoinType::InnerJoin, its_user)
            .select_also(user::Entity)
            .one(db)
            .await
            .map_err(internal)?
        else {
            return Ok(None);
        };
        let session = convert::session(row);
        if !session.is_valid_at(now) {
            return Ok(None);
        }
        let user = convert::user(user_row);
        if !user.is_active {
            return Ok(None);
        }
        if now - session.last_used_at > TOUCH_EVERY {
            user_session::Entity::update_many()
                .col_expr(user_session::Column::LastUsedAt, Expr::value(now))
                .filter(user_session::Column::Id.eq(session.id.0))
                .exec(db)
                .await
                .map_err(internal)?;
            user::Entity::update_many()
                .col_expr(user::Column::LastActivity, Expr::value(now))
                .filter(user::Column::Id.eq(user.id.0))
                .exec(db)
                .await
                .map_err(internal)?;
        }
        Ok(Some((session, user)))
    }

    async fn revoke_session(&self, id: SessionId, now: DateTime<Utc>, audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        let result = user_session::Entity::update_many()
            .col_expr(user_session::Column::RevokedAt, Expr::value(now))
            .filter(user_session::Column::Id.eq(id.0))
            .filter(user_session::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .map_err(internal)?;
        if result.rows_affected == 0 {
            return Err(DomainError::Unauthenticated);
        }
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }
}
