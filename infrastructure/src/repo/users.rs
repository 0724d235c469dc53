//! Users and their profiles.

use chrono::Utc;
use nishan_domain::audit::AuditEntry;
use nishan_domain::ids::{SessionId, UserId};
use nishan_domain::ports::UserRepository;
use nishan_domain::user::{NewUser, User, UserLookup, UserPatch, UserProfile, profile_completion};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    Statement,
};
use serde_json::json;

use super::{Store, audit, convert, internal};
use crate::entity::{user, user_profile, user_session};

/// `lower(username) = lower(name)`: usernames are unique regardless of case (the unique index
/// `uq_users_username_lower` is on that expression, so it serves this lookup).
fn username_is(name: &str) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::{ExprTrait, Func};
    Func::lower(Expr::col((user::Entity, user::Column::Username))).eq(name.to_lowercase())
}

impl UserRepository for Store {
    async fn create_user(&self, new: NewUser, audit_entry: AuditEntry) -> DomainResult<User> {
        let txn = self.write().await?;
        if self.is_postgres() {
            // Serialises registrations so that exactly one "first user" becomes admin.
            txn.execute_raw(Statement::from_string(
                txn.get_database_backend(),
                "SELECT pg_advisory_xact_lock(7261001)",
            ))
            .await
            .map_err(internal)?;
        }
        let taken = |field: &str| DomainError::conflict(format!("{field} is already taken"));
        if user::Entity::find().filter(username_is(new.username.as_str())).one(&txn).await.map_err(internal)?.is_some()
        {
            return Err(taken("username"));
        }
        if user::Entity::find()
            .filter(user::Column::Email.eq(new.email.as_str()))
            .one(&txn)
            .await
            .map_err(internal)?
            .is_some()
        {
            return Err(taken("email"));
        }
        let is_first = user::Entity::find().count(&txn).await.map_err(internal)? == 0;
        let row = user::ActiveModel {
            id: Set(new.id.0),
            username: Set(new.username.as_str().to_owned()),
            email: Set(new.email.as_str().to_owned()),
            password_hash: Set(new.password_hash),
            first_name: Set(new.first_name),
            last_name: Set(new.last_name),
            bio: Set(None),
            research_interests: Set(json!([])),
            preferences: Set(json!({})),
            institution: Set(None),
            academic_title: Set(None),
            research_focus: Set(None),
            is_researcher: Set(true),
            is_admin: Set(is_first),
            is_active: Set(true),
            email_verified: Set(false),
            last_activity: Set(None),
            last_login: Set(None),
            created_at: Set(new.now),
            updated_at: Set(new.now),
        };
        let model =
            row.insert(&txn).await.map_err(|e| super::conflict_or_internal(e, "username or email is already taken"))?;
        let user = convert::user(model);
        let empty = UserProfile {
            user_id: user.id,
            avatar_url: None,
            website: None,
            orcid: None,
            location: None,
            languages: vec![],
            profile_completion: 0,
        };
        let completion = profile_completion(&user, &empty);
        user_profile::ActiveModel {
            id: Set(UserId::new().0),
            user_id: Set(user.id.0),
            avatar_url: Set(None),
            website: Set(None),
            orcid: Set(None),
            location: Set(None),
            languages: Set(json!([])),
            profile_completion: Set(completion),
            created_at: Set(new.now),
            updated_at: Set(new.now),
        }
        .insert(&txn)
        .await
        .map_err(internal)?;
        let mut entry = audit_entry;
        if is_first {
            entry.changes["isAdmin"] = json!(true);
        }
        audit::insert(&txn, entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(user)
    }

    async fn user_by_id(&self, id: UserId) -> DomainResult<Option<User>> {
        Ok(user::Entity::find_by_id(id.0).one(self.connection()).await.map_err(internal)?.map(convert::user))
    }

    async fn users_by_ids(&self, ids: &[UserId]) -> DomainResult<Vec<User>> {
        let ids: Vec<_> = ids.iter().map(|i| i.0).collect();
        let rows =
            user::Entity::find().filter(user::Column::Id.is_in(ids)).all(self.connection()).await.map_err(internal)?;
        Ok(rows.into_iter().map(convert::user).collect())
    }

    async fn credentials(&self, username_or_email: &str) -> DomainResult<Option<(User, String)>> {
        let filter = if username_or_email.contains('@') {
            user::Column::Email.eq(username_or_email.to_lowercase())
        } else {
            username_is(username_or_email)
        };
        let row = user::Entity::find().filter(filter).one(self.connection()).await.map_err(internal)?;
        Ok(row.map(|m| {
            let hash = m.password_hash.clone();
            (convert::user(m), hash)
        }))
    }

    async fn find_user(&self, lookup: &UserLookup) -> DomainResult<Option<User>> {
        let filter = match lookup {
            UserLookup::Id(id) => user::Column::Id.eq(id.0),
            UserLookup::Username(name) => user::Column::Username.eq(name.as_str()),
            UserLookup::Email(email) => user::Column::Email.eq(email.as_str()),
        };
        let row = user::Entity::find().filter(filter).one(self.connection()).await.map_err(internal)?;
        Ok(row.map(convert::user))
    }

    async fn password_hash(&self, id: UserId) -> DomainResult<String> {
        user::Entity::find_by_id(id.0)
            .one(self.connection())
            .await
            .map_err(internal)?
            .map(|m| m.password_hash)
            .ok_or(DomainError::NotFound { resource: "user" })
    }

    async fn profile(&self, id: UserId) -> DomainResult<UserProfile> {
        user_profile::Entity::find()
            .filter(user_profile::Column::UserId.eq(id.0))
            .one(self.connection())
            .await
            .map_err(internal)?
            .map(convert::profile)
            .ok_or(DomainError::NotFound { resource: "user profile" })
    }

    async fn update_user(
        &self,
        id: UserId,
        patch: UserPatch,
        audit_entry: AuditEntry,
    ) -> DomainResult<(User, UserProfile)> {
        let txn = self.write().await?;
        let user_row = user::Entity::find_by_id(id.0)
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or(DomainError::NotFound { resource: "user" })?;
        let profile_row = user_profile::Entity::find()
            .filter(user_profile::Column::UserId.eq(id.0))
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or(DomainError::NotFound { resource: "user profile" })?;
        let now = Utc::now();
        let mut u = user_row.into_active_model();
        macro_rules! apply {
            ($model:ident, $($field:ident),*) => {$(
                if let Some(v) = patch.$field.clone() { $model.$field = Set(v); }
            )*};
        }
        apply!(u, first_name, last_name, bio, institution, academic_title, research_focus, is_researcher);
        if let Some(v) = &patch.research_interests {
            u.research_interests = Set(json!(v));
        }
        if let Some(v) = &patch.preferences {
            u.preferences = Set(v.clone());
        }
        u.updated_at = Set(now);
        u.last_activity = Set(Some(now));
        let user = convert::user(u.update(&txn).await.map_err(internal)?);
        let mut p = profile_row.into_active_model();
        apply!(p, avatar_url, website, orcid, location);
        if let Some(v) = &patch.languages {
            p.languages = Set(json!(v));
        }
        p.updated_at = Set(now);
        let mut profile = convert::profile(p.clone().update(&txn).await.map_err(internal)?);
        let completion = profile_completion(&user, &profile);
        if completion != profile.profile_completion {
            p.profile_completion = Set(completion);
            profile = convert::profile(p.update(&txn).await.map_err(internal)?);
        }
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok((user, profile))
    }

    async fn change_password(
        &self,
        id: UserId,
        new_hash: String,
        keep: SessionId,
        audit_entry: AuditEntry,
    ) -> DomainResult<u64> {
        let txn = self.write().await?;
        let now = Utc::now();
        let updated = user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(new_hash))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(internal)?;
        if updated.rows_affected == 0 {
            return Err(DomainError::NotFound { resource: "user" });
        }
        let revoked = user_session::Entity::update_many()
            .col_expr(user_session::Column::RevokedAt, Expr::value(now))
            .filter(user_session::Column::UserId.eq(id.0))
            .filter(user_session::Column::Id.ne(keep.0))
            .filter(user_session::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .map_err(internal)?
            .rows_affected;
        let mut entry = audit_entry;
        entry.changes = json!({"revokedSessions": revoked});
        audit::insert(&txn, entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(revoked)
    }
}
