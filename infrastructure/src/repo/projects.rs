//! Projects and memberships.

use std::collections::HashMap;

use chrono::Utc;
use nishan_domain::audit::AuditEntry;
use nishan_domain::ids::{MembershipId, ProjectId, UserId};
use nishan_domain::membership::{ChangeRequester, Membership, MembershipChange, Role, authorize_membership_change};
use nishan_domain::policy::Actor;
use nishan_domain::ports::{Page, PageRequest, ProjectRepository};
use nishan_domain::project::{Project, ProjectFields, Slug};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::Order;
use sea_orm::sea_query::{Expr, ExprTrait, Query, QueryStatementBuilder, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult,
    IntoActiveModel, ModelTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, SqlErr,
};
use serde_json::json;
use uuid::Uuid;

use super::{Store, audit, convert, internal, page_of};
use crate::entity::{project, project_membership, user};

/// The column holding the caller's role beside a project's own.
const CALLER_ROLE: &str = "caller_role";

/// A project's row and the caller's active role in it (`None`: not a member).
struct WithRole(project::Model, Option<String>);

impl FromQueryResult for WithRole {
    fn from_query_result(row: &QueryResult, prefix: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(Self(project::Model::from_query_result(row, prefix)?, row.try_get(prefix, CALLER_ROLE)?))
    }
}

/// How often a clash with a concurrent creation (a unique key) is retried before giving up.
const SLUG_ATTEMPTS: usize = 5;

impl Store {
    async fn insert_project(
        &self,
        project: &Project,
        owner: &Membership,
        audit_entry: &AuditEntry,
    ) -> Result<Project, sea_orm::DbErr> {
        let txn = self.write_raw().await?;
        let base = Slug::from_name(&project.name);
        // Two creations of one slug wait for each other (SQLite's IMMEDIATE transaction
        // already does), so neither misses the other's.
        if self.is_postgres() {
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock(7261002, hashtext($1))",
                [base.as_str().into()],
            ))
            .await?;
        }
        let creator = project.created_by.map(|u| u.0).unwrap_or_default();
        let creator_is_admin = user::Entity::find_by_id(creator).one(&txn).await?.is_some_and(|u| u.is_admin);
        let mut taken = project::Entity::find().select_only().column(project::Column::Slug).filter(
            Condition::any()
                .add(project::Column::Slug.eq(base.as_str()))
                .add(project::Column::Slug.starts_with(format!("{}-", base.as_str()))),
        );
        if !creator_is_admin {
            // Only what the creator can see: public projects and their own.
            let own = Query::select()
                .column(project_membership::Column::ProjectId)
                .from(project_membership::Entity)
                .and_where(project_membership::Column::UserId.eq(creator))
                .and_where(project_membership::Column::IsActive.eq(true))
                .to_owned();
            taken = taken.filter(
                Condition::any().add(project::Column::IsPublic.eq(true)).add(project::Column::Id.in_subquery(own)),
            );
        }
        let taken: Vec<String> = taken.into_tuple().all(&txn).await?;
        let slug = base.unique_among(&taken);
        let row = project::ActiveModel {
            id: Set(project.id.0),
            name: Set(project.name.clone()),
            slug: Set(slug.as_str().to_owned()),
            description: Set(project.description.clone()),
            research_area: Set(project.research_area.clone()),
            methodology: Set(project.methodology.clone()),
            objectives: Set(project.objectives.clone()),
            timeline: Set(project.timeline.clone()),
            status: Set(project.status.as_str().to_owned()),
            is_public: Set(project.is_public),
            allow_public_view: Set(project.allow_public_view),
            tags: Set(json!(project.tags)),
            references: Set(json!(project.references)),
            annotation_mode: Set(project.annotation_mode.as_str().to_owned()),
            abandon_after_hours: Set(project.abandon_after_hours.map(|h| h as i32)),
            pre_annotate: Set(project.pre_annotate),
            created_by: Set(project.created_by.map(|u| u.0)),
            updated_by: Set(project.updated_by.map(|u| u.0)),
            created_at: Set(project.created_at),
            updated_at: Set(project.updated_at),
        };
        let model = row.insert(&txn).await?;
        convert::membership_row(owner).insert(&txn).await?;
        let mut entry = audit_entry.clone();
        entry.changes["slug"] = json!(model.slug);
        audit::insert(&txn, entry).await.map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
        txn.commit().await?;
        convert::project(model).map_err(|e| sea_orm::DbErr::Custom(e.to_string()))
    }
}

/// Active memberships of a project, locked for the rest of the transaction on PostgreSQL so
/// that two concurrent demotions cannot both see a second owner.
async fn active_memberships(
    txn: &DatabaseTransaction,
    project: ProjectId,
    lock: bool,
) -> DomainResult<Vec<project_membership::Model>> {
    let mut q = project_membership::Entity::find()
        .filter(project_membership::Column::ProjectId.eq(project.0))
        .filter(project_membership::Column::IsActive.eq(true));
    if lock {
        q = q.lock_exclusive();
    }
    q.all(txn).await.map_err(internal)
}

impl ProjectRepository for Store {
    async fn create_project(
        &self,
        project: Project,
        owner: Membership,
        audit_entry: AuditEntry,
    ) -> DomainResult<Project> {
        let mut last = None;
        for _ in 0..SLUG_ATTEMPTS {
            match self.insert_project(&project, &owner, &audit_entry).await {
                Ok(p) => return Ok(p),
                // Another creation took a unique key between our read and our insert.
                Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => last = Some(e),
                Err(e) => return Err(internal(e)),
            }
        }
        Err(internal(last.expect("at least one attempt was made")))
    }

    async fn project_by_id(&self, id: ProjectId) -> DomainResult<Option<Project>> {
        project::Entity::find_by_id(id.0)
            .one(self.connection())
            .await
            .map_err(internal)?
            .map(convert::project)
            .transpose()
    }

    async fn project_with_role(&self, id: ProjectId, user: UserId) -> DomainResult<Option<(Project, Option<Role>)>> {
        let role = Query::select()
            .column(project_membership::Column::Role)
            .from(project_membership::Entity)
            .and_where(
                Expr::col((project_membership::Entity, project_membership::Column::ProjectId))
                    .equals((project::Entity, project::Column::Id)),
            )
            .and_where(project_membership::Column::UserId.eq(user.0))
            .and_where(project_membership::Column::IsActive.eq(true))
            .to_owned();
        let row = project::Entity::find_by_id(id.0)
            .column_as(SimpleExpr::SubQuery(None, Box::new(role.into_sub_query_statement())), CALLER_ROLE)
            .into_model::<WithRole>()
            .one(self.connection())
            .await
            .map_err(internal)?;
        row.map(|WithRole(model, role)| Ok((convert::project(model)?, role.as_deref().map(Role::parse).transpose()?)))
            .transpose()
    }

    async fn projects_by_slug(&self, slug: &str) -> DomainResult<Vec<Project>> {
        project::Entity::find()
            .filter(project::Column::Slug.eq(slug))
            .order_by_asc(project::Column::CreatedAt)
            .order_by_asc(project::Column::Id)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(convert::project)
            .collect()
    }

    async fn projects_by_ids(&self, ids: &[ProjectId]) -> DomainResult<Vec<Project>> {
        let ids: Vec<Uuid> = ids.iter().map(|i| i.0).collect();
        project::Entity::find()
            .filter(project::Column::Id.is_in(ids))
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(convert::project)
            .collect()
    }

    async fn visible_projects(&self, actor: Option<Actor>, page: PageRequest) -> DomainResult<Page<Project>> {
        let mut q = project::Entity::find();
        match actor {
            Some(a) if a.is_admin => {}
            Some(a) => {
                let mine = Query::select()
                    .column(project_membership::Column::ProjectId)
                    .from(project_membership::Entity)
                    .and_where(project_membership::Column::UserId.eq(a.user_id.0))
                    .and_where(project_membership::Column::IsActive.eq(true))
                    .to_owned();
                q = q.filter(
                    Condition::any().add(project::Column::IsPublic.eq(true)).add(project::Column::Id.in_subquery(mine)),
                );
            }
            None => {
                q = q.filter(project::Column::IsPublic.eq(true)).filter(project::Column::AllowPublicView.eq(true));
            }
        }
        let order = [(project::Column::CreatedAt, Order::Desc), (project::Column::Id, Order::Desc)];
        let (rows, total) = page_of(self.connection(), q, &order, page).await?;
        let items = rows.into_iter().map(convert::project).collect::<DomainResult<_>>()?;
        Ok(Page { items, total })
    }

    async fn update_project(
        &self,
        id: ProjectId,
        f: ProjectFields,
        by: UserId,
        audit_entry: AuditEntry,
    ) -> DomainResult<Project> {
        let txn = self.write().await?;
        let mut find = project::Entity::find_by_id(id.0);
        if f.annotation_mode == Some(nishan_domain::rounds::AnnotationMode::Shared)
            && txn.get_database_backend() == sea_orm::DbBackend::Postgres
        {
            // Against a write in an annotator's layer (its claim holds a share lock on this
            // row until it commits): one of the two sees the other.
            find = find.lock_exclusive();
        }
        let row = find.one(&txn).await.map_err(internal)?.ok_or(DomainError::NotFound { resource: "project" })?;
        if f.annotation_mode == Some(nishan_domain::rounds::AnnotationMode::Shared)
            && row.annotation_mode != nishan_domain::rounds::AnnotationMode::Shared.as_str()
        {
            super::assignments::refuse_shared_while_annotated(&txn, id).await?;
        }
        let becomes_public = f.is_public == Some(true) && !row.is_public;
        let current_slug = row.slug.clone();
        let mut p = row.into_active_model();
        if let Some(v) = f.name {
            p.name = Set(v);
        }
        if becomes_public {
            // Now everyone sees it: its slug must be unique among public projects (which its
            // owners can see, so the new slug tells them nothing they could not see).
            let public: Vec<String> = project::Entity::find()
                .select_only()
                .column(project::Column::Slug)
                .filter(project::Column::IsPublic.eq(true))
                .filter(project::Column::Id.ne(id.0))
                .filter(
                    Condition::any()
                        .add(project::Column::Slug.eq(current_slug.as_str()))
                        .add(project::Column::Slug.starts_with(format!("{current_slug}-"))),
                )
                .into_tuple()
                .all(&txn)
                .await
                .map_err(internal)?;
            if public.contains(&current_slug) {
                let base = Slug::from_name(&current_slug);
                p.slug = Set(base.unique_among(&public).as_str().to_owned());
            }
        }
        let mut audit_entry = audit_entry;
        if let sea_orm::ActiveValue::Set(slug) = &p.slug {
            audit_entry.changes["slug"] = json!({"from": current_slug, "to": slug});
        }
        macro_rules! apply {
            ($($field:ident),*) => {$( if let Some(v) = f.$field { p.$field = Set(v); } )*};
        }
        apply!(description, research_area, methodology, objectives, timeline, is_public, allow_public_view);
        if let Some(v) = f.status {
            p.status = Set(v.as_str().to_owned());
        }
        if let Some(v) = f.tags {
            p.tags = Set(json!(v));
        }
        if let Some(v) = f.references {
            p.references = Set(json!(v));
        }
        if let Some(v) = f.annotation_mode {
            p.annotation_mode = Set(v.as_str().to_owned());
        }
        if let Some(v) = f.abandon_after_hours {
            p.abandon_after_hours = Set(v.map(|h| h as i32));
        }
        if let Some(v) = f.pre_annotate {
            p.pre_annotate = Set(v);
        }
        p.updated_by = Set(Some(by.0));
        p.updated_at = Set(Utc::now());
        let model = p.update(&txn).await.map_err(internal)?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        convert::project(model)
    }

    async fn delete_project(&self, id: ProjectId, audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        let row = project::Entity::find_by_id(id.0)
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or(DomainError::NotFound { resource: "project" })?;
        // The originals of its documents go with the last document that uses them.
        let documents = sea_orm::sea_query::Query::select()
            .column(crate::entity::document::Column::Id)
            .from(crate::entity::document::Entity)
            .and_where(crate::entity::document::Column::ProjectId.eq(id.0))
            .to_owned();
        let artifacts = super::artifacts::lock_artifacts_of(
            &txn,
            crate::entity::document_artifact::Column::DocumentId.in_subquery(documents),
        )
        .await?;
        row.delete(&txn).await.map_err(internal)?;
        super::artifacts::release(&txn, &artifacts).await?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }

    async fn roles_of(&self, user: UserId, projects: &[ProjectId]) -> DomainResult<HashMap<ProjectId, Role>> {
        let ids: Vec<Uuid> = projects.iter().map(|p| p.0).collect();
        let rows: Vec<(Uuid, String)> = project_membership::Entity::find()
            .select_only()
            .column(project_membership::Column::ProjectId)
            .column(project_membership::Column::Role)
            .filter(project_membership::Column::UserId.eq(user.0))
            .filter(project_membership::Column::ProjectId.is_in(ids))
            .filter(project_membership::Column::IsActive.eq(true))
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        rows.into_iter().map(|(p, r)| Ok((ProjectId(p), Role::parse(&r)?))).collect()
    }

    async fn members(&self, project: ProjectId, page: PageRequest) -> DomainResult<Page<Membership>> {
        let q = project_membership::Entity::find()
            .filter(project_membership::Column::ProjectId.eq(project.0))
            .filter(project_membership::Column::IsActive.eq(true));
        let order = [(project_membership::Column::JoinedAt, Order::Asc), (project_membership::Column::Id, Order::Asc)];
        let (rows, total) = page_of(self.connection(), q, &order, page).await?;
        let items = rows.into_iter().map(convert::membership).collect::<DomainResult<_>>()?;
        Ok(Page { items, total })
    }

    async fn member_counts(&self, projects: &[ProjectId]) -> DomainResult<HashMap<ProjectId, u64>> {
        let ids: Vec<Uuid> = projects.iter().map(|p| p.0).collect();
        let rows: Vec<(Uuid, i64)> = project_membership::Entity::find()
            .select_only()
            .column(project_membership::Column::ProjectId)
            .column_as(project_membership::Column::Id.count(), "count")
            .filter(project_membership::Column::ProjectId.is_in(ids))
            .filter(project_membership::Column::IsActive.eq(true))
            .group_by(project_membership::Column::ProjectId)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|(p, c)| (ProjectId(p), c as u64)).collect())
    }

    async fn change_membership(
        &self,
        project: ProjectId,
        actor: Actor,
        target: UserId,
        change: MembershipChange,
        audit_entry: AuditEntry,
    ) -> DomainResult<Option<Membership>> {
        let txn = self.write().await?;
        let members = active_memberships(&txn, project, self.is_postgres()).await?;
        let role_of = |u: UserId| -> DomainResult<Option<Role>> {
            members.iter().find(|m| m.user_id == u.0).map(|m| Role::parse(&m.role)).transpose()
        };
        let requester =
            ChangeRequester { user_id: actor.user_id, is_global_admin: actor.is_admin, role: role_of(actor.user_id)? };
        let target_role = role_of(target)?;
        let owners = members.iter().filter(|m| m.role == Role::Owner.as_str()).count();
        // The rule first: only someone who may add members learns whether a user exists.
        authorize_membership_change(requester, target, target_role, change, owners)?;
        if matches!(change, MembershipChange::Add(_))
            && user::Entity::find_by_id(target.0).one(&txn).await.map_err(internal)?.is_none()
        {
            return Err(DomainError::NotFound { resource: "user" });
        }
        let now = Utc::now();
        let existing = project_membership::Entity::find()
            .filter(project_membership::Column::ProjectId.eq(project.0))
            .filter(project_membership::Column::UserId.eq(target.0))
            .one(&txn)
            .await
            .map_err(internal)?;
        let result = match change {
            MembershipChange::Add(role) => {
                // An inactive membership row is replaced by the new one. An active one was added
                // by a change that committed while this one waited for the lock on the
                // project's memberships (PostgreSQL's lock returns the rows the statement
                // began with; this later read sees the new one).
                if let Some(old) = existing {
                    if old.is_active {
                        return Err(DomainError::conflict("the user is already a member of this project"));
                    }
                    old.delete(&txn).await.map_err(internal)?;
                }
                let m = Membership {
                    id: MembershipId::new(),
                    project_id: project,
                    user_id: target,
                    role,
                    joined_at: now,
                    is_active: true,
                    notes: None,
                    invited_by: Some(actor.user_id),
                    updated_at: now,
                };
                Some(convert::membership(convert::membership_row(&m).insert(&txn).await.map_err(internal)?)?)
            }
            MembershipChange::SetRole(role) => {
                let old = existing.ok_or(DomainError::NotFound { resource: "membership" })?;
                let mut m = convert::membership(old)?;
                m.role = role;
                m.updated_at = now;
                Some(convert::membership(
                    convert::membership_row(&m).reset_all().update(&txn).await.map_err(internal)?,
                )?)
            }
            MembershipChange::Remove => {
                existing
                    .ok_or(DomainError::NotFound { resource: "membership" })?
                    .delete(&txn)
                    .await
                    .map_err(internal)?;
                None
            }
        };
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(result)
    }
}
